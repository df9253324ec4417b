"""A global route planner on ``carla.Map``'s topology: lane-level shortest paths with road options.

It behaves as CARLA's ``GlobalRoutePlanner`` (the reference for the Leaderboard's dense routes): the
map's topology segments (one lane between two junction borders, or one lane through a junction) are
the edges of a directed graph whose nodes are the segments' ends; a lane change is an edge from a
segment's start to the end of the neighbouring segment where the lane markings allow it; A* finds the
shortest path (networkx's search, compiled: :mod:`.astar`); :meth:`RoutePlanner.trace_route` returns the
waypoints every ``resolution`` metres with the road option of each: ``LANEFOLLOW`` on roads,
``LEFT``/``RIGHT``/``STRAIGHT`` through junctions (by the angle between the way in and the way out),
``CHANGELANELEFT``/``CHANGELANERIGHT`` at a lane change. Junction connections no car can follow (a U-turn of
1-2 m radius, a cusp: see :mod:`rllib_integration.common.lane_geometry`) are left out. Works on the embedded
world's maps and on a real server's alike.
"""

from __future__ import annotations

import collections
import enum
import functools
import math
import weakref
from dataclasses import dataclass

import carla
import networkx
import numpy as np
from numba import njit

from ..common.identity_cache import IdentityCache
from ..common.lane_geometry import DrivableLanes
from .astar import GraphArrays

TURN_THRESHOLD = math.radians(35.0)  # a junction path turning less than this goes straight
LANE_CHANGE_COST = 10.0  # metres added to a lane change, so routes keep their lane unless it pays
LANE_CHANGE_SPAN = 8.0  # metres a lane change takes
LANE_CHANGE_ROOM = 20.0  # metres of lane a change needs ahead of it: the span, and room to wait for a gap
SNAPPED_LOCATIONS = 4096  # locations whose nearest driving lane a planner keeps (see RoutePlanner._snap)
KNOWN_ROUTES = 4  # routes just traced or drawn whose poses a planner keeps (see RoutePlanner.remember)


class RoadOption(enum.IntEnum):
    """CARLA's road options (``agents.navigation.local_planner.RoadOption``), with its values."""

    VOID = -1
    LEFT = 1
    RIGHT = 2
    STRAIGHT = 3
    LANEFOLLOW = 4
    CHANGELANELEFT = 5
    CHANGELANERIGHT = 6


@dataclass
class _Segment:
    entry: int  # node ids
    exit: int
    waypoints: list[carla.Waypoint]
    option: RoadOption
    points: np.ndarray  # (n, 2) planar locations of the waypoints
    first_row: int  # the row of its first waypoint's pose in the planner's table (the others follow it)


def _pose(waypoint: carla.Waypoint) -> tuple[float, float, float, float]:
    transform = waypoint.transform
    loc = transform.location
    return loc.x, loc.y, loc.z, transform.rotation.yaw


def _xyz(waypoint: carla.Waypoint) -> tuple[float, float, float]:
    return _pose(waypoint)[:3]


@njit(cache=True)
def nearest_point(points: np.ndarray, x: float, y: float) -> int:
    """Index of the first of ``points`` (N >= 1, 2) nearest (x, y) (``np.argmin`` of the squared distances)."""
    best, index = np.inf, 0
    for k in range(points.shape[0]):
        dx, dy = points[k, 0] - x, points[k, 1] - y
        distance = dx * dx + dy * dy
        if distance < best:
            best, index = distance, k
    return index


def turn_option(waypoints: list[carla.Waypoint]) -> RoadOption:
    """LEFT, RIGHT or STRAIGHT for a path through a junction, by its change of heading (CARLA's
    left-handed frame: a growing yaw turns right)."""
    if len(waypoints) < 2:
        return RoadOption.STRAIGHT
    start = math.radians(waypoints[0].transform.rotation.yaw)
    end = math.radians(waypoints[-1].transform.rotation.yaw)
    turn = (end - start + math.pi) % (2.0 * math.pi) - math.pi
    if abs(turn) < TURN_THRESHOLD:
        return RoadOption.STRAIGHT
    return RoadOption.RIGHT if turn > 0.0 else RoadOption.LEFT


class RoutePlanner:
    """Shortest lane-level routes on one map."""

    def __init__(self, town_map: carla.Map, resolution: float = 1.0) -> None:
        if resolution <= 0.0:
            raise ValueError(f"route resolution must be positive metres, got {resolution}")
        self.map, self.resolution = town_map, float(resolution)
        self.graph = networkx.DiGraph()
        self._nodes: dict[tuple[float, float, float], int] = {}
        self._segments: dict[tuple[int, int, int], _Segment] = {}  # (road, section, lane) -> segment
        #: x, y, z and yaw of each waypoint the planner holds (a row each), and each one's row by the waypoint's id
        #: (held: the id stays its own)
        self._poses: list[tuple[float, float, float, float]] = []
        self._rows: dict[int, int] = {}
        self._table = np.zeros((0, 4))  # the poses as an array, once asked for after the last ones came
        #: The driving lanes' waypoints nearest the last locations snapped (routes run between a town's spawn points)
        self._snapped: collections.OrderedDict[tuple[float, float, float], tuple[carla.Waypoint, tuple]] = \
            collections.OrderedDict()  # (with each one's pose, read once: a transform made cold costs microseconds)
        #: The last routes traced or drawn, by id, and their poses (a route is read right after it is made)
        self._known: dict[int, tuple[list, np.ndarray]] = {}
        _PLANNERS_ALIVE.add(self)  # (route_poses reads its waypoints' poses from its table)
        self._build()

    def holds(self, waypoint: carla.Waypoint) -> bool:
        """Whether ``waypoint`` is one of this planner's own (whose pose it read once)."""
        return id(waypoint) in self._rows

    def remember(self, route: list[tuple[carla.Waypoint, RoadOption]], poses: np.ndarray) -> None:
        """Keep ``poses`` (its :func:`route_poses`) of a route just made of this planner's waypoints, for
        :meth:`poses_of` to give while it is among the last few (held, so that its id stays its own)."""
        self._known[id(route)] = (route, poses)
        while len(self._known) > KNOWN_ROUTES:
            del self._known[next(iter(self._known))]

    def _current_table(self) -> np.ndarray:
        """The table of poses, as an array holding every pose read so far."""
        if len(self._table) != len(self._poses):
            self._table = np.array(self._poses, dtype=np.float64).reshape(-1, 4)
        return self._table

    def poses_of(self, route: list[tuple[carla.Waypoint, RoadOption]]) -> np.ndarray:
        """:func:`route_poses` of a route of this planner's waypoints (any other waypoint among them read): rows of
        the planner's table of poses, one array read once its last waypoints came."""
        known = self._known.get(id(route))
        if known is not None and known[0] is route and len(route) == len(known[1]):  # a route just traced or drawn
            return known[1].copy()
        indices = [self._rows.get(id(w), -1) for w, _ in route]
        if indices and min(indices) >= 0:
            return self._current_table()[indices]
        return np.array([self._poses[k] if k >= 0 else _pose(w) for k, (w, _) in zip(indices, route)],
                        dtype=np.float64).reshape(-1, 4)

    # -- the graph ----------------------------------------------------------------------------
    @functools.cached_property
    def spawn_locations(self) -> list[carla.Location]:
        """The map's spawn points' locations (asked once: a large map makes thousands), their nearest driving lanes
        snapped at once (routes are drawn between them: a snap asked in the middle of a simulation's tick, its map
        cold in the caches, cost 60-100 µs, where these cost 10)."""
        locations = [t.location for t in self.map.get_spawn_points()]
        for location in locations[:SNAPPED_LOCATIONS]:
            self._snap(location)
        return locations

    def _node(self, waypoint: carla.Waypoint) -> int:
        key = tuple(round(v, 1) for v in _xyz(waypoint))
        if key not in self._nodes:
            self._nodes[key] = len(self._nodes)
            self.graph.add_node(self._nodes[key], location=key)
        return self._nodes[key]

    def _build(self) -> None:
        drivable = DrivableLanes(self.map)
        for entry, exit_ in self.map.get_topology():
            if not drivable(entry):  # a junction connection no car can follow (see common.lane_geometry)
                continue
            waypoints = [entry]
            end = exit_.transform.location
            for waypoint in entry.next_until_lane_end(self.resolution):
                if waypoint.transform.location.distance(end) <= self.resolution / 2.0 or \
                        waypoint.road_id != entry.road_id or waypoint.section_id != entry.section_id:
                    break
                waypoints.append(waypoint)
            waypoints.append(exit_)
            option = turn_option(waypoints) if entry.is_junction else RoadOption.LANEFOLLOW
            poses, first_row = [_pose(w) for w in waypoints], len(self._poses)
            self._rows.update(zip(map(id, waypoints), range(first_row, first_row + len(poses))))
            self._poses += poses
            xyz = np.array([pose[:3] for pose in poses], dtype=np.float64).reshape(-1, 3)
            segment = _Segment(self._node(entry), self._node(exit_), waypoints, option, xyz[:, :2], first_row)
            self._segments[(entry.road_id, entry.section_id, entry.lane_id)] = segment
            length = (len(waypoints) - 1) * self.resolution
            self.graph.add_edge(segment.entry, segment.exit, length=max(length, 0.1),
                                path=[(w, option) for w in waypoints],
                                rows=np.arange(first_row, first_row + len(poses)))
        for segment in list(self._segments.values()):
            if segment.option == RoadOption.LANEFOLLOW:
                self._add_lane_changes(segment)

    def _add_lane_changes(self, segment: _Segment) -> None:
        """An edge from the segment's start to the end of each neighbouring lane it may change to
        (the first place the markings allow, :data:`LANE_CHANGE_ROOM` or more from the end: a lane between
        two junctions too short to change on in traffic gets no change, so routes change lanes earlier)."""
        done: set[bool] = set()
        length = (len(segment.waypoints) - 1) * self.resolution
        for index, waypoint in enumerate(segment.waypoints[:-1]):
            if (length - index * self.resolution) < LANE_CHANGE_ROOM:
                break
            for right in (True, False):
                if right in done or waypoint.is_junction:
                    continue
                allowed = carla.LaneChange.Right if right else carla.LaneChange.Left
                if not waypoint.lane_change & allowed:
                    continue
                other = waypoint.get_right_lane() if right else waypoint.get_left_lane()
                if other is None or other.lane_type != carla.LaneType.Driving or other.lane_id * waypoint.lane_id <= 0:
                    continue
                target = self._segments.get((other.road_id, other.section_id, other.lane_id))
                if target is None:
                    continue
                landing = self._closest(target, _pose(other), ahead=LANE_CHANGE_SPAN)
                option = RoadOption.CHANGELANERIGHT if right else RoadOption.CHANGELANELEFT
                path = [(w, RoadOption.LANEFOLLOW) for w in segment.waypoints[:index + 1]]
                path += [(target.waypoints[landing], option)]
                path += [(w, RoadOption.LANEFOLLOW) for w in target.waypoints[landing + 1:]]
                cost = (index + len(target.waypoints) - landing) * self.resolution + LANE_CHANGE_COST
                if not self.graph.has_edge(segment.entry, target.exit):
                    rows = np.concatenate([segment.first_row + np.arange(index + 1),
                                           target.first_row + np.arange(landing, len(target.waypoints))])
                    self.graph.add_edge(segment.entry, target.exit, length=cost, path=path, rows=rows)
                done.add(right)

    @staticmethod
    def _closest(segment: _Segment, pose: tuple[float, float, float, float], ahead: float = 0.0) -> int:
        """Index of the waypoint of a segment closest to a waypoint's ``pose`` (x, y, z, yaw) moved ``ahead`` metres
        on."""
        x, y, _, yaw = pose
        yaw = math.radians(yaw)
        return nearest_point(segment.points, x + ahead * math.cos(yaw), y + ahead * math.sin(yaw))

    # -- routes -------------------------------------------------------------------------------
    def _segment_of(self, waypoint: carla.Waypoint) -> _Segment:
        segment = self._segments.get((waypoint.road_id, waypoint.section_id, waypoint.lane_id))
        if segment is None:
            raise ValueError(f"no driving lane of the route graph at road {waypoint.road_id} lane {waypoint.lane_id} "
                             "(not in the map's topology, or a junction connection no car can follow)")
        return segment

    def trace_route(self, origin: carla.Location, destination: carla.Location) -> list[tuple[carla.Waypoint, RoadOption]]:
        """The shortest route from ``origin`` to ``destination`` (each snapped to the nearest driving
        lane) as (waypoint, road option) every ``resolution`` metres. Raises ``ValueError`` if the
        destination cannot be reached from the origin."""
        (start, start_pose), (goal, goal_pose) = self._snap(origin), self._snap(destination)
        first, last = self._segment_of(start), self._segment_of(goal)
        begin = self._closest(first, start_pose)
        finish = self._closest(last, goal_pose)
        if first is last and finish >= begin:
            route = [(w, first.option) for w in first.waypoints[begin:finish + 1]]
            self.remember(route, self._current_table()[first.first_row + np.arange(begin, finish + 1)])
            return route
        behind = first is last  # the goal lies behind the start on its lane: drive a loop
        lane = None if behind else (start.road_id, start.section_id, start.lane_id)
        ends = (start, start_pose[:3], goal, goal_pose[:3])
        route = self._assemble(first.exit if behind else first.entry, first, last, ends, behind, lane)
        if route is None:  # the path changed lanes before reaching the origin: keep the origin's lane to its end first
            route = self._assemble(first.exit, first, last, ends, True)
        return route

    def _snap(self, location: carla.Location) -> tuple[carla.Waypoint, tuple[float, float, float, float]]:
        """The driving lane's waypoint nearest ``location`` and its pose, the map's answer kept for the last
        :data:`SNAPPED_LOCATIONS` locations (routes run between a town's spawn points, and a route through many
        points traces from each point to the next)."""
        key = (location.x, location.y, location.z)
        snapped = self._snapped.get(key)
        if snapped is None:
            waypoint = self.map.get_waypoint(location, project_to_road=True, lane_type=carla.LaneType.Driving)
            snapped = self._snapped[key] = (waypoint, _pose(waypoint))
            if len(self._snapped) > SNAPPED_LOCATIONS:
                self._snapped.popitem(last=False)
        else:
            self._snapped.move_to_end(key)
        return snapped

    @functools.cached_property
    def _edge_parts(self) -> dict[tuple[int, int], tuple[list, np.ndarray, list, np.ndarray]]:
        """Each edge's path and the rows of its points' poses in the table, whole and without their first point
        (where the edge before ended), by its nodes (the graph is complete once built)."""
        return {(a, b): (data["path"], data["rows"], data["path"][1:], data["rows"][1:])
                for a, b, data in self.graph.edges(data=True)}

    @functools.cached_property
    def _search(self) -> GraphArrays:
        """The graph as arrays for the compiled A* (the graph is complete once built)."""
        return GraphArrays.of(self.graph)

    def _assemble(self, source: int, first: _Segment, last: _Segment, ends: tuple, from_exit: bool,
                  lane: tuple[int, int, int] | None = None) -> list[tuple[carla.Waypoint, RoadOption]] | None:
        """The shortest path from node ``source`` to the goal (``ends``: the start's and the goal's waypoints and
        locations, ``(start, (x, y, z), goal, (x, y, z))``), with the whole first segment in front
        when ``from_exit``, cut to the origin and the destination; None where ``lane`` (road, section, lane) is given
        and the cut path does not start on it (told before the route's list is made: a third of the paths traced
        from a lane's entry are made again from its exit)."""
        search = self._search  # networkx.astar_path with the planar distance as the heuristic, compiled
        nodes = None
        start, (sx, sy, _), goal, goal_xyz = ends
        edges, table = self._edge_parts, self._current_table()
        try:  # arriving at the goal's lane by a lane change counts when the change lands before the goal
            nodes = search.astar_path(source, last.exit)
            landing = edges[nodes[-2], nodes[-1]][1] if len(nodes) > 1 else np.zeros(0, dtype=np.int64)
            if not any_within(table, landing, *goal_xyz, self.resolution):
                nodes = None
        except networkx.NetworkXNoPath:
            pass
        if nodes is None:
            try:
                nodes = search.astar_path(source, last.entry)
            except networkx.NetworkXNoPath:
                raise ValueError(f"no route from {start.transform.location} to {goal.transform.location}: the "
                                 f"destination cannot be reached along the lanes' driving direction") from None
            nodes.append(last.exit)
        nodes = ([first.entry] if from_exit else []) + nodes
        # each edge's path and the rows of its points' poses in the table, the first edge's whole, the others'
        # without their first point (where the edge before ended)
        paths = [(path_on, rows_on) if k else (path, rows)
                 for k, (path, rows, path_on, rows_on) in enumerate(edges[a, b] for a, b in zip(nodes[:-1], nodes[1:]))]
        rows = np.concatenate([rows for _, rows in paths])
        xy = table[rows, :2]
        # cut to the origin and destination: the first point nearest the start, the first nearest the goal past it
        near_start = xy[:min(len(rows), len(first.waypoints) + 2)]
        head = nearest_point(near_start, sx, sy)
        gx, gy, _ = goal_xyz
        tail_from = max(len(rows) - len(last.waypoints) - 2, head)
        near_goal = xy[tail_from:]
        tail = tail_from + nearest_point(near_goal, gx, gy)
        if lane is not None:
            at = head
            for path, _ in paths:  # (the head lies in the first edge or two)
                if at < len(path):
                    origin = path[at][0]
                    break
                at -= len(path)
            if (origin.road_id, origin.section_id, origin.lane_id) != lane:
                return None
        route: list[tuple[carla.Waypoint, RoadOption]] = []
        for path, _ in paths:
            route.extend(path)
        route = route[head:tail + 1]
        self.remember(route, table[rows[head:tail + 1]])
        return route


#: Every planner alive, whose waypoints' poses :func:`route_poses` reads from its table.
_PLANNERS_ALIVE: "weakref.WeakSet[RoutePlanner]" = weakref.WeakSet()
#: The planners of the last maps asked for (:func:`shared_planner`).
_PLANNERS: IdentityCache[RoutePlanner] = IdentityCache(4)


def shared_planner(town_map: carla.Map) -> RoutePlanner:
    """The planner of ``town_map`` (the very map object), built once and shared by every hero of a world and
    every episode on it (a planner of a large town holds megabytes)."""
    return _PLANNERS.get(town_map, RoutePlanner)


def route_poses(route: list[tuple[carla.Waypoint, RoadOption]]) -> np.ndarray:
    """(N, 4): x, y, z and yaw (degrees) of a route's waypoints, the values their transforms give. A planner's
    routes are its own waypoints, whose poses it read once (a lookup instead of a transform built by libcarla
    each time: a route is read several times while it is drawn, and a transform costs about 1 µs); any other
    waypoint is read."""
    if not route:
        return np.zeros((0, 4))
    first = route[0][0]
    planner = next((planner for planner in _PLANNERS_ALIVE if planner.holds(first)), None)
    return planner.poses_of(route) if planner is not None else np.array([_pose(w) for w, _ in route], dtype=np.float64)


def location_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``carla.Location.distance`` between the points ``a`` and ``b`` ((..., 3), broadcast), computed as libcarla
    computes it (32-bit floats), so that lengths summed from it are the same to the last bit."""
    d = b.astype(np.float32) - a.astype(np.float32)
    return np.sqrt((d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]) + d[..., 2] * d[..., 2]).astype(np.float64)


@njit(cache=True, inline="always")
def distance_to(points: np.ndarray, row: int, x: np.float32, y: np.float32, z: np.float32) -> float:
    """``location_distances(points[row, :3], (x, y, z))`` in compiled code: ``carla.Location.distance``'s 32-bit
    arithmetic, (x, y, z) already 32-bit floats."""
    dx, dy, dz = x - np.float32(points[row, 0]), y - np.float32(points[row, 1]), z - np.float32(points[row, 2])
    return np.float64(np.sqrt((dx * dx + dy * dy) + dz * dz))


@njit(cache=True)
def point_distance(points: np.ndarray, i: int, j: int) -> float:
    """``location_distances(points[i, :3], points[j, :3])`` of two rows of ``points`` in one compiled call (NumPy's
    took a dozen calls on two points)."""
    return distance_to(points, i, np.float32(points[j, 0]), np.float32(points[j, 1]), np.float32(points[j, 2]))


@njit(cache=True)
def any_within(table: np.ndarray, rows: np.ndarray, x: float, y: float, z: float, reach: float) -> bool:
    """Whether any of the points ``table[rows, :3]`` lies nearer than ``reach`` to (x, y, z), by
    :func:`location_distances` (a route's landing checked in one call, not the dozen NumPy calls its arrays take)."""
    bx, by, bz = np.float32(x), np.float32(y), np.float32(z)
    for row in rows:
        if distance_to(table, row, bx, by, bz) < reach:
            return True
    return False


def step_lengths(points: np.ndarray) -> np.ndarray:
    """(N - 1,): the distance from each of ``points`` (N, 3) to the next (:func:`location_distances`)."""
    return location_distances(points[:-1], points[1:])


def route_length(route: list[tuple[carla.Waypoint, RoadOption]]) -> float:
    """Length of a traced route in metres (along its points, summed one after the other)."""
    steps = step_lengths(route_poses(route)[:, :3])
    return float(np.cumsum(steps)[-1]) if len(steps) else 0.0
