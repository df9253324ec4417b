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

from rllib_integration.training_cli import TrainingScript, parse_args

SCRIPT = TrainingScript(description=__doc__.split("\n\n")[0], default_config="ppo_example/ppo_vlidar_config.yaml",
                        default_name="ppo_example", default_algorithm="PPO",
                        default_experiment="ppo_example.ppo_experiment:RouteExperiment",
                        callbacks="ppo_example.ppo_callbacks:PPOCallbacks", example_package="ppo_example")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(SCRIPT, argv)
    from rllib_integration.training.launcher import train  # Ray and RLlib (seconds to import): once the flags are good
    return train(SCRIPT, args)


if __name__ == "__main__":
    sys.exit(main())
