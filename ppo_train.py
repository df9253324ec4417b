#!/usr/bin/env python3
"""Train the PPO route-following example with RLlib (new API stack) through Ray Tune.

    python3 ppo_train.py ppo_example/ppo_vlidar_config.yaml           # virtual LiDAR observations
    python3 ppo_train.py ppo_example/ppo_camera_config.yaml           # front camera observations
    python3 ppo_train.py ppo_example/ppo_vlidar_config.yaml --restore # continue from the latest checkpoint

The same flags and results layout as dqn_train.py: checkpoints under DIRECTORY/NAME/<trial>/ with the
Ray-free policy.onnx, the best route driving score's checkpoint in <trial>/best_checkpoint, TensorBoard,
--mlflow-uri for MLflow, and Ctrl-C stops after the current iteration and saves a checkpoint first.
"""

from __future__ import annotations

import sys

import ppo_example
from ppo_example.ppo_callbacks import PPOCallbacks
from ppo_example.ppo_experiment import RouteExperiment
from rllib_integration.training.launcher import TrainingScript, train

SCRIPT = TrainingScript(description=__doc__.split("\n\n")[0], default_config="ppo_example/ppo_vlidar_config.yaml",
                        default_name="ppo_example", default_algorithm="PPO", default_experiment=RouteExperiment,
                        callbacks=PPOCallbacks, example_package=ppo_example)


def main(argv: list[str] | None = None) -> int:
    return train(SCRIPT, argv)


if __name__ == "__main__":
    sys.exit(main())
