"""Results folders and checkpoints of training runs (Tune's layout: ``DIRECTORY/NAME/<trial>/checkpoint_N``).

A results folder is only ever deleted (``--overwrite``) when it is a plain-named folder inside the
results root that this tool made (it holds :data:`MARKER`); checkpoints are checked before a restore
(:mod:`rllib_integration.inference.checkpoints`) and a broken one is passed over for the newest intact one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from typing import Any

from ..errors import ConfigError
from ..inference.checkpoints import checkpoints, find_latest_checkpoint, module_path

logger = logging.getLogger(__name__)

#: File in every results folder the training scripts made: the only folders ``--overwrite`` deletes.
MARKER = ".rllib_integration_results"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def saved_module(checkpoint: str) -> Any:
    """The policy RLModule saved in an algorithm checkpoint (the learner's weights), in eval mode."""
    from ray.rllib.core.rl_module.rl_module import RLModule
    module = RLModule.from_checkpoint(module_path(checkpoint))
    module.eval()
    return module


def results_folder(directory: str, name: str) -> str:
    """``directory/name``, after checking that ``name`` is a plain folder name and the folder stays inside
    the results root ``directory``."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise ConfigError(f"--name {name!r}: not a plain folder name. Fix: use letters, digits, '.', '_' and '-' "
                          f"only, starting with a letter or digit (e.g. dqn_example); --directory sets where it goes.")
    root = os.path.realpath(os.path.expanduser(directory))
    folder = os.path.join(root, name)
    if os.path.dirname(os.path.realpath(folder)) != root:
        raise ConfigError(f"--name {name!r}: {folder} leads outside the results root {root} (a link?). Fix: use "
                          f"another name.")
    return folder


def prepare_results(directory: str, name: str, restore: bool, overwrite: bool) -> str | None:
    """Apply the rules for the results folder ``directory/name`` (see the module docstring) and mark it
    as this tool's; returns the checkpoint to resume from (``--restore``) or None."""
    folder = results_folder(directory, name)
    if restore and overwrite:
        raise ConfigError("--restore and --overwrite exclude each other. Fix: pass only one.")
    checkpoint = None
    if overwrite and os.path.lexists(folder):
        if os.path.islink(folder) or not os.path.isfile(os.path.join(folder, MARKER)):
            raise ConfigError(f"--overwrite: {folder} was not made by the training scripts (no {MARKER} in it), so it "
                              f"is left alone. Fix: choose another --name, or delete it yourself.")
        shutil.rmtree(folder)
    elif restore:
        checkpoint = find_latest_checkpoint(folder)
    elif os.path.isdir(folder) and os.listdir(folder):
        raise ConfigError(f"the results folder {folder} is not empty. Fix: pass --restore to continue "
                          f"from its latest checkpoint, --overwrite to delete it, or another --name.")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, MARKER), "w", encoding="utf-8") as stream:
        stream.write("made by the rllib_integration training scripts; --overwrite may delete this folder\n")
    return checkpoint


LATEST, BEST = "latest", "best"  # pointers in an experiment folder (symlinks, and LATEST.json / BEST.json)


def point_to(experiment: str, name: str, target: str, iteration: Any) -> None:
    """Make ``experiment/name`` a relative symlink to the checkpoint ``target`` (replaced atomically) and write
    ``experiment/name.json`` with its path and iteration (for systems and tools without symlinks)."""
    link = os.path.join(experiment, name)
    temporary = f"{link}.{os.getpid()}.new"
    try:
        os.symlink(os.path.relpath(target, experiment), temporary)
        os.replace(temporary, link)
    except OSError as error:  # no symlinks here: the JSON pointer remains
        logger.debug("no %s symlink in %s (%s)", name, experiment, error)
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump({"checkpoint": os.path.abspath(target), "training_iteration": iteration}, stream)
    os.replace(temporary, link + ".json")


def checkpoint_iteration(checkpoint: str) -> Any:
    """The training iteration a checkpoint was taken at (from its training_progress.json), or '?'."""
    try:
        with open(os.path.join(checkpoint, "training_progress.json"), encoding="utf-8") as stream:
            return json.load(stream).get("training_iteration", "?")
    except (OSError, ValueError):
        return "?"


def remove_failed_start(folder: str) -> bool:
    """Delete a results folder whose run failed before writing any checkpoint (so a corrected rerun is not
    blocked); a folder with checkpoints, or one not made by this tool, is kept. Whether it was removed."""
    if not os.path.isfile(os.path.join(folder, MARKER)) or checkpoints(folder):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def initial_weights(path: str, source: str) -> str:
    """The RLModule folder (``learner_group/learner/rl_module``) of ``run.init_from``: a checkpoint, or a run's
    folder (its newest checkpoint)."""
    path = os.path.abspath(os.path.expanduser(path))
    try:
        checkpoint = path if os.path.isfile(os.path.join(path, "rllib_checkpoint.json")) else find_latest_checkpoint(path)
    except FileNotFoundError as error:
        raise ConfigError(f"{source}: run.init_from: {error}") from None
    if not os.path.isdir(module_path(checkpoint)):
        raise ConfigError(f"{source}: run.init_from: {checkpoint} holds no policy module ({module_path(checkpoint)} is "
                          f"missing). Fix: give a checkpoint of a training run of this library.")
    return os.path.dirname(module_path(checkpoint))
