"""Whether the library's numba kernels are compiled yet: they are compiled on first use and kept in a disk cache
beside their modules (``cache=True``), so the first run after an install or an update compiles them (about half a
minute on a 2-core machine) and later runs load them."""

from __future__ import annotations

import pathlib
import re

#: A decorator that compiles a kernel into the disk cache.
CACHED_KERNEL = re.compile(r"^@(numba\.)?njit\(.*cache=True", re.MULTILINE)
PACKAGE = pathlib.Path(__file__).resolve().parents[1]


def cold_kernel_modules(package: pathlib.Path = PACKAGE) -> list[pathlib.Path]:
    """The modules of ``package`` (default: the library) with disk-cached kernels whose cache is missing or older
    than the module."""
    cold = []
    for source in pathlib.Path(package).rglob("*.py"):
        if not CACHED_KERNEL.search(source.read_text(encoding="utf-8")):
            continue
        indexes = list((source.parent / "__pycache__").glob(f"{source.stem}.*.nbi"))
        if not indexes or max(index.stat().st_mtime for index in indexes) < source.stat().st_mtime:
            cold.append(source)
    return cold
