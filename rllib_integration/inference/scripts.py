"""The inference scripts of every example (``*_inference_ray.py`` with RLlib, ``*_inference.py`` with onnxruntime
alone, no Ray and no torch): the same flags and inputs (a checkpoint folder, an experiment folder for its newest
checkpoint, or, without Ray, a ``policy.onnx`` file too), greedy episodes with a per-episode table and an optional
video (:mod:`.episodes`). Ray is imported only on the RLlib path."""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable

from ..arguments import port, positive_int
from ..carla_env import CarlaEnv, load_env_config
from ..console import console, setup_console
from ..errors import ConfigError, SimulatorUnavailableError
from ..live import DEFAULT_PORT, start_live
from .checkpoints import find_latest_checkpoint
from .episodes import drive
from .policy import LEGACY_POLICY_FILE, POLICY_FILE, load_policy


def checkpoint_folder(path: str) -> str:
    """A checkpoint folder, or the newest checkpoint of an experiment (or trial) folder."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such checkpoint folder. Fix: pass a checkpoint_NNNNNN folder written "
                                f"by the training script, or its experiment folder.")
    return path if os.path.isfile(os.path.join(path, "rllib_checkpoint.json")) else find_latest_checkpoint(path)


def load_module(checkpoint: str) -> Any:
    """The policy RLModule of a checkpoint (or of an experiment folder's newest checkpoint), with RLlib."""
    from ..training.results import saved_module
    checkpoint = checkpoint_folder(checkpoint)
    console.info(f"restoring {checkpoint}")
    return saved_module(checkpoint)


def _ray_act(args: argparse.Namespace) -> Callable[[Any], Any]:
    from ..training.policy import greedy_action
    module = load_module(args.policy)
    return lambda observation: greedy_action(module, observation)


def _exported_act(args: argparse.Namespace) -> Callable[[Any], Any]:
    path = args.policy
    if os.path.isdir(path) and not any(os.path.isfile(os.path.join(path, name))
                                       for name in (POLICY_FILE, LEGACY_POLICY_FILE)):
        path = checkpoint_folder(path)
    policy = load_policy(path, args.device)
    console.info(f"policy {policy.path}")
    return policy


def inference_main(description: str, default_experiment: type, with_ray: bool, argv: list[str] | None = None) -> int:
    """Parse the flags, load the policy (with RLlib, or its ONNX export with onnxruntime alone) and drive
    greedy episodes; the exit status (0, or 2 for bad input)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help="the training YAML (its env_config is used)")
    parser.add_argument("policy", help="checkpoint folder, or experiment folder (its newest checkpoint)" +
                        ("" if with_ray else ", or a checkpoint's policy.onnx (or an older policy.pt)"))
    if not with_ray:
        parser.add_argument("-d", "--device", default="cpu", help="cpu, or cuda / cuda:N with onnxruntime-gpu")
    parser.add_argument("--episodes", type=positive_int, default=3, help="episodes to drive")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (then +1 each)")
    parser.add_argument("--record", metavar="OUT.mp4", help="write a video (H.264, plays in browsers): the hero from "
                                                            "above with its route, the policy's camera or BirdView, "
                                                            "speed and reward")
    parser.add_argument("--gif", metavar="OUT.gif", help="with --record, also a small GIF of it (for a README)")
    parser.add_argument("--live", type=port, nargs="?", const=DEFAULT_PORT, metavar="PORT",
                        help=f"serve a live view of the episodes on http://127.0.0.1:PORT (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    if args.gif and not args.record:
        parser.error("--gif needs --record (the GIF is made from the video's frames)")
    setup_console()
    live = None
    try:
        if args.live:
            live = start_live(args.live, f"inference {os.path.basename(os.path.abspath(args.policy))}")
            console.info(f"live view: {live.url}")
        act = (_ray_act if with_ray else _exported_act)(args)
        data = load_env_config(args.configuration_file, default_experiment=default_experiment)
        if not with_ray:  # before a simulator starts
            experiment_config = dict(data["env_config"]["experiment"])
            experiment = experiment_config["type"](experiment_config)
            act.check(experiment.get_observation_space())
            act.check_actions(experiment.get_observation_space(), experiment.get_action_space())
        env = CarlaEnv(data["env_config"])
    except (ConfigError, SimulatorUnavailableError, FileNotFoundError, RuntimeError, OSError) as error:
        console.error(f"{error}")
        return 2
    def plot(row: dict[str, Any]) -> None:
        live.add_point({"x": row["episode"], "x_label": "episode", "return": row["return"],
                        **({"route_completion": row["route_completion"]} if "route_completion" in row else {})})

    drive(env, act, args.episodes, args.seed, args.record, args.gif, plot if live else None)
    return 0
