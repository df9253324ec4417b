"""Checkpoints of training runs, read without Ray (Tune's layout: ``DIRECTORY/NAME/<trial>/checkpoint_N``): the
checkpoints of an experiment folder newest first, whether one is intact, the newest intact one.

An intact checkpoint has RLlib's metadata, the algorithm state, the policy module's state and, where it has
them, a complete ``policy.onnx`` (parsed) and ``training_progress.json``; a broken one (a crash while it was
written, a damaged copy) is passed over for the newest intact one, its broken file named.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")
#: Where an algorithm checkpoint keeps the policy RLModule (RLlib's COMPONENT_LEARNER_GROUP, COMPONENT_LEARNER,
#: COMPONENT_RL_MODULE and DEFAULT_MODULE_ID).
MODULE_FOLDERS = ("learner_group", "learner", "rl_module", "default_policy")
SEARCH_DEPTH = 2  # folders below an experiment folder where its checkpoints are
PROGRESS_FILE = "training_progress.json"  # in every checkpoint: its iteration and env steps


class BrokenCheckpointError(ValueError):
    """A checkpoint folder with a missing or unreadable file (named in the message)."""


def checkpoints(directory: str) -> list[str]:
    """Every checkpoint folder under an experiment folder (any trial, any run), newest first: within
    :data:`SEARCH_DEPTH` folders of it (``NAME/<trial>/checkpoint_N``, ``NAME/best_checkpoint``), so a wrong
    folder (``/``, a home) is never walked for some other run's checkpoint."""
    found = []
    top = os.path.normpath(directory).count(os.sep)
    for root, folders, _ in os.walk(directory):
        if os.path.normpath(root).count(os.sep) - top >= SEARCH_DEPTH:
            folders[:] = []  # no deeper
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

    for name in ("rllib_checkpoint.json", PROGRESS_FILE):
        file = os.path.join(path, name)
        if name == PROGRESS_FILE and not os.path.exists(file):
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
    for name, complete in (("policy.onnx", _complete_onnx), ("policy.pt", zipfile.is_zipfile)):
        if os.path.exists(os.path.join(path, name)) and not complete(os.path.join(path, name)):
            raise broken(name, "not a complete exported policy")


def _complete_onnx(path: str) -> bool:
    """Whether a file holds a whole ONNX model (parsed; a truncated or damaged file does not parse)."""
    if os.path.getsize(path) == 0:
        return False
    try:
        import onnx
    except ImportError:  # the light install: onnxruntime parses it when the policy loads
        return True
    try:
        onnx.load(path, load_external_data=False)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
        return False
    return True


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
    return os.path.join(checkpoint, *MODULE_FOLDERS)
