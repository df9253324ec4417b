"""Many heroes in one world: MultiAgentCarlaEnv (RLlib's multi-agent API) and CarlaVectorEnv (gymnasium's vector
API) on the embedded world, each hero driven through its own instance of an unchanged single-agent experiment."""

import json
import os
import subprocess
import sys

import carla
import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.env.env_errors import StepFailedRecreateEnvError
from ray.rllib.utils.pre_checks.env import check_multiagent_environments

from conftest import straight_spawn
from rllib_integration import BaseExperiment, CarlaVectorEnv, ConfigError, EnvUsageError, MultiAgentCarlaEnv
from rllib_integration.hero_agents import hero_index
from test_dqn import ROOT
from test_env import PoseExperiment
from test_sensors import as_point


class Crash(BaseExperiment):
    """Full throttle straight on (action 1) or brake (0); observation: x, y, speed; ends at the hero's first
    collision (terminated, info names what it hit) or after ``others.max_steps`` (truncated); an Audi A2 hero
    ends after ``others.audi_steps``."""

    CONFIG_DEFAULTS = {"others": {"max_steps": 120, "audi_steps": 0}}

    def reset(self):
        self.steps, self.hit = 0, []

    def get_action_space(self):
        return gym.spaces.Discrete(2)

    def get_observation_space(self):
        return gym.spaces.Box(-1e5, 1e5, (3,), np.float32)

    def compute_action(self, action):
        return carla.VehicleControl(throttle=float(action), brake=1.0 - float(action))

    def get_observation(self, sensor_data):
        self.hit += [other.id for other, _ in sensor_data.get("collision", (0, []))[1]]
        location = self.core.hero.get_location()
        return np.array([location.x, location.y, self.core.hero.get_velocity().length()], np.float32), {}

    def get_done_status(self, observation, core):
        self.steps += 1
        audi = self.config["others"]["audi_steps"] and core.hero.type_id == "vehicle.audi.a2"
        limit = self.config["others"]["audi_steps"] if audi else self.config["others"]["max_steps"]
        return bool(self.hit), self.steps >= limit

    def compute_reward(self, observation, core):
        return -1.0 if self.hit else 0.1

    def get_info(self, observation, core):
        return {"hit": list(self.hit), "hero_id": core.hero.id}


def config(experiment=Crash, **experiment_config):
    return {"carla": {"simulator": "embedded", "timeout": 2.0},
            "experiment": {"type": experiment, "town": "GridTown", **experiment_config}}


def facing_pair():
    """Two spawn points 25 m apart on one straight lane, facing each other."""
    probe = MultiAgentCarlaEnv(config(heroes=1))
    try:
        spot = straight_spawn(probe.world.core.world)
    finally:
        probe.close()
    forward = spot.get_forward_vector()
    other = carla.Transform(carla.Location(spot.location.x + 25 * forward.x, spot.location.y + 25 * forward.y,
                                           spot.location.z),
                            carla.Rotation(spot.rotation.pitch, spot.rotation.yaw + 180.0, spot.rotation.roll))
    return as_point(spot), as_point(other)


def test_the_multi_agent_env_passes_rllibs_checks_and_its_spaces_are_the_experiments():
    env = MultiAgentCarlaEnv(config(PoseExperiment, heroes=3))
    try:
        check_multiagent_environments(env)
        observations, infos = env.reset(seed=0)
        assert sorted(observations) == env.possible_agents == ["hero_0", "hero_1", "hero_2"]
        assert all(env.get_observation_space(a).contains(o) for a, o in observations.items())
        heroes = [agent.hero for agent in env.world.agents]
        assert len({hero.id for hero in heroes}) == 3 and all(h.attributes["role_name"] == "hero" for h in heroes)
        assert len({(round(h.get_location().x), round(h.get_location().y)) for h in heroes}) == 3, "three places"
        assert hero_index("hero_2_5") == 2
    finally:
        env.close()


def test_the_pettingzoo_view_passes_pettingzoos_api_test():
    from pettingzoo.test import parallel_api_test
    from rllib_integration import pettingzoo_env
    env = pettingzoo_env(config(PoseExperiment, heroes=3, others={"max_steps": 15}))
    try:
        parallel_api_test(env, num_cycles=40)
        observations, _ = env.reset(seed=0)
        assert sorted(observations) == env.possible_agents
        steps = 0
        while env.agents:
            env.step({agent: env.action_space(agent).sample() for agent in env.agents})
            steps += 1
        assert steps == 15
    finally:
        env.close()


def test_two_heroes_that_collide_each_get_the_collision():
    first, second = facing_pair()
    env = MultiAgentCarlaEnv(config(heroes=[{"spawn_points": [first]}, {"spawn_points": [second]}],
                                    hero={"sensors": {"collision": {"type": "sensor.other.collision"}}}))
    try:
        env.reset(seed=0)
        ids = {agent.agent_id: agent.hero.id for agent in env.world.agents}
        for step in range(120):
            _, rewards, terminateds, truncateds, infos = env.step({agent: 1 for agent in env.agents})
            if any(terminateds.get(a) for a in ids):
                break
        assert terminateds["hero_0"] and terminateds["hero_1"], "both ended at the same tick"
        assert infos["hero_0"]["hit"][0] == ids["hero_1"] and infos["hero_1"]["hit"][0] == ids["hero_0"]
        assert rewards == {"hero_0": -1.0, "hero_1": -1.0}
        assert terminateds["__all__"] and not truncateds["__all__"] and env.agents == []
        world = env.world.core.world
        assert not [a for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "hero"], \
            "heroes that ended leave the world"
        with pytest.raises(EnvUsageError, match="no episode running"):
            env.step({})
    finally:
        env.close()


def test_an_agent_that_ends_does_not_end_the_others_and_respawns_as_a_new_agent():
    heroes = [{"blueprint": "vehicle.audi.a2"}, {}, {}]
    env = MultiAgentCarlaEnv(config(heroes=heroes, others={"audi_steps": 5, "max_steps": 40}))
    try:
        env.reset(seed=1)
        for _ in range(5):
            observations, _, terminateds, truncateds, _ = env.step({agent: 0 for agent in env.agents})
        assert truncateds["hero_0"] and not truncateds["__all__"] and not terminateds["__all__"]
        assert env.agents == ["hero_1", "hero_2"] and env.world.agents[0].hero is None
        with pytest.raises(EnvUsageError, match=r"actions for \['hero_0'\] agents that are not driving"):
            env.step({"hero_0": 0, "hero_1": 0, "hero_2": 0})
        observations, rewards, _, _, _ = env.step({"hero_1": 0, "hero_2": 0})
        assert sorted(observations) == ["hero_1", "hero_2"] and sorted(rewards) == ["hero_1", "hero_2"]
    finally:
        env.close()
    env = MultiAgentCarlaEnv(config(heroes=heroes, agents_respawn=True, episode_steps=12,
                                    others={"audi_steps": 5, "max_steps": 40}))
    try:
        env.reset(seed=1)
        for _ in range(5):
            env.step({agent: 0 for agent in env.agents})
        old_hero = env.world.agents[0].hero.id
        observations, rewards, terminateds, truncateds, _ = env.step({"hero_1": 0, "hero_2": 0})
        assert sorted(observations) == ["hero_0_1", "hero_1", "hero_2"] and "hero_0_1" not in rewards, \
            "the respawned hero's first observation, with no reward"
        assert env.world.agents[0].hero.id != old_hero and env.agents == ["hero_0_1", "hero_1", "hero_2"]
        assert env.world.respawns == 1 and env.world.respawn_seconds > 0.0, "a respawn is counted and timed"
        for step in range(5):  # hero_0_1 (an Audi again) ends at step 11
            observations, _, terminateds, truncateds, _ = env.step({agent: 0 for agent in env.agents})
        assert truncateds["hero_0_1"] and env.agents == ["hero_1", "hero_2"]
        observations, _, terminateds, truncateds, _ = env.step({agent: 0 for agent in env.agents})
        assert truncateds["__all__"] and truncateds["hero_1"] and truncateds["hero_2"] and not terminateds["__all__"]
        assert sorted(observations) == ["hero_1", "hero_2"], "no agent is born on the episode's last step"
        assert env.agents == [] and all(agent.hero is None for agent in env.world.agents)
    finally:
        env.close()


def rollout(env, seed, steps=30):
    observations, _ = env.reset(seed=seed)
    trace = [np.concatenate([observations[a] for a in sorted(observations)])]
    for step in range(steps):
        observations, *_ = env.step({agent: (step // 3) % 2 for agent in env.agents})
        trace.append(np.concatenate([observations[a] for a in sorted(observations)]))
    return np.array(trace)


def test_the_same_seed_gives_the_same_episodes():
    runs = []
    for _ in range(2):
        env = MultiAgentCarlaEnv(config(heroes=4, background_activity={"n_vehicles": 10, "seed": 3}))
        try:
            runs.append((rollout(env, 5), rollout(env, 6)))
        finally:
            env.close()
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0][0], runs[0][1][0]), "another seed, other places"


def test_the_vector_env_ticks_all_heroes_once_and_resets_each_at_its_next_step():
    env = CarlaVectorEnv(config(PoseExperiment, others={"max_steps": 4}), num_envs=3)
    try:
        assert env.observation_space.shape == (3, 4) and env.action_space.shape == (3,)
        observations, infos = env.reset(seed=2)
        assert env.observation_space.contains(observations) and list(infos["_sensors"]) == [True] * 3
        world = env.world.core.world
        frame = world.get_snapshot().frame
        for step in range(4):
            observations, rewards, terminated, truncated, _ = env.step(np.array([1, 1, 1]))
            assert world.get_snapshot().frame == frame + step + 1, "one tick per step for all heroes"
        assert truncated.all() and (rewards > 0).all()
        ended_at, kept = observations.copy(), observations
        observations, rewards, terminated, truncated, _ = env.step(np.array([1, 1, 1]))
        assert np.array_equal(kept, ended_at), "a step never overwrites the batch an earlier step returned"
        assert (rewards == 0).all() and not (terminated | truncated).any(), "next-step autoreset"
        moved = np.hypot(*(observations[:, :2] - ended_at[:, :2]).T)
        assert (moved > 1.0).all() and (observations[:, 3] < 0.5).all(), "new heroes, at rest, elsewhere"
    finally:
        env.close()


class SubEnvironment(gym.Env):
    """Sub-environment ``index`` of a ``CarlaVectorEnv`` as a gymnasium env: its row of every batch, the other
    heroes of the world given ``others`` as their action at every step (what gymnasium's ``check_env`` needs to see
    one hero's episode through the vector env's reset, step and next-step autoreset)."""

    def __init__(self, vector: CarlaVectorEnv, index: int, others) -> None:
        self.vector, self.index, self.others = vector, index, others
        self.observation_space, self.action_space = vector.single_observation_space, vector.single_action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        observations, infos = self.vector.reset(seed=seed, options=options)
        return observations[self.index], self._info(infos)

    def step(self, action):
        actions = np.array([action if k == self.index else self.others for k in range(self.vector.num_envs)],
                           dtype=self.vector.action_space.dtype)
        observations, rewards, terminated, truncated, infos = self.vector.step(actions)
        k = self.index
        return observations[k], float(rewards[k]), bool(terminated[k]), bool(truncated[k]), self._info(infos)

    def _info(self, infos):
        return {key: value[self.index] for key, value in infos.items()
                if not key.startswith("_") and not isinstance(value, dict) and infos[f"_{key}"][self.index]}


@pytest.mark.parametrize("experiment", ["pose", "route"])
def test_each_sub_environment_of_a_vector_env_passes_gymnasiums_check_env(experiment):
    """gymnasium's ``check_env`` on the first and the last sub-environment of a vector env of three heroes: hero by
    hero (a single-agent experiment as it is) and through the PPO example's batched route experiment (its virtual
    LiDAR): spaces, seeding, the same episode from the same seed, the step's types."""
    from gymnasium.utils.env_checker import check_env

    from ppo_example.ppo_experiment import RouteExperiment

    if experiment == "pose":
        vector = CarlaVectorEnv(config(PoseExperiment, others={"max_steps": 6}), num_envs=3)
        others = 1
    else:
        vector = CarlaVectorEnv(config(RouteExperiment, hero={"sensors": {"vlidar": {"type": "sensor.virtual_lidar",
                                                                                      "rays": 8}}}), num_envs=3)
        others = np.zeros(vector.single_action_space.shape, dtype=vector.single_action_space.dtype)
    try:
        assert (vector.world.batch is not None) == (experiment == "route"), "the route experiment's batched twin"
        for index in (0, vector.num_envs - 1):
            check_env(SubEnvironment(vector, index, others), skip_render_check=True, skip_close_check=True)
    finally:
        vector.close()


def test_the_vector_envs_infos_are_laid_out_as_gymnasiums():
    """vector_infos builds in one pass what gymnasium's _add_info builds an info at a time (types, masks, nesting,
    keys some sub-environments lack, final_obs as objects)."""
    from rllib_integration.vector_env import vector_infos

    class Reference(gym.vector.VectorEnv):
        num_envs = 4
    infos = [(2, {"a": 1, "b": 0.5, "c": True, "d": np.float32(2.0), "e": np.arange(3), "f": "x",
                  "g": {"h": 1.5, "i": [1]}, "final_obs": np.zeros(2)}),
             (0, {"a": 3, "b": 1.5, "f": None, "g": {"h": 2.5}, "only_0": np.int64(7)}),
             (3, {"c": False, "e": np.ones(3, dtype=np.int64), "g": {"i": [2]}, "final_obs": np.ones(2)})]
    expected: dict = {}
    for index, info in infos:
        expected = Reference()._add_info(expected, info, index)
    got = vector_infos(4, infos)

    def same(a, b):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], dict):
                same(a[key], b[key])
            else:
                assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
                for x, y in zip(a[key], b[key]):
                    assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, key
    same(got, expected)


@pytest.mark.parametrize("seed", range(6))
def test_a_batchs_infos_merge_into_the_vector_layout_as_one_info_at_a_time(seed):
    """merge_infos (a world's batch of infos, an array a key, merged world after world) lays out what vector_infos
    lays out from the same infos one sub-environment at a time: every sub-environment acting or only some (a step
    with respawns), one world or several, floats, ints, booleans and objects, and the end reasons of those that
    ended."""
    from rllib_integration.vector_env import merge_infos, vector_infos

    rng = np.random.default_rng(seed)
    worlds, size = int(rng.integers(1, 3)), int(rng.integers(1, 6))
    num_envs, merged, single = worlds * size, {}, []
    for world in range(worlds):
        acting = np.flatnonzero(rng.random(size) < 0.7) if rng.random() < 0.6 else np.arange(size)
        rows = world * size + acting
        values = {"speed": rng.random(len(rows)), "count": rng.integers(0, 5, len(rows)),
                  "flag": rng.random(len(rows)) < 0.5, "kind": np.array([f"k{k}" for k in rows], dtype=object)}
        ended = rng.random(len(rows)) < 0.3
        reasons = np.array([("done" if rng.random() < 0.8 else None) if end else None for end in ended], dtype=object)
        merge_infos(merged, num_envs, rows, values, reasons, ended)
        for j, row in enumerate(rows.tolist()):
            info = {key: column[j] if column.dtype == object else column[j].item()  # (Python numbers, as an
                    for key, column in values.items()}  # experiment's get_info gives them)
            if reasons[j] is not None:
                info["end_reason"] = reasons[j]
            single.append((row, info))
    expected = vector_infos(num_envs, single)
    assert merged.keys() == expected.keys()
    for key in expected:
        assert merged[key].dtype == expected[key].dtype and merged[key].tolist() == expected[key].tolist(), key


def test_a_vector_env_spreads_its_envs_over_worlds_of_several_heroes():
    """experiment.worlds: 2 and 6 envs: two worlds of three heroes, each ticked once a step; a sub-environment's
    end resets only its own hero; envs that do not split evenly are one error naming the fix."""
    env = CarlaVectorEnv(config(PoseExperiment, worlds=2, others={"max_steps": 3}), num_envs=6)
    try:
        assert len(env.worlds) == 2 and [len(world) for world in env.worlds] == [3, 3]
        assert env.worlds[0].core.world is not env.worlds[1].core.world
        observations, _ = env.reset(seed=1)
        assert observations.shape == (6, 4)
        frames = [world.core.world.get_snapshot().frame for world in env.worlds]
        for step in range(3):
            observations, rewards, terminated, truncated, _ = env.step(np.array([1] * 5 + [0]))
        assert [world.core.world.get_snapshot().frame for world in env.worlds] == [f + 3 for f in frames]
        assert truncated.all()
        heroes = [hero.id for world in env.worlds for hero in (agent.hero for agent in world.agents)]
        assert len(heroes) == 6 and observations[5, 3] < observations[0, 3], "the last env's own action (brake)"
    finally:
        env.close()
    with pytest.raises(ConfigError, match="experiment.worlds: 2 worlds cannot share 5 envs"):
        CarlaVectorEnv(config(PoseExperiment, worlds=2), num_envs=5)


def test_a_simulator_failure_breaks_the_episode_and_the_world_comes_back():
    env = MultiAgentCarlaEnv({"carla": {"simulator": "embedded", "timeout": 0.3,
                                        "fault_injection": {"mode": "raise", "every_ticks": 60}},
                              "experiment": {"type": PoseExperiment, "town": "GridTown", "heroes": 3,
                                             "others": {"max_steps": 1000}}})
    try:
        env.reset(seed=0)
        with pytest.raises(StepFailedRecreateEnvError):
            for _ in range(100):
                env.step({agent: 1 for agent in env.agents})
        assert env.world.core.restarts == 1 and all(agent.hero is None for agent in env.world.agents)
        observations, infos = env.reset(seed=1)
        assert len(observations) == 3 and infos["hero_0"]["simulator_restarts"] == 1
        assert len(env.step({agent: 1 for agent in env.agents})[0]) == 3
    finally:
        env.close()


def test_a_failure_while_the_heroes_are_placed_is_restarted_in_place():
    def env(every_ticks):
        return MultiAgentCarlaEnv({"carla": {"simulator": "embedded", "timeout": 0.3,
                                             "fault_injection": {"mode": "raise", "every_ticks": every_ticks}},
                                   "experiment": {"type": PoseExperiment, "town": "GridTown", "heroes": 3}})
    never = env(10 ** 9)
    try:
        never.reset(seed=0)
        ticks_to_first_episode = never.world.core.backend.server.ticks
    finally:
        never.close()
    failing = env(ticks_to_first_episode + 1)  # the second reset's first tick fails
    try:
        failing.reset(seed=0)
        with pytest.raises(StepFailedRecreateEnvError):
            failing.reset(seed=1)
        assert failing.world.core.restarts == 1 and all(agent.hero is None for agent in failing.world.agents)
        observations, infos = failing.reset(seed=2)
        assert len(observations) == 3 and infos["hero_0"]["simulator_restarts"] == 1
    finally:
        failing.close()


def test_configuration_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"heroes\[1\]\.blueprnt: unknown key; did you mean 'blueprint'"):
        MultiAgentCarlaEnv(config(heroes=[{}, {"blueprnt": "vehicle.audi.a2"}]))
    with pytest.raises(ConfigError, match="heroes: 0 is out of range"):
        MultiAgentCarlaEnv(config(heroes=0))
    with pytest.raises(ConfigError, match="CarlaEnv drives one hero. Fix: use MultiAgentCarlaEnv or CarlaVectorEnv"):
        from rllib_integration import CarlaEnv
        CarlaEnv(config(heroes=2))


SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
import ray
from ray.rllib.algorithms.ppo import PPOConfig
from rllib_integration import CarlaVectorEnv, MultiAgentCarlaEnv
from rllib_integration.hero_agents import hero_index
from test_env import PoseExperiment
ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR")
experiment = {{"type": PoseExperiment, "town": "GridTown", "others": {{"max_steps": 20}}}}
carla = {{"simulator": "embedded"}}
multi = (PPOConfig().environment(MultiAgentCarlaEnv, env_config={{"carla": carla, "experiment": {{**experiment, "heroes": 3}}}})
         .multi_agent(policies={{"even", "odd"}}, policy_mapping_fn=lambda a, e, **k: "odd" if hero_index(a) % 2 else "even"))
vector = (PPOConfig().environment(CarlaVectorEnv, env_config={{"carla": carla, "experiment": experiment}})
          .env_runners(num_envs_per_env_runner=4, gym_env_vectorize_mode="vector_entry_point"))
out = {{}}
for name, config in (("multi", multi), ("vector", vector)):
    algo = config.env_runners(num_env_runners=0).training(train_batch_size=160, minibatch_size=40, num_epochs=1).build_algo()
    for _ in range(2):
        result = algo.train()
    runners, learners = result["env_runners"], result["learners"]
    out[name] = {{"env_steps": int(runners["num_env_steps_sampled_lifetime"]),
                  "agent_steps": {{str(k): int(v) for k, v in runners["num_agent_steps_sampled_lifetime"].items()}},
                  "episodes": int(runners["num_episodes_lifetime"]),
                  "modules": sorted(k for k in learners if k != "__all_modules__")}}
    algo.stop()
print("RESULT", json.dumps(out))
"""


def test_rllib_trains_on_the_multi_agent_and_the_vector_env():
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=os.path.join(ROOT, "tests"))], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    line = next((l for l in result.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line, result.stdout[-2000:] + result.stderr[-3000:]
    out = json.loads(line[7:])
    multi, vector = out["multi"], out["vector"]
    assert multi["env_steps"] >= 320 and sum(multi["agent_steps"].values()) == 3 * multi["env_steps"]
    assert multi["modules"] == ["even", "odd"] and multi["episodes"] >= 15, "episodes of 20 steps"
    assert vector["env_steps"] >= 320 and vector["episodes"] >= 15


def test_heroes_on_a_launched_server_are_spawned_and_ticked_once_a_step(stand_in_carla_root, monkeypatch):
    """The real-server path (``simulator: launch``): CARLA's launcher starts the stand-in server (it answers the
    version probe over CARLA's RPC), and the world behind that address is an embedded one (the backend's client
    stands in for the server's world); three heroes are spawned, one step ticks the world once for all of them,
    closing stops the server process."""
    import psutil

    from rllib_integration import embedded
    from rllib_integration.simulators.launch import LaunchBackend
    from conftest import FAKE_SERVER
    monkeypatch.setattr(LaunchBackend, "client", lambda self: embedded.Client(self.host, self.port))
    env = MultiAgentCarlaEnv({"carla": {"simulator": "launch", "timeout": 5.0},
                              "experiment": {"type": Crash, "town": "GridTown", "heroes": 3}})
    try:
        backend = env.world.core.backend
        server_pids = [p.pid for p in psutil.process_iter(["cmdline"])
                       if str(FAKE_SERVER) in " ".join(p.info["cmdline"] or []) and f"={backend.port}" in
                       " ".join(p.info["cmdline"] or [])]
        assert len(server_pids) == 1, "one stand-in server launched on the env's port"
        observations, _ = env.reset(seed=0)
        world = env.world.core.world
        heroes = [a for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "hero"]
        assert len(heroes) == 3 and len(observations) == 3
        frame = world.get_snapshot().frame
        client, batches = env.world.core.client, []
        apply_batch_sync = client.apply_batch_sync
        monkeypatch.setattr(client, "apply_batch_sync", lambda commands, tick=False: (
            batches.append([(isinstance(c, carla.command.ApplyVehicleControl), c.actor_id) for c in commands]),
            apply_batch_sync(commands, tick))[1])
        for step in range(1, 4):
            observations, *_ = env.step({agent: 1 for agent in observations})
            assert world.get_snapshot().frame == frame + step, "one server tick per step for the three heroes"
        assert batches == [[(True, hero.id) for hero in heroes]] * 3, \
            "the three heroes' controls in one request a step, as carla.command batches"
        assert all(hero.get_control().throttle > 0.0 for hero in heroes), "and applied"
    finally:
        env.close()
    assert psutil.wait_procs([psutil.Process(pid) for pid in server_pids if psutil.pid_exists(pid)], timeout=10)[1] \
        == [], "closing the env stops the launched server"


def test_an_error_a_server_answers_for_one_heros_control_is_raised_naming_the_actor():
    from types import SimpleNamespace

    from rllib_integration.embedded.command import Response
    from rllib_integration.simulators.connect import ConnectBackend

    class Client:  # a server's answers: the second hero is gone
        def apply_batch_sync(self, commands, tick):
            assert tick is False and all(isinstance(c, carla.command.ApplyVehicleControl) for c in commands)
            return [Response(c.actor_id, "" if c.actor_id == 1 else "actor not found") for c in commands]

    backend = ConnectBackend({"host": "127.0.0.1", "port": 2000, "timeout": 1.0})
    heroes = [SimpleNamespace(id=1), SimpleNamespace(id=2)]
    with pytest.raises(RuntimeError, match="actor 2: actor not found"):
        backend.apply_controls(Client(), [(hero, carla.VehicleControl(throttle=1.0)) for hero in heroes])
