"""Traffic lights of the embedded world (``traffic.traffic_light`` actors, ``carla.TrafficLight``).

Lights are placed where :func:`~..maps.rules.light_placements` says: one light per signal id of the
map (or per approach road where the map has no signals), stopping the lanes it controls, grouped by
the junction those lanes enter. Each group cycles as CARLA's do: one light at a time is green (``green_time``), then
yellow (``yellow_time``), then all lights stay red for ``red_time`` before the next one turns green.
"""

from __future__ import annotations

from typing import Protocol

import carla

from ..maps.rules import light_placements
from .actors import Actor, ActorHost


class LightHost(ActorHost, Protocol):
    """What the traffic lights use of the kernel: an actor host that also registers actors."""

    map: carla.Map

    def new_id(self) -> int: ...

    def register(self, actor: Actor) -> Actor: ...

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


class LightSystem:
    """The traffic lights of a world: their actors, their groups (advanced before physics at every
    tick) and the stop-line table that tells which light a position on a lane faces."""

    def __init__(self, sim: LightHost) -> None:
        self.map = sim.map
        self.lights: list[TrafficLight] = []
        groups: dict[int, list[TrafficLight]] = {}
        for junction_id, key, stops, transform in light_placements(sim.map):
            light = TrafficLight(sim, sim.new_id(), "traffic.traffic_light", {"role_name": ""}, transform,
                                 extent=carla.Vector3D(0.3, 0.3, 2.5), stop_waypoints=stops)
            light.opendrive_id = str(key)
            groups.setdefault(junction_id, []).append(sim.register(light))
            self.lights.append(light)
        self.groups = [LightGroup(group) for group in groups.values()]
        #: (road id, lane id) -> [(s of the stop line, light)]
        self.stops: dict[tuple[int, int], list[tuple[float, TrafficLight]]] = {}
        for light in self.lights:
            for waypoint in light.stop_waypoints:
                self.stops.setdefault((waypoint.road_id, waypoint.lane_id), []).append((waypoint.s, light))

    def advance(self, dt: float) -> None:
        """Move every group's cycle on by ``dt`` seconds."""
        for group in self.groups:
            group.advance(dt)

    def on_lane(self, road_id: int, lane_id: int) -> tuple[TrafficLight, ...]:
        """The lights whose stop lines lie on a lane."""
        return tuple(light for _, light in self.stops.get((road_id, lane_id), ()))

    def ahead(self, waypoint: carla.Waypoint, reach: float = STOP_REACH) -> tuple[TrafficLight, float] | None:
        """(light, distance) of the stop line within ``reach`` metres ahead on the waypoint's lane."""
        best = None
        for s, light in self.stops.get((waypoint.road_id, waypoint.lane_id), ()):
            distance = (s - waypoint.s) if waypoint.lane_id < 0 else (waypoint.s - s)
            if -1.0 <= distance <= reach and (best is None or distance < best[1]):
                best = (light, max(distance, 0.0))
        return best

    def facing(self, location: carla.Location) -> tuple[TrafficLight, float] | None:
        """(light, distance to its stop line) just ahead of ``location`` on its lane, or None."""
        waypoint = self.map.get_waypoint(location)
        return self.ahead(waypoint) if waypoint is not None else None

    def along(self, waypoint: carla.Waypoint, distance: float) -> list[TrafficLight]:
        """Lights whose stop lines lie within ``distance`` metres ahead along the lanes."""
        found, frontier, travelled = [], [waypoint], 0.0
        while frontier and travelled <= distance:
            for current in frontier:
                hit = self.ahead(current, reach=2.0)
                if hit and hit[0] not in found:
                    found.append(hit[0])
            frontier = [n for current in frontier for n in current.next(2.0)]
            travelled += 2.0
        return found

    def by_opendrive_id(self, opendrive_id: str) -> TrafficLight | None:
        return next((light for light in self.lights if light.opendrive_id == str(opendrive_id)), None)
