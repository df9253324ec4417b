"""The library's numba kernels are compiled on first use and kept in a disk cache beside their modules
(``cache=True``), so the first run after an install or an update compiles them (about half a minute on a 2-core
machine) and later runs load them. :func:`compile_notice` tells, as it happens, that one is being compiled (the
scripts say so, rather than stay silent for that half minute)."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from numba.core import event

#: The message the scripts show while the first of the library's kernels compiles.
COMPILING = ("compiling the embedded world's kernels (the first run after an install or an update: about half a "
             "minute on 2 cores, kept for later runs)")


class _FirstCompile(event.Listener):
    """Calls ``announce`` as numba starts compiling the first kernel of ``package`` (a cache miss: kernels loaded
    from the disk cache send no compile event)."""

    def __init__(self, announce: Callable[[], None], package: str) -> None:
        self.announce, self.package, self.announced = announce, package, False

    def on_start(self, compiling: event.Event) -> None:
        module = getattr(compiling.data["dispatcher"].py_func, "__module__", "") or ""
        if not self.announced and (module == self.package or module.startswith(self.package + ".")):
            self.announced = True
            self.announce()

    def on_end(self, compiling: event.Event) -> None:
        pass


@contextlib.contextmanager
def compile_notice(announce: Callable[[], None], package: str = "rllib_integration") -> Iterator[None]:
    """Within the block, call ``announce()`` once, when numba starts compiling a kernel of ``package`` that its disk
    cache lacks (numba's event API), and never where every kernel the block reaches loads from the cache."""
    with event.install_listener("numba:compile", _FirstCompile(announce, package)):
        yield
