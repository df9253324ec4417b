"""The signals of a map as CARLA makes actors of them: one traffic light per OpenDRIVE traffic-light
signal (type 1000001), one stop (206), yield (205) or speed-limit (274) sign per sign signal.

For each signal, computed once per map:

- the lanes it controls, as CARLA finds them: every lane of every reference's validity; a
  reference on a junction's connecting road stands for the lane entering the junction (its single
  predecessor), so the stop position is the end of that incoming lane;
- its group, for lights: the junction those lanes enter; the order of the junction's OpenDRIVE
  ``<controller>`` elements (their ``sequence``) is the order in which the group's lights turn green
  (CARLA's pole index); maps without controllers order the lights by the heading of their lanes;
- the actor's transform: at the signal's own position (the pole beside the road) or, where that
  lies on a driving lane (OSM-converted towns place signals at the stop line), 0.5 m onto the
  sidewalk right of the lanes; its x axis runs across the lanes it controls, as CARLA's lights
  (``get_stop_waypoints`` walks along it);
- its trigger volume, in the actor's frame: one box over the controlled lanes, 3 m before the stop
  positions, 1.5 m deep and half the lanes wide (CARLA's boxes, joined across the lanes).

A map without traffic-light signals (CARLA's Town03 and Town05 as offline files, synthetic maps)
gets lights at every junction with three or more approaches, one per approach road (their ids start
with ``synthetic:``), so traffic still alternates there.
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

import carla

LIGHT, STOP, YIELD, SPEED_LIMIT = "1000001", "206", "205", "274"
TRIGGER_BACK, TRIGGER_DEPTH, TRIGGER_HEIGHT = 3.0, 1.5, 1.0  # CARLA's trigger boxes, metres


@dataclass(frozen=True)
class Signal:
    """One signal actor to create: its OpenDRIVE id, ``type_id``, transform, the lanes it controls
    (waypoints at their stop positions), its trigger volume (actor frame), and for lights the
    junction of its group and its place in the group's cycle."""

    opendrive_id: str
    type_id: str
    transform: carla.Transform
    stops: tuple[carla.Waypoint, ...]
    trigger: carla.BoundingBox
    junction_id: int | None = None
    sequence: tuple[int, int] = (0, 0)


def _junction_ahead(waypoint: carla.Waypoint, reach: float = 30.0) -> int | None:
    for distance in (1.0, 3.0, 6.0, 10.0, 15.0, 20.0, reach):
        for ahead in waypoint.next(distance):
            if ahead.is_junction:
                return ahead.junction_id
    return None


@functools.lru_cache(maxsize=16)
def _driving_lanes(town_map: carla.Map) -> dict[tuple[int, int], tuple[float, float]]:
    """(road, lane) -> (first s, last s) of every driving lane (libcarla's ``get_waypoint_xodr``
    crashes on a lane that does not exist at ``s``, so every query is checked against this)."""
    spans: dict[tuple[int, int], tuple[float, float]] = {}
    for waypoint in town_map.generate_waypoints(1.0):
        key = (waypoint.road_id, waypoint.lane_id)
        low, high = spans.get(key, (waypoint.s, waypoint.s))
        spans[key] = (min(low, waypoint.s), max(high, waypoint.s))
    return spans


def waypoint_xodr(town_map: carla.Map, road_id: int, lane_id: int, s: float) -> carla.Waypoint | None:
    """``town_map.get_waypoint_xodr`` on a driving lane, ``s`` clamped to the lane; None where the
    lane does not exist."""
    span = _driving_lanes(town_map).get((road_id, lane_id))
    return None if span is None else town_map.get_waypoint_xodr(road_id, lane_id, min(max(s, span[0]), span[1]))


def _stop_position(town_map: carla.Map, road_id: int, lane_id: int, s: float) -> carla.Waypoint | None:
    """Where a signal reference takes effect on a driving lane: the reference's waypoint, or for one
    on a junction's connecting road, the end of the single lane entering it."""
    waypoint = waypoint_xodr(town_map, road_id, lane_id, s)
    if waypoint is None:
        return None
    walked = waypoint
    for _ in range(200):  # back along the connecting road, to 0.5 m before the junction
        if not walked.is_junction:
            waypoint = walked
            break
        before = walked.previous(0.5)
        if len(before) != 1:  # several lanes enter here: the reference stays on the connecting road
            break
        walked = before[0]
    return waypoint if waypoint.lane_type == carla.LaneType.Driving else None


def _controlled_lanes(town_map: carla.Map, opendrive_id: str) -> list[carla.Waypoint]:
    stops: dict[tuple[int, int], carla.Waypoint] = {}
    for landmark in town_map.get_all_landmarks_from_id(opendrive_id):
        for from_lane, to_lane in landmark.get_lane_validities():
            step = 1 if from_lane <= to_lane else -1
            for lane_id in range(from_lane, to_lane + step, step):
                if lane_id == 0:
                    continue
                stop = _stop_position(town_map, landmark.road_id, lane_id, landmark.s)
                if stop is not None:
                    stops.setdefault((stop.road_id, stop.lane_id), stop)
    return list(stops.values())


def _trigger_and_transform(stops: list[carla.Waypoint], pole: carla.Location | None, back: float
                           ) -> tuple[carla.Transform, carla.BoundingBox]:
    """The actor's transform (x axis across the lanes, towards them from the pole) and its trigger
    box over the lanes, ``back`` metres before their stop positions."""
    centres = []
    for stop in stops:
        before = stop.previous(back) if back > 0 else []
        centres.append((before[0] if before else stop).transform.location)
    centre = carla.Location(sum(c.x for c in centres) / len(centres), sum(c.y for c in centres) / len(centres),
                            sum(c.z for c in centres) / len(centres))
    lane = stops[0].transform
    right = lane.get_right_vector()
    if pole is None:  # 0.5 m onto the sidewalk right of the lanes
        outer = max(stops, key=lambda w: (centre.x - w.transform.location.x) * -right.x +
                    (centre.y - w.transform.location.y) * -right.y)
        offset, side = outer.lane_width / 2.0, outer.get_right_lane()
        while side is not None and side.lane_type not in (carla.LaneType.Sidewalk, carla.LaneType.NONE) \
                and side.lane_width > 0.0 and side.lane_id * outer.lane_id > 0:
            offset, side = offset + side.lane_width, side.get_right_lane()
        offset += 0.5 if side is not None and side.lane_type == carla.LaneType.Sidewalk else 1.0
        at = outer.transform.location
        pole = carla.Location(at.x + right.x * offset, at.y + right.y * offset, at.z)
    side_of = (pole.x - centre.x) * right.x + (pole.y - centre.y) * right.y
    yaw = lane.rotation.yaw - 90.0 if side_of >= 0.0 else lane.rotation.yaw + 90.0
    transform = carla.Transform(carla.Location(pole.x, pole.y, centre.z), carla.Rotation(yaw=yaw))
    c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    dx, dy = centre.x - pole.x, centre.y - pole.y
    local = carla.Location(dx * c + dy * s, -dx * s + dy * c, 0.0)
    across = [abs((w.transform.location.x - centre.x) * c + (w.transform.location.y - centre.y) * s) for w in stops]
    width = min(w.lane_width for w in stops)
    extent = carla.Vector3D(max(across) + 0.25 * width, TRIGGER_DEPTH, TRIGGER_HEIGHT)
    return transform, carla.BoundingBox(carla.Location(local.x, local.y, TRIGGER_HEIGHT), extent)


def _pole_location(town_map: carla.Map, opendrive_id: str) -> carla.Location | None:
    """The signal's own position, unless it stands on a driving lane."""
    landmarks = town_map.get_all_landmarks_from_id(opendrive_id)
    if not landmarks:
        return None
    location = landmarks[0].transform.location
    on_lane = town_map.get_waypoint(location, project_to_road=False, lane_type=carla.LaneType.Driving)
    return None if on_lane is not None else location


def _controller_order(opendrive: str) -> dict[str, tuple[int, int]]:
    """Signal id -> (sequence of its controller in its junction, controller id) from the
    OpenDRIVE's ``<controller>`` elements."""
    try:
        root = ElementTree.fromstring(opendrive)
    except ElementTree.ParseError:
        return {}
    by_controller = {c.get("id"): [k.get("signalId") for k in c.findall("control")]
                     for c in root.findall("controller")}
    order: dict[str, tuple[int, int]] = {}
    for junction in root.findall("junction"):
        for reference in junction.findall("controller"):
            key = reference.get("id")
            rank = (int(reference.get("sequence") or 0), int(key) if (key or "").isdigit() else 0)
            for signal_id in by_controller.get(key, []):
                order.setdefault(signal_id, rank)
    return order


def _lights(town_map: carla.Map) -> list[Signal]:
    ids = sorted({lm.id for lm in town_map.get_all_landmarks_of_type(LIGHT)}, key=lambda i: (len(i), i))
    order = _controller_order(town_map.to_opendrive()) if ids else {}
    lights = []
    for opendrive_id in ids:
        stops = _controlled_lanes(town_map, opendrive_id)
        if not stops:
            continue
        junctions = [j for j in (_junction_ahead(w) for w in stops) if j is not None]
        junction = max(set(junctions), key=junctions.count) if junctions else None
        transform, trigger = _trigger_and_transform(stops, _pole_location(town_map, opendrive_id), TRIGGER_BACK)
        rank = order.get(opendrive_id, (0, 0))
        lights.append(Signal(opendrive_id, "traffic.traffic_light", transform, tuple(stops), trigger, junction,
                             (rank[0], rank[1])))
    return lights or _synthetic_lights(town_map)


def _synthetic_lights(town_map: carla.Map) -> list[Signal]:
    """One light per approach road of every junction with three or more approaches."""
    lights, seen = [], set()
    for waypoint in town_map.generate_waypoints(5.0):
        if not waypoint.is_junction or waypoint.junction_id in seen:
            continue
        seen.add(waypoint.junction_id)
        approaches: dict[str, list[carla.Waypoint]] = {}
        for entry, _ in waypoint.get_junction().get_waypoints(carla.LaneType.Driving):
            before = entry.previous(0.5)
            if not before or before[0].is_junction:
                continue
            stop = before[0]
            lanes = approaches.setdefault(f"{stop.road_id}:{1 if stop.lane_id > 0 else -1}", [])
            if all(w.lane_id != stop.lane_id for w in lanes):
                lanes.append(stop)
        if len(approaches) < 3:
            continue
        for key, stops in approaches.items():
            transform, trigger = _trigger_and_transform(stops, None, TRIGGER_BACK)
            lights.append(Signal(f"synthetic:{waypoint.junction_id}:{key}", "traffic.traffic_light", transform,
                                 tuple(stops), trigger, waypoint.junction_id))
    return lights


def _signs(town_map: carla.Map) -> list[Signal]:
    signs = []
    for code, prefix in ((STOP, "traffic.stop"), (YIELD, "traffic.yield"), (SPEED_LIMIT, "traffic.speed_limit")):
        for opendrive_id in sorted({lm.id for lm in town_map.get_all_landmarks_of_type(code)}):
            landmark = town_map.get_all_landmarks_from_id(opendrive_id)[0]
            stops = _controlled_lanes(town_map, opendrive_id)
            if not stops:
                continue
            type_id = f"{prefix}.{int(round(landmark.value))}" if code == SPEED_LIMIT else prefix
            back = 0.0 if code == SPEED_LIMIT else TRIGGER_BACK / 2.0
            transform, trigger = _trigger_and_transform(stops, _pole_location(town_map, opendrive_id), back)
            junctions = [j for j in (_junction_ahead(w) for w in stops) if j is not None]
            signs.append(Signal(opendrive_id, type_id, transform, tuple(stops), trigger,
                                junctions[0] if junctions else None))
    return signs


@functools.lru_cache(maxsize=16)
def signal_placements(town_map: carla.Map) -> tuple[Signal, ...]:
    """Every light (grouped by junction, in each group's cycle order), then every sign."""
    lights = sorted(_lights(town_map), key=lambda light: (
        light.junction_id if light.junction_id is not None else -1, light.sequence,
        light.stops[0].transform.rotation.yaw % 360.0))
    return tuple(lights + _signs(town_map))
