"""Recovery from a failed simulator, through the embedded world's fault injection: restart in place,
broken episodes reported to RLlib, restarts counted, recycling, and a training run that survives."""

import json
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest
import yaml
from ray.rllib.env.env_errors import StepFailedRecreateEnvError

from rllib_integration import BaseExperiment, CarlaEnv, SimulatorUnavailableError
from test_dqn import ROOT, TINY


class Drive(BaseExperiment):
    def get_action_space(self):
        return gym.spaces.Discrete(2)

    def get_observation_space(self):
        return gym.spaces.Box(-1e4, 1e4, (2,), np.float32)

    def compute_action(self, action):
        import carla
        return carla.VehicleControl(throttle=0.5 * int(action))

    def get_observation(self, sensor_data):
        location = self.core.hero.get_location()
        return np.array([location.x, location.y], np.float32), {}

    def get_done_status(self, observation, core):
        return False

    def compute_reward(self, observation, core):
        return 0.0


def env_with(**carla):
    return CarlaEnv({"carla": {"simulator": "embedded", "timeout": 0.3, **carla},
                     "experiment": {"type": Drive, "town": "RingTown"}})


def step_until_failure(env, limit=200):
    for step in range(limit):
        try:
            env.step(1)
        except StepFailedRecreateEnvError:
            return step
    raise AssertionError("no failure")


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_failed_simulator_is_restarted_in_place_and_the_episode_reported_broken(mode):
    env = env_with(fault_injection={"mode": mode, "every_ticks": 40})
    try:
        env.reset(seed=0)
        world = env.core.world
        started = time.monotonic()
        step_until_failure(env)
        assert env.core.restarts == 1 and env.core.world is not world, "a new server and world"
        if mode == "hang":
            assert time.monotonic() - started >= 0.3, "a hang costs the client timeout"
        observation, info = env.reset(seed=1)  # the restarted world works
        assert info["simulator_restarts"] == 1
        assert env.step(1)[4]["simulator_restarts"] == 1
    finally:
        env.close()


def test_a_failure_while_an_episode_starts_is_restarted_in_place_too():
    never = env_with(fault_injection={"mode": "raise", "every_ticks": 10 ** 9})
    try:
        never.reset(seed=0)
        ticks_to_first_episode = never.core.backend.server.ticks  # set-up and the first reset
    finally:
        never.close()
    env = env_with(fault_injection={"mode": "raise", "every_ticks": ticks_to_first_episode + 1})
    try:
        env.reset(seed=0)
        core, world = env.core, env.core.world
        with pytest.raises(StepFailedRecreateEnvError, match="restarted"):
            env.reset(seed=1)  # its first tick fails
        assert env.core is core and core.restarts == 1 and core.world is not world, "restarted in place"
        env.close()  # as RLlib does before it recreates the env: the restarted simulator is kept for it
        again = env_with(fault_injection={"mode": "raise", "every_ticks": ticks_to_first_episode + 1})
        try:
            assert again.core is core and again.reset(seed=2)[1]["simulator_restarts"] == 1
        finally:
            again.close()
    finally:
        env.close()


def test_the_env_rllib_recreates_adopts_the_restarted_simulator():
    env = env_with(fault_injection={"mode": "raise", "every_ticks": 30})
    env.reset(seed=0)
    step_until_failure(env)
    core = env.core
    env.close()  # what RLlib does before make_env()
    again = env_with(fault_injection={"mode": "raise", "every_ticks": 30})
    try:
        assert again.core is core and again.core.restarts == 1, "no second launch"
        again.reset(seed=0)
    finally:
        again.close()


def test_the_restart_count_an_env_runner_logs_comes_from_its_envs():
    from rllib_integration.training.callbacks import simulator_restarts
    env = env_with(fault_injection={"mode": "raise", "every_ticks": 30})
    vector = gym.vector.SyncVectorEnv([lambda: env_with(), lambda: env])
    try:
        assert simulator_restarts(vector) == 0 and simulator_restarts(None) is None
        env.reset(seed=0)
        step_until_failure(env)
        assert simulator_restarts(vector) == 1 and simulator_restarts(env) == 1
    finally:
        vector.close()


def test_recycling_after_a_number_of_episodes():
    env = env_with(recycle_after_episodes=2)
    try:
        worlds = []
        for seed in range(3):
            env.reset(seed=seed)
            worlds.append(env.core.world)
        assert worlds[0] is worlds[1] and worlds[2] is not worlds[1]
        assert env.core.recycles == 1 and env.core.restarts == 0
    finally:
        env.close()


def test_giving_up_after_max_restarts():
    env = env_with(fault_injection={"mode": "raise", "every_ticks": 25}, max_restarts=1)
    try:
        env.reset(seed=0)
        step_until_failure(env)
        env.reset(seed=0)
        with pytest.raises(SimulatorUnavailableError, match="after 1 restarts. Fix"):
            for _ in range(100):
                env.step(1)
    finally:
        env.close()


def test_training_with_injected_faults_finishes_and_keeps_its_checkpoints(tmp_path):
    config = json.loads(json.dumps(TINY))
    config["env_config"]["carla"]["fault_injection"] = {"mode": "raise", "every_ticks": 150}
    config["fault_tolerance"] = {"restart_failed_sub_environments": True, "restart_failed_env_runners": False}
    config["run"] = {"stop": {"training_iteration": 4}, "checkpoint_frequency": 1, "checkpoints_to_keep": 10}
    config["route_evaluation"] = {}  # (the faults are the sampling's; route evaluations are tested elsewhere)
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "dqn_train.py", str(path), "-d", str(tmp_path / "results"), "-n", "faults",
                             "--tboff"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = next((tmp_path / "results" / "faults").glob("*/result.json"))
    last = json.loads(results.read_text().splitlines()[-1])
    assert last["training_iteration"] == 4
    assert last["env_runners"]["num_env_step_failures"] >= 2, "faults happened and were absorbed"
    counts = [json.loads(line)["env_runners"].get("carla/simulator_restarts_max", 0)
              for line in results.read_text().splitlines()]
    assert counts == sorted(counts) and counts[-1] >= 1, f"restarts show in every iteration's metrics: {counts}"
    checkpoints = sorted(results.parent.glob("checkpoint_*"))
    assert len(checkpoints) == 4 and all((c / "policy.onnx").is_file() for c in checkpoints)


def test_a_bug_surfaces_at_once_and_is_not_taken_for_a_simulator_failure():
    from rllib_integration.sensors import PseudoSensor
    from rllib_integration.sensors.factory import SENSOR_TYPES

    class Buggy(PseudoSensor):
        def compute(self, frame):
            raise RuntimeError("a bug in a sensor")

    SENSOR_TYPES["sensor.test.buggy"] = Buggy
    try:
        env = CarlaEnv({"carla": {"simulator": "embedded", "timeout": 0.3},
                        "experiment": {"type": Drive, "town": "RingTown",
                                       "hero": {"sensors": {"buggy": {"type": "sensor.test.buggy"}}}}})
        try:
            with pytest.raises(RuntimeError, match="a bug in a sensor") as raised:
                env.reset(seed=0)
            assert not isinstance(raised.value, StepFailedRecreateEnvError)
            assert env.core.restarts == 0, "no restart for a bug"
        finally:
            env.close()
    finally:
        del SENSOR_TYPES["sensor.test.buggy"]
