"""Time of the embedded world: the free-running clock of asynchronous mode, and the lock that keeps
the API calls of a script and the clock's ticks apart.

In CARLA's asynchronous mode the server ticks on its own, as fast as it renders; clients read
whatever frame is current, ``wait_for_tick`` waits for the next one and ``on_tick`` callbacks run
in the client's background thread. :class:`FreeRunningClock` does the same: a daemon thread ticks
the simulation in real time (``fixed_delta_seconds`` of wall time per tick, or 1/20 s when it is
unset) while the world is asynchronous, and idles while it is synchronous. Every public method of
the actors, the world and the traffic manager runs under the simulation's re-entrant lock
(:func:`serialised`), so a tick never interleaves with a call; sensor and ``on_tick`` callbacks run
on the clock's thread, holding the lock, as CARLA runs them outside the main thread.

The clock is started by the server that owns the simulation (``EmbeddedServer(free_running=True)``,
which the script runner uses); without it an asynchronous world advances one step per
``wait_for_tick`` or ``tick`` call, which keeps library code and tests deterministic.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any, Callable

logger = logging.getLogger(__name__)

DEFAULT_PERIOD = 0.05  # s of wall time per tick while fixed_delta_seconds is unset (a 20 FPS server)


def locked(method: Callable) -> Callable:
    """``method`` run under ``self``'s simulation lock (``self.simulation_lock``)."""

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.simulation_lock:
            return method(self, *args, **kwargs)

    return call


def unlocked(method: Callable) -> Callable:
    """Mark ``method`` as one the simulation alone calls, within its tick, under its lock already: :func:`serialised`
    leaves it as it is (the lock's wrapper would cost the kernel's per-actor reads a microsecond or two each)."""
    method.unlocked = True  # type: ignore[attr-defined]
    return method


def serialised(cls: type) -> type:
    """Run every public method that ``cls`` defines under the simulation lock (but those marked :func:`unlocked`)."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and callable(member) and not isinstance(member, (type, staticmethod, classmethod)) \
                and not getattr(member, "unlocked", False):
            setattr(cls, name, locked(member))
    return cls


class FreeRunningClock:
    """Ticks ``tick()`` in real time while ``asynchronous()`` is true, in a daemon thread."""

    def __init__(self, tick: Callable[[], int], asynchronous: Callable[[], bool], period: Callable[[], float],
                 lock: threading.RLock) -> None:
        self._tick, self._asynchronous, self._period, self._lock = tick, asynchronous, period, lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedded-world-clock", daemon=True)

    def start(self) -> "FreeRunningClock":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop ticking and wait for the thread (unless called from it, by a tick callback)."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            if not self._asynchronous():
                self._stop.wait(0.01)
                due = time.monotonic()
                continue
            with self._lock:
                if self._stop.is_set() or not self._asynchronous():
                    continue
                try:
                    self._tick()
                except Exception:  # noqa: BLE001 - a failing tick stops the clock, loudly
                    logger.exception("the embedded world's clock stopped: a tick failed")
                    return
            due = max(due + self._period(), time.monotonic())  # late ticks are not made up for
            self._stop.wait(max(due - time.monotonic(), 0.0))
