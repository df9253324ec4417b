"""``LaneIndex``: which side of the Leaderboard's lane check many points are on, as ``carla.Map.get_waypoint``
would decide it, without a map query per point where the answer is clear.

The check (the evaluator's :class:`~rllib_integration.evaluation.criteria.LaneCriterion`): a point is outside the
lanes when it lies farther than half a lane plus ``allowed_out`` metres from the centre of its nearest driving or
parking lane, or, outside junctions on a driving lane, when its heading is more than ``wrong_way_angle`` degrees
against that lane's. ``get_waypoint`` (CARLA's C++) costs 16 µs and more a call, a hero a tick.

Here the centre lines of the map's driving lanes (``generate_waypoints``) and of the parking lanes beside them are
sampled every :data:`SPACING` metres into a grid of :data:`CELL` metre cells, once per map. One compiled call
(numba) decides every point from the samples near it, and marks it *uncertain* where the samples cannot settle it:
close to the distance limit or the wrong-way angle, where another lane about as near would decide otherwise, where
roads cross at other heights (bridges), or near no sample at all. Only the uncertain points are asked of the map, so
the answers are the map's, every one (the property test compares them on CARLA's and generated towns). The samples
are kept in the disk cache of maps (:mod:`.map_cache`): a town's take a second and more to take, in every process.

Most points a driving hero stands on are settled before their samples are read: a table of :data:`SETTLED_CELL`
metre cells (:func:`settled_cells`, once per map, in the disk cache too) marks the cells each of whose points the
samples decide *inside*, whatever the point's place in the cell, for headings within a range the cell keeps. Such a
point is decided by a read of its cell (99 % of a route-following hero's steps, 93 % of a random driver's, where
the samples near a point cost about a microsecond; the same answers, proved in :func:`settled_cells`).
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Callable

import carla
import numpy as np
from numba import njit

from .identity_cache import IdentityCache
from .map_cache import cached_arrays, source_version

SPACING = 0.25  # metres between the centre-line samples of a lane
CELL = 2.0  # metres: the side of a grid cell
#: Margins within which the samples do not decide: metres of distance (a sample lies up to SPACING / 2 farther
#: than the centre line), metres between two lanes' distances, and degrees of heading (a curve turns between
#: samples).
DISTANCE_MARGIN, LANE_MARGIN, ANGLE_MARGIN = 0.15, 0.3, 3.0
LEVEL_GAP = 2.0  # metres: samples this much above or below each other near a point are another level (a bridge)
SETTLED_CELL = 0.5  # metres: the side of a settled table's cell (a quarter of CELL; coarser cells settle none: a
#                     point of a lane's middle weighs samples up to half a lane and more along it, see settled_cells)
HEADING_STEP = 0.25  # degrees: the unit of a settled cell's heading spread
#: The most cells a settled table has (two bytes each: 32 MB, a town of 2 x 2 km); a larger town (CARLA's Town12 and
#: Town13 span kilometres more) has none, its points decided from the samples.
SETTLED_MOST_CELLS = 1 << 24
#: A settled cell's code (:func:`settled_cells`): not settled; inside at any heading; inside where the wrong way
#: does not count; then HEADED + (heading << 6 | spread): inside at headings within the wrong-way limit less
#: ANGLE_MARGIN less spread * HEADING_STEP degrees of ``heading`` (whole degrees, 0-359; spread below 64).
UNSETTLED, ANY_HEADING, NO_WRONG_WAY, HEADED = 0, 1, 2, 3
PARKING_SEARCH = 3  # lanes looked at on each side of a driving lane for parking lanes
PARKING_PROBE = 2.0  # metres between the places where a road is looked at for parking lanes
LANE_TYPES = carla.LaneType.Driving | carla.LaneType.Parking
VERSION = source_version(sys.modules[__name__])  # part of the disk cache's file names

logger = logging.getLogger(__name__)


def lane_samples(town_map: carla.Map) -> dict[str, np.ndarray]:
    """Centre-line samples of ``town_map``'s driving lanes and of the parking lanes beside them: x, y, z, yaw
    (degrees), lane width, whether in a junction, whether a driving lane."""
    driving = town_map.generate_waypoints(SPACING)
    rows = [_row(waypoint) for waypoint in driving]
    # the roads with parking lanes, from a sample every PARKING_PROBE metres, then their parking lanes sampled
    probe = max(1, int(round(PARKING_PROBE / SPACING)))
    by_lane: dict[tuple, list[carla.Waypoint]] = {}
    for waypoint in driving:
        by_lane.setdefault((waypoint.road_id, waypoint.section_id, waypoint.lane_id), []).append(waypoint)
    roads = {key[0] for key, lane in by_lane.items() if any(_parking_beside(w) for w in lane[::probe] + lane[-1:])}
    seen: set[tuple] = set()
    for waypoint in driving:
        if waypoint.road_id in roads:
            for beside in _parking_beside(waypoint):
                key = (beside.road_id, beside.section_id, beside.lane_id, round(beside.s, 3))
                if key not in seen:
                    seen.add(key)
                    rows.append(_row(beside))
    table = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return {"x": table[:, 0], "y": table[:, 1], "z": table[:, 2], "yaw": table[:, 3], "width": table[:, 4],
            "junction": table[:, 5] > 0.5, "driving": table[:, 6] > 0.5}


def _parking_beside(waypoint: carla.Waypoint) -> list[carla.Waypoint]:
    """The parking lanes within :data:`PARKING_SEARCH` lanes of ``waypoint``'s, on either side, at its place."""
    found = []
    for step in (carla.Waypoint.get_left_lane, carla.Waypoint.get_right_lane):
        beside = waypoint
        for _ in range(PARKING_SEARCH):
            beside = step(beside)
            if beside is None:
                break
            if beside.lane_type == carla.LaneType.Parking:
                found.append(beside)
    return found


def _row(waypoint: carla.Waypoint) -> tuple:
    t = waypoint.transform
    return (t.location.x, t.location.y, t.location.z, t.rotation.yaw, waypoint.lane_width,
            float(waypoint.is_junction), float(waypoint.lane_type == carla.LaneType.Driving))


class LaneIndex:
    """The lane samples of one map in grid cells (see the module docstring)."""

    def __init__(self, town_map: carla.Map, allowed_out: float, wrong_way_angle: float) -> None:
        self.map = town_map
        self.allowed_out, self.wrong_way_angle = float(allowed_out), float(wrong_way_angle)
        samples = cached_arrays(town_map, "lanes", VERSION, lambda: lane_samples(town_map))
        self.x, self.y, self.z = samples["x"], samples["y"], samples["z"]
        self.yaw, self.width = samples["yaw"], samples["width"]
        self.junction, self.driving = samples["junction"], samples["driving"]
        widest = float(self.width.max()) if len(self.width) else 0.0
        #: beyond this from every sample a point is outside whatever lane is nearest
        self.reach = widest / 2.0 + self.allowed_out + DISTANCE_MARGIN + LANE_MARGIN
        low_x = float(self.x.min()) if len(self.x) else 0.0
        low_y = float(self.y.min()) if len(self.y) else 0.0
        self.origin = (low_x - self.reach, low_y - self.reach)
        columns = int(((float(self.x.max()) if len(self.x) else 0.0) - self.origin[0] + self.reach) // CELL) + 1
        rows = int(((float(self.y.max()) if len(self.y) else 0.0) - self.origin[1] + self.reach) // CELL) + 1
        self.shape = (rows, columns)
        cells = ((self.y - self.origin[1]) // CELL).astype(np.int64) * columns \
            + ((self.x - self.origin[0]) // CELL).astype(np.int64)
        # the samples kept cell by cell (each cell's a run of them, in their order: a point's reads stay near each
        # other in memory), and where each cell's begin
        order = np.argsort(cells, kind="stable")
        self.x, self.y, self.z, self.yaw, self.width, self.junction, self.driving = (
            values[order] for values in (self.x, self.y, self.z, self.yaw, self.width, self.junction, self.driving))
        self.starts = np.searchsorted(cells[order], np.arange(rows * columns + 1)).astype(np.int64)
        # the samples within reach of a point, and their distances (kept: a town's size allocated a call costs)
        self._near, self._distances = np.empty(len(self.x), dtype=np.int64), np.empty(len(self.x))
        per_cell = int(round(CELL / SETTLED_CELL))
        self.settled_cell = CELL / per_cell
        self.settled = np.zeros((0, 0), dtype=np.uint16)  # (no table: every point decided from its samples)
        if rows * columns * per_cell ** 2 <= SETTLED_MOST_CELLS:
            version = f"{VERSION}-{self.allowed_out:g}-{self.wrong_way_angle:g}"
            self.settled = cached_arrays(town_map, "lanes-settled", version,
                                         lambda: {"codes": self._settle(per_cell)})["codes"]
        else:
            logger.info("%s spans %d x %d m: no settled cells for its lane check (its points are decided from the "
                        "lane samples)", town_map.name, columns * CELL, rows * CELL)

    def _settle(self, per_cell: int) -> np.ndarray:
        """The settled table (:func:`settled_cells`) of this index's grid, ``per_cell`` settled cells a side of a
        grid cell."""
        codes = np.zeros((self.shape[0] * per_cell, self.shape[1] * per_cell), dtype=np.uint16)
        settled_cells(self.x, self.y, self.z, self.yaw, self.width, self.junction, self.driving, self.starts,
                      self.origin[0], self.origin[1], CELL, self.shape[0], self.shape[1], self.reach,
                      self.allowed_out, self.wrong_way_angle, DISTANCE_MARGIN, LANE_MARGIN, ANGLE_MARGIN, LEVEL_GAP,
                      self.settled_cell, codes, self._near, self._distances)
        return codes

    def outside(self, xyz: np.ndarray, yaws: np.ndarray, wrong_way_counts: np.ndarray,
                exact: Callable[[int], bool]) -> np.ndarray:
        """Whether each point (``xyz`` (N, 3), heading ``yaws`` (N,) degrees) is outside the lanes, the wrong way
        counting where ``wrong_way_counts`` (N,) says so; ``exact(k)`` answers point ``k`` from the map where the
        samples do not decide it."""
        count = len(yaws)
        decided = np.zeros(count, dtype=np.bool_)
        uncertain = np.zeros(count, dtype=np.bool_)
        lane_decisions(np.ascontiguousarray(xyz, dtype=np.float64), np.ascontiguousarray(yaws, dtype=np.float64),
                       np.ascontiguousarray(wrong_way_counts, dtype=np.bool_), self.x, self.y, self.z, self.yaw,
                       self.width, self.junction, self.driving, self.starts, self.origin[0],
                       self.origin[1], CELL, self.shape[0], self.shape[1], self.reach, self.allowed_out,
                       self.wrong_way_angle, DISTANCE_MARGIN, LANE_MARGIN, ANGLE_MARGIN, LEVEL_GAP, self.settled,
                       self.settled_cell, decided, uncertain, self._near, self._distances)
        for k in uncertain.nonzero()[0]:
            decided[k] = exact(int(k))
        return decided


_INDEXES: IdentityCache[LaneIndex] = IdentityCache(4)


def lane_index(town_map: carla.Map, allowed_out: float, wrong_way_angle: float) -> LaneIndex:
    """The lane index of ``town_map`` (built once per map object and shared by every hero of its world)."""
    index = _INDEXES.get(town_map, lambda m: LaneIndex(m, allowed_out, wrong_way_angle))
    if (index.allowed_out, index.wrong_way_angle) != (float(allowed_out), float(wrong_way_angle)):
        raise ValueError("one lane index per map: the same limits for every caller")
    return index


@njit(cache=True, inline="always")
def _decision(distance: float, width: float, junction: bool, driving: bool, heading_difference: float,
              counts: bool, allowed_out: float, wrong_way_angle: float) -> bool:
    if distance > width / 2.0 + allowed_out:
        return True
    if junction or not driving or not counts:
        return False
    return heading_difference > wrong_way_angle


@njit(cache=True, inline="always")
def _heading_difference(a: float, b: float) -> float:
    """``abs((a - b + 180) % 360 - 180)``, the same to the bit, without the modulo's library call for headings
    within a turn of each other (360 subtracted is exact there; 360 added rounds as the modulo's own addition)."""
    turned = a - b + 180.0
    if 0.0 <= turned < 360.0:
        return abs(turned - 180.0)
    if 360.0 <= turned < 720.0:
        return abs((turned - 360.0) - 180.0)
    if -360.0 < turned < 0.0:
        return abs((turned + 360.0) - 180.0)
    return abs(turned % 360.0 - 180.0)


@njit(cache=True)
def lane_decisions(xyz: np.ndarray, yaws: np.ndarray, counts: np.ndarray, sx: np.ndarray, sy: np.ndarray,
                   sz: np.ndarray, syaw: np.ndarray, swidth: np.ndarray, sjunction: np.ndarray, sdriving: np.ndarray,
                   starts: np.ndarray, origin_x: float, origin_y: float, cell: float, rows: int,
                   columns: int, reach: float, allowed_out: float, wrong_way_angle: float, distance_margin: float,
                   lane_margin: float, angle_margin: float, level_gap: float, settled: np.ndarray,
                   settled_cell: float, decided: np.ndarray, uncertain: np.ndarray, near: np.ndarray,
                   distances: np.ndarray) -> None:
    """Fill ``decided`` (outside or not) and ``uncertain`` (the samples do not settle it) for every point (``near``,
    ``distances``: room for every sample's index and distance); a point of a cell of ``settled`` (:func:`settled_cells`,
    cells of ``settled_cell`` metres from the grid's origin) that settles it is inside, its samples unread."""
    span = int(math.ceil(reach / cell))
    reach_squared = reach * reach * (1.0 + 1e-12)  # a hair over: the square root decides the points on the edge
    heading_limit = wrong_way_angle - angle_margin - 1e-6
    for k in range(xyz.shape[0]):
        x, y = xyz[k, 0], xyz[k, 1]
        if _settled_inside(settled, int((y - origin_y) // settled_cell), int((x - origin_x) // settled_cell), yaws[k],
                           counts[k], heading_limit):
            decided[k], uncertain[k] = False, False
            continue
        cx, cy = int((x - origin_x) // cell), int((y - origin_y) // cell)
        count = 0
        nearest, nearest_d = -1, np.inf  # the nearest centre line
        best_score = np.inf  # and how far out of the lane the point is whose lane it lies least out of (0: inside)
        low_z, high_z = np.inf, -np.inf
        for row in range(max(cy - span, 0), min(cy + span + 1, rows)):
            for column in range(max(cx - span, 0), min(cx + span + 1, columns)):
                c = row * columns + column
                for s in range(np.uint64(starts[c]), np.uint64(starts[c + 1])):  # (unsigned: no wrap-around tests)
                    squared = (sx[s] - x) ** 2 + (sy[s] - y) ** 2
                    if squared > reach_squared:  # (most samples of the cells: no square root for them)
                        continue
                    d = math.sqrt(squared)
                    if d > reach:
                        continue
                    near[count], distances[count] = s, d
                    count += 1
                    low_z, high_z = min(low_z, sz[s]), max(high_z, sz[s])
                    best_score = min(best_score, max(d - swidth[s] / 2.0, 0.0))
                    if d < nearest_d:
                        nearest, nearest_d = np.int64(s), d
        if nearest < 0:  # no lane within reach: outside, whichever lane the map finds nearest
            decided[k], uncertain[k] = True, False
            continue
        if high_z - low_z > level_gap:  # roads at two heights: which one is nearest is the map's to say
            uncertain[k] = True
            continue
        difference = _heading_difference(yaws[k], syaw[nearest])
        decision = _decision(nearest_d, swidth[nearest], sjunction[nearest], sdriving[nearest], difference, counts[k],
                             allowed_out, wrong_way_angle)
        unsure = abs(nearest_d - (swidth[nearest] / 2.0 + allowed_out)) < distance_margin
        if not unsure and counts[k] and sdriving[nearest] and not sjunction[nearest]:
            unsure = abs(difference - wrong_way_angle) < angle_margin
        # the map's lane may be another about as near, or one the point lies in: unsure if any decides otherwise
        for n in range(count):
            if unsure:
                break
            s, d = near[n], distances[n]
            if (d <= nearest_d + lane_margin or max(d - swidth[s] / 2.0, 0.0) <= best_score + lane_margin) and \
                    _decision(d, swidth[s], sjunction[s], sdriving[s], _heading_difference(yaws[k], syaw[s]),
                              counts[k], allowed_out, wrong_way_angle) != decision:
                unsure = True
        decided[k], uncertain[k] = decision, unsure


@njit(cache=True, inline="always")
def _settled_inside(settled: np.ndarray, row: int, column: int, yaw: float, counts: bool, heading_limit: float
                    ) -> bool:
    """Whether cell ``(row, column)`` of ``settled`` decides a point of heading ``yaw`` inside (``counts``: the wrong
    way counts for it; ``heading_limit``: the wrong-way angle less the margin, a hair below)."""
    if not (0 <= row < settled.shape[0] and 0 <= column < settled.shape[1]):
        return False
    code = np.int64(settled[row, column])
    if code == ANY_HEADING or (code >= NO_WRONG_WAY and not counts):
        return True
    if code < HEADED:
        return False
    code -= HEADED
    return _heading_difference(yaw, float(code >> 6)) + (code & 63) * HEADING_STEP <= heading_limit


@njit(cache=True)
def settled_cells(sx: np.ndarray, sy: np.ndarray, sz: np.ndarray, syaw: np.ndarray, swidth: np.ndarray,
                  sjunction: np.ndarray, sdriving: np.ndarray, starts: np.ndarray, origin_x: float, origin_y: float,
                  cell: float, rows: int, columns: int, reach: float, allowed_out: float, wrong_way_angle: float,
                  distance_margin: float, lane_margin: float, angle_margin: float, level_gap: float, side: float,
                  codes: np.ndarray, near: np.ndarray, distances: np.ndarray) -> None:
    """Fill ``codes`` (cells of ``side`` metres from the grid's origin) with each cell's code (:data:`HEADED` and
    the others): where :func:`lane_decisions` decides every point of the cell inside and certain, from its samples.

    Every point p of a cell lies within r (half the cell's diagonal, and a hair for rounding) of its centre c, so a
    sample's distance from p lies within r of its distance from c. From c's distances: p's nearest sample is at most
    U away (the least distance plus r, among the samples within reach of every p), its least score (how far out of
    a lane) at most B; a sample lane_decisions weighs for p (about as near as the nearest, or of about as small a
    score) is one whose distance less r is within LANE_MARGIN of U, or whose score less r of B. The cell is settled
    where, for every such sample, even the farthest p lies inside its lane (distance plus r within half its width
    and the allowed distance), every sample that may be p's nearest leaves U a DISTANCE_MARGIN inside, the samples
    within reach of any p lie on one level, and the driving lanes' samples (outside junctions) point within a spread
    of one heading: a heading within the wrong-way angle less ANGLE_MARGIN of each of them (the triangle inequality
    of angles: within that less the spread of the cell's heading) is then not the wrong way, nor near it."""
    r = side * math.sqrt(0.5) + 1e-6
    span = int(math.ceil((reach + r) / cell))
    for fine_row in range(codes.shape[0]):
        y = origin_y + (fine_row + 0.5) * side
        cy = int((y - origin_y) // cell)
        for fine_column in range(codes.shape[1]):
            x = origin_x + (fine_column + 0.5) * side
            cx = int((x - origin_x) // cell)
            count, most, least = 0, np.inf, np.inf  # (U and B above)
            low_z, high_z = np.inf, -np.inf
            for row in range(max(cy - span, 0), min(cy + span + 1, rows)):
                for column in range(max(cx - span, 0), min(cx + span + 1, columns)):
                    c = row * columns + column
                    for s in range(starts[c], starts[c + 1]):
                        d = math.sqrt((sx[s] - x) ** 2 + (sy[s] - y) ** 2)
                        if d - r > reach:  # within reach of no point of the cell
                            continue
                        near[count], distances[count] = s, d
                        count += 1
                        low_z, high_z = min(low_z, sz[s]), max(high_z, sz[s])
                        if d + r <= reach:  # within reach of every point of the cell
                            most = min(most, d + r)
                            least = min(least, max(d + r - swidth[s] / 2.0, 0.0))
            codes[fine_row, fine_column] = UNSETTLED
            if most == np.inf or high_z - low_z > level_gap:
                continue
            settled, headed, heading, spread = True, False, 0.0, 0.0
            for n in range(count):
                s, d = near[n], distances[n]
                if d - r > most + lane_margin and max(d - r - swidth[s] / 2.0, 0.0) > least + lane_margin:
                    continue  # never weighed
                limit = swidth[s] / 2.0 + allowed_out
                if d + r > limit - 1e-6 or (d - r <= most and most > limit - distance_margin - 1e-6):
                    settled = False
                    break
                if sdriving[s] and not sjunction[s]:
                    if not headed:
                        headed, heading = True, float(np.floor(syaw[s] + 0.5))
                    spread = max(spread, _heading_difference(heading, syaw[s]))
            if not settled:
                continue
            if not headed:
                codes[fine_row, fine_column] = ANY_HEADING
                continue
            steps = int(math.ceil(spread / HEADING_STEP)) + 1
            codes[fine_row, fine_column] = NO_WRONG_WAY if steps > 63 else \
                HEADED + ((int(heading) % 360) << 6 | steps)
