"""The inference scripts of every example (``*_inference_ray.py`` with RLlib, ``*_inference.py`` with torch
alone): the same flags and inputs (a checkpoint folder, an experiment folder for its newest checkpoint,
or, without Ray, a ``policy.pt`` file too), greedy episodes with a per-episode table and an optional video
(:mod:`.episodes`)."""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable

from ..carla_env import CarlaEnv, load_env_config
from ..errors import ConfigError, SimulatorUnavailableError
from .console import console, setup_console
from .episodes import drive
from .results import find_latest_checkpoint, module_path


def checkpoint_folder(path: str) -> str:
    """A checkpoint folder, or the newest checkpoint of an experiment (or trial) folder."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such checkpoint folder. Fix: pass a checkpoint_NNNNNN folder written "
                                f"by the training script, or its experiment folder.")
    return path if os.path.isfile(os.path.join(path, "rllib_checkpoint.json")) else find_latest_checkpoint(path)


def load_module(checkpoint: str) -> Any:
    """The policy RLModule of a checkpoint (or of an experiment folder's newest checkpoint)."""
    from ray.rllib.core.rl_module.rl_module import RLModule
    checkpoint = checkpoint_folder(checkpoint)
    console.info(f"restoring {checkpoint}")
    module = RLModule.from_checkpoint(module_path(checkpoint))
    module.eval()
    return module


def parse_device(name: str) -> Any:
    """``cpu``, ``cuda`` or ``cuda:N``; a clear error when CUDA is not available."""
    import torch
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available on this machine. Fix: use --device cpu.")
    return device


def _ray_act(args: argparse.Namespace) -> Callable[[Any], Any]:
    from .policy import greedy_action
    module = load_module(args.policy)
    return lambda observation: greedy_action(module, observation)


def _torch_act(args: argparse.Namespace) -> Callable[[Any], Any]:
    from .policy import POLICY_FILE, load_policy, policy_action
    device = parse_device(args.device)
    path = args.policy
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, POLICY_FILE)):
        path = checkpoint_folder(path)
    policy = load_policy(path, device)
    return lambda observation: policy_action(policy, observation, device)


def inference_main(description: str, default_experiment: type, with_ray: bool, argv: list[str] | None = None) -> int:
    """Parse the flags, load the policy (with RLlib or with torch alone) and drive greedy episodes; the exit
    status (0, or 2 for bad input)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help="the training YAML (its env_config is used)")
    parser.add_argument("policy", help="checkpoint folder, or experiment folder (its newest checkpoint)" +
                        ("" if with_ray else ", or a checkpoint's policy.pt"))
    if not with_ray:
        parser.add_argument("-d", "--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
    parser.add_argument("--episodes", type=int, default=3, help="episodes to drive")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (then +1 each)")
    parser.add_argument("--record", metavar="OUT.mp4", help="write a video: the hero from above with its route, "
                                                            "the policy's camera or BirdView, speed and reward")
    args = parser.parse_args(argv)
    setup_console()
    try:
        act = (_ray_act if with_ray else _torch_act)(args)
        data = load_env_config(args.configuration_file, default_experiment=default_experiment)
        env = CarlaEnv(data["env_config"])
    except (ConfigError, SimulatorUnavailableError, FileNotFoundError, RuntimeError) as error:
        console.error(f"{error}")
        return 2
    drive(env, act, args.episodes, args.seed, args.record)
    return 0
