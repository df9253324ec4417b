"""The training scripts' command line (``dqn_train.py``, ``ppo_train.py``): a script is a :class:`TrainingScript`;
its ``main(argv)`` parses the flags (:func:`parse_args`), then imports :mod:`.training.launcher` and trains.

The flags are parsed before Ray and RLlib are imported (:mod:`.training.launcher`; this module stays out of the
:mod:`.training` package, whose import loads RLlib), so ``--help`` and a bad flag answer in
about 2 s instead of 9 (importing RLlib takes 7 s on a 2-core machine). The script's classes are import paths for
the same reason.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from .arguments import port, positive_float, positive_int, setting
from .live import DEFAULT_PORT

TRAINING_LOG = "training.log"  # in the results folder: what the terminal leaves out (see --verbose)


@dataclass
class TrainingScript:
    """What differs between the training scripts."""

    description: str
    default_config: str  # shown in --help
    default_name: str  # experiment folder under --directory
    default_algorithm: str  # when the YAML names none
    default_experiment: str  # import path ("package.module:Class"), when env_config.experiment.type is missing
    callbacks: str | None  # import path of the RLlib callbacks class
    example_package: str  # the example's package, shipped to a cluster's nodes with --auto


def parse_args(script: TrainingScript, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=script.description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help=f"training YAML (e.g. {script.default_config})")
    parser.add_argument("-d", "--directory", default="~/ray_results/carla_rllib", help="results root folder")
    parser.add_argument("-n", "--name", default=script.default_name, help="experiment name (folder under --directory)")
    parser.add_argument("--restore", action="store_true", help="continue from the latest checkpoint of this experiment")
    parser.add_argument("--overwrite", action="store_true", help="delete this experiment's results first")
    parser.add_argument("--tboff", action="store_true", help="do not start TensorBoard")
    parser.add_argument("--tb-port", type=port, default=6006, help="TensorBoard port")
    parser.add_argument("--mlflow-uri", help="also track the run in MLflow at this tracking URI (e.g. "
                                             "file:///tmp/mlruns or http://localhost:5000): parameters, metrics "
                                             "and checkpoints, under an MLflow experiment named like --name")
    parser.add_argument("--auto", action="store_true",
                        help=f"join the running Ray cluster (ray submit), ship rllib_integration and "
                             f"{script.example_package} to its nodes (TensorBoard stays on localhost: reach it through a "
                             f"tunnel, `ray attach CLUSTER.yaml -p 6006`)")
    parser.add_argument("--runner-resource", default=os.environ.get("RLLIB_RUNNER_RESOURCE") or None,
                        help="custom Ray resource that every env runner needs one unit of, so that env runners "
                             "run only on the nodes offering it (dqn_autoscaler.yaml's GPU workers offer "
                             "'carla_worker' and its head exports RLLIB_RUNNER_RESOURCE=carla_worker); "
                             "default: $RLLIB_RUNNER_RESOURCE, else anywhere")
    parser.add_argument("--init-from", metavar="CHECKPOINT", help="start from the network weights of this checkpoint "
                        "(or a training run's folder: its newest checkpoint), e.g. a behaviour-cloned policy to fine-tune "
                        "(overrides run.init_from)")
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="KEY=VALUE",
                        help="replace one setting of the training YAML, a dotted key and a YAML value (repeatable), "
                             "e.g. --set training.lr=5e-5 --set run.anchor_kl_coeff=1.0; checked as the file is")
    parser.add_argument("--iterations", type=positive_int, help="stop after this many iterations (overrides run.stop)")
    parser.add_argument("--env-steps", type=positive_int, help="stop after this many env steps (overrides run.stop)")
    parser.add_argument("--time", type=positive_float, help="stop after this many seconds (overrides run.stop)")
    parser.add_argument("--checkpoint-freq", type=positive_int, help="checkpoint every N iterations (overrides run)")
    parser.add_argument("--live", type=port, nargs="?", const=DEFAULT_PORT, metavar="PORT",
                        help=f"serve a live view of one env and the training curve on http://127.0.0.1:PORT "
                             f"(default {DEFAULT_PORT}; local runs)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help=f"show Ray's, Tune's and TensorBoard's messages on the terminal too (else they go to "
                             f"{TRAINING_LOG} in the results folder)")
    return parser.parse_args(argv)

