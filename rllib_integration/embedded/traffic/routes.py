"""Routes of autopilot vehicles: waypoints every 2 m along the lanes, at least 40 m ahead.

A :class:`Route` is kept up to date as its vehicle moves (passed points dropped, extended at the
end, rebuilt from the vehicle's lane when it is off the route) and knows the route's next junction:
the index of its first point inside it and the waypoint where the vehicle enters it. At a fork the
branch is the next entry of ``set_route`` (``Left``, ``Right``, ``Straight``), else the one leading
to a ``set_path`` location (of the next few still to pass), else a random one (never a U-turn when there is another
way); a junction connection no car can follow (:mod:`rllib_integration.common.lane_geometry`) is taken only when it is
the only way on. CARLA's road options name what the route does next (``get_next_action``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import carla
import numpy as np

from ...common.lane_geometry import DrivableLanes

ROUTE_STEP = 2.0
ROUTE_POINTS = 22  # 42 m of route
OFF_ROUTE_DISTANCE = 6.0  # metres from the route's current point: re-localise
OFF_ROUTE_ACROSS = 2.5  # metres across the route segment (outside junctions): re-localise
PATH_LOOKAHEAD = 40  # set_path locations looked at when choosing a branch at a fork
BRANCH_REACH = 30.0  # metres past a fork's branch looked at when matching it to a set_path

Point = tuple[float, float, float, carla.Waypoint]  # x, y, yaw (rad), waypoint


def turn_of(before: float, after: float) -> str:
    """CARLA's road option for a heading change (radians): Left, Right or Straight."""
    change = (after - before + math.pi) % (2.0 * math.pi) - math.pi
    if change < -math.radians(35.0):
        return "Left"
    if change > math.radians(35.0):
        return "Right"
    return "Straight"


def lane_at(town_map: carla.Map, x: float, y: float, yaw: float) -> carla.Waypoint:
    """The nearest driving lane that runs the vehicle's way: under it, or up to 5 m to either side
    (opposite directions can be separate roads side by side, as in Osm2Odr towns)."""
    right_x, right_y = -math.sin(yaw), math.cos(yaw)
    first = None
    for offset in (0.0, 2.0, -2.0, 3.5, -3.5, 5.0, -5.0):
        waypoint = town_map.get_waypoint(carla.Location(x + offset * right_x, y + offset * right_y, 0.0))
        first = first or waypoint
        if waypoint is not None and math.cos(math.radians(waypoint.transform.rotation.yaw) - yaw) > 0.0:
            return waypoint
    return first


def bridge(town_map: carla.Map, point: Point) -> list[carla.Waypoint]:
    """Where a lane ends without a successor link, the lane 2 m ahead running the same way (maps
    can join roads by geometry only); [] at a real dead end."""
    x, y, yaw, waypoint = point
    ahead = town_map.get_waypoint(carla.Location(x + ROUTE_STEP * math.cos(yaw), y + ROUTE_STEP * math.sin(yaw), 0.0),
                                  project_to_road=False)
    if ahead is None or ahead.id == waypoint.id or math.cos(math.radians(ahead.transform.rotation.yaw) - yaw) < 0.5:
        return []
    return [ahead]


class Route:
    """The route of one vehicle (see the module docstring)."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self.coords: list[float] = []  # x0, y0, x1, y1, ... kept in step with ``points``
        self.entry: int | None = None  # index of the route's first point inside its next junction
        self.options: list[str] = []  # set_route: the choices at the next forks
        self.path: list[carla.Location] = []  # set_path: the locations still to pass
        self.turns: list[tuple[int, str]] = []  # (index, road option) of the forks taken ahead
        self.version = 0  # changes whenever the points do (what is derived from them is cached by it)
        self._passed = 0  # points dropped from the front since the route started (a point's index + this: its number)
        self._crossings: list[tuple[int, int]] = []  # (point number, light index) of the stop lines crossed
        self._examined = 0  # the number of the first point whose segment was not looked at yet
        self._junctions: tuple[int, set[int]] = (-1, set())
        self._lights: tuple[int, list] = (-1, [])
        self._dead_end = (-1, False)

    def clear(self) -> None:
        self.points, self.coords, self.entry, self.turns = [], [], None, []
        self.version += 1
        self._passed, self._crossings, self._examined = 0, [], 0

    @property
    def junction_ids(self) -> set[int]:
        """The junctions the route's points lie in."""
        if self._junctions[0] != self.version:
            self._junctions = (self.version, {p[3].junction_id for p in self.points if p[3].is_junction})
        return self._junctions[1]

    def start(self, waypoint: carla.Waypoint) -> None:
        self.clear()
        self.append(waypoint)

    def append(self, waypoint: carla.Waypoint) -> None:
        t = waypoint.transform
        self.points.append((t.location.x, t.location.y, math.radians(t.rotation.yaw), waypoint))
        self.coords += (t.location.x, t.location.y)
        self.version += 1
        if self.entry is None and waypoint.is_junction and len(self.points) > 1:
            self.entry = len(self.points) - 1

    def drop_passed(self, x: float, y: float) -> None:
        """Drop the points the vehicle at (x, y) has passed (keeping two behind the next)."""
        points, coords = self.points, self.coords
        while len(points) > 2:
            x1, y1, x2, y2 = coords[2], coords[3], coords[4], coords[5]
            if (x - x1) * (x2 - x1) + (y - y1) * (y2 - y1) < 0.0:
                break
            points.pop(0)
            del coords[:2]
            self.version += 1
            self._passed += 1
            self.entry = None if self.entry is None else self.entry - 1
            self.turns = [(i - 1, option) for i, option in self.turns if i > 1]
        if self.entry is not None and self.entry < 1:  # inside the junction: find the next one
            current = points[0][3].junction_id
            self.entry = next((k for k in range(1, len(points)) if points[k][3].is_junction
                               and points[k][3].junction_id != current), None)
        path = self.path
        while path and points and (math.hypot(points[0][0] - path[0].x, points[0][1] - path[0].y) < 4.0 or len(path) > 1
                                   and path[1].distance(path[0]) > math.hypot(points[0][0] - path[1].x,
                                                                              points[0][1] - path[1].y)):
            path.pop(0)  # passed: near it, or nearer to the next location than it is

    def off_route(self, x: float, y: float) -> bool:
        """Far from the route, or (outside junctions, whose connecting lanes overlap) across it."""
        if not self.points:
            return True
        c = self.coords
        x0, y0, x1, y1 = c[0], c[1], c[2], c[3]
        if (x - x0) ** 2 + (y - y0) ** 2 > OFF_ROUTE_DISTANCE ** 2:
            return True
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        return not self.points[0][3].is_junction and abs((x - x0) * (y1 - y0) - (y - y0) * (x1 - x0)) / length > \
            OFF_ROUTE_ACROSS

    def extend(self, drivable: DrivableLanes, pick: Callable[[list[carla.Waypoint]], int]) -> None:
        """Extend to :data:`ROUTE_POINTS` points on ``drivable.map``; ``pick(options)`` chooses at forks when no
        ``set_route`` option or ``set_path`` location decides."""
        while len(self.points) < ROUTE_POINTS:
            last = self.points[-1]
            options = last[3].next(ROUTE_STEP) or bridge(drivable.map, last) or [last[3]]
            if len(options) > 1:
                options = [option for option in options if drivable(option)] or options
            self.append(self._choose(options, last[2], pick))

    def _choose(self, options: list[carla.Waypoint], heading: float, pick) -> carla.Waypoint:
        if len(options) == 1:
            return options[0]
        ends = [option.next_until_lane_end(4.0) or [option] for option in options]
        turns = [turn_of(heading, math.radians(end[-1].transform.rotation.yaw)) for end in ends]
        no_u_turn = [k for k, end in enumerate(ends)
                     if abs((end[-1].transform.rotation.yaw - math.degrees(heading) + 180.0) % 360.0 - 180.0) < 135.0]
        candidates = no_u_turn or list(range(len(options)))
        choice = None
        while self.options and choice is None:
            wanted = self.options.pop(0)
            choice = next((k for k in candidates if turns[k] == wanted), None)
        if choice is None and self.path:  # the branch that keeps closest to the path
            ahead = np.array([(p.x, p.y) for p in self.path[:PATH_LOOKAHEAD]])

            def gap(k: int) -> float:  # past the fork: branches part there, into lanes side by side or roads
                points = np.array([(w.transform.location.x, w.transform.location.y) for w in _beyond(ends[k])])
                return float(np.mean(np.min(np.linalg.norm(points[:, None] - ahead[None], axis=2), axis=1)))
            choice = min(candidates, key=gap)
        if choice is None:
            choice = candidates[pick([options[k] for k in candidates])]
        self.turns.append((len(self.points), turns[choice]))
        return options[choice]

    def lights_across(self, signals: Any) -> list[tuple[int, Any]]:
        """The lights whose stop line the route crosses, by geometry (``TrafficSignals.crossings``): (index of the
        point before the line, light), the first crossing of each light in route order. Only the segments added since
        the last call are looked at (a route mostly loses points behind and gains them ahead)."""
        if self._lights[0] != self.version:
            passed, count = self._passed, len(self.points)
            first = max(self._examined, passed) - passed  # the first point whose segment is new
            if first < count - 1:
                coords = np.reshape(self.coords[2 * first:], (-1, 2))
                headings = np.array([p[2] for p in self.points[first:]])
                self._crossings += [(passed + first + i, light) for i, light in signals.crossings(coords, headings)]
                self._examined = passed + count - 1
            self._crossings = [crossing for crossing in self._crossings if crossing[0] >= passed]
            seen: set[int] = set()
            lights = []
            for number, light in self._crossings:
                if light not in seen:
                    seen.add(light)
                    lights.append((number - passed, signals.lights[light]))
            self._lights = (self.version, lights)
        return self._lights[1]

    @property
    def dead_end(self) -> bool:
        """Whether the route stops: its lane ends with no way on (it repeats its last point)."""
        if self._dead_end[0] != self.version:
            points = self.points
            self._dead_end = (self.version, len(points) > 1 and points[-1][3].id == points[-2][3].id)
        return self._dead_end[1]

    def array(self) -> np.ndarray:
        return np.reshape(self.coords, (ROUTE_POINTS, 2))

    def actions(self) -> list[tuple[str, carla.Waypoint]]:
        """CARLA's road options along the route: ``LaneFollow`` between forks, the fork's turn at
        the first point of each, then ``RoadEnd`` at a dead end."""
        marks = dict(self.turns)
        result = []
        for index, point in enumerate(self.points):
            option = marks.get(index, "LaneFollow")
            if index == len(self.points) - 1 and point[3].id == self.points[index - 1][3].id:
                option = "RoadEnd"
            result.append((option, point[3]))
        return result


def _beyond(branch: list[carla.Waypoint], reach: float = BRANCH_REACH) -> list[carla.Waypoint]:
    """The second half of a branch through a junction and the lane it leads to, ``reach`` metres on (two
    branches can stay side by side through the junction and part only after it)."""
    points = branch[len(branch) // 2:]
    last, travelled = branch[-1], 0.0
    while travelled < reach:
        following = last.next(ROUTE_STEP * 2)
        if not following:
            break
        last = following[0]
        points.append(last)
        travelled += ROUTE_STEP * 2
    return points


def lane_start(waypoint: carla.Waypoint) -> carla.Waypoint:
    """The first waypoint of ``waypoint``'s lane (libcarla's ``previous_until_lane_start`` ends one
    step into the lane before)."""
    same = [w for w in waypoint.previous_until_lane_start(1.0)
            if w.road_id == waypoint.road_id and w.lane_id == waypoint.lane_id]
    return same[-1] if same else waypoint
