"""Trained policies without Ray or torch (``requirements-inference.txt`` is all they need):

- :mod:`.policy`: a checkpoint's ``policy.onnx`` run with onnxruntime, checked against the experiment's
  observation and action spaces;
- :mod:`.checkpoints`: checkpoints of training runs, newest first, and whether each is intact;
- :mod:`.episodes`, :mod:`.scripts`: greedy episodes and the inference scripts' shared entry point (its
  RLlib path imports Ray only when used).
"""

from .checkpoints import find_latest_checkpoint
from .policy import POLICY_FILE, ExportedPolicy, load_policy, policy_action

__all__ = ["POLICY_FILE", "ExportedPolicy", "find_latest_checkpoint", "load_policy", "policy_action"]
