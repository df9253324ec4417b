"""``ProgressBatch``: many vehicles' :class:`~.progress.RouteProgress` advanced and measured in one compiled call.

Each progress's route is copied once, when it first comes, into a row of padded arrays, where it stays while no
other progress needs the row (a call may give any of the progresses, in any order: the heroes acting this step; a new
route takes the row used longest ago, one not asked for by the last :data:`RECENT` calls). A world's heroes share one
batch (:data:`route_rows`: the core's update after a tick, the route task's checks and the BirdView's route read the
same rows, a route copied once); a tick then advances every vehicle past the points it has passed, or measures
every vehicle's distance to its route, with one numba call instead of one per vehicle (whose argument checks cost
more than the work). The answers are the progresses' own (:meth:`~.progress.RouteProgress.update_at`,
:meth:`~.progress.RouteProgress.distance_at`): the same compiled loops on the same numbers, and the new indices are
written back to the progresses.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numba import njit

from ..common.per_frame import PerWorld
from .progress import NEAR_AHEAD, NEAR_BEHIND, WINDOW, RouteProgress, last_passed, polyline_distance_into

#: A row asked for by one of the last this many calls that needed a new answer (a tick's callers: the core's update,
#: the route task's, the BirdView's) is not given to a new route: a row is added instead.
RECENT = 4


class ProgressBatch:
    """Padded copies of the routes of the progresses given, a row each, kept while their rows are not needed for
    others (see the module docstring)."""

    def __init__(self) -> None:
        self._members: list[RouteProgress | None] = []
        self._rows: dict[int, int] = {}  # id of a progress held -> its row
        self.points = np.zeros((0, 1, 3))
        self.forward = np.zeros((0, 1, 2))
        self.cumulative = np.zeros((0, 1))
        self.counts = np.zeros(0, dtype=np.int64)
        #: the last RECENT answers (rows) by the ids of the progresses asked for, oldest first
        self._recent: dict[tuple[int, ...], np.ndarray] = {}
        self._used = np.zeros(0, dtype=np.int64)  # when each row was last asked for (a count of the answers made)
        self._answers = 0
        #: the recent answers to tuples of progresses, by the tuple's id (each held, so that its id stays its own)
        self._tuples: dict[int, tuple[tuple[RouteProgress, ...], np.ndarray]] = {}

    def sync(self, progresses: Sequence[RouteProgress]) -> np.ndarray:
        """The row holding each of ``progresses``' route (read-only): the row it had where it is still held, else one
        no other of ``progresses`` holds (its route copied there; the rows grown where there are too few or too
        short). A tick's callers each ask for their set of progresses, some twice: the last :data:`RECENT` answers
        are kept until a route moves (while they are kept, their progresses are held in their rows, so their ids are
        theirs alone)."""
        seen = self._tuples.get(id(progresses)) if isinstance(progresses, tuple) else None
        if seen is not None and seen[0] is progresses:  # (the same tuple as a recent call's: its rows, no ids read)
            return seen[1]
        key = tuple(map(id, progresses))
        rows = self._recent.get(key)
        if rows is not None:
            self._remember(progresses, rows)
            return rows
        rows = np.empty(len(progresses), dtype=np.int64)
        new = []
        for k, progress in enumerate(progresses):
            row = self._rows.get(id(progress), -1)
            if row >= 0 and self._members[row] is progress:
                rows[k] = row
            else:
                new.append(k)
        if new:
            self._place([progresses[k] for k in new], rows, new)
        rows.flags.writeable = False
        self._recent[key] = rows
        if len(self._recent) > RECENT:
            del self._recent[next(iter(self._recent))]
            self._tuples.clear()  # (a tuple asked again is then answered afresh, which marks its rows used)
        self._remember(progresses, rows)
        self._answers += 1
        self._used[rows] = self._answers
        return rows

    def _remember(self, progresses: Sequence[RouteProgress], rows: np.ndarray) -> None:
        """Answer ``progresses`` by identity from now on, while its rows stay its own, where it is a tuple (a
        sequence that cannot change: a roster's, the same every tick until a hero or a route changes)."""
        if isinstance(progresses, tuple):
            if len(self._tuples) >= 2 * RECENT:  # (a caller making a new tuple a call)
                self._tuples.clear()
            self._tuples[id(progresses)] = (progresses, rows)

    def _place(self, progresses: list[RouteProgress], rows: np.ndarray, at: list[int]) -> None:
        """Copy ``progresses``' routes into rows that none of ``rows`` (but those ``at``) holds, writing theirs at
        ``at``."""
        self._recent.clear()
        self._tuples.clear()
        held = np.zeros(len(self._members), dtype=bool)
        held[np.delete(rows, at)] = True
        held |= self._used > self._answers - RECENT  # rows other callers read this tick: kept (else copied back)
        free = np.flatnonzero(~held)
        free = free[np.argsort(self._used[free], kind="stable")]  # the rows used longest ago first
        longest = max(len(progress.points) for progress in progresses)
        if len(free) < len(progresses) or longest > self.points.shape[1]:
            old = len(self._members)
            self._grow(max(old, old + len(progresses) - len(free)), max(longest, self.points.shape[1]))
            free = np.concatenate([free, np.arange(old, len(self._members))])
        for progress, k, row in zip(progresses, at, free.tolist()):
            replaced = self._members[row]
            if replaced is not None and self._rows.get(id(replaced)) == row:
                del self._rows[id(replaced)]
            count = len(progress.points)
            self.points[row, :count] = progress.points
            self.forward[row, :count] = progress.forward
            self.cumulative[row, :count] = progress.cumulative
            self.counts[row] = count
            self._members[row], self._rows[id(progress)] = progress, row
            rows[k] = row

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
        self._used = np.concatenate([self._used, np.zeros(rows - old, dtype=np.int64)])
        self._members += [None] * (rows - old)

    def update(self, progresses: Sequence[RouteProgress], xy: np.ndarray) -> np.ndarray:
        """Each progress's :meth:`~.progress.RouteProgress.update_at` at its row of ``xy`` (N, 2): the route metres
        each completed."""
        rows, before, after = self._advance(progresses, xy)
        return self.cumulative[rows, after] - self.cumulative[rows, before]

    def advance(self, progresses: Sequence[RouteProgress], xy: np.ndarray) -> None:
        """:meth:`update` where the metres completed are not needed (the core's update after a tick)."""
        self._advance(progresses, xy)

    def _advance(self, progresses: Sequence[RouteProgress],
                 xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance each progress at its row of ``xy``: their rows, and their indices before and after."""
        rows = self.sync(progresses)
        before = np.array([p.index for p in progresses], dtype=np.int64)
        after = np.empty_like(before)
        advance_many(self.points, self.forward, self.counts, rows, before,
                     np.ascontiguousarray(xy[:, :2], dtype=np.float64), after)
        for progress, index in zip(progresses, after.tolist()):
            progress.index = index
        return rows, before, after

    def measure(self, progresses: Sequence[RouteProgress], xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each progress's :attr:`~.progress.RouteProgress.completed` metres and its
        :meth:`~.progress.RouteProgress.distance_at` its row of ``xy`` (N, 2), their rows looked up once."""
        rows = self.sync(progresses)
        index = np.array([p.index for p in progresses], dtype=np.int64)
        distances = np.empty(len(progresses))
        distances_many(self.points, self.counts, rows, index, np.ascontiguousarray(xy[:, :2], dtype=np.float64),
                       distances)
        return self.cumulative[rows, index], distances


@njit(cache=True)
def advance_many(points: np.ndarray, forward: np.ndarray, counts: np.ndarray, rows: np.ndarray, before: np.ndarray,
                 xy: np.ndarray, out: np.ndarray) -> None:
    """``out[h]``: :func:`~.progress.last_passed` of row ``rows[h]`` from ``before[h]`` over the update's window."""
    for h in range(before.shape[0]):
        start, row = before[h], rows[h]
        out[h] = last_passed(points[row], forward[row], start, min(start + WINDOW + 1, counts[row]), xy[h, 0],
                             xy[h, 1])


@njit(cache=True)
def distances_many(points: np.ndarray, counts: np.ndarray, rows: np.ndarray, index: np.ndarray, xy: np.ndarray,
                   out: np.ndarray) -> None:
    """``out[h]``: :func:`~.progress.polyline_distance` of row ``rows[h]`` near ``index[h]``, as ``distance_at``."""
    squares = np.empty(NEAR_BEHIND + NEAR_AHEAD + 1)  # (polyline_distance's, allocated once a call)
    for h in range(index.shape[0]):
        row = rows[h]
        lo, hi = max(0, index[h] - NEAR_BEHIND), min(counts[row], index[h] + NEAR_AHEAD)
        out[h] = polyline_distance_into(points[row], lo, hi, xy[h, 0], xy[h, 1], squares)


#: The routes of each world's heroes in rows of padded arrays, one batch per world (the very world object), shared
#: by whoever advances or measures them, kept while the world is.
route_rows: PerWorld[ProgressBatch] = PerWorld(ProgressBatch)
