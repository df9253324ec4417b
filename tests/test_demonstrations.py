"""The traffic recipe's stages at small sizes: the autopilot's demonstrations recorded in an experiment's spaces
(RLlib's offline columns, read through ray.data), behaviour cloning with MARWIL through ppo_train.py, its
checkpoint in both inference paths, PPO fine-tuning from its weights, and the bad inputs of each stage."""

import json
import os
import subprocess
import sys

import carla
import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from dqn_example.dqn_experiment import ACTIONS, DQNExperiment
from ppo_example.ppo_experiment import RouteExperiment
from rllib_integration import ConfigError
from rllib_integration.evaluation.demonstrations import COLUMNS, METADATA, check_spaces
from rllib_integration.inference.checkpoints import find_latest_checkpoint
from rllib_integration.training import load_policy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {kind: os.path.join(ROOT, "ppo_example", f"ppo_{kind}_config.yaml") for kind in ("traffic", "traffic_bc")}


def small(kind: str, demonstrations: str = "demos") -> dict:
    """A stage's config with a light world, short routes and a few iterations."""
    data = yaml.safe_load(open(CONFIGS[kind]))
    experiment = data["env_config"]["experiment"]
    experiment.update(town="RingTown")
    experiment["background_activity"].update(n_vehicles=4, n_walkers=2)
    experiment["others"].update(route_length=[60, 120])
    data["route_evaluation"] = {"interval": 2, "routes": "RingTown", "route_count": 1, "route_length": [30, 40]}
    data["run"] = {"stop": {"training_iteration": 2}, "checkpoint_frequency": 1, "checkpoints_to_keep": 5}
    if kind == "traffic_bc":
        data["offline_data"].update(input_=[demonstrations], dataset_num_iters_per_learner=2)
        data["training"].update(train_batch_size_per_learner=64)
    else:
        data["training"].update(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=1)
    return data


def run(tmp_path, script, *args, timeout=600):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def collect(tmp_path, *extra):
    data = small("traffic")
    data["env_config"]["experiment"]["others"]["state_last_action"] = True  # the recipe leaves it out; seen here
    (tmp_path / "traffic.yaml").write_text(yaml.safe_dump(data))
    return run(tmp_path, "collect_demonstrations.py", "traffic.yaml", "--out", "demos", "--steps", 400,
               "--route-length", 80, 150, *extra, timeout=300)


def test_demonstrations_are_the_autopilots_steps_in_the_experiments_spaces(tmp_path):
    result = collect(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "demos"
    files = sorted(folder.glob("*.parquet"))
    assert len(files) >= 2, "whole routes, until the steps asked for"
    meta = json.loads((folder / METADATA).read_text())
    assert meta["experiment"] == "ppo_example.ppo_experiment:RouteExperiment"
    assert meta["observation_space"] == "Box(-inf, inf, (139,), float32)" and meta["transitions"] >= 400
    assert meta["action_space"] == "Discrete(7)"
    import ray.data
    dataset = ray.data.read_parquet(str(folder))  # what RLlib's offline_data reads
    assert set(COLUMNS) <= set(dataset.schema().names) and dataset.count() == meta["transitions"]
    # behaviour cloning reads them shuffled (a route's steps are in order in its file): a minibatch mixes episodes
    from rllib_integration.training.algorithm_config import build_algorithm_config
    from rllib_integration import load_env_config
    bc = small("traffic_bc", demonstrations=str(folder))
    bc["offline_data"]["iter_batches_kwargs"] = {"prefetch_batches": 1}  # an option of the user's is kept too
    (tmp_path / "bc.yaml").write_text(yaml.safe_dump(bc))
    config = build_algorithm_config(load_env_config(str(tmp_path / "bc.yaml")), "bc.yaml", default_algorithm="MARWIL")
    assert config.iter_batches_kwargs == {"prefetch_batches": 1, "local_shuffle_buffer_size": 50_000}
    reading = ray.data.read_parquet(str(folder), **config.input_read_method_kwargs)
    batch = next(iter(reading.iter_batches(batch_size=64, **config.iter_batches_kwargs)))
    assert len(set(batch["eps_id"])) > 1 and not (np.diff(batch["t"]) == 1).all()
    table = pq.read_table(files[0]).to_pandas()
    obs, new_obs = np.stack(table["obs"].values), np.stack(table["new_obs"].values)
    actions = table["actions"].to_numpy()
    assert obs.shape[1] == 139 and actions.dtype.kind == "i" and actions.min() >= 0 and actions.max() <= 6
    assert actions.max() >= 4 and (actions == 0).any(), "the autopilot drives off and stops (20 km/h, 0)"
    for _, episode in table.groupby("eps_id", sort=False):
        rows = episode.index.to_numpy()
        assert list(episode["t"]) == list(range(len(rows)))
        assert np.allclose(new_obs[rows[:-1]], obs[rows[1:]]), "each step starts where the last one ended"
        last = np.stack([actions[rows[:-1]] / 3.0 - 1.0, np.zeros(len(rows) - 1)], axis=1)  # the level's command
        assert np.allclose(obs[rows[1:], 97:99], last), "the experiment sees the action as its last"
        last = episode.iloc[-1]
        assert last["terminateds"] or last["truncateds"], "every episode ends"
    assert table["rewards"].sum() > 50, "the route reward of the metres driven"


def test_a_used_folder_needs_append_and_the_same_spaces(tmp_path):
    (tmp_path / "demos").mkdir()
    (tmp_path / "demos" / "mine.txt").write_text("keep me")
    result = collect(tmp_path)
    assert result.returncode == 2 and "not empty" in result.stderr and "--append" in result.stderr
    assert (tmp_path / "demos" / "mine.txt").read_text() == "keep me"
    result = collect(tmp_path, "--append")
    assert result.returncode == 2 and "no demonstrations" in result.stderr
    experiment = RouteExperiment({"hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 16}}}})
    (tmp_path / "demos" / METADATA).write_text(json.dumps({
        "observation_space": "Box(-inf, inf, (128,), float32)", "action_space": "Box(-1.0, 1.0, (2,), float32)"}))
    with pytest.raises(ConfigError, match=r"observation_space Box\(-inf, inf, \(128,\).*has Box\(-inf, inf, \(80,\)"):
        check_spaces(str(tmp_path / "demos"), experiment, "offline_data.input_")
    (tmp_path / "demos" / METADATA).write_text(json.dumps({
        "observation_space": "Box(-inf, inf, (80,), float32)", "action_space": "Box(-1.0, 1.0, (2,), float32)",
        "action_options": {"control": "speed", "target_speed_kmh": 30.0}}))
    with pytest.raises(ConfigError, match=r"recorded with action_options \{'control': 'speed'.*has \{'control': 'throttle'"):
        check_spaces(str(tmp_path / "demos"), experiment, "offline_data.input_")  # the same spaces, another control


def test_action_from_control_inverts_compute_action():
    route = RouteExperiment({"hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar"}}}})
    for action in ([0.5, -0.2], [-0.8, 0.3], [0.0, 1.0]):
        control = route.compute_action(np.array(action))
        assert route.action_from_control(control) == pytest.approx(action)
    dqn = DQNExperiment({"hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 84, "radius": 15}}}})
    for index in range(len(ACTIONS)):
        assert dqn.action_from_control(dqn.compute_action(index)) == index
    assert ACTIONS[dqn.action_from_control(carla.VehicleControl(throttle=0.55, steer=0.3))] == (0.6, 0.25, 0.0)


def test_behaviour_cloning_then_fine_tuning_through_the_training_script(tmp_path):
    assert collect(tmp_path).returncode == 0
    (tmp_path / "bc.yaml").write_text(yaml.safe_dump(small("traffic_bc")))
    files_before = list((tmp_path / "demos").glob("*.parquet"))
    bc = run(tmp_path, "ppo_train.py", "bc.yaml", "-d", "results", "-n", "bc", "--tboff")
    assert bc.returncode == 0, bc.stdout[-3000:] + bc.stderr[-3000:]
    assert "samples trained" in bc.stdout and "policy loss" in bc.stdout and "route DS" in bc.stdout
    checkpoint = find_latest_checkpoint(str(tmp_path / "results" / "bc"))
    policy = load_policy(checkpoint)  # the Ray-free path
    from rllib_integration.training.results import saved_module
    from rllib_integration.training.policy import greedy_action
    module = saved_module(checkpoint)  # the RLlib path
    observation = np.zeros(139, dtype=np.float32)
    assert greedy_action(module, observation) == policy(observation)
    before = len(list((tmp_path / "demos").glob("*.parquet")))
    dagger = collect(tmp_path, "--append", "--policy", os.path.join(checkpoint, "policy.onnx"), "--policy-share", 0.5)
    assert dagger.returncode == 0, dagger.stderr[-3000:]
    added = sorted(set((tmp_path / "demos").glob("*.parquet")) - set(files_before))
    assert len(added) >= 1 and len(list((tmp_path / "demos").glob("*.parquet"))) > before
    table = pq.read_table(added[0]).to_pandas()
    assert table["eps_id"].nunique() > 1, "the recorded episodes stop where the policy takes over"
    assert table["truncateds"].sum() >= table["eps_id"].nunique() - table["terminateds"].sum() - 1
    evaluation = run(tmp_path, "evaluate.py", "--routes", "RingTown", "--route-count", 1, "--route-length", 60, 80,
                     "--agent", os.path.join(checkpoint, "policy.onnx"), "--config", "bc.yaml", "--out", "eval")
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]

    # fine-tuning from the cloned weights at the smallest learning rate the checks take: the checkpoint after an
    # iteration still holds the cloned weights, so PPO started from them
    tuning = small("traffic")
    tuning["training"]["lr"] = 1e-12
    (tmp_path / "ppo.yaml").write_text(yaml.safe_dump(tuning))
    tuned = run(tmp_path, "ppo_train.py", "ppo.yaml", "-d", "results", "-n", "ppo", "--tboff",
                "--init-from", tmp_path / "results" / "bc", "--iterations", 1)
    assert tuned.returncode == 0, tuned.stdout[-3000:] + tuned.stderr[-3000:]
    tuned_checkpoint = find_latest_checkpoint(str(tmp_path / "results" / "ppo"))
    tuned_module = saved_module(tuned_checkpoint)
    start, cloned = tuned_module.get_state(), module.get_state()
    assert all(np.allclose(np.asarray(start[key]), np.asarray(cloned[key])) for key in start), \
        "PPO started from the cloned weights"
    assert greedy_action(tuned_module, observation) == load_policy(tuned_checkpoint)(observation), \
        "the fine-tuned checkpoint loads in both inference paths, to the same action"

    # a critic warm-up of one env step: the first iteration's update fits the value function alone (the policy's
    # learning rate is 0 until the steps sampled pass the warm-up), the second moves the policy too
    warm = small("traffic")
    # 32 updates an iteration, unclipped: PPO's clip bounds a free run's drift (to KL 0.006-0.07 over 6 runs), too
    # close to an anchored run's for the comparison below; without it the free run drifts 0.8-2.3, the anchored 0.002
    warm["training"].update(lr=1e-3, minibatch_size=25, num_epochs=4, clip_param=100.0)
    warm["run"]["critic_warmup_steps"] = 1
    (tmp_path / "warm.yaml").write_text(yaml.safe_dump(warm))
    warmed = run(tmp_path, "ppo_train.py", "warm.yaml", "-d", "results", "-n", "warm", "--tboff",
                 "--init-from", tmp_path / "results" / "bc", "--iterations", 2)
    assert warmed.returncode == 0, warmed.stdout[-3000:] + warmed.stderr[-3000:]
    trial = os.path.dirname(find_latest_checkpoint(str(tmp_path / "results" / "warm")))
    first, second = (saved_module(os.path.join(trial, f"checkpoint_00000{i}")).get_state() for i in (0, 1))
    policy_keys = [key for key in cloned if key.startswith(("encoder.actor_encoder.", "pi."))]
    critic_keys = [key for key in cloned if key.startswith(("encoder.critic_encoder.", "vf."))]
    assert policy_keys and critic_keys and len(policy_keys) + len(critic_keys) == len(cloned)
    changed = lambda state, keys: [key for key in keys if not np.allclose(np.asarray(state[key]), np.asarray(cloned[key]))]
    assert not changed(first, policy_keys), "the policy is held while the critic warms up"
    weights = [key for key in critic_keys if key.endswith((".weight", ".bias"))]  # not the modules' constant buffers
    assert weights and changed(first, weights) == weights, "the value function learns from the first update"
    assert changed(second, policy_keys), "after the warm-up the policy learns"

    # the same run with a heavy KL anchor to the clone (set on the command line): its policy moves less far from
    # the clone's over the demonstrations' observations, and the learner reports the divergence it weighs
    result = run(tmp_path, "ppo_train.py", "warm.yaml", "-d", "results", "-n", "anchored", "--tboff",
                 "--init-from", tmp_path / "results" / "bc", "--iterations", 2, "--set", "run.anchor_kl_coeff=1e3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trial_anchored = os.path.dirname(find_latest_checkpoint(str(tmp_path / "results" / "anchored")))
    reported = [json.loads(line)["learners"]["default_policy"]
                for line in open(os.path.join(trial_anchored, "result.json"))]
    assert all("anchor_kl" in learner for learner in reported) and reported[-1]["anchor_kl"] > 0.0
    observations = torch.as_tensor(np.stack(pq.read_table(files_before[0]).to_pandas()["obs"].to_numpy()),
                                   dtype=torch.float32)

    def divergence(trial_folder: str) -> float:
        tuned = saved_module(os.path.join(trial_folder, "checkpoint_000001"))
        cls = tuned.get_train_action_dist_cls()
        logits = [m.forward_inference({"obs": observations})["action_dist_inputs"] for m in (tuned, module)]
        return float(cls.from_logits(logits[0]).kl(cls.from_logits(logits[1])).mean())

    free, held = divergence(trial), divergence(trial_anchored)
    assert held < 0.1 * free, (held, free)

    other = small("traffic")
    other["env_config"]["experiment"]["hero"]["sensors"]["vlidar"]["rays"] = 16
    (tmp_path / "ppo16.yaml").write_text(yaml.safe_dump(other))
    mismatch = run(tmp_path, "ppo_train.py", "ppo16.yaml", "-d", "results", "-n", "ppo16", "--tboff",
                   "--init-from", tmp_path / "results" / "bc")
    assert mismatch.returncode == 2 and "do not fit this configuration's network" in mismatch.stderr


def test_bad_recipe_inputs_are_one_clear_error(tmp_path):
    data = small("traffic_bc", demonstrations="nowhere")
    (tmp_path / "bc.yaml").write_text(yaml.safe_dump(data))
    result = run(tmp_path, "ppo_train.py", "bc.yaml", "-d", "results", "-n", "bc", "--tboff")
    assert result.returncode == 2 and "holds no demonstrations" in result.stderr and "collect_demonstrations" in result.stderr
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / METADATA).write_text(json.dumps({
        "observation_space": "Box(-inf, inf, (80,), float32)", "action_space": "Box(-1.0, 1.0, (2,), float32)"}))
    result = run(tmp_path, "ppo_train.py", "bc.yaml", "-d", "results", "-n", "bc", "--tboff")
    assert result.returncode == 2 and "recorded with observation_space" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "ppo.yaml").write_text(yaml.safe_dump(small("traffic")))
    result = run(tmp_path, "ppo_train.py", "ppo.yaml", "-d", "results", "-n", "ppo", "--tboff", "--init-from", "nowhere")
    assert result.returncode == 2 and "run.init_from" in result.stderr and "no checkpoint" in result.stderr


def test_the_light_ahead_is_the_next_stop_line_on_the_route_and_its_state():
    from rllib_integration import CarlaEnv, load_env_config
    from ppo_example.ppo_experiment import LIGHT_HORIZON
    data = load_env_config(CONFIGS["traffic"])["env_config"]
    data["experiment"].update(town="GridTown", heroes=1)
    data["experiment"]["background_activity"].update(n_vehicles=0, n_walkers=0)
    env = CarlaEnv(data)
    try:
        assert env.observation_space.shape == (139,)
        features = slice(128, 131)  # the light ahead: after the rays, the state and the route; the obstacles ahead follow
        seen = []
        for seed in range(6):
            observation, _ = env.reset(seed=seed)
            experiment = env.experiment
            lights = experiment.route_lights
            progress = env.core.route_progress
            assert list(lights.indices) == sorted(lights.indices)
            for index, light in zip(lights.indices, lights.lights):
                gaps = [w.transform.location.distance(carla.Location(*progress.points[index])) for w in
                        light.get_stop_waypoints()]
                assert min(gaps) < 30.0, "the stop line lies on the route"
            for _ in range(400):
                distance, state = lights.next_light(LIGHT_HORIZON)
                assert observation[features][0] == pytest.approx(distance / LIGHT_HORIZON, abs=1e-5)
                if state is not None:
                    index = lights.indices[lights.indices >= progress.index][0]
                    light = lights.lights[list(lights.indices).index(index)]
                    assert state == light.get_state()
                    assert observation[features][1] == float(state == carla.TrafficLightState.Red)
                    seen.append(distance)
                stop = observation[features][1] > 0 and distance < 12
                level = 0 if stop else 4  # stand, or 20 km/h: the route's controller steers
                observation, _, terminated, truncated, _ = env.step(level)
                if terminated or truncated:
                    break
            if len(seen) > 20:
                break
        assert len(seen) > 20 and min(seen) < 15.0, "a light came into view and closer"
    finally:
        env.close()


def test_an_offline_config_without_route_evaluation_gives_rllib_the_experiments_spaces(tmp_path):
    """Without env runners or an evaluation RLlib has no env to read spaces from: the experiment's are given."""
    from rllib_integration import load_env_config
    from rllib_integration.training.algorithm_config import build_algorithm_config
    data = small("traffic_bc")
    data.pop("route_evaluation")
    (tmp_path / "bc.yaml").write_text(yaml.safe_dump(data))
    config = build_algorithm_config(load_env_config(str(tmp_path / "bc.yaml")), "bc.yaml", "MARWIL")
    assert config.observation_space.shape == (139,) and config.action_space == gym.spaces.Discrete(7)
    config.validate()  # RLlib's own check: "action_space and observation_space must be provided"
