"""``WaypointIndex``: ``carla.Map.get_waypoint`` for many points in one compiled call, giving the map's own
answers (the same waypoint, bit for bit) at a few microseconds a point instead of 30-40.

How CARLA answers (LibCarla's ``Map::GetClosestWaypointOnRoad`` and ``Map::GetWaypoint``): every lane of every lane
section is cut into chords (``Map::CreateRtree``: a lane on one straight line is one chord; any other lane is
walked in steps of 1 m and cut where its heading has turned more than 1.8 degrees since the chord's start, or the
chord has grown past 100 m). A query takes the chord nearest the point (3-D, among lanes of the asked types), the
point's distance along it (2-D, single precision) is added to the chord's start waypoint (``Waypoint.next``), and
without ``project_to_road`` the waypoint is kept only if the point lies within half the lane's width of it (2-D).

This module builds the same chords from the map's OpenDRIVE and its waypoints (the chord ends are the map's own
waypoints, reached by the same ``next`` steps from the same start), keeps them in a grid, and finds every point's
nearest chord in one numba call. Where that cannot be settled exactly, the point is asked of the map instead:
two chords about as near (CARLA's R-tree picks one of them in an order of its own), a lane whose start waypoint or
chord cuts could not be reproduced exactly, a point about half a lane from the centre, or a point far from every
lane. The property tests compare every answer with ``get_waypoint``'s on CARLA's and generated towns.
"""

from __future__ import annotations

import logging
import math
import time
import xml.etree.ElementTree as ElementTree
from typing import Sequence

import carla
import numpy as np
from numba import njit

from .identity_cache import IdentityCache

logger = logging.getLogger(__name__)

EPSILON = 10.0 * float(np.finfo(np.float64).eps)  # LibCarla's Map.cpp EPSILON
CHORD_STEP = 1.0  # metres: the step of a lane's walk
CHORD_TURN = math.pi / 100.0  # radians: the heading change that ends a chord
CHORD_LENGTH = 100.0  # metres of s: the longest chord of a curved lane
END_MARGIN = 1e-6  # metres: the walk stops this short of the lane's end
TIE = 1e-4  # metres: chords nearer each other than this, or a point this close to half a lane, ask the map
TURN_MARGIN = 1e-5  # radians: a turn this close to CHORD_TURN may be cut either way in single precision
CELL = 8.0  # metres: the side of a grid cell
RINGS = 12  # rings of cells searched around a point's cell before the map is asked
AT_END, AT_START, ALONG = 0, 1, 2  # where on its chord a point's waypoint is
SAMPLES = 8  # a measured chord's waypoints are made at its start and this many steps along it (WaypointIndex._measure)
REACH_FACTOR, REACH_MARGIN = 1.5, 0.05  # a measured chord's reach: its samples' farthest offset, times, plus metres


class LaneSection:
    """One lane section of a road as LibCarla sees it: its start ``s``, its length, whether its lanes lie on
    one straight line (``Lane::IsStraight``), and the lanes that keep one width at one distance from the road's
    reference line over the whole section (``steady``: constant widths of theirs and of every lane between them and
    the centre, a constant lane offset)."""

    def __init__(self, road: int, index: int, start: float, length: float, straight: bool, lanes: list[int],
                 steady: frozenset[int] = frozenset()):
        self.road, self.index, self.start, self.length = road, index, start, length
        self.straight, self.lanes, self.steady = straight, lanes, steady


def _out_to(lane: int) -> range:
    """The ids of the lanes from the centre out to ``lane`` on its side of the road, ``lane`` included."""
    return range(1, lane + 1) if lane > 0 else range(-1, lane - 1, -1)


def _constant(records: list, start: float, end: float, at: str = "s") -> bool:
    """Whether polynomial ``records`` (OpenDRIVE ``a b c d`` elements from position attribute ``at``) give one
    constant over [start, end): the one in force at ``start`` and those starting inside have no slope or curve and
    the same ``a``."""
    placed = sorted((float(r.get(at, 0.0)), r) for r in records)
    inside = [r for s, r in placed if start < s < end]
    before = [r for s, r in placed if s <= start]
    used = ([before[-1]] if before else []) + inside
    values = {float(r.get("a", 0.0)) for r in used}
    return len(values) <= 1 and all(float(r.get(k, 0.0)) == 0.0 for r in used for k in ("b", "c", "d"))

def lane_sections(opendrive: str) -> list[LaneSection]:
    """Every lane section of an OpenDRIVE text, with the ids of its lanes other than the centre lane."""
    sections = []
    for road in ElementTree.fromstring(opendrive).iter("road"):
        road_id, length = int(road.get("id")), float(road.get("length"))
        geometries = []
        for geometry in road.find("planView").findall("geometry"):
            kind = next(iter(geometry)).tag if len(geometry) else ""
            geometries.append((float(geometry.get("s")), float(geometry.get("length")), kind))
        profile = road.find("elevationProfile")
        curved = profile is not None and any(
            abs(float(e.get("c", 0.0))) > 0.0 or abs(float(e.get("d", 0.0))) > 0.0 for e in profile.findall("elevation"))
        elements = road.find("lanes").findall("laneSection")
        starts = [float(element.get("s")) for element in elements]
        for index, element in enumerate(elements):
            start = starts[index]
            length_of = (starts[index + 1] if index + 1 < len(starts) else length) - start
            before = [g for g in geometries if g[0] <= start]
            geometry = before[-1] if before else geometries[0]
            straight = geometry[2] == "line" and not curved and not (
                start < geometry[0] or start + length_of > geometry[0] + geometry[1])
            found = {int(lane.get("id")): lane for side in ("left", "right") for part in element.findall(side)
                     for lane in part.findall("lane") if int(lane.get("id")) != 0}
            offset_steady = _constant(road.find("lanes").findall("laneOffset"), start, start + length_of)
            widths = {lane_id: bool(lane.findall("width")) and not lane.findall("border")
                      and _constant(lane.findall("width"), 0.0, length_of, at="sOffset")
                      for lane_id, lane in found.items()}
            steady = frozenset(lane_id for lane_id in found
                               if offset_steady and all(widths.get(inner, False) for inner in _out_to(lane_id)))
            sections.append(LaneSection(road_id, index, start, length_of, straight, list(found), steady))
    return sections


def _start_s(section: LaneSection, lane: int) -> float:
    """The ``s`` LibCarla starts lane ``lane`` of ``section`` at (``GetDistanceAtStartOfLane``: lanes of negative
    id run the way ``s`` grows)."""
    return section.start + 10.0 * EPSILON if lane < 0 else section.start + section.length - 10.0 * EPSILON


def _start_waypoint(town_map: carla.Map, section: LaneSection, lane: int) -> tuple[carla.Waypoint | None, bool]:
    """The waypoint LibCarla starts lane ``lane`` of ``section`` at (``GetDistanceAtStartOfLane``), and whether it
    is exactly that one (``get_waypoint_xodr`` takes ``s`` in single precision: the rest is walked)."""
    s0 = _start_s(section, lane)
    guess = np.float32(s0)
    if lane < 0 and float(guess) < s0:
        guess = np.nextafter(guess, np.float32(np.inf))
    if lane > 0 and float(guess) > s0:
        guess = np.nextafter(guess, np.float32(-np.inf))
    base = town_map.get_waypoint_xodr(section.road, lane, float(guess))
    if base is None or base.section_id != section.index:
        return None, False
    if base.s == s0:
        return base, True
    # previous(d) moves s by d towards the lane's start, less EPSILON, rounded twice: some starts are out of its
    # reach (its answers keep to every other double near there); those lanes' points are asked of the map
    gap, ulp = abs(s0 - base.s), float(np.spacing(s0))
    for distance in (gap, *(gap + EPSILON + k * ulp for k in (0, 1, -1, 2, -2, 3, -3))):
        if distance > 0.0:
            moved = base.previous(float(distance))
            if moved and (moved[0].road_id, moved[0].section_id, moved[0].lane_id, moved[0].s) == \
                    (section.road, section.index, lane, s0):
                return moved[0], True
    return base, False


def _topology_starts(town_map: carla.Map) -> dict[tuple[int, int, int], carla.Waypoint]:
    """The lanes' start waypoints ``get_topology`` gives exactly: each driving lane's (LibCarla's
    ``GetDistanceAtStartOfLane``, in double precision) and its neighbours' on the same side of the road (the same
    ``s``), by (road, section, lane)."""
    found: dict[tuple[int, int, int], carla.Waypoint] = {}
    for start, _ in town_map.get_topology():
        for step in (carla.Waypoint.get_left_lane, carla.Waypoint.get_right_lane):
            waypoint = start
            while waypoint is not None and (waypoint.lane_id > 0) == (start.lane_id > 0):
                found.setdefault((waypoint.road_id, waypoint.section_id, waypoint.lane_id), waypoint)
                waypoint = step(waypoint)
    return found


def _heading_turn(a: carla.Transform, b: carla.Transform) -> float:
    """The angle (radians) between two transforms' forward vectors (``geom::Math::GetVectorAngle``)."""
    u, v = a.get_forward_vector(), b.get_forward_vector()
    dot = u.x * v.x + u.y * v.y + u.z * v.z
    norm = math.sqrt(u.x * u.x + u.y * u.y + u.z * u.z) * math.sqrt(v.x * v.x + v.y * v.y + v.z * v.z)
    return math.acos(max(-1.0, min(1.0, dot / norm)))


class WaypointIndex:
    """The chords of one map in grid cells (see the module docstring); ``waypoints`` answers many points."""

    def __init__(self, town_map: carla.Map) -> None:
        self.map = town_map
        self.starts: list[carla.Waypoint] = []
        self.ends: list[carla.Waypoint] = []
        rows: list[tuple] = []
        known = _topology_starts(town_map)
        for section in lane_sections(town_map.to_opendrive()):
            for lane in section.lanes:
                self._chords(section, lane, rows, known.get((section.road, section.index, lane)))
        table = np.array(rows, dtype=np.float64).reshape(-1, 15)
        self.a = np.ascontiguousarray(table[:, 0:3], dtype=np.float32)
        self.b = np.ascontiguousarray(table[:, 3:6], dtype=np.float32)
        self.types = table[:, 6].astype(np.int64)
        self.exact = table[:, 7] > 0.5
        #: each chord's ends' yaws (degrees) and lane widths, as their waypoints give them
        self.start_yaw, self.end_yaw = table[:, 8].copy(), table[:, 9].copy()
        self.start_width, self.end_width = table[:, 10].copy(), table[:, 11].copy()
        self.junction = table[:, 12] > 0.5  # the chord's road is a junction's
        #: the chord's lane keeps its width and its distance from the road's reference line (``LaneSection.steady``),
        #: and that line is straight: every waypoint along the chord lies on it with the start's yaw and width
        self.uniform = (table[:, 13] > 0.5) & (table[:, 14] > 0.5)
        self.start_s = np.array([w.s for w in self.starts], dtype=np.float64)
        self.end_s = np.array([w.s for w in self.ends], dtype=np.float64)
        self.forward = np.array([w.lane_id < 0 for w in self.starts], dtype=np.bool_)
        low = np.minimum(self.a, self.b)[:, :2].min(axis=0) - CELL if len(table) else np.zeros(2)
        high = np.maximum(self.a, self.b)[:, :2].max(axis=0) + CELL if len(table) else np.zeros(2)
        self.origin = (float(low[0]), float(low[1]))
        self.shape = (int((high[1] - low[1]) // CELL) + 1, int((high[0] - low[0]) // CELL) + 1)
        self.order, self.offsets = _grid(self.a, self.b, self.origin, self.shape)
        #: the bends of junctions (their chords not ``uniform``), measured (:meth:`_measure`; NaN for the other
        #: chords): how far a waypoint made ``d`` metres along a chord may lie from the chord's point ``d`` metres on
        #: (``inf``: a chord not to settle so), and the least and the greatest half width its lane may have along it
        self.reach = np.full(len(table), np.nan)
        self.half_low, self.half_high = np.full(len(table), np.nan), np.full(len(table), np.nan)
        self._measure(np.flatnonzero(self.junction & ~self.uniform))

    def _measure(self, chords: np.ndarray) -> None:
        """Measure ``chords`` (:attr:`reach`, :attr:`half_low`, :attr:`half_high`) from waypoints made along each as
        :meth:`answers` makes them (its start's ``next``), :data:`SAMPLES` steps apart: the offsets' largest times
        :data:`REACH_FACTOR` plus :data:`REACH_MARGIN` (the offset of a waypoint from the chord changes smoothly along
        it: at most centimetres between samples), and the widths' range widened by its own size and a centimetre (a
        lane's width is a cubic in ``s``). 0.05-0.11 s for a CARLA town's or GridTown's 1,800-3,000 such chords."""
        for j in chords.tolist():
            (ax, ay), (bx, by) = self.a[j, :2].tolist(), self.b[j, :2].tolist()
            length = math.hypot(bx - ax, by - ay)
            if length == 0.0:  # (a point: no waypoint along it)
                self.reach[j] = math.inf
                continue
            start = self.starts[j]
            lane = (start.road_id, start.section_id, start.lane_id, int(start.lane_type), start.is_junction)
            offsets, halves = [], []
            for k in range(SAMPLES + 1):
                ahead = start.next(length * k / SAMPLES) if k else [start]
                if not ahead or (ahead[0].road_id, ahead[0].section_id, ahead[0].lane_id, int(ahead[0].lane_type),
                                 ahead[0].is_junction) != lane:
                    break  # (a waypoint past the chord's lane: its facts may not be the chord's)
                location = ahead[0].transform.location
                offsets.append(math.hypot(location.x - (ax + (bx - ax) * k / SAMPLES),
                                          location.y - (ay + (by - ay) * k / SAMPLES)))
                halves.append(ahead[0].lane_width * 0.5)
            if len(offsets) <= SAMPLES:  # a chord whose waypoints leave its lane: not settled so
                self.reach[j] = math.inf
                continue
            spread = max(halves) - min(halves)
            self.reach[j] = REACH_FACTOR * max(offsets) + REACH_MARGIN
            self.half_low[j], self.half_high[j] = min(halves) - spread - 0.01, max(halves) + spread + 0.01

    def _chords(self, section: LaneSection, lane: int, rows: list[tuple], known: carla.Waypoint | None) -> None:
        """Append lane ``lane`` of ``section``'s chords, walked as ``Map::CreateRtree`` walks them (from ``known``,
        the lane's start as ``get_topology`` gives it, where the lane has one)."""
        current, exact = _start_waypoint(self.map, section, lane)
        if not exact and known is not None and current is not None and known.s == _start_s(section, lane):
            current, exact = known, True
        if current is None:
            raise ValueError(f"road {section.road} lane {lane}: no waypoint at the start of section {section.index}")
        kind = int(current.lane_type)
        if not kind & int(carla.LaneType.Any):
            return
        end = section.start + section.length

        def remaining(s: float) -> float:
            return end - s if lane < 0 else s - section.start

        def add(first: carla.Waypoint, first_transform: carla.Transform, last: carla.Waypoint,
                last_transform: carla.Transform) -> None:
            p, q = first_transform.location, last_transform.location
            rows.append((p.x, p.y, p.z, q.x, q.y, q.z, kind, float(exact), first_transform.rotation.yaw,
                         last_transform.rotation.yaw, first.lane_width, last.lane_width, float(first.is_junction),
                         float(lane in section.steady), float(section.straight)))
            self.starts.append(first)
            self.ends.append(last)

        transform = current.transform
        if section.straight:
            step = remaining(current.s) - END_MARGIN
            if step >= END_MARGIN:
                last = current.next(step)[0]
                add(current, transform, last, last.transform)
            return
        walked = current
        while True:
            step = min(CHORD_STEP, remaining(walked.s) - END_MARGIN)
            if step < END_MARGIN:
                add(current, transform, walked, walked.transform)
                return
            ahead = walked.next(step)
            if len(ahead) != 1 or ahead[0].section_id != current.section_id:
                add(current, transform, walked, walked.transform)
                return
            walked = ahead[0]
            walked_transform = walked.transform
            turn, length = _heading_turn(transform, walked_transform), abs(current.s - walked.s)
            if abs(turn - CHORD_TURN) < TURN_MARGIN:  # (the length is exact: the same sums of the same s)
                exact = False  # single precision may cut here or a step later: this lane's chords are not sure
            if turn > CHORD_TURN or length > CHORD_LENGTH:
                add(current, transform, walked, walked_transform)
                current, transform = walked, walked_transform

    def nearest_chords(self, points: np.ndarray, lane_type: carla.LaneType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each point's (rows x, y, z, ``float32``) nearest chord of ``lane_type`` lanes (-1: the map must answer),
        its distance along the chord and where on it its waypoint lies (``AT_END``, ``AT_START``, ``ALONG``)."""
        count = len(points)
        chord, along, place = np.empty(count, dtype=np.int64), np.empty(count), np.empty(count, dtype=np.int64)
        _nearest_chords(points, int(lane_type), self.a, self.b, self.types, self.exact, self.start_s, self.end_s,
                        self.forward, self.order, self.offsets, self.origin[0], self.origin[1], CELL, self.shape[0],
                        self.shape[1], RINGS, TIE, chord, along, place)
        return chord, along, place

    def waypoints(self, locations: np.ndarray, project_to_road: bool = True,
                  lane_type: carla.LaneType = carla.LaneType.Driving) -> list[carla.Waypoint | None]:
        """``town_map.get_waypoint(location, project_to_road, lane_type)`` for each row (x, y, z) of
        ``locations``, as the map answers it."""
        points = np.ascontiguousarray(np.asarray(locations, dtype=np.float32).reshape(-1, 3))
        return self.answers(points, *self.nearest_chords(points, lane_type), project_to_road, lane_type)

    def answers(self, points: np.ndarray, chord: np.ndarray, along: np.ndarray, place: np.ndarray,
                project_to_road: bool, lane_type: carla.LaneType) -> list[carla.Waypoint | None]:
        """:meth:`waypoints` of ``points`` (rows x, y, z, ``float32``) whose :meth:`nearest_chords` for ``lane_type``
        are ``chord``, ``along`` and ``place``."""
        starts, ends = self.starts, self.ends
        answers: list[carla.Waypoint | None] = []
        for (x, y, z), j, delta, at in zip(points.tolist(), chord.tolist(), along.tolist(), place.tolist()):
            waypoint = None
            if j >= 0:  # GetClosestWaypointOnRoad's last step: the chord's end, its start or along it
                waypoint = ends[j] if at == AT_END else starts[j] if at == AT_START else starts[j].next(delta)[0]
                if not project_to_road:  # GetWaypoint: within half the lane's width
                    location = waypoint.transform.location
                    half = waypoint.lane_width * 0.5
                    distance = math.hypot(location.x - x, location.y - y)
                    if abs(distance - half) < TIE:
                        j = -1
                    elif distance >= half:
                        waypoint = None
            if j < 0:
                waypoint = self.map.get_waypoint(carla.Location(x, y, z), project_to_road=project_to_road,
                                                 lane_type=lane_type)
            answers.append(waypoint)
        return answers


def _grid(a: np.ndarray, b: np.ndarray, origin: tuple[float, float], shape: tuple[int, int]) -> tuple:
    """Each cell's chords (those whose bounding box reaches into it): an order of chord ids and each cell's
    offsets into it."""
    low = np.minimum(a, b)[:, :2].astype(np.float64)
    high = np.maximum(a, b)[:, :2].astype(np.float64)
    first = ((low - origin) // CELL).astype(np.int64)
    last = ((high - origin) // CELL).astype(np.int64)
    cells, chords = [], []
    for j in range(len(a)):
        rows = np.arange(first[j, 1], last[j, 1] + 1)
        columns = np.arange(first[j, 0], last[j, 0] + 1)
        ids = (rows[:, None] * shape[1] + columns[None, :]).ravel()
        cells.append(ids)
        chords.append(np.full(len(ids), j, dtype=np.int64))
    cell_ids = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
    chord_ids = np.concatenate(chords) if chords else np.zeros(0, dtype=np.int64)
    order = np.argsort(cell_ids, kind="stable")
    offsets = np.searchsorted(cell_ids[order], np.arange(shape[0] * shape[1] + 1)).astype(np.int64)
    return chord_ids[order].astype(np.int64), offsets


_INDEXES: IdentityCache[WaypointIndex | None] = IdentityCache(4)


def _build(town_map: carla.Map) -> WaypointIndex | None:
    started = time.perf_counter()
    try:
        index = WaypointIndex(town_map)
    except (ValueError, AttributeError, TypeError, KeyError, RuntimeError, ElementTree.ParseError) as error:
        logger.warning("waypoint queries go to the map one by one: %s", error)
        return None
    seconds = time.perf_counter() - started
    logger.log(logging.INFO if seconds > 2.0 else logging.DEBUG, "waypoint index of %s: %d chords in %.1f s",
               town_map.name, len(index.a), seconds)
    return index


def waypoint_index(town_map: carla.Map) -> WaypointIndex | None:
    """The waypoint index of ``town_map`` (built once per map object), or None where the map's lanes cannot be
    reproduced (its queries then go to the map)."""
    return _INDEXES.get(town_map, _build)


def get_waypoints(town_map: carla.Map, locations: Sequence[carla.Location] | np.ndarray, project_to_road: bool = True,
                  lane_type: carla.LaneType = carla.LaneType.Driving) -> list[carla.Waypoint | None]:
    """``town_map.get_waypoint`` of every location (``carla.Location`` objects or rows x, y, z), through the map's
    index where it has one."""
    if not isinstance(locations, np.ndarray):
        locations = np.array([(p.x, p.y, p.z) for p in locations], dtype=np.float32).reshape(-1, 3)
    index = waypoint_index(town_map)
    if index is not None:
        return index.waypoints(locations, project_to_road, lane_type)
    return [town_map.get_waypoint(carla.Location(*(float(v) for v in row)), project_to_road=project_to_road,
                                  lane_type=lane_type) for row in np.asarray(locations, dtype=np.float32)]


@njit(cache=True, inline="always")
def _segment_distance(x: float, y: float, z: float, a: np.ndarray, b: np.ndarray, j: int) -> float:
    """3-D distance (double precision) from a point to chord ``j``."""
    ax, ay, az = float(a[j, 0]), float(a[j, 1]), float(a[j, 2])
    dx, dy, dz = float(b[j, 0]) - ax, float(b[j, 1]) - ay, float(b[j, 2]) - az
    length2 = dx * dx + dy * dy + dz * dz
    t = 0.0
    if length2 > 0.0:
        t = min(max(((x - ax) * dx + (y - ay) * dy + (z - az) * dz) / length2, 0.0), 1.0)
    ex, ey, ez = ax + t * dx - x, ay + t * dy - y, az + t * dz - z
    return math.sqrt(ex * ex + ey * ey + ez * ez)


@njit(cache=True, inline="always")
def _along(px: np.float32, py: np.float32, a: np.ndarray, b: np.ndarray, j: int) -> np.float32:
    """``geom::Math::DistanceSegmentToPoint(...).first`` in single precision, as LibCarla computes it."""
    vx, vy, wx, wy = a[j, 0], a[j, 1], b[j, 0], b[j, 1]
    ex, ey = np.float32(wx - vx), np.float32(wy - vy)
    length2 = np.float32(np.float32(ex * ex) + np.float32(ey * ey))
    if length2 == np.float32(0.0):
        return np.float32(0.0)
    length = np.float32(math.sqrt(length2))
    dot = np.float32(np.float32(np.float32(px - vx) * ex) + np.float32(np.float32(py - vy) * ey))
    t = np.float32(dot / length2)
    t = min(max(t, np.float32(0.0)), np.float32(1.0))
    return np.float32(t * length)


@njit(cache=True)
def _nearest_chords(points: np.ndarray, lane_type: int, a: np.ndarray, b: np.ndarray, types: np.ndarray,
                    exact: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, forwards: np.ndarray, order: np.ndarray,
                    offsets: np.ndarray, origin_x: float, origin_y: float, cell: float, rows: int, columns: int,
                    rings: int, tie: float, chord: np.ndarray, along: np.ndarray, place: np.ndarray) -> None:
    """Each point's nearest chord of the asked lane types, its distance along it and where its waypoint is
    (``AT_END``, ``AT_START`` or ``ALONG``, as ``GetClosestWaypointOnRoad`` decides); chord -1 where the map must
    answer (a tie, an inexact lane, no chord within ``rings`` cells, or a point off the grid: along 0, place 0)."""
    for k in range(points.shape[0]):
        chord[k], along[k], place[k] = -1, 0.0, 0
        x, y, z = float(points[k, 0]), float(points[k, 1]), float(points[k, 2])
        cx, cy = int(math.floor((x - origin_x) / cell)), int(math.floor((y - origin_y) / cell))
        if cx < 0 or cy < 0 or cx >= columns or cy >= rows:
            continue
        fx, fy = x - (origin_x + cx * cell), y - (origin_y + cy * cell)
        edge = min(min(fx, cell - fx), min(fy, cell - fy))
        best, second, best_j = np.inf, np.inf, -1
        for ring in range(rings + 1):
            for row in range(cy - ring, cy + ring + 1):
                if row < 0 or row >= rows:
                    continue
                step = 1 if row == cy - ring or row == cy + ring else 2 * ring
                for column in range(cx - ring, cx + ring + 1, max(step, 1)):
                    if column < 0 or column >= columns:
                        continue
                    c = row * columns + column
                    for n in range(offsets[c], offsets[c + 1]):
                        j = order[n]
                        if j == best_j or (types[j] & lane_type) == 0:
                            continue
                        d = _segment_distance(x, y, z, a, b, j)
                        if d < best:
                            second, best, best_j = best, d, j
                        elif d < second:
                            second = d
            if best_j >= 0 and ring * cell + edge > best + tie:
                break
        else:
            continue  # not settled within the rings searched
        if best_j < 0 or second - best < tie or not exact[best_j]:
            continue
        chord[k] = best_j
        delta = float(_along(points[k, 0], points[k, 1], a, b, best_j))
        along[k] = delta
        forward = forwards[best_j]  # a right-hand lane (negative id): s grows along it
        final = start_s[best_j] + delta if forward else start_s[best_j] - delta
        if (final >= end_s[best_j]) if forward else (final <= end_s[best_j]):
            place[k] = AT_END
        elif delta <= 0.0:
            place[k] = AT_START
        else:
            place[k] = ALONG
