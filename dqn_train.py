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

import dqn_example
from dqn_example.dqn_callbacks import DQNCallbacks
from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration.training.launcher import TrainingScript, train

SCRIPT = TrainingScript(description=__doc__.split("\n\n")[0], default_config="dqn_example/dqn_config.yaml",
                        default_name="dqn_example", default_algorithm="DQN", default_experiment=DQNExperiment,
                        callbacks=DQNCallbacks, example_package=dqn_example)


def main(argv: list[str] | None = None) -> int:
    return train(SCRIPT, argv)


if __name__ == "__main__":
    sys.exit(main())
