#!/usr/bin/env python3
"""Drive the DQN example's greedy policy without Ray: only torch and the environment.

    python3 dqn_inference.py dqn_example/dqn_config.yaml CHECKPOINT_DIR/policy.pt --episodes 5 --device cpu

POLICY is the TorchScript file dqn_train.py writes into every checkpoint (policy.pt), or the
checkpoint folder holding it. Prints one line per episode; --record writes a video.
"""

from __future__ import annotations

import argparse
import sys

import torch

from dqn_example.dqn_episodes import drive
from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration import CarlaEnv, ConfigError, SimulatorUnavailableError, load_env_config
from rllib_integration.training import load_policy, policy_action


def parse_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; a clear error when CUDA is not available."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available on this machine. Fix: use --device cpu.")
    return device


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help="the training YAML (its env_config is used)")
    parser.add_argument("policy", help="policy.pt from a dqn_train.py checkpoint, or the checkpoint folder")
    parser.add_argument("-d", "--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
    parser.add_argument("--episodes", type=int, default=3, help="episodes to drive")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (then +1 each)")
    parser.add_argument("--record", metavar="OUT.mp4", help="write a video of the BirdView with speed and reward")
    args = parser.parse_args()
    try:
        device = parse_device(args.device)
        policy = load_policy(args.policy, device)
        data = load_env_config(args.configuration_file, default_experiment=DQNExperiment)
        env = CarlaEnv(data["env_config"])
    except (ConfigError, SimulatorUnavailableError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    drive(env, lambda obs: policy_action(policy, obs, device), args.episodes, args.seed, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
