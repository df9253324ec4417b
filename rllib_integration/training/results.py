"""Results folders and checkpoints of training runs (Tune's layout: ``DIRECTORY/NAME/<trial>/checkpoint_N``)."""

from __future__ import annotations

import os
import re
import shutil

from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID

from ..errors import ConfigError

_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")


def find_latest_checkpoint(directory: str) -> str:
    """The newest checkpoint folder under an experiment folder (any trial, any run)."""
    found = []
    for root, folders, _ in os.walk(directory):
        for folder in folders:
            if _CHECKPOINT.match(folder) and os.path.isfile(os.path.join(root, folder, "rllib_checkpoint.json")):
                path = os.path.join(root, folder)
                found.append((os.path.getmtime(os.path.join(path, "rllib_checkpoint.json")), path))
    if not found:
        raise FileNotFoundError(f"no checkpoint under {directory}. Fix: train first, or drop --restore.")
    return max(found)[1]


def module_path(checkpoint: str) -> str:
    """Folder of the policy RLModule inside an algorithm checkpoint."""
    return os.path.join(checkpoint, COMPONENT_LEARNER_GROUP, COMPONENT_LEARNER, COMPONENT_RL_MODULE,
                        DEFAULT_MODULE_ID)


def prepare_results(directory: str, name: str, restore: bool, overwrite: bool) -> str | None:
    """Apply the original's rules for the results folder ``directory/name``; returns the checkpoint
    to resume from (``--restore``) or None."""
    folder = os.path.join(os.path.expanduser(directory), name)
    if restore and overwrite:
        raise ConfigError("--restore and --overwrite exclude each other. Fix: pass only one.")
    if overwrite:
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        return None
    if restore:
        return find_latest_checkpoint(folder)
    if os.path.isdir(folder) and os.listdir(folder):
        raise ConfigError(f"the results folder {folder} is not empty. Fix: pass --restore to continue "
                          f"from its latest checkpoint, --overwrite to delete it, or another --name.")
    return None
