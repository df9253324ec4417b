#!/usr/bin/env python3
"""Train the DQN example with RLlib (new API stack) through Ray Tune.

    python3 dqn_train.py dqn_example/dqn_config.yaml                 # train (embedded world by default)
    python3 dqn_train.py dqn_example/dqn_config.yaml --restore       # continue from the latest checkpoint
    ray submit dqn_example/dqn_autoscaler.yaml dqn_train.py -- dqn_example/dqn_config.yaml --auto

Checkpoints go to DIRECTORY/NAME/<trial>/checkpoint_NNNNNN every `run.checkpoint_frequency`
iterations and at the end; each also holds policy.onnx, the greedy policy as ONNX for
dqn_inference.py (onnxruntime, no Ray, no torch). Ctrl-C stops after the current iteration and saves a checkpoint first.

On a cluster (--auto) the algorithm (learner, replay buffer, checkpoint writes) stays on the head
node, next to the results folder; --runner-resource puts the env runners (and their simulators) on
the nodes that offer that custom Ray resource, such as the autoscaler's GPU spot workers.
"""

from __future__ import annotations

import sys

from rllib_integration.training_cli import TrainingScript, parse_args

SCRIPT = TrainingScript(description=__doc__.split("\n\n")[0], default_config="dqn_example/dqn_config.yaml",
                        default_name="dqn_example", default_algorithm="DQN",
                        default_experiment="dqn_example.dqn_experiment:DQNExperiment",
                        callbacks="dqn_example.dqn_callbacks:DQNCallbacks", example_package="dqn_example")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(SCRIPT, argv)
    from rllib_integration.training.launcher import train  # Ray and RLlib (seconds to import): once the flags are good
    return train(SCRIPT, args)


if __name__ == "__main__":
    sys.exit(main())
