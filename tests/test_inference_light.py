"""Trained policies run without Ray or torch, send nothing anywhere, and refuse a policy that is not the
experiment's: a light environment (``requirements-inference.txt``, made by .ci/run as ``.venv-inference``)
runs ``dqn_inference.py`` and ``evaluate.py --agent policy.onnx``; onnxruntime writes no telemetry; a damaged
``policy.onnx`` and one whose actions are not the experiment's are one line each, naming the file."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from conftest import constant_policy

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIGHT = ROOT / ".venv-inference" / "bin" / "python"
CONFIG = str(ROOT / "dqn_example" / "dqn_config.yaml")


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> pathlib.Path:
    """The DQN quickstart's network, untrained, exported as every checkpoint exports it."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    from dqn_example.dqn_experiment import DQNExperiment
    from rllib_integration.carla_env import load_env_config
    from rllib_integration.training.algorithm_config import build_algorithm_config
    from rllib_integration.training.policy import export_policy
    data = load_env_config(CONFIG, default_experiment=DQNExperiment)
    experiment_config = dict(data["env_config"]["experiment"])
    experiment = experiment_config["type"](experiment_config)
    spaces = (experiment.get_observation_space(), experiment.get_action_space())
    config = build_algorithm_config(data, CONFIG)
    module = config.get_multi_rl_module_spec(spaces={DEFAULT_MODULE_ID: spaces}).build()[DEFAULT_MODULE_ID]
    path = tmp_path_factory.mktemp("policy") / "policy.onnx"
    export_policy(module, config, str(path))
    return path


def run(python, *args, home=None, timeout=300) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"HOME": str(home)} if home else {})}
    return subprocess.run([str(python), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(not LIGHT.is_file(), reason="no .venv-inference (.ci/run makes it from requirements-inference.txt)")
def test_the_light_install_runs_policies_without_ray_or_torch(policy, tmp_path):
    for module in ("ray", "torch"):
        assert run(LIGHT, "-c", f"import {module}").returncode != 0, f"{module} is in the light environment"
    result = run(LIGHT, "dqn_inference.py", CONFIG, policy, "--episodes", 1)
    assert result.returncode == 0 and "episode" in result.stdout, result.stderr[-2000:]
    result = run(LIGHT, "evaluate.py", "--routes", "GridTown", "--route-count", 2, "--route-length", 100, 200,
                 "--agent", policy, "--config", CONFIG, "--workers", 2, "--out", tmp_path / "out")
    assert result.returncode == 0 and (tmp_path / "out" / "results.json").is_file(), result.stderr[-2000:]


def test_onnxruntime_sends_and_keeps_nothing(policy, tmp_path):
    """onnxruntime 1.32 writes a device id and queued events for a Microsoft endpoint under ~/.cache and a
    /tmp/.ses unless told not to; the library tells it before importing it."""
    marker = pathlib.Path("/tmp/.ses")
    before = marker.stat().st_mtime_ns if marker.exists() else None
    result = run(sys.executable, "-c", "import sys; from rllib_integration.inference.policy import load_policy; "
                 "import numpy as np; p = load_policy(sys.argv[1]); "
                 "print(p({'image': np.zeros((64, 64, 6), np.uint8), 'state': np.zeros(4, np.float32)}))", policy,
                 home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".cache" / "Microsoft").exists(), "telemetry files under ~/.cache/Microsoft"
    after = marker.stat().st_mtime_ns if marker.exists() else None
    assert after == before, "onnxruntime wrote /tmp/.ses"


def test_a_damaged_policy_is_one_line_naming_the_file(policy, tmp_path):
    from rllib_integration.inference.checkpoints import _complete_onnx
    damaged = tmp_path / "policy.onnx"
    damaged.write_bytes(policy.read_bytes()[:len(policy.read_bytes()) // 3])
    assert not _complete_onnx(str(damaged)), "the checkpoint check reads policy.onnx"
    result = run(sys.executable, "dqn_inference.py", CONFIG, damaged, "--episodes", 1)
    assert result.returncode == 2 and f"{damaged}: not a complete ONNX policy" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = run(sys.executable, "evaluate.py", "--routes", "GridTown", "--route-count", 1, "--agent", damaged,
                 "--config", CONFIG, "--out", tmp_path / "out")
    assert result.returncode == 2 and "not a complete ONNX policy" in result.stderr and "Traceback" not in result.stderr


def test_a_policy_whose_actions_are_not_the_experiments_is_refused(tmp_path):
    """An ONNX policy taking the quickstart's observations but answering -1 (not in Discrete(29))."""
    path = constant_policy(tmp_path / "policy.onnx", action=-1)
    from rllib_integration.inference.policy import load_policy
    assert load_policy(str(path))({"image": np.zeros((64, 64, 6), np.uint8), "state": np.zeros(4, np.float32)}) == -1
    for command in (["dqn_inference.py", CONFIG, path, "--episodes", 1],
                    ["evaluate.py", "--routes", "GridTown", "--route-count", 1, "--agent", path, "--config", CONFIG,
                     "--out", tmp_path / "out"]):
        result = run(sys.executable, *command)
        assert result.returncode == 2 and "gives actions like -1, not actions of Discrete(29)" in result.stderr, \
            result.stderr
        assert "Traceback" not in result.stderr


def test_a_network_with_a_free_log_std_exports_a_policy_of_any_batch_size(tmp_path):
    """RLlib's free-log-std head (``model.free_log_std: true``) repeats its log-std ``len(mean)`` times, which the
    exporter took as a constant: the whole policy.onnx took batches of 2 only and every inference of one
    observation failed. The exported policy takes any batch and acts as the module does."""
    import gymnasium as gym
    import onnxruntime
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core import DEFAULT_MODULE_ID

    from rllib_integration.training.policy import export_policy, greedy_action
    spaces = (gym.spaces.Box(-1.0, 1.0, (5,), np.float32), gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    config = PPOConfig().environment(observation_space=spaces[0], action_space=spaces[1]) \
        .rl_module(model_config={"free_log_std": True, "fcnet_hiddens": [16]})
    module = config.get_multi_rl_module_spec(spaces={DEFAULT_MODULE_ID: spaces}).build()[DEFAULT_MODULE_ID]
    path = export_policy(module, config, str(tmp_path / "policy.onnx"))
    session = onnxruntime.InferenceSession(path)
    observations = np.random.default_rng(0).uniform(-1.0, 1.0, (3, 5)).astype(np.float32)
    for count in (1, 3):
        actions = session.run(None, {"observations": observations[:count]})[0]
        assert actions.shape == (count, 2)
        assert actions == pytest.approx(np.stack([greedy_action(module, o) for o in observations[:count]]), abs=1e-5)


def ppo_module(high: float = 1.0, activation: str = "tanh"):
    """An untrained PPO network of 5 observations and 2 actions in [-high, high] (and its config)."""
    import gymnasium as gym
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core import DEFAULT_MODULE_ID
    spaces = (gym.spaces.Box(-1.0, 1.0, (5,), np.float32), gym.spaces.Box(-high, high, (2,), np.float32))
    config = PPOConfig().environment(observation_space=spaces[0], action_space=spaces[1]) \
        .rl_module(model_config={"fcnet_hiddens": [16], "fcnet_activation": activation})
    return config.get_multi_rl_module_spec(spaces={DEFAULT_MODULE_ID: spaces}).build()[DEFAULT_MODULE_ID], config


def test_networks_exported_one_after_another_each_give_their_own_actions(tmp_path, monkeypatch):
    """A run exports its network at every checkpoint, and every run its own: the first export of a network's
    structure is kept as a template in the cache folder, into which later networks of that structure write their
    weights. Each file acts as its own network, whether the next network differs in its weights only, in its action
    bounds (folded into the graph: a template of other bounds would scale the actions wrongly) or in its
    activations; a template that does not fit, or is broken, is traced again."""
    import onnxruntime

    from rllib_integration.training.policy import EXPORT_COUNTS, export_policy, greedy_action
    monkeypatch.setenv("RLLIB_INTEGRATION_CACHE", str(tmp_path / "cache"))
    observations = np.random.default_rng(1).uniform(-1.0, 1.0, (4, 5)).astype(np.float32)

    def export(index, module, config, how):
        before = dict(EXPORT_COUNTS)
        path = export_policy(module, config, str(tmp_path / f"policy_{index}.onnx"))
        assert {key: EXPORT_COUNTS[key] - before[key] for key in before} == {
            "traced": int(how == "traced"), "from_template": int(how == "from_template")}, index
        actions = onnxruntime.InferenceSession(path).run(None, {"observations": observations})[0]
        assert actions == pytest.approx(np.stack([greedy_action(module, o) for o in observations]), abs=1e-5), index
        return actions

    first = export(0, *ppo_module(), "traced")
    templates = list((tmp_path / "cache" / "policies").glob("*.onnx"))
    assert len(templates) == 1
    second = export(1, *ppo_module(), "from_template")
    assert not np.allclose(first, second), "two networks, two policies"
    export(2, *ppo_module(high=3.0), "traced")
    relu = export(3, *ppo_module(high=3.0, activation="relu"), "traced")
    assert len(list((tmp_path / "cache" / "policies").glob("*.onnx"))) == 3 and relu.shape == (4, 2)
    templates[0].write_bytes((tmp_path / "policy_3.onnx").read_bytes())  # another structure's graph
    export(4, *ppo_module(), "traced")
    export(5, *ppo_module(), "from_template")
    templates[0].write_bytes(b"\x08\x07 cut short")
    export(6, *ppo_module(), "traced")
