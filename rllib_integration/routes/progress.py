"""``RouteProgress``: where a vehicle is along a dense route (the core's route API and the evaluator's
route completion share it).

As the Leaderboard's route completion: a route point counts as passed once the vehicle is ahead of
it along its direction (``(vehicle - point) . forward > 0``), looking only a few points past the last
one passed, so progress never jumps along a route that comes back near itself. The completed
distance is the route length up to the last passed point.
"""

from __future__ import annotations

import math

import carla
import numpy as np
from numba import njit

from .planner import RoadOption, route_poses

Route = list[tuple[carla.Waypoint, RoadOption]]

WINDOW = 6  # route points looked at past the last passed one per update (1 m apart: 6 m per tick)
NEAR_BEHIND, NEAR_AHEAD = 20, 60  # route points searched for the distance to the route


class RouteProgress:
    """Progress of one vehicle along ``route`` (a list of ``(carla.Waypoint, RoadOption)``)."""

    def __init__(self, route: Route) -> None:
        if len(route) < 2:
            raise ValueError("a route needs at least two waypoints")
        self.route = route
        poses = route_poses(route)
        self.points = np.ascontiguousarray(poses[:, :3])
        yaws = np.radians(poses[:, 3])
        self.forward = np.empty((len(yaws), 2))  # (NumPy's cosines and sines: the headings since they were first read)
        self.forward[:, 0], self.forward[:, 1] = np.cos(yaws), np.sin(yaws)
        self.cumulative = np.empty(len(self.points))
        cumulative_lengths(self.points, self.cumulative)
        self.length = float(self.cumulative[-1])
        self.index = 0
        self._last_distance: tuple[tuple, float] = ((None,), 0.0)

    @property
    def completed(self) -> float:
        """Metres of the route completed."""
        return float(self.cumulative[self.index])

    @property
    def fraction(self) -> float:
        """Share of the route completed, 0 to 1."""
        return self.completed / self.length if self.length > 0 else 1.0

    def update(self, location: carla.Location) -> float:
        """Advance past the route points the vehicle at ``location`` has passed; returns the metres
        completed by this update."""
        return self.update_at(location.x, location.y)

    def update_at(self, x: float, y: float) -> float:
        """:meth:`update` for the vehicle at (x, y) (many heroes' locations read as arrays)."""
        before = self.index
        self.index = last_passed(self.points, self.forward, before, min(before + WINDOW + 1, len(self.points)),
                                 float(x), float(y))
        return float(self.cumulative[self.index] - self.cumulative[before])

    def distance_to_route(self, location: carla.Location) -> float:
        """Planar distance from ``location`` to the route near the vehicle's progress (the last answer is kept:
        the route task and the evaluator's monitor ask for the same location every tick)."""
        return self.distance_at(location.x, location.y)

    def distance_at(self, x: float, y: float) -> float:
        """:meth:`distance_to_route` of the point (x, y) (many heroes' tasks pass their arrays' values)."""
        key = (self.index, x, y)
        if self._last_distance[0] == key:
            return self._last_distance[1]
        lo, hi = max(0, self.index - NEAR_BEHIND), min(len(self.points), self.index + NEAR_AHEAD)
        distance = polyline_distance(self.points, lo, hi, float(x), float(y))
        self._last_distance = (key, distance)
        return distance

    def remaining_to_end(self, location: carla.Location) -> float:
        """Planar distance from ``location`` to the route's last point."""
        end = self.points[-1]
        return math.hypot(location.x - end[0], location.y - end[1])

    def nearest_index(self, location: carla.Location) -> int:
        """The route point nearest ``location`` (planar), over the whole route."""
        d = (self.points[:, 0] - location.x) ** 2 + (self.points[:, 1] - location.y) ** 2
        return int(np.argmin(d))

    def distance_between(self, start: int, end: int) -> float:
        """Route metres from point ``start`` to point ``end`` (negative when ``end`` lies behind)."""
        return float(self.cumulative[end] - self.cumulative[start])

    def index_after(self, start: int, metres: float) -> int:
        """The first route point ``metres`` past point ``start`` (the last point where the route is shorter)."""
        return min(first_reaching(self.cumulative, len(self.points), self.cumulative[start] + metres),
                   len(self.points) - 1)

    def ahead(self, count: int) -> Route:
        """The next ``count`` route points after the last passed one (fewer near the end)."""
        return self.route[self.index + 1:self.index + 1 + count]


@njit(cache=True, inline="always")
def first_reaching(cumulative: np.ndarray, count: int, metres: float) -> int:
    """The first of the first ``count`` points whose ``cumulative`` metres reach ``metres`` (``count``: none does),
    as ``np.searchsorted(cumulative[:count], metres)`` finds it (compiled loops over many routes' rows call it)."""
    low, high = 0, count
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle] < metres:
            low = middle + 1
        else:
            high = middle
    return low


@njit(cache=True)
def cumulative_lengths(points: np.ndarray, out: np.ndarray) -> None:
    """``out[k]``: the length of the polyline ``points`` (N, 3) up to point ``k``, its steps summed one after the
    other (each ``sqrt(dx * dx + dy * dy + dz * dz)``: ``np.linalg.norm``'s of a row, the same to the bit; with it a
    300-point route's geometry is set up in 6.6 µs against 19.1 through NumPy's calls, replayed)."""
    total = 0.0
    out[0] = 0.0
    for k in range(1, points.shape[0]):
        dx, dy = points[k, 0] - points[k - 1, 0], points[k, 1] - points[k - 1, 1]
        dz = points[k, 2] - points[k - 1, 2]
        total += math.sqrt(dx * dx + dy * dy + dz * dz)
        out[k] = total


@njit(cache=True, inline="always")
def _offset(points: np.ndarray, k: int, x: float, y: float) -> tuple[float, float]:
    """From (x, y) to the nearest point of segment ``k`` of ``points`` (to ``points[k + 1]``), x and y."""
    ax, ay = points[k, 0], points[k, 1]
    abx, aby = points[k + 1, 0] - ax, points[k + 1, 1] - ay
    t = min(max(((x - ax) * abx + (y - ay) * aby) / max(abx * abx + aby * aby, 1e-9), 0.0), 1.0)
    return ax + t * abx - x, ay + t * aby - y


@njit(cache=True)
def polyline_distance(points: np.ndarray, lo: int, hi: int, x: float, y: float) -> float:
    """Planar distance from (x, y) to the polyline through ``points[lo:hi]`` (x, y first; one point: to it): the
    least ``math.hypot`` of the offsets to the first point and to each segment. The offsets are compared by their
    squares, and the hypot taken only of those within a relative 1e-9 of the least square (a hypot is within an ulp
    of the true length, so no other can be the least): the same distance, to the last bit, at about half the cost."""
    return polyline_distance_into(points, lo, hi, x, y, np.empty(max(hi - lo, 1)))


@njit(cache=True, inline="always")
def polyline_distance_into(points: np.ndarray, lo: int, hi: int, x: float, y: float, squares: np.ndarray) -> float:
    """:func:`polyline_distance` with ``squares`` (at least ``hi - lo`` and 1 long) to keep the squares in (a batch's
    loop allocates it once)."""
    dx, dy = points[lo, 0] - x, points[lo, 1] - y
    squares[0] = least = dx * dx + dy * dy
    for k in range(lo, hi - 1):
        dx, dy = _offset(points, k, x, y)
        squares[k - lo + 1] = dx * dx + dy * dy
        least = min(least, squares[k - lo + 1])
    within = least * (1.0 + 1e-9) + 1e-300
    best = math.hypot(points[lo, 0] - x, points[lo, 1] - y) if squares[0] <= within else np.inf
    for k in range(lo, hi - 1):
        if squares[k - lo + 1] <= within:
            dx, dy = _offset(points, k, x, y)
            best = min(best, math.hypot(dx, dy))
    return best


@njit(cache=True, inline="always")
def last_passed(points: np.ndarray, forward: np.ndarray, start: int, end: int, x: float, y: float) -> int:
    """The last of ``points[start:end]`` that (x, y) is past along its ``forward`` direction (``start`` if none)."""
    found = start
    for k in range(start, end):
        if (x - points[k, 0]) * forward[k, 0] + (y - points[k, 1]) * forward[k, 1] > 0.0:
            found = k
    return found
