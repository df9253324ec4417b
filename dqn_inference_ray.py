#!/usr/bin/env python3
"""Drive the DQN example's greedy policy restored with Ray RLlib from a dqn_train.py checkpoint.

    python3 dqn_inference_ray.py dqn_example/dqn_config.yaml CHECKPOINT --episodes 5 --record out.mp4

CHECKPOINT is a checkpoint folder (checkpoint_NNNNNN) or an experiment folder (its latest checkpoint
is used). The policy RLModule is restored with RLlib and acts greedily in an environment of this
process; every episode end resets the environment. Prints one line per episode.
"""

from __future__ import annotations

import argparse
import os
import sys

from ray.rllib.core.rl_module.rl_module import RLModule

from dqn_example.dqn_episodes import drive
from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration import CarlaEnv, ConfigError, SimulatorUnavailableError, load_env_config
from rllib_integration.training import find_latest_checkpoint, greedy_action, module_path


def load_module(checkpoint: str) -> RLModule:
    """The policy RLModule of a checkpoint (or of an experiment folder's latest checkpoint)."""
    if not os.path.isdir(checkpoint):
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint folder. Fix: pass a checkpoint_NNNNNN "
                                f"folder written by dqn_train.py, or its experiment folder.")
    if not os.path.isfile(os.path.join(checkpoint, "rllib_checkpoint.json")):
        checkpoint = find_latest_checkpoint(checkpoint)
    print(f"restoring {checkpoint}", flush=True)
    module = RLModule.from_checkpoint(module_path(checkpoint))
    module.eval()
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help="the training YAML (its env_config is used)")
    parser.add_argument("checkpoint", help="checkpoint folder, or experiment folder (latest checkpoint)")
    parser.add_argument("--episodes", type=int, default=3, help="episodes to drive")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (then +1 each)")
    parser.add_argument("--record", metavar="OUT.mp4", help="write a video of the BirdView with speed and reward")
    args = parser.parse_args()
    try:
        module = load_module(args.checkpoint)
        data = load_env_config(args.configuration_file, default_experiment=DQNExperiment)
        env = CarlaEnv(data["env_config"])
    except (ConfigError, SimulatorUnavailableError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    drive(env, lambda obs: greedy_action(module, obs), args.episodes, args.seed, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
