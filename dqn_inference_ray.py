#!/usr/bin/env python3
"""Drive the DQN example's greedy policy restored with Ray RLlib from a dqn_train.py checkpoint.

    python3 dqn_inference_ray.py dqn_example/dqn_config.yaml CHECKPOINT --episodes 5 --record out.mp4

CHECKPOINT is a checkpoint folder (checkpoint_NNNNNN) or an experiment folder (its latest checkpoint
is used). The policy RLModule is restored with RLlib and acts greedily in an environment of this
process; every episode end resets the environment. Prints one line per episode.
"""

from __future__ import annotations

import sys

from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration.inference.scripts import inference_main

if __name__ == "__main__":
    sys.exit(inference_main(__doc__.split("\n\n")[0], DQNExperiment, with_ray=True))
