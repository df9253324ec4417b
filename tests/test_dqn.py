"""The DQN example: the experiment's contract, training through Tune, restore, Ctrl-C checkpoint,
and identical greedy actions with and without Ray."""

import csv
import json
import math
import re
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import carla
import numpy as np
import pytest
import yaml

from dqn_example.dqn_experiment import ACTIONS, DQNExperiment, route_follower_action
from rllib_integration import CarlaEnv, ConfigError, load_env_config
from rllib_integration.training import (build_algorithm_config, find_latest_checkpoint, greedy_action, load_policy,
                                        policy_action, run_settings)
from rllib_integration.inference.scripts import load_module

from conftest import drive_episode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {
    "env_config": {
        "carla": {"simulator": "embedded", "enable_rendering": False},
        "experiment": {"type": "dqn_example.dqn_experiment:DQNExperiment", "town": "GridTown",
                       "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 32, "radius": 16},
                                            "collision": {"type": "sensor.other.collision"}}},
                       "others": {"framestack": 2, "max_time_idle": 20, "max_time_episode": 60}}},
    "env_runners": {"num_env_runners": 1, "rollout_fragment_length": 8, "sample_timeout_s": 60},
    "learners": {"num_learners": 0},
    "model": {"conv_filters": [[8, 4, 2], [16, 3, 2]], "latent_dim": 32, "head_fcnet_hiddens": [32]},
    "training": {"train_batch_size_per_learner": 16, "num_steps_sampled_before_learning_starts": 50,
                 "replay_buffer_config": {"type": "EpisodeReplayBuffer", "capacity": 2000},
                 "epsilon": [[0, 1.0], [500, 0.1]]},
    "reporting": {"min_sample_timesteps_per_iteration": 100},
    "fault_tolerance": {"restart_failed_env_runners": False},
    "run": {"stop": {"training_iteration": 2}, "checkpoint_frequency": 1, "checkpoints_to_keep": 10},
    # one short route scored every second iteration (the best-by-DS checkpoint is kept)
    "route_evaluation": {"interval": 2, "routes": "GridTown", "route_count": 1, "route_length": [40, 60]},
}


def env_config(**others):
    config = yaml.safe_load(yaml.safe_dump(TINY["env_config"]))
    config["experiment"]["type"] = DQNExperiment
    config["experiment"]["others"].update(others)
    return config


def test_action_table_and_observation_stack():
    assert len(ACTIONS) == 29
    assert ACTIONS[0] == (0.0, 0.0, 0.0) and ACTIONS[1] == (0.0, 0.0, 1.0)
    assert ACTIONS[8] == (0.3, 0.0, 0.0) and ACTIONS[9] == (0.3, 0.75, 0.0) and ACTIONS[28] == (1.0, -0.25, 0.0)
    env = CarlaEnv(env_config())
    try:
        assert env.observation_space.shape == (32, 32, 6) and env.observation_space.dtype == np.uint8
        obs, _ = env.reset(seed=0)
        np.testing.assert_array_equal(obs[..., :3], obs[..., 3:])  # the first frame fills the stack
        control = env.experiment.compute_action(23)
        assert (control.throttle, control.steer, control.brake) == (1.0, 0.75, 0.0)
        previous_newest = obs[..., 3:]
        for _ in range(30):
            obs, reward, terminated, truncated, info = env.step(22)
        obs2, *_ = env.step(22)
        np.testing.assert_array_equal(obs2[..., :3], obs[..., 3:])  # oldest first: t-1, then t
        assert not np.array_equal(previous_newest, obs2[..., 3:])
        for key in ("speed", "distance", "heading_deviation", "lane_state", "collisions", "lane_invasions",
                    "episode_distance", "episode_distance_on_lane"):
            assert key in info
        assert info["speed"] > 10.0 and info["episode_distance"] > 2.0
    finally:
        env.close()


def test_idle_terminates_with_penalty_and_length_truncates_with_bonus():
    env = CarlaEnv(env_config(max_time_idle=5, max_time_episode=100))
    try:
        env.reset(seed=0)
        results = []
        while not results or not (results[-1][2] or results[-1][3]):  # full brake: idle
            results.append(env.step(1))
            assert len(results) < 40
        moving = [i for i, r in enumerate(results) if r[4]["speed"] > 1.0]  # still settling onto the road
        start = moving[-1] + 1 if moving else 0
        assert len(results) - start == 7, "idle for more than max_time_idle (5) steps ends the episode"
        assert results[-1][2] and not results[-1][3], "idle is a termination"
        assert results[-1][1] < -99.0 and results[-1][4]["end_reason"] == "idle"
    finally:
        env.close()
    env = CarlaEnv(env_config(max_time_idle=1000, max_time_episode=10))
    try:
        env.reset(seed=0)
        results = [env.step(8) for _ in range(11)]
        assert [(r[2], r[3]) for r in results][-1] == (False, True)
        assert results[-1][1] > 99.0 and results[-1][4]["end_reason"] == "max_time"
    finally:
        env.close()


def follow_route(env):
    return route_follower_action(env.core)


def route_config(town: str):
    config = env_config(reward="route", route_length=[150, 300], max_time_idle=100, max_time_episode=1000,
                        idle_penalty=40.0)
    config["experiment"]["town"] = town
    config["experiment"]["hero"]["sensors"]["birdview"]["route"] = True
    return config


def test_the_route_reward_pays_for_following_the_route_on_the_sanity_map():
    """The sanity check of the quickstart's learning signal on CurveRoad (a straight road, one curve, a
    straight road): following the route earns its length, full throttle straight on overspeeds or leaves
    the lanes at the curve, standing still ends idle; the reward is deterministic."""
    env = CarlaEnv(route_config("CurveRoad"))
    try:
        for seed in range(3):
            follower, follower_info = drive_episode(env, seed, lambda observation: follow_route(env), steps=1000)
            again, _ = drive_episode(env, seed, lambda observation: follow_route(env), steps=1000)
            straight, straight_info = drive_episode(env, seed, lambda observation: ACTIONS.index((1.0, 0.0, 0.0)))
            standing, standing_info = drive_episode(env, seed, lambda observation: 1)
            assert follower_info["end_reason"] == "completed" and follower_info["route_completion"] == 100.0
            assert follower == pytest.approx(again, abs=1e-6), "same seed, same return"
            assert follower > 0.8 * follower_info["episode_distance"], "about a point per route metre"
            assert straight_info["end_reason"] in ("outside_lanes", "off_route", "overspeed") and straight < 0.0
            assert standing_info["end_reason"] == "idle" and standing == pytest.approx(-40.0), "idle_penalty"
            assert standing < straight, "idling costs more than failing at the curve"
            assert follower > straight + 100.0 and follower > standing + 100.0, (follower, straight, standing)
    finally:
        env.close()


def test_the_route_reward_on_towns_with_junctions():
    """On RingTown and GridTown the route follower completes routes through junctions and earns about a
    point per metre."""
    for town in ("RingTown", "GridTown"):
        env = CarlaEnv(route_config(town))
        try:
            total, info = drive_episode(env, 1, lambda observation: follow_route(env), steps=1000)
            assert info["end_reason"] == "completed" and total > 0.8 * info["episode_distance"] > 100.0, info
        finally:
            env.close()


def test_reward_variant_errors():
    with pytest.raises(ConfigError, match="others.reward: 'fast' is not a reward"):
        DQNExperiment(dict(env_config(reward="fast")["experiment"]))
    with pytest.raises(ConfigError, match="birdview.route: reward: route needs the route in the picture"):
        DQNExperiment(dict(env_config(reward="route")["experiment"]))
    with pytest.raises(ConfigError, match="others.route_length: expected"):
        config = route_config("CurveRoad")
        config["experiment"]["others"]["route_length"] = [300, 100]
        DQNExperiment(dict(config["experiment"]))


def test_off_lane_penalty():
    env = CarlaEnv(env_config())
    try:
        env.reset(seed=0)
        hero = env.core.hero
        t = hero.get_transform()
        hero.set_transform(carla.Transform(carla.Location(t.location.x + 30.0, t.location.y + 30.0, 0.0), t.rotation))
        _, reward, _, _, info = env.step(0)
        assert info["lane_state"] == "off_lane" and reward == pytest.approx(-0.5, abs=0.3)
        assert env.experiment.last_heading_deviation == pytest.approx(np.pi)
    finally:
        env.close()


def test_training_yaml_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    for change, pattern in (({"trainig": {}}, r"trainig: unknown section; did you mean 'training'"),
                            ({"training": {"gama": 0.9}}, r"training\.gama: unknown option .*did you mean 'gamma'"),
                            ({"run": {"stop": {"iterations": 3}}}, r"run\.stop\.iterations: unknown stop criterion")):
        data = dict(TINY, **change)
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=pattern):
            loaded = load_env_config(str(path))
            build_algorithm_config(loaded, str(path))
            run_settings(loaded, str(path))


def train(tmp_path, *args, config=TINY, python_flags=(), tensorboard=False):
    """dqn_train.py started from another folder than the repository's (it works from anywhere)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, *python_flags, os.path.join(ROOT, "dqn_train.py"), str(path), "-d",
                           str(tmp_path / "results"), "-n", "tiny", *([] if tensorboard else ["--tboff"]), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def interrupted(tmp_path, after: str, *args, python_flags=()) -> subprocess.CompletedProcess:
    """dqn_train.py on TINY, sent Ctrl-C (SIGINT) once it prints a line starting with ``after``."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        process = subprocess.Popen([sys.executable, *python_flags, os.path.join(ROOT, "dqn_train.py"), "tiny.yaml",
                                    "-d", str(tmp_path / "results"), "-n", "tiny", "--tboff", *args], cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            deadline, lines = time.time() + 400, []
            for line in process.stdout:
                lines.append(line)
                if line.startswith(after) or time.time() > deadline:
                    break
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
        stderr.seek(0)
        return subprocess.CompletedProcess(process.args, process.returncode, "".join(lines) + output, stderr.read())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny iterations with TensorBoard on, then --restore under -W error::DeprecationWarning with Ray's notes
    shown (--verbose), told to run 1000 iterations with no checkpoint before the last, and sent Ctrl-C once the
    third is done."""
    tmp_path = tmp_path_factory.mktemp("dqn")
    first = train(tmp_path, "--tb-port", str(free_port()), tensorboard=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = interrupted(tmp_path, "iter    3 |", "--restore", "--iterations", "1000", "--checkpoint-freq", "1000",
                         "--verbose", python_flags=("-W", "error::DeprecationWarning"))
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return tmp_path, first, second


def test_train_checkpoints_exports_and_restores(trained):
    tmp_path, first, second = trained
    assert "iter    2 |" in first.stdout and "checkpoint of iteration 2:" in first.stdout
    assert "resuming from" in second.stdout
    assert "iter    3 |" in second.stdout and "iter    1 |" not in second.stdout, "restore continues the count"
    latest = find_latest_checkpoint(str(tmp_path / "results" / "tiny"))
    assert os.path.isfile(os.path.join(latest, "policy.onnx"))
    # route evaluation every second iteration: its driving score is printed, and its best checkpoint kept
    assert "route DS" in first.stdout.split("iter    2 |")[1].splitlines()[0]
    pointer = json.load(open(tmp_path / "results" / "tiny" / "best.json"))
    assert pointer["training_iteration"] in (2, 4), "an evaluated iteration (the restored run's Ctrl-C came in 3 or 4)"
    best = tmp_path / "results" / "tiny" / "best"
    assert os.path.realpath(best) == os.path.realpath(pointer["checkpoint"])
    assert json.load(open(best / "best.json"))["training_iteration"] == pointer["training_iteration"]
    assert os.path.isfile(best / "policy.onnx")
    again = train(tmp_path)
    assert again.returncode == 2 and "is not empty" in again.stderr and "--overwrite" in again.stderr
    both = train(tmp_path, "--restore", "--overwrite")
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_the_exported_policy_holds_the_weights_saved_in_its_checkpoint(trained):
    """policy.onnx is the checkpoint's own module (the learner's weights), not the env runner's copy, which
    lags it by the updates since the last weight sync."""
    import onnx
    from onnx import numpy_helper
    tmp_path, _, _ = trained
    experiment = tmp_path / "results" / "tiny"
    for checkpoint in (find_latest_checkpoint(str(experiment)), str(experiment / "best")):
        module = load_module(checkpoint)
        exported = [numpy_helper.to_array(t) for t in onnx.load(os.path.join(checkpoint, "policy.onnx")).graph.initializer]
        compared = 0
        for name, tensor in module.named_parameters():
            if "target" in name:
                continue
            value = tensor.detach().cpu().numpy()
            assert any(w.shape == value.shape and np.array_equal(w, value) or w.shape == value.T.shape
                       and np.array_equal(w, value.T) for w in exported), f"{name} of {checkpoint} is not in policy.onnx"
            compared += 1
        assert compared >= 6, "every layer of the network was compared"


def test_the_evaluator_scores_a_checkpoint_and_its_exported_policy_alike(trained):
    tmp_path, _, _ = trained
    checkpoint = find_latest_checkpoint(str(tmp_path / "results" / "tiny"))
    scores = []
    for agent in (str(tmp_path / "results" / "tiny"), os.path.join(checkpoint, "policy.onnx")):
        out = tmp_path / f"eval_{len(scores)}"
        result = subprocess.run([sys.executable, os.path.join(ROOT, "evaluate.py"), "--routes", "GridTown",
                                 "--route-count", "1", "--route-length", "100", "200", "--agent", agent, "--config",
                                 str(tmp_path / "tiny.yaml"), "--state-log", "--out", str(out)],
                                cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        record = json.load(open(out / "results.json"))["_checkpoint"]["records"][0]
        scores.append(record["scores"])
        rows = list(csv.DictReader(open(out / "state_logs" / "route_0.csv")))
        assert "reward" in rows[0] and "info_speed" in rows[0], "an experiment agent logs its reward and info"
        moved = [math.hypot(float(b["x"]) - float(a["x"]), float(b["y"]) - float(a["y"])) / 0.05
                 for a, b in zip(rows[:-1], rows[1:])]
        errors = sorted(abs(float(b["speed"]) - m) for b, m in zip(rows[1:], moved))
        assert errors[len(errors) // 2] < 0.5, "the speed column is the hero's, in m/s"
    assert scores[0] == scores[1]


def test_ray_and_ray_free_inference_agree_action_for_action(trained):
    tmp_path, _, _ = trained
    checkpoint = find_latest_checkpoint(str(tmp_path / "results" / "tiny"))
    module = load_module(str(tmp_path / "results" / "tiny"))
    policy = load_policy(checkpoint)
    env = CarlaEnv(env_config())
    try:
        obs, _ = env.reset(seed=3)
        actions = []
        for _ in range(40):
            with_ray = greedy_action(module, obs)
            without_ray = policy_action(policy, obs)
            assert with_ray == without_ray
            actions.append(with_ray)
            obs, *_ = env.step(with_ray)
    finally:
        env.close()
    path = tmp_path / "tiny.yaml"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "dqn_inference.py"), str(path), checkpoint,
                             "--episodes", "2", "--record", str(tmp_path / "run.mp4")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len([line for line in result.stdout.splitlines() if line.split()[:1] in (["0"], ["1"])]) == 2
    assert os.path.getsize(tmp_path / "run.mp4") > 1000


def test_ctrl_c_saves_a_checkpoint_before_exiting(trained):
    """The restored run of the fixture, sent Ctrl-C after its third iteration, ends cleanly with a checkpoint of
    the iteration it was on (none was due before its 1000th)."""
    tmp_path, _, second = trained
    assert "interrupted: stopping after this iteration" in second.stdout + second.stderr
    saved = re.findall(r"^checkpoint of iteration (\d+): (\S+) ", second.stdout, re.MULTILINE)
    assert [int(i) for i, _ in saved] in ([3], [4]), "one checkpoint: the interrupted iteration's"
    latest = find_latest_checkpoint(str(tmp_path / "results" / "tiny"))
    assert os.path.realpath(latest) == os.path.realpath(saved[0][1])
    assert os.path.isfile(os.path.join(latest, "policy.onnx"))


def test_a_policy_from_another_configuration_is_one_clear_error(trained):
    tmp_path, _, _ = trained
    checkpoint = find_latest_checkpoint(str(tmp_path / "results" / "tiny"))
    other = yaml.safe_load(yaml.safe_dump(TINY))
    other["env_config"]["experiment"]["hero"]["sensors"]["birdview"]["size"] = 48
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "dqn_inference.py"), str(tmp_path / "other.yaml"),
                             os.path.join(checkpoint, "policy.onnx")], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "takes observations (32, 32, 6) uint8; this configuration gives observations (48, 48, 6) uint8" \
        in result.stderr


PROJECT_LINES = re.compile(r"^(results: |TensorBoard: |writing to |placement: |iter +\d+ \||checkpoint of iteration |done: |"
                           r"      Ray-free policy |resuming from |Ray did not start \(.*\); trying again$)")


def test_the_terminal_shows_only_the_projects_lines(trained):
    """TensorBoard on (its data server wrote 'rustboard_core ... load cycle' lines to the terminal every 5 s),
    no --verbose: every line is the project's; Ray's, RLlib's and TensorBoard's messages are in training.log."""
    first = trained[1]
    lines = [line for line in (first.stdout + first.stderr).splitlines() if line.strip()]
    foreign = [line for line in lines if not PROJECT_LINES.match(line)]
    assert not foreign, f"lines not from the project: {foreign[:5]}"
    assert any(line.startswith("TensorBoard: ") for line in lines), "TensorBoard ran"


def test_no_deprecated_api_in_training_and_inference(trained):
    """A restored training run and RLlib inference under -W error::DeprecationWarning, Ray's notes shown
    (--verbose): no deprecation (RLlib's note about its own RLModuleConfig shim is dropped, see console.py)."""
    second = trained[2]
    assert "DeprecationWarning" not in second.stdout + second.stderr
    assert "Started a local Ray instance" in second.stdout + second.stderr, "--verbose shows Ray's notes"
    results = trained[0] / "results" / "tiny"
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", os.path.join(ROOT, "dqn_inference_ray.py"),
                             str(trained[0] / "tiny.yaml"), str(results), "--episodes", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DeprecationWarning" not in result.stdout + result.stderr


def test_ray_failing_to_start_is_one_line(tmp_path):
    """ray.init raising (its GCS server not up in time on a loaded machine, seen once) ends the run with one
    line saying what to do, no traceback."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    code = ("import runpy, sys, ray\n"
            "def init(*args, **kwargs):\n"
            "    raise RuntimeError('Timed out waiting for file /tmp/ray/session_x/gcs_server_port')\n"
            "ray.init = init\n"
            f"sys.argv = ['dqn_train.py', {str(path)!r}, '-d', {str(tmp_path / 'results')!r}, '--tboff']\n"
            f"runpy.run_path({os.path.join(ROOT, 'dqn_train.py')!r}, run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Ray could not start on this machine: Timed out waiting for file" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_the_progress_line_comes_at_most_every_10_s_after_the_first_five(monkeypatch, caplog):
    """600 iterations of 3 s (a 30-minute run on a fast machine) print about 155 lines, not 600; an evaluated
    iteration always prints, and the last one is shown when the trial ends (an iteration past the time budget shows
    no time left)."""
    from rllib_integration.training import launcher
    clock = [0.0]
    monkeypatch.setattr(launcher.time, "monotonic", lambda: clock[0])
    progress = launcher.Progress({"time_total_s": 1800}, "unused")
    caplog.set_level(logging.INFO)
    for iteration in range(1, 601):
        clock[0] = 3.0 * iteration
        result = {"training_iteration": iteration, "time_total_s": clock[0], "num_env_steps_sampled_lifetime": iteration,
                  "env_runners": {}, **({"evaluation": {"driving_score": 50.0, "route_completion": 90.0}}
                                        if iteration == 301 else {})}
        progress.on_trial_result(iteration, [], None, result)
    progress.on_trial_complete(600, [], None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("iter ")]
    assert [int(line.split()[1]) for line in lines[:5]] == [1, 2, 3, 4, 5]
    assert 140 < len(lines) < 200 and any("route DS" in line and line.startswith("iter  301") for line in lines)
    assert lines[-1].startswith("iter  600")
    progress.on_trial_result(601, [], None, {"training_iteration": 601, "time_total_s": 1803.0,
                                             "num_env_steps_sampled_lifetime": 601, "env_runners": {}})
    progress.on_trial_complete(601, [], None)
    last = [r.getMessage() for r in caplog.records if r.getMessage().startswith("iter  601")][-1]
    assert "ETA    0.0 min" in last, "the time budget overrun by the last iteration: no time left, not less"


def test_a_local_ray_start_that_fails_once_is_tried_again(monkeypatch):
    """Ray's local start fails now and then on a loaded machine (a plain Exception: 'The current node timed out
    during startup'); training tries once more before it reports the failure."""
    from rllib_integration.training import launcher
    calls = []

    def init(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise Exception("The current node timed out during startup.")

    monkeypatch.setattr(launcher.ray, "init", init)
    monkeypatch.setattr(launcher.ray, "shutdown", lambda: None)
    assert launcher.start_local_ray({}) is None and len(calls) == 2
    calls.clear()
    monkeypatch.setattr(launcher.ray, "init", lambda **kwargs: (_ for _ in ()).throw(RuntimeError("GCS down")))
    assert str(launcher.start_local_ray({})) == "GCS down"


def test_the_traffic_config_is_the_quickstarts_among_traffic():
    path = os.path.join(ROOT, "dqn_example", "dqn_traffic_config.yaml")
    loaded = load_env_config(path)
    build_algorithm_config(loaded, path)
    others = loaded["env_config"]["experiment"]["others"]
    assert others["red_light_ends"] and others["excused_waits"]
    assert loaded["env_config"]["experiment"]["background_activity"]["n_vehicles"] == 30


def test_traffic_options_excuse_waits_behind_a_car_and_end_at_red_lights():
    """``excused_waits``: standing behind a car on the route does not count as idling (without it, 1.5 s of it ends
    the episode as idle; a car on the lane beside excuses nothing); ``red_light_ends`` adds running a red light to the
    ends of a route episode."""
    for excused, car in ((False, "route"), (True, None), (True, "route"), (True, "beside")):
        config = route_config("GridTown")
        config["experiment"]["others"].update(max_time_idle=30, excused_waits=excused, red_light_ends=True)
        env = CarlaEnv(config)
        try:
            env.reset(seed=0)
            assert "red_light" in env.experiment.task.hard_kinds
            world, hero = env.core.world, env.core.hero
            start, points = hero.get_location(), env.core.route_progress.points
            gaps = np.hypot(points[:, 0] - start.x, points[:, 1] - start.y)
            x, y = points[int(np.argmax(gaps > 8.0)), :2]  # the route point 8 m on
            ahead = env.core.map.get_waypoint(carla.Location(float(x), float(y), 0.0)).transform
            ahead.location.z += 0.3
            if car == "beside":  # 3.5 m to the left of the route: the lane beside
                right = ahead.get_right_vector()
                ahead.location -= carla.Location(3.5 * right.x, 3.5 * right.y, 0.0)
            if car:
                assert world.try_spawn_actor(world.get_blueprint_library().find("vehicle.audi.a2"), ahead) is not None
            results = [env.step(1) for _ in range(60)]  # 3 s on the brake, 8 m behind a standing car
            ends = [r[4].get("end_reason") for r in results if r[2] or r[3]]
            if excused and car == "route":
                assert not ends, f"a wait behind a car is no idling: {ends}"
            else:
                assert ends and ends[0] == "idle"
        finally:
            env.close()


def test_light_ahead_joins_the_next_light_on_the_route_to_the_state_vector():
    """``light_ahead``: the state vector ends with the next light on the route (distance over 40 m, red, yellow), as
    the route's lights say; it needs the state vector and a route (one error each)."""
    config = route_config("GridTown")
    config["experiment"]["others"].update(state_input=True, light_ahead=True)
    env = CarlaEnv(config)
    try:
        assert env.observation_space["state"].shape == (7,)
        seen = 0
        for seed in range(8):
            observation, _ = env.reset(seed=seed)
            lights = env.experiment.route_lights
            for _ in range(300):
                distance, state = lights.next_light(40.0)
                assert observation["state"][4] == pytest.approx(distance / 40.0, abs=1e-5)
                assert observation["state"][5] == float(state == carla.TrafficLightState.Red)
                assert observation["state"][6] == float(state == carla.TrafficLightState.Yellow)
                seen += state is not None
                observation, _, terminated, truncated, _ = env.step(5)  # straight on at 0.3 throttle
                if terminated or truncated:
                    break
            if seen > 20:
                break
        assert seen > 20, "lights came into view"
    finally:
        env.close()
    for others, name in (({"state_input": False, "light_ahead": True}, "state_input"),
                         ({"reward": "faithful", "state_input": True, "light_ahead": True}, "reward: route")):
        bad = route_config("GridTown")
        bad["experiment"]["others"].update(others)
        with pytest.raises(ConfigError, match=name):
            CarlaEnv(bad)


def original_lane_check(town: carla.Map, x: float, y: float, z: float, yaw: float, steer: float) -> tuple:
    """The original's lane check, waypoint by waypoint from the map: (state, penalty, heading deviation)."""
    waypoint = town.get_waypoint(carla.Location(x, y, z), project_to_road=False, lane_type=carla.LaneType.Any)
    if waypoint is None or waypoint.lane_type not in (carla.LaneType.Driving, carla.LaneType.Parking):
        return "off_lane", -0.5, math.pi
    if waypoint.is_junction:
        return "junction", 0.0, 0.0
    angle = math.radians((yaw - waypoint.transform.rotation.yaw + 180.0) % 360.0 - 180.0)
    if abs(angle) > math.pi / 2.0:
        return "wrong_way", -0.5, abs(angle)
    if abs(math.sin(angle)) > 0.4 and steer * math.sin(angle) >= 0.0:
        return "on_lane", -0.05, abs(angle)
    return "on_lane", 0.0, abs(angle)


@pytest.mark.parametrize("town_name", ["GridTown", "RingTown", "Town01"])
def test_the_lane_check_of_many_heroes_is_the_originals_from_the_maps_waypoints(town_name):
    """lane_check_codes (every hero at once, most facts from the map's lane chords) gives, to the bit, the original's
    check from the map's own waypoints, hero by hero: points on and off the lanes, in junctions, any heading."""
    from conftest import shared_map
    from dqn_example.dqn_experiment import LANE_STATES, lane_check, lane_check_codes
    from rllib_integration.embedded.maps.towns import load_map, resolve_town
    from test_waypoint_index import points_around_lanes
    town = load_map(town_name, shared_map(town_name).read_text()) if town_name.startswith("Town") else \
        load_map(*resolve_town(town_name))
    rng = np.random.default_rng(5)
    xyz = points_around_lanes(town, 500, seed=5)
    yaws, steers = rng.uniform(-180.0, 180.0, len(xyz)).tolist(), rng.choice([-0.5, 0.0, 0.25], len(xyz)).tolist()
    expected = [original_lane_check(town, *point, yaw, steer) for point, yaw, steer in zip(xyz.tolist(), yaws, steers)]
    codes, penalties, deviations = lane_check_codes(town, xyz, yaws, steers)
    states = LANE_STATES[codes]
    assert list(zip(states.tolist(), penalties.tolist(), deviations.tolist())) == expected
    assert {state for state, _, _ in expected} == {"off_lane", "junction", "wrong_way", "on_lane"}
    x, y, z = xyz[0].tolist()
    transform = carla.Transform(carla.Location(x, y, z), carla.Rotation(yaw=yaws[0]))
    assert lane_check(town, transform, steers[0]) == original_lane_check(town, x, y, z, transform.rotation.yaw,
                                                                         steers[0])
