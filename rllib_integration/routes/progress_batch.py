"""``ProgressBatch``: many vehicles' :class:`~.progress.RouteProgress` advanced and measured in one compiled call.

Each progress's route is copied once (when it first appears at a row) into padded arrays, a row a vehicle; a tick
then advances every vehicle past the points it has passed, or measures every vehicle's distance to its route,
with one numba call instead of one per vehicle (whose argument checks cost more than the work). The answers are
the progresses' own (:meth:`~.progress.RouteProgress.update_at`, :meth:`~.progress.RouteProgress.distance_at`):
the same compiled loops on the same numbers, and the new indices are written back to the progresses.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numba import njit

from .progress import NEAR_AHEAD, NEAR_BEHIND, WINDOW, RouteProgress, last_passed, polyline_distance


class ProgressBatch:
    """Padded copies of the routes of the progresses last given, a row each (see the module docstring)."""

    def __init__(self) -> None:
        self._members: list[RouteProgress | None] = []
        self.points = np.zeros((0, 1, 3))
        self.forward = np.zeros((0, 1, 2))
        self.cumulative = np.zeros((0, 1))
        self.counts = np.zeros(0, dtype=np.int64)

    def sync(self, progresses: Sequence[RouteProgress]) -> None:
        """Make row ``k`` hold ``progresses[k]``'s route (copied where the row held another)."""
        rows = len(progresses)
        longest = max(len(p.points) for p in progresses) if progresses else 1
        if rows > len(self._members) or longest > self.points.shape[1]:
            self._grow(max(rows, len(self._members)), max(longest, self.points.shape[1]))
        for k, progress in enumerate(progresses):
            if self._members[k] is not progress:
                count = len(progress.points)
                self.points[k, :count] = progress.points
                self.forward[k, :count] = progress.forward
                self.cumulative[k, :count] = progress.cumulative
                self.counts[k] = count
                self._members[k] = progress

    def _grow(self, rows: int, length: int) -> None:
        length = max(length, 2 * self.points.shape[1]) if length > self.points.shape[1] else length
        old = len(self._members)
        points, forward = np.zeros((rows, length, 3)), np.zeros((rows, length, 2))
        cumulative = np.zeros((rows, length))
        counts = np.zeros(rows, dtype=np.int64)
        width = self.points.shape[1]
        points[:old, :width], forward[:old, :width] = self.points, self.forward
        cumulative[:old, :width], counts[:old] = self.cumulative, self.counts
        self.points, self.forward, self.cumulative, self.counts = points, forward, cumulative, counts
        self._members += [None] * (rows - old)

    def update(self, progresses: Sequence[RouteProgress], xy: np.ndarray) -> np.ndarray:
        """Each progress's :meth:`~.progress.RouteProgress.update_at` at its row of ``xy`` (N, 2): the route metres
        each completed."""
        self.sync(progresses)
        before = np.array([p.index for p in progresses], dtype=np.int64)
        after = np.empty_like(before)
        advance_many(self.points, self.forward, self.counts, before, np.ascontiguousarray(xy[:, :2], dtype=np.float64),
                     after)
        for progress, index in zip(progresses, after.tolist()):
            progress.index = index
        rows = np.arange(len(progresses))
        return self.cumulative[rows, after] - self.cumulative[rows, before]

    def completed(self, progresses: Sequence[RouteProgress]) -> np.ndarray:
        """Each progress's :attr:`~.progress.RouteProgress.completed` metres."""
        self.sync(progresses)
        return self.cumulative[np.arange(len(progresses)), [p.index for p in progresses]]

    def distances(self, progresses: Sequence[RouteProgress], xy: np.ndarray) -> np.ndarray:
        """Each progress's :meth:`~.progress.RouteProgress.distance_at` its row of ``xy`` (N, 2)."""
        self.sync(progresses)
        out = np.empty(len(progresses))
        distances_many(self.points, self.counts, np.array([p.index for p in progresses], dtype=np.int64),
                       np.ascontiguousarray(xy[:, :2], dtype=np.float64), out)
        return out


@njit(cache=True)
def advance_many(points: np.ndarray, forward: np.ndarray, counts: np.ndarray, before: np.ndarray, xy: np.ndarray,
                 out: np.ndarray) -> None:
    """``out[h]``: :func:`~.progress.last_passed` of row ``h`` from ``before[h]`` over the update's window."""
    for h in range(before.shape[0]):
        start = before[h]
        out[h] = last_passed(points[h], forward[h], start, min(start + WINDOW + 1, counts[h]), xy[h, 0], xy[h, 1])


@njit(cache=True)
def distances_many(points: np.ndarray, counts: np.ndarray, index: np.ndarray, xy: np.ndarray, out: np.ndarray) -> None:
    """``out[h]``: :func:`~.progress.polyline_distance` of row ``h`` near ``index[h]``, as ``distance_at``."""
    for h in range(index.shape[0]):
        lo, hi = max(0, index[h] - NEAR_BEHIND), min(counts[h], index[h] + NEAR_AHEAD)
        out[h] = polyline_distance(points[h], lo, hi, xy[h, 0], xy[h, 1])
