"""Traffic rules a map carries: speed limits and the lanes each traffic light stops.

Both are static facts of the OpenDRIVE, computed once per map:

- :class:`SpeedLimits`: the limit of each road from the map's speed signs (landmarks of type 274),
  else the town's default (:data:`DEFAULT_SPEED_LIMITS`, CARLA's urban 30 km/h elsewhere);
- :func:`light_approaches`: for each junction, the stop waypoints of each traffic-light signal
  (landmarks of type 1000001) on the lanes entering it; a map without signals gets one approach per
  entering road at every junction with three or more approaches.
"""

from __future__ import annotations

import functools

import carla

#: Speed limit (km/h) of the procedural towns (OSM ``maxspeed`` does not survive Osm2Odr); other
#: maps use their speed signs and CARLA's urban 30 km/h elsewhere.
DEFAULT_SPEED_LIMITS = {"GridTown": 40.0, "RingTown": 50.0, "Highway": 90.0}


class SpeedLimits:
    """Speed limits of a map's roads, km/h."""

    def __init__(self, town_map: carla.Map) -> None:
        self.map = town_map
        self.default = DEFAULT_SPEED_LIMITS.get(town_map.name, 30.0)
        self.by_road: dict[int, float] = {}
        for landmark in town_map.get_all_landmarks():
            if landmark.type == "274" and landmark.value > 0:
                self.by_road[landmark.road_id] = float(landmark.value)

    def for_road(self, road_id: int) -> float:
        return self.by_road.get(road_id, self.default)

    def at(self, location: carla.Location) -> float:
        """The limit of the road nearest to ``location``."""
        return self.for_road(self.map.get_waypoint(location).road_id)


def _junction_ahead(waypoint: carla.Waypoint, reach: float = 30.0) -> int | None:
    for distance in (1.0, 3.0, 6.0, 10.0, 15.0, 20.0, reach):
        for ahead in waypoint.next(distance):
            if ahead.is_junction:
                return ahead.junction_id
    return None


def _approaches_from_signals(town_map: carla.Map) -> dict[int, dict[str, list[carla.Waypoint]]]:
    """junction id -> signal id -> stop waypoints, from the map's traffic-light landmarks."""
    groups: dict[int, dict[str, list[carla.Waypoint]]] = {}
    for landmark in town_map.get_all_landmarks():
        if landmark.type != "1000001":
            continue
        for from_lane, to_lane in landmark.get_lane_validities():
            for lane_id in range(from_lane, to_lane + 1):
                waypoint = town_map.get_waypoint_xodr(landmark.road_id, lane_id, landmark.s) if lane_id else None
                if waypoint is None or waypoint.lane_type != carla.LaneType.Driving:
                    continue
                if waypoint.is_junction:  # a signal on a junction connector stops the lane before it
                    junction = waypoint.junction_id
                    before = waypoint.previous(0.5)
                    if not before or before[0].is_junction:
                        continue
                    waypoint = before[0]
                else:
                    junction = _junction_ahead(waypoint)
                if junction is not None:
                    stops = groups.setdefault(junction, {}).setdefault(landmark.id, [])
                    if all(w.lane_id != waypoint.lane_id or w.road_id != waypoint.road_id for w in stops):
                        stops.append(waypoint)
    return groups


def _approaches_from_junctions(town_map: carla.Map) -> dict[int, dict[str, list[carla.Waypoint]]]:
    """junction id -> approach road -> stop waypoints, for junctions with 3 or more approaches."""
    groups: dict[int, dict[str, list[carla.Waypoint]]] = {}
    seen = set()
    for waypoint in town_map.generate_waypoints(5.0):
        if not waypoint.is_junction or waypoint.junction_id in seen:
            continue
        seen.add(waypoint.junction_id)
        approaches: dict[str, list[carla.Waypoint]] = {}
        for entry, _ in waypoint.get_junction().get_waypoints(carla.LaneType.Driving):
            before = entry.previous(1.0)
            if not before or before[0].is_junction:
                continue
            stop = before[0]
            key = f"{stop.road_id}:{1 if stop.lane_id > 0 else -1}"
            lanes = approaches.setdefault(key, [])
            if all(w.lane_id != stop.lane_id for w in lanes):
                lanes.append(stop)
        if len(approaches) >= 3:
            groups[waypoint.junction_id] = approaches
    return groups


@functools.lru_cache(maxsize=16)
def light_approaches(town_map: carla.Map) -> dict[int, dict[str, list[carla.Waypoint]]]:
    """junction id -> light key -> stop waypoints of the lanes it controls (once per map)."""
    return _approaches_from_signals(town_map) or _approaches_from_junctions(town_map)


@functools.lru_cache(maxsize=16)
def light_placements(town_map: carla.Map) -> list[tuple[int, str, list[carla.Waypoint], carla.Transform]]:
    """(junction id, light key, stop waypoints, pole transform) of every traffic light, in the order
    the lights are created: by junction, then by the approach's heading. The pole stands right of
    the lanes it controls, past every lane of their side of the road, 0.5 m onto the sidewalk (or 1 m off the road
    where there is none), facing along the lane."""
    placements = []
    approaches = light_approaches(town_map)
    for junction_id in sorted(approaches):
        for key, stops in sorted(approaches[junction_id].items(),
                                 key=lambda item: item[1][0].transform.rotation.yaw % 360.0):
            outer = max(stops, key=lambda w: abs(w.lane_id))
            offset, lane = outer.lane_width / 2.0, outer.get_right_lane()
            while lane is not None and lane.lane_type not in (carla.LaneType.Sidewalk, carla.LaneType.NONE) \
                    and lane.lane_width > 0.0 and lane.lane_id * outer.lane_id > 0:
                offset, lane = offset + lane.lane_width, lane.get_right_lane()
            offset += 0.5 if lane is not None and lane.lane_type == carla.LaneType.Sidewalk else 1.0
            transform = outer.transform
            right = transform.get_right_vector()
            location = carla.Location(transform.location.x + right.x * offset, transform.location.y + right.y * offset,
                                      0.0)
            placements.append((junction_id, key, stops, carla.Transform(location, stops[0].transform.rotation)))
    return placements
