"""``lane_facts``: what a lane check reads of ``carla.Map.get_waypoint(location, project_to_road=False,
lane_type=Any)`` for many points at once: whether there is a waypoint, its lane type, whether it is in a junction and
its yaw, the map's own answers without a waypoint made per point where the chords settle them.

The waypoint index (:mod:`.waypoint_index`) finds each point's chord, where along it the map's waypoint lies, and keeps
each chord's ends' yaws and lane widths. That settles a point, with no call into the map, where its waypoint is one of
its chord's ends, or lies along a chord whose lane runs on a straight line at one width and one distance from the
road's reference line (``WaypointIndex.uniform``: the waypoint lies that many metres on, with the chord start's yaw
and width; on a bend, the distance a waypoint is moved along a lane is ``s`` of the road's reference line, not
metres along the lane). The others are answered as :meth:`~.waypoint_index.WaypointIndex.waypoints` answers them (a
waypoint made, or the map asked), as are points about half a lane from their waypoint (``waypoint_index.TIE``).
``tests/test_lane_facts.py`` holds every answer to the map's on CARLA's and generated towns.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import carla
import numpy as np
from numba import njit

from .waypoint_index import AT_END, AT_START, TIE, get_waypoints, waypoint_index

#: Metres a waypoint placed along a straight chord may lie from where the map puts it (single-precision ends).
POSITION_MARGIN = 1e-3


class LaneFacts(NamedTuple):
    """Each point's waypoint as a lane check reads it (a row a point)."""

    found: np.ndarray  # bool: the map has a waypoint within half a lane of the point
    lane_type: np.ndarray  # int64: its ``carla.LaneType`` value (0: none)
    junction: np.ndarray  # bool: its ``is_junction``
    yaw: np.ndarray  # float64: its transform's yaw in degrees (0: none; NaN: left out in a junction, see lane_facts)


def lane_facts(town_map: carla.Map, locations: np.ndarray, junction_yaws: bool = True) -> LaneFacts:
    """:class:`LaneFacts` of ``get_waypoint(location, project_to_road=False, lane_type=carla.LaneType.Any)`` for
    each row (x, y, z) of ``locations``, the map's answers (see the module docstring). ``junction_yaws=False``, for
    checks that read no yaw in a junction (the original's lane check): a point whose waypoint lies in a junction may
    be settled without its yaw (NaN there), from its chord's measured reach (``WaypointIndex.reach``)."""
    points = np.ascontiguousarray(np.asarray(locations, dtype=np.float32).reshape(-1, 3))
    count = len(points)
    facts = LaneFacts(np.zeros(count, dtype=np.bool_), np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.bool_),
                      np.zeros(count))
    settled = np.zeros(count, dtype=np.bool_)
    index = waypoint_index(town_map)
    if index is None:  # every point asked of the map
        rest = np.arange(count)
        waypoints = get_waypoints(town_map, points, project_to_road=False, lane_type=carla.LaneType.Any)
    else:
        chord, along, place = index.nearest_chords(points, carla.LaneType.Any)
        _settle(points, chord, along, place, index.a, index.b, index.types, index.start_yaw, index.end_yaw,
                index.start_width, index.end_width, index.junction, index.uniform, not junction_yaws, index.reach,
                index.half_low, index.half_high, settled, *facts)
        rest = (~settled).nonzero()[0]
        waypoints = index.answers(points[rest], chord[rest], along[rest], place[rest], False, carla.LaneType.Any)
    for row, waypoint in zip(rest.tolist(), waypoints):
        facts.found[row], facts.lane_type[row], facts.junction[row], facts.yaw[row] = waypoint_facts(waypoint)
    return facts


def waypoint_facts(waypoint: carla.Waypoint | None) -> tuple[bool, int, bool, float]:
    """A waypoint's facts, as :class:`LaneFacts` holds them (None: no waypoint). A lane check of one point is cheaper
    through :func:`~.waypoint_index.get_waypoints` and this (a call of :func:`lane_facts` costs more than it settles
    for one point: 17 against 9 µs, measured)."""
    if waypoint is None:
        return False, 0, False, 0.0
    return True, int(waypoint.lane_type), waypoint.is_junction, waypoint.transform.rotation.yaw


@njit(cache=True)
def _settle(points: np.ndarray, chord: np.ndarray, along: np.ndarray, place: np.ndarray, a: np.ndarray, b: np.ndarray,
            types: np.ndarray, start_yaw: np.ndarray, end_yaw: np.ndarray, start_width: np.ndarray,
            end_width: np.ndarray, junction: np.ndarray, uniform: np.ndarray, junctions: bool, reach: np.ndarray,
            half_low: np.ndarray, half_high: np.ndarray, settled: np.ndarray, found: np.ndarray, lane_type: np.ndarray,
            in_junction: np.ndarray, yaw: np.ndarray) -> None:
    """The facts of the points the chords settle (``settled``; see the module docstring): the waypoint's place
    (exact at a chord's end, placed along a straight lane otherwise, within a margin), then ``GetWaypoint``'s test,
    the point within half the lane's width of it (2-D), away from the tie the map must break. With ``junctions``,
    a point along a measured chord of a junction (``reach``, ``half_low``, ``half_high``) whose test comes out the
    same wherever within the chord's reach its waypoint lies, and whatever the lane's width there: its yaw NaN."""
    for i in range(points.shape[0]):
        j = chord[i]
        if j < 0:
            continue
        if place[i] == AT_END:
            wx, wy, width, heading, margin = float(b[j, 0]), float(b[j, 1]), end_width[j], end_yaw[j], 0.0
        elif place[i] == AT_START:
            wx, wy, width, heading, margin = float(a[j, 0]), float(a[j, 1]), start_width[j], start_yaw[j], 0.0
        elif uniform[j]:  # (a straight lane's s is metres along it: the waypoint lies ``along`` metres on)
            dx, dy = float(b[j, 0]) - float(a[j, 0]), float(b[j, 1]) - float(a[j, 1])
            length = math.sqrt(dx * dx + dy * dy)
            if length == 0.0:
                continue
            t = along[i] / length
            wx, wy = float(a[j, 0]) + t * dx, float(a[j, 1]) + t * dy
            width, heading, margin = start_width[j], start_yaw[j], POSITION_MARGIN
        elif junctions and junction[j] and not math.isnan(reach[j]):
            dx, dy = float(b[j, 0]) - float(a[j, 0]), float(b[j, 1]) - float(a[j, 1])
            length = math.sqrt(dx * dx + dy * dy)
            if length == 0.0:
                continue
            t = along[i] / length
            distance = math.hypot(float(a[j, 0]) + t * dx - float(points[i, 0]),
                                  float(a[j, 1]) + t * dy - float(points[i, 1]))
            if distance + reach[j] < half_low[j] - TIE:
                settled[i] = True
                found[i], lane_type[i], in_junction[i], yaw[i] = True, types[j], True, np.nan
            elif distance - reach[j] > half_high[j] + TIE:
                settled[i] = True
            continue
        else:
            continue
        distance = math.hypot(wx - float(points[i, 0]), wy - float(points[i, 1]))
        half = width * 0.5
        if abs(distance - half) < TIE + margin:
            continue
        settled[i] = True
        if distance < half:
            found[i], lane_type[i], in_junction[i], yaw[i] = True, types[j], junction[j], heading
