#!/usr/bin/env python3
"""Drive the PPO route-following example's greedy policy without Ray: onnxruntime and the environment.

    python3 ppo_inference.py ppo_example/ppo_vlidar_config.yaml CHECKPOINT_DIR/policy.onnx --episodes 5

POLICY is a checkpoint's policy.onnx (or an older policy.pt), the checkpoint folder or an experiment folder (its
newest checkpoint).
"""

from __future__ import annotations

import sys

from ppo_example.ppo_experiment import RouteExperiment
from rllib_integration.inference.scripts import inference_main

if __name__ == "__main__":
    sys.exit(inference_main(__doc__.split("\n\n")[0], RouteExperiment, with_ray=False))
