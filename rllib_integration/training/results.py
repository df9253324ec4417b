"""Results folders and checkpoints of training runs (Tune's layout: ``DIRECTORY/NAME/<trial>/checkpoint_N``).

A results folder is only ever deleted (``--overwrite``) when it is a plain-named folder inside the
results root that this tool made (it holds :data:`MARKER`); checkpoints are checked before a restore
and a broken one (a crash while it was written) is passed over for the newest intact one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zipfile
from typing import Any

from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID

from ..errors import ConfigError

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")
#: File in every results folder the training scripts made: the only folders ``--overwrite`` deletes.
MARKER = ".rllib_integration_results"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class BrokenCheckpointError(ValueError):
    """A checkpoint folder with a missing or unreadable file (named in the message)."""


def checkpoints(directory: str) -> list[str]:
    """Every checkpoint folder under an experiment folder (any trial, any run), newest first."""
    found = []
    for root, folders, _ in os.walk(directory):
        for folder in folders:
            if _CHECKPOINT.match(folder):
                path = os.path.join(root, folder)
                marker = os.path.join(path, "rllib_checkpoint.json")
                found.append((os.path.getmtime(marker if os.path.isfile(marker) else path), path))
    return [path for _, path in sorted(found, reverse=True)]


def check_checkpoint(path: str) -> None:
    """Raise :class:`BrokenCheckpointError` naming the first missing or unreadable file of an algorithm
    checkpoint (RLlib's metadata, the algorithm state, the policy module's state, and this library's
    ``policy.onnx`` and ``training_progress.json`` where the checkpoint has them)."""
    def broken(name: str, why: str) -> BrokenCheckpointError:
        return BrokenCheckpointError(f"{os.path.join(path, name)}: {why}")

    for name in ("rllib_checkpoint.json", "training_progress.json"):
        file = os.path.join(path, name)
        if name == "training_progress.json" and not os.path.exists(file):
            continue  # written by this library since it records progress; older checkpoints lack it
        try:
            with open(file, encoding="utf-8") as stream:
                json.load(stream)
        except FileNotFoundError:
            raise broken(name, "missing") from None
        except (OSError, ValueError) as error:
            raise broken(name, f"unreadable ({error})") from None
    states = [f for f in os.listdir(path) if f.startswith("algorithm_state")]
    if not states or all(os.path.getsize(os.path.join(path, f)) == 0 for f in states):
        raise broken("algorithm_state.pkl", "missing or empty")
    module = module_path(path)
    if not os.path.isdir(module) or not any(os.path.getsize(os.path.join(module, f)) > 0 for f in os.listdir(module)
                                            if os.path.isfile(os.path.join(module, f))):
        raise broken(os.path.relpath(module, path), "the policy module's state is missing or empty")
    for name, complete in (("policy.onnx", lambda file: os.path.getsize(file) > 0), ("policy.pt", zipfile.is_zipfile)):
        if os.path.exists(os.path.join(path, name)) and not complete(os.path.join(path, name)):
            raise broken(name, "not a complete exported policy")


def find_latest_checkpoint(directory: str, intact: bool = True) -> str:
    """The newest checkpoint folder under an experiment folder; with ``intact``, the newest that
    :func:`check_checkpoint` accepts (each broken newer one is logged, naming its broken file)."""
    found = checkpoints(directory)
    if not found:
        raise FileNotFoundError(f"no checkpoint under {directory}. Fix: give the folder of a training run "
                                f"(DIRECTORY/NAME of the training script) or one of its checkpoint_NNNNNN folders.")
    if not intact:
        return found[0]
    problems = []
    for path in found:
        try:
            check_checkpoint(path)
        except BrokenCheckpointError as error:
            problems.append(str(error))
            logger.warning("checkpoint %s is broken (%s); trying the one before it", path, error)
            continue
        return path
    raise FileNotFoundError(f"no intact checkpoint under {directory}: {'; '.join(problems)}. Fix: train again with "
                            f"--overwrite, or restore from a copy.")


def module_path(checkpoint: str) -> str:
    """Folder of the policy RLModule inside an algorithm checkpoint."""
    return os.path.join(checkpoint, COMPONENT_LEARNER_GROUP, COMPONENT_LEARNER, COMPONENT_RL_MODULE,
                        DEFAULT_MODULE_ID)


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
