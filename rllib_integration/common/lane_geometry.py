"""Whether a lane's geometry is one a car can follow.

OpenDRIVE files can join roads at a junction with a connection no car drives: ``carla.Osm2Odr`` makes a U-turn of
1-2 m radius where a street ends at a junction, and a curve whose reference line doubles back on itself (a cusp)
where a dual carriageway meets a street. The tightest corner of a lane CARLA's own towns drive measures 2.2 m of
radius over 2 m of lane (a right turn of Town07); those connections measure 0.2-0.5 m. The route planner leaves
them out of its graph and the traffic manager never picks one while another way exists.
"""

from __future__ import annotations

import carla
import numpy as np

UNDRIVABLE_RADIUS = 1.0  # metres: a lane turning tighter than this over WINDOW is no lane for a car
WINDOW = 2.0  # metres of lane over which the turn is measured
STEP = 0.5  # metres between the sampled points


def sharpest_radius(points: np.ndarray, window: float = WINDOW) -> float:
    """The smallest radius (m) of the path through ``points`` (N x 2, about :data:`STEP` apart), measured as
    the length over the heading change of every stretch of ``window`` metres; ``inf`` for a straight path."""
    steps = np.diff(np.asarray(points, dtype=float)[:, :2], axis=0)
    lengths = np.linalg.norm(steps, axis=1)
    steps, lengths = steps[lengths > 1e-3], lengths[lengths > 1e-3]
    span = max(1, int(round(window / STEP)))
    if len(steps) <= span:
        return float("inf")
    heading = np.unwrap(np.arctan2(steps[:, 1], steps[:, 0]))
    turn = np.abs(heading[span:] - heading[:-span])
    length = np.convolve(lengths, np.ones(span), "valid")[:len(turn)]
    with np.errstate(divide="ignore"):
        radius = np.where(turn > 1e-9, length / turn, np.inf)
    return float(radius.min())


def lane_points(waypoint: carla.Waypoint) -> np.ndarray:
    """The (x, y) points every :data:`STEP` metres of the lane (road, section, lane) ``waypoint`` lies on."""
    key = (waypoint.road_id, waypoint.section_id, waypoint.lane_id)

    def same(w: carla.Waypoint) -> bool:
        return (w.road_id, w.section_id, w.lane_id) == key

    before = [w for w in waypoint.previous_until_lane_start(STEP) if same(w)]
    after = [w for w in waypoint.next_until_lane_end(STEP) if same(w)]
    lane = before[::-1] + [waypoint] + after
    return np.array([(w.transform.location.x, w.transform.location.y) for w in lane])


class DrivableLanes:
    """Which junction connections of one map a car can drive (asked per lane, computed once per lane)."""

    def __init__(self, town_map: carla.Map) -> None:
        self.map = town_map
        self._known: dict[tuple[int, int, int], bool] = {}

    def __call__(self, waypoint: carla.Waypoint) -> bool:
        """Whether the lane under ``waypoint`` is drivable: always outside junctions, inside one unless it
        turns tighter than :data:`UNDRIVABLE_RADIUS`."""
        if not waypoint.is_junction:
            return True
        key = (waypoint.road_id, waypoint.section_id, waypoint.lane_id)
        if key not in self._known:
            self._known[key] = sharpest_radius(lane_points(waypoint)) >= UNDRIVABLE_RADIUS
        return self._known[key]
