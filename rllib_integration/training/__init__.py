"""Training support on RLlib's current API stack, for any algorithm:

- :mod:`.algorithm_config`: a training YAML -> an ``AlgorithmConfig`` (``algorithm: DQN | PPO ...``);
- :mod:`.models`: the uint8 image encoder and the catalogs that use it;
- :mod:`.policy`: the greedy policy of an RLModule and its ONNX export (run without Ray by
  :mod:`rllib_integration.inference`);
- :mod:`.trainable`: the Tune trainable that exports the policy into every checkpoint;
- :mod:`.results`: results folders and checkpoints.

What only one example needs (its experiment, callbacks, configs) lives with that example.
"""

from .algorithm_config import build_algorithm_config, place_on_cluster, run_settings
from ..inference import POLICY_FILE, ExportedPolicy, find_latest_checkpoint, load_policy, policy_action
from .policy import export_policy, greedy_action
from .results import module_path, prepare_results
from .trainable import trainable

__all__ = ["POLICY_FILE", "ExportedPolicy", "build_algorithm_config", "export_policy", "find_latest_checkpoint", "greedy_action",
           "load_policy", "module_path", "place_on_cluster", "policy_action", "prepare_results", "run_settings",
           "trainable"]
