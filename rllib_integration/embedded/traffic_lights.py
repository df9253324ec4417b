"""Traffic lights of the embedded world (``traffic.traffic_light`` actors, ``carla.TrafficLight``).

Lights are placed from the map's signals (OpenDRIVE landmarks of type 1000001): one light per
signal id, stopping the lanes the signal is valid for, grouped by the junction those lanes enter.
A map without signals gets one light per approach road at every junction with three or more
approaches. Each group cycles as CARLA's do: one light at a time is green (``green_time``), then
yellow (``yellow_time``), then all lights stay red for ``red_time`` before the next one turns green.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import carla

from .actors import Actor

if TYPE_CHECKING:
    from .world import World

GREEN_TIME, YELLOW_TIME, RED_TIME = 10.0, 3.0, 2.0
STOP_REACH = 12.0  # metres before a stop line in which a vehicle is "at" the light


class TrafficLight(Actor):
    """A traffic light; its state follows its group's cycle unless frozen."""

    def __init__(self, *args, stop_waypoints: list[carla.Waypoint] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = carla.TrafficLightState.Red
        self.green_time, self.yellow_time, self.red_time = GREEN_TIME, YELLOW_TIME, RED_TIME
        self.stop_waypoints = list(stop_waypoints)
        self.group: "LightGroup | None" = None
        self.frozen = False
        self.elapsed = 0.0
        self.opendrive_id = ""

    def get_state(self) -> carla.TrafficLightState:
        return self.state

    def set_state(self, state: carla.TrafficLightState) -> None:
        self.state = state
        self.elapsed = 0.0

    def get_green_time(self) -> float:
        return self.green_time

    def set_green_time(self, seconds: float) -> None:
        self.green_time = float(seconds)

    def get_yellow_time(self) -> float:
        return self.yellow_time

    def set_yellow_time(self, seconds: float) -> None:
        self.yellow_time = float(seconds)

    def get_red_time(self) -> float:
        return self.red_time

    def set_red_time(self, seconds: float) -> None:
        self.red_time = float(seconds)

    def get_elapsed_time(self) -> float:
        return self.elapsed

    def freeze(self, freeze: bool) -> None:
        self.frozen = bool(freeze)

    def is_frozen(self) -> bool:
        return self.frozen

    def get_group_traffic_lights(self) -> list["TrafficLight"]:
        return list(self.group.lights) if self.group else [self]

    def get_pole_index(self) -> int:
        return self.group.lights.index(self) if self.group else 0

    def get_stop_waypoints(self) -> list[carla.Waypoint]:
        return list(self.stop_waypoints)

    def get_affected_lane_waypoints(self) -> list[carla.Waypoint]:
        return list(self.stop_waypoints)

    def get_opendrive_id(self) -> str:
        return self.opendrive_id

    def reset_group(self) -> None:
        if self.group:
            self.group.clock = 0.0


class LightGroup:
    """The lights of one junction, cycling one at a time."""

    def __init__(self, lights: list[TrafficLight]) -> None:
        self.lights = lights
        self.clock = 0.0
        for light in lights:
            light.group = self

    def advance(self, dt: float) -> None:
        """Move the cycle on by ``dt`` seconds and update the states of the lights not frozen."""
        self.clock += dt
        period = sum(light.green_time + light.yellow_time + light.red_time for light in self.lights)
        t = self.clock % period if period > 0 else 0.0
        active, phase = None, carla.TrafficLightState.Red
        for light in self.lights:
            span = light.green_time + light.yellow_time + light.red_time
            if t < span:
                active = light
                phase = (carla.TrafficLightState.Green if t < light.green_time else
                         carla.TrafficLightState.Yellow if t < light.green_time + light.yellow_time else
                         carla.TrafficLightState.Red)
                break
            t -= span
        for light in self.lights:
            if light.frozen:
                continue
            state = phase if light is active else carla.TrafficLightState.Red
            light.elapsed = light.elapsed + dt if state == light.state else 0.0
            light.state = state


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


def place_traffic_lights(world: "World") -> list[TrafficLight]:
    """Create the traffic-light actors of a world's map and their groups."""
    town_map = world.get_map()
    approaches = _approaches_from_signals(town_map) or _approaches_from_junctions(town_map)
    lights = []
    for junction_id in sorted(approaches):
        group = []
        for key, stops in sorted(approaches[junction_id].items(),
                                 key=lambda item: item[1][0].transform.rotation.yaw % 360.0):
            first = stops[0].transform
            right = first.get_right_vector()
            offset = max(w.lane_width for w in stops) / 2.0 + 1.5
            location = carla.Location(first.location.x + right.x * offset, first.location.y + right.y * offset, 0.0)
            light = TrafficLight(world, world._new_id(), "traffic.traffic_light", {"role_name": ""},
                                 carla.Transform(location, first.rotation),
                                 extent=carla.Vector3D(0.3, 0.3, 2.5), stop_waypoints=stops)
            light.opendrive_id = str(key)
            world._add(light)
            group.append(light)
        LightGroup(group)
        lights += group
    return lights


def stop_lines(lights: list[TrafficLight]) -> dict[tuple[int, int], list[tuple[float, TrafficLight]]]:
    """(road id, lane id) -> [(s of the stop line, light)] for looking up the light a vehicle faces."""
    table: dict[tuple[int, int], list[tuple[float, TrafficLight]]] = {}
    for light in lights:
        for waypoint in light.stop_waypoints:
            table.setdefault((waypoint.road_id, waypoint.lane_id), []).append((waypoint.s, light))
    return table


def light_ahead(table: dict, waypoint: carla.Waypoint, reach: float = STOP_REACH) -> tuple[TrafficLight, float] | None:
    """The light whose stop line lies within ``reach`` metres ahead on the waypoint's lane."""
    best = None
    for s, light in table.get((waypoint.road_id, waypoint.lane_id), ()):
        distance = (s - waypoint.s) if waypoint.lane_id < 0 else (waypoint.s - s)
        if -1.0 <= distance <= reach and (best is None or distance < best[1]):
            best = (light, max(distance, 0.0))
    return best

