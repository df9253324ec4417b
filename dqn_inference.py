#!/usr/bin/env python3
"""Drive the DQN example's greedy policy without Ray: onnxruntime and the environment.

    python3 dqn_inference.py dqn_example/dqn_config.yaml CHECKPOINT_DIR/policy.onnx --episodes 5 --device cpu

POLICY is the ONNX file dqn_train.py writes into every checkpoint (policy.onnx; an older policy.pt still
loads), the checkpoint folder holding it, or an experiment folder (its newest checkpoint). Prints one line
per episode; --record writes a video.
"""

from __future__ import annotations

import sys

from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration.inference.scripts import inference_main

if __name__ == "__main__":
    sys.exit(inference_main(__doc__.split("\n\n")[0], DQNExperiment, with_ray=False))
