"""The benchmark scripts stay runnable: each one's ``--help`` explains its flags (an import that moved breaks it
here, not in a user's hands), and the learning curve, which only scores policy files, needs no Ray."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "__init__.py")
LIGHT = ROOT / ".venv-inference" / "bin" / "python"


def help_of(python: pathlib.Path | str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(ROOT / "benchmarks" / script), "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_benchmark_explains_its_flags(script):
    result = help_of(sys.executable, script)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage:") and "--" in result.stdout


@pytest.mark.skipif(not LIGHT.is_file(), reason="no .venv-inference (.ci/run makes it from requirements-inference.txt)")
def test_the_learning_curve_runs_without_ray():
    result = help_of(LIGHT, "learning_curve.py")
    assert result.returncode == 0 and "--max-checkpoints" in result.stdout, result.stderr[-2000:]


def test_the_suite_merges_its_rounds_into_ranges():
    sys.path.insert(0, str(ROOT))
    from benchmarks.suite import merge
    rounds = ["GridTown  lane keeping  12,034 env steps/s\nlayer 64px: 0.50 s\n",
              "GridTown  lane keeping  11,200 env steps/s\nlayer 64px: 0.50 s\n",
              "GridTown  lane keeping  12,900 env steps/s\nsomething else 3\n"]
    assert merge(rounds) == ["GridTown  lane keeping  11,200-12,900 env steps/s", "layer 64px: 0.50 s"]
    assert merge(["a 64 px 10 frames/s"] * 2) == ["a 64 px 10 frames/s"], "numbers that agree stay one"


def test_the_learning_curve_counts_an_offline_run_in_the_samples_it_trained_on():
    sys.path.insert(0, str(ROOT))
    from benchmarks.learning_curve import samples
    online = {"num_env_steps_sampled_lifetime": 4000, "env_runners": {"num_env_steps_sampled": 4000},
              "learners": {"__all_modules__": {"num_module_steps_trained_lifetime": 32000}}}
    cloning = {"num_env_steps_sampled_lifetime": 512, "env_runners": {},
               "learners": {"__all_modules__": {"num_module_steps_trained_lifetime": 10240}}}
    assert samples(online) == 4000, "an online run's experience is the env steps it sampled"
    assert samples(cloning) == 10240, "behaviour cloning's is the demonstration samples its learner trained on"


def test_the_scripted_driver_drives_each_experiment_through_its_own_actions():
    """``heroes.py --actions scripted``: the route follower's control, as each experiment's ``action_from_control``
    gives it, is the DQN experiment's route-follower action step for step, and drives the PPO experiment (throttle
    and steer) along its routes (to their ends, or to a red light: it does not stop for lights); ``vector`` (no route)
    is one clear error."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.heroes import scripted_actions
    from benchmarks.sampling import env_config
    from dqn_example.dqn_experiment import route_follower_action
    from rllib_integration import CarlaEnv
    env = CarlaEnv(env_config("masks", 0))
    try:
        env.reset(seed=0)
        for _ in range(200):
            action = scripted_actions([env.experiment], [env.core])[0]
            assert action == route_follower_action(env.core)
            *_, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    env = CarlaEnv(env_config("vlidar", 0))
    ends = []
    try:
        for seed in range(4):
            env.reset(seed=seed)
            for _ in range(1500):
                *_, terminated, truncated, info = env.step(scripted_actions([env.experiment], [env.core])[0])
                if terminated or truncated:
                    break
            ends.append((info["end_reason"], info["route_completion"]))
    finally:
        env.close()
    assert ("completed", 100.0) in ends, ends
    assert {reason for reason, _ in ends} <= {"completed", "red"}, f"it follows the route (but runs red lights): {ends}"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "heroes.py"), "--experiments", "vector",
                             "--actions", "scripted"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "vector experiment has none" in result.stderr, result.stderr[-2000:]


def test_the_route_follower_of_many_heroes_is_each_heros_own():
    """``route_follower_many`` (the benchmarks' scripted driver, every hero of a world in one call) gives each hero the
    throttle and steer ``route_follower`` gives it alone, through episodes that end and respawn, and to heroes
    without a route."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.heroes import scripted_actions
    from benchmarks.sampling import env_config
    from dqn_example.dqn_experiment import route_follower, route_follower_many
    from rllib_integration import CarlaVectorEnv
    config = env_config("vlidar", 0)
    config["experiment"]["batched"] = True
    env = CarlaVectorEnv(config, num_envs=8)
    world, ended = env.world, 0
    try:
        env.reset(seed=1)
        for _ in range(600):
            throttles, steers = route_follower_many(world.agents)
            assert list(zip(throttles.tolist(), steers.tolist())) == [route_follower(agent) for agent in world.agents]
            *_, terminated, truncated, _ = env.step(np.array(scripted_actions(world.experiments, world.agents)))
            ended += int(np.count_nonzero(terminated | truncated))
    finally:
        env.close()
    assert ended >= 2, "heroes respawned on new routes within the run"
    env = CarlaVectorEnv(env_config("vector", 0), num_envs=2)  # heroes without a route: towards their own place
    try:
        env.reset(seed=1)
        assert all(agent.route_progress is None for agent in env.world.agents)
        for _ in range(20):
            throttles, steers = route_follower_many(env.world.agents)
            assert list(zip(throttles.tolist(), steers.tolist())) == [route_follower(a) for a in env.world.agents]
            env.step(env.action_space.sample())
    finally:
        env.close()


def test_scaling_drives_each_world_with_the_actions_asked_for_and_refuses_a_scripted_vector_world():
    """``scaling.py --actions random scripted``: a table of each, the scripted driver's rows from worlds whose heroes
    follow their routes; the vector experiment has no routes, so scripted actions on it are one clear error."""
    command = [sys.executable, str(ROOT / "benchmarks" / "scaling.py"), "--processes", "--heroes-per-world", "2",
               "--vehicles", "0", "--steps", "40", "--warmup", "20", "--learner-devices", "--actions", "random",
               "scripted"]
    result = subprocess.run(command + ["--experiment", "vlidar"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["random"], ["scripted"])]
    assert [row[:4] for row in rows] == [["random", "2", "0", "batched"], ["scripted", "2", "0", "batched"]], \
        result.stdout
    assert all(float(row[4].replace(",", "")) > 0 for row in rows), result.stdout
    refused = subprocess.run(command + ["--experiment", "vector"], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "vector experiment has none" in refused.stderr, refused.stderr[-2000:]
