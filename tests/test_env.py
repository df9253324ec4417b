"""CarlaEnv on the embedded world: gymnasium contract, resets, seeding, original-style experiments."""

import carla
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rllib_integration import BaseExperiment, CarlaEnv
from rllib_integration.embedded import EmbeddedServer


class PoseExperiment(BaseExperiment):
    """Observation: hero x, y, yaw, speed; actions: throttle/steer pairs; new-style done."""

    CONFIG_DEFAULTS = {"others": {"max_steps": 50}}
    ACTIONS = [(0.0, 0.0), (0.8, 0.0), (0.5, -0.4), (0.5, 0.4)]

    def reset(self):
        self.steps = 0

    def get_action_space(self):
        return gym.spaces.Discrete(len(self.ACTIONS))

    def get_observation_space(self):
        return gym.spaces.Box(-1e4, 1e4, shape=(4,), dtype=np.float32)

    def get_actions(self):
        return self.ACTIONS

    def compute_action(self, action):
        throttle, steer = self.ACTIONS[int(action)]
        return carla.VehicleControl(throttle=throttle, steer=steer)

    def get_observation(self, sensor_data):
        hero = self.core.hero
        t = hero.get_transform()
        obs = np.array([t.location.x, t.location.y, t.rotation.yaw, hero.get_velocity().length()], np.float32)
        return obs, {"sensors": sorted(sensor_data)}

    def get_done_status(self, observation, core):
        self.steps += 1
        return False, self.steps >= self.config["others"]["max_steps"]

    def compute_reward(self, observation, core):
        return float(observation[3])


class OriginalStyleExperiment(PoseExperiment):
    """The original's contract: get_done_status returns one bool."""

    def get_done_status(self, observation, core):
        self.steps += 1
        return self.steps >= 3


def make_env(experiment=PoseExperiment, **experiment_config):
    return CarlaEnv({"carla": {"simulator": "embedded"},
                     "experiment": {"type": experiment, "town": "GridTown", **experiment_config}})


def test_check_env_passes():
    env = make_env()
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_reset_puts_the_hero_on_a_spawn_point_in_sync_mode():
    env = make_env()
    try:
        obs, info = env.reset(seed=3)
        assert env.observation_space.contains(obs)
        hero = env.core.hero
        assert hero.attributes["role_name"] == "hero" and hero.type_id == "vehicle.lincoln.mkz_2017"
        points = env.core.map.get_spawn_points()
        location = hero.get_location()
        nearest = min(points, key=lambda p: p.location.distance(location))
        # on the spawn point, give or take the millimetres PhysX-like jitter moves a settled vehicle
        assert np.hypot(nearest.location.x - location.x, nearest.location.y - location.y) < 0.01
        settings = env.core.world.get_settings()
        assert settings.synchronous_mode and settings.fixed_delta_seconds == pytest.approx(0.05)
        env.reset()
        assert not hero.is_alive, "the previous hero is destroyed at reset"
        assert len(env.core.world.get_actors().filter("vehicle.*")) == 1
    finally:
        env.close()


def rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    trajectory = [obs]
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        trajectory.append(np.append(obs, reward))
    return trajectory


def test_same_seed_same_episode_step_for_step():
    actions = [1] * 20 + [3] * 10 + [2] * 10
    env_a, env_b = make_env(), make_env()
    try:
        first = rollout(env_a, 42, actions)
        again = rollout(env_a, 42, actions)
        other_env = rollout(env_b, 42, actions)
        different = rollout(env_b, 43, actions)
    finally:
        env_a.close()
        env_b.close()
    for a, b, c in zip(first, again, other_env):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert not np.array_equal(first[0], different[0]), "another seed, another spawn point"


def test_truncation_and_original_style_done():
    env = make_env(others={"max_steps": 4})
    try:
        env.reset(seed=0)
        flags = [env.step(1)[2:4] for _ in range(4)]
        assert flags == [(False, False)] * 3 + [(False, True)]
    finally:
        env.close()
    env = make_env(OriginalStyleExperiment)
    try:
        env.reset(seed=0)
        flags = [env.step(0)[2:4] for _ in range(3)]
        assert flags == [(False, False), (False, False), (True, False)], "a bare done is a termination"
    finally:
        env.close()


def test_configured_spawn_points_in_both_string_forms():
    env = make_env(hero={"spawn_points": ["98.3,-250.0,0.5", "300.0, -5.0, 0.5, 0, 0, 180"]})
    try:
        seen = set()
        for seed in range(8):
            env.reset(seed=seed)
            t = env.core.hero.get_transform()
            seen.add((round(t.location.x, 1), round(t.location.y, 1)))
            if round(t.location.x, 1) == 300.0:
                assert abs(abs(t.rotation.yaw) - 180.0) < 0.1, "the configured yaw, give or take the jitter"
            else:
                lane = env.core.map.get_waypoint(t.location)
                assert abs((lane.transform.rotation.yaw - t.rotation.yaw + 180) % 360 - 180) < 1.0
        assert seen == {(98.3, -250.0), (300.0, -5.0)}
    finally:
        env.close()


def test_close_releases_the_hero_and_the_server():
    env = make_env()
    env.reset(seed=0)
    hero, port = env.core.hero, env.core.port
    env.close()
    env.close()
    assert not hero.is_alive
    assert not EmbeddedServer.is_running("127.0.0.1", port)


def test_base_experiment_hooks_raise_not_implemented():
    experiment = BaseExperiment({})
    for hook, args in (("get_action_space", ()), ("get_observation_space", ()), ("get_actions", ()),
                       ("compute_action", (0,)), ("get_observation", ({},)),
                       ("get_done_status", (None, None)), ("compute_reward", (None, None))):
        with pytest.raises(NotImplementedError):
            getattr(experiment, hook)(*args)
    assert experiment.config["hero"]["blueprint"] == "vehicle.lincoln.mkz_2017"
    assert experiment.config["town"] == "Town05_Opt" and experiment.config["weather"] == "ClearNoon"


class LateFactsExperiment(PoseExperiment):
    """Changes the dict get_observation returned after the fact, and reports a reward term through
    get_info."""

    def get_observation(self, sensor_data):
        observation, self.info = super().get_observation(sensor_data)
        return observation, self.info

    def compute_reward(self, observation, core):
        self.info["late"] = True  # not this step's info: the env copied it already
        self.term = float(observation[3]) * 2.0
        return self.term

    def get_info(self, observation, core):
        return {"reward_term": self.term}


def test_reward_time_facts_reach_info_through_get_info_without_aliasing():
    env = make_env(LateFactsExperiment)
    try:
        env.reset(seed=0)
        _, reward, _, _, info = env.step(1)
        assert info["reward_term"] == reward and info["sensors"] == []
        assert "late" not in info and "simulator_restarts" in info
    finally:
        env.close()
