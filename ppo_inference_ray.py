#!/usr/bin/env python3
"""Drive the PPO route-following example's greedy policy restored with Ray RLlib from a ppo_train.py checkpoint.

    python3 ppo_inference_ray.py ppo_example/ppo_vlidar_config.yaml CHECKPOINT --episodes 5 --record out.mp4

CHECKPOINT is a checkpoint folder or an experiment folder (its newest checkpoint). Every episode follows a
new route; one line per episode (route completion, metres, infractions, end reason).
"""

from __future__ import annotations

import sys

from ppo_example.ppo_experiment import RouteExperiment
from rllib_integration.inference.scripts import inference_main

if __name__ == "__main__":
    sys.exit(inference_main(__doc__.split("\n\n")[0], RouteExperiment, with_ray=True))
