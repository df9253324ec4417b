"""The disk cache of what is computed from a map once: arrays in the user cache folder, shared by every process.

A town's walker navigation graph and its lane samples take seconds to build from the map's waypoints (the lane
check's settled cells a tenth of one), in every process that loads the town: each training script, Ray env runner,
evaluation worker and inference script. They are kept in ``<cache root>/<kind>/<town>_<digest>_v<version>.npz``,
where the digest is the SHA-1 of the map's OpenDRIVE text and the version that of the code that builds them
(:func:`source_version`), so an edited town or an edited builder is built again. Files are written atomically
(concurrent workers read whole files or none), and a file that cannot be read or written costs a build, never an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import zipfile
from types import ModuleType
from typing import Callable

import carla
import numpy as np

logger = logging.getLogger(__name__)


def cache_root() -> str:
    """The user cache folder (``$RLLIB_INTEGRATION_CACHE``, else ``$XDG_CACHE_HOME/rllib_integration``, else
    ``~/.cache/rllib_integration``)."""
    return os.environ.get("RLLIB_INTEGRATION_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "rllib_integration")


def map_digest(town_map: carla.Map) -> str:
    """The SHA-1 of ``town_map``'s OpenDRIVE text (kept by the embedded world's maps, else computed)."""
    digest = getattr(town_map, "opendrive_hash", None)
    return digest or hashlib.sha1(town_map.to_opendrive().encode("utf-8")).hexdigest()


def map_stem(town_map: carla.Map, kind: str, version: str) -> str:
    """The cache path of ``kind`` for ``town_map`` without its extension."""
    name = town_map.name.rstrip("/").split("/")[-1]
    return os.path.join(cache_root(), kind, f"{name}_{map_digest(town_map)}_v{version}")


def source_version(*modules: ModuleType) -> str:
    """A version of the code in ``modules``: the start of the SHA-1 of their source files."""
    return hashlib.sha1(b"".join(pathlib.Path(module.__file__).read_bytes() for module in modules)).hexdigest()[:10]


#: Arrays built and read from disk, by kind (``built:navigation``, ``read:navigation``), for tests and logs.
COUNTS: dict[str, int] = {}


def cached_arrays(town_map: carla.Map, kind: str, version: str,
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of ``kind`` for ``town_map``: read from the disk cache, else built with ``build()`` and saved."""
    stem = map_stem(town_map, kind, version)
    try:
        with np.load(stem + ".npz", allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        COUNTS[f"read:{kind}"] = COUNTS.get(f"read:{kind}", 0) + 1
        return arrays
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    arrays = build()
    COUNTS[f"built:{kind}"] = COUNTS.get(f"built:{kind}", 0) + 1
    temporary = f"{stem}.{os.getpid()}.tmp.npz"
    try:
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        np.savez(temporary, **arrays)
        os.replace(temporary, stem + ".npz")
    except OSError as error:
        logger.warning("could not cache %s at %s: %s", kind, stem, error)
    return arrays
