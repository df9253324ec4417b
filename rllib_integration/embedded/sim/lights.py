"""Traffic signals of the embedded world: ``traffic.traffic_light`` actors (``carla.TrafficLight``)
and ``traffic.stop`` / ``traffic.yield`` / ``traffic.speed_limit.*`` actors (``carla.TrafficSign``),
one per OpenDRIVE signal, where :func:`~..maps.signals.signal_placements` puts them.

As CARLA's:

- a sign's ``trigger_volume`` (also its ``bounding_box``) is a box in its own frame over the lanes it
  controls; a vehicle whose box overlaps a light's trigger volume is "at" that light
  (``vehicle.get_traffic_light()``);
- the lights of a junction form a group; the group's controllers (OpenDRIVE ``<controller>``, in
  sequence) take turns: green (``green_time``, 10 s), yellow (3 s), red (2 s, all red), then the
  next; a light changes state only when its group's phase changes, so ``set_state`` holds until
  then; ``freeze`` stops every group (CARLA freezes all lights), ``reset_group`` restarts one;
- ``get_stop_waypoints`` walks the trigger volume along the light's x axis,
  ``get_affected_lane_waypoints`` reads the map's signal references.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import carla
import numpy as np

from ..maps.signals import Signal, signal_placements, waypoint_xodr
from . import geometry
from .actors import Actor, ActorHost

GREEN_TIME, YELLOW_TIME, RED_TIME = 10.0, 3.0, 2.0
STOP_LINE_REACH = 0.75  # metres between a path and a light's stop point (lane centres) for the path to cross it
HEAD_HEIGHT, HEAD_EXTENT = 4.2, carla.Vector3D(0.2, 0.25, 0.55)  # a light's head on its pole, metres


class SignalHost(ActorHost, Protocol):
    """What the signals use of the kernel: an actor host that also registers actors."""

    map: carla.Map

    def new_id(self) -> int: ...

    def register(self, actor: Actor) -> Actor: ...


class TrafficSign(Actor, carla.TrafficSign):
    """A traffic sign (stop, yield, speed limit): a trigger volume over the lanes it controls."""

    def __init__(self, *args, signal: Signal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.signal = signal
        self.bounding_box = carla.BoundingBox(signal.trigger.location, signal.trigger.extent)

    @property
    def trigger_volume(self) -> carla.BoundingBox:
        return carla.BoundingBox(self.signal.trigger.location, self.signal.trigger.extent)

    def trigger_box(self) -> tuple[float, float, float, float, float, float, float]:
        """The trigger volume in world coordinates: (x, y, yaw rad, ex, ey, z0, z1)."""
        t, box = self.get_transform(), self.signal.trigger
        yaw = math.radians(t.rotation.yaw)
        c, s = math.cos(yaw), math.sin(yaw)
        x = t.location.x + c * box.location.x - s * box.location.y
        y = t.location.y + s * box.location.x + c * box.location.y
        z = t.location.z + box.location.z
        return x, y, yaw, box.extent.x, box.extent.y, z - box.extent.z, z + box.extent.z

    def get_opendrive_id(self) -> str:
        return self.signal.opendrive_id


class TrafficLight(TrafficSign, carla.TrafficLight):
    """A traffic light; its state follows its group's cycle (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = carla.TrafficLightState.Red
        self.green_time, self.yellow_time, self.red_time = GREEN_TIME, YELLOW_TIME, RED_TIME
        self.group: "LightGroup | None" = None
        self.pole_index = 0
        self.state_since = 0.0  # the group's time when the state was set (see elapsed)

    @property
    def elapsed(self) -> float:
        """Seconds in this state: the group's time since it was set (a light outside groups stays at 0)."""
        return self.group.time - self.state_since if self.group else 0.0

    def get_state(self) -> carla.TrafficLightState:
        return self.state

    def set_state(self, state: carla.TrafficLightState) -> None:
        self.state = state
        self.state_since = self.group.time if self.group else 0.0

    def get_green_time(self) -> float:
        return self.green_time

    def set_green_time(self, green_time: float) -> None:
        self.green_time = float(green_time)

    def get_yellow_time(self) -> float:
        return self.yellow_time

    def set_yellow_time(self, yellow_time: float) -> None:
        self.yellow_time = float(yellow_time)

    def get_red_time(self) -> float:
        return self.red_time

    def set_red_time(self, red_time: float) -> None:
        self.red_time = float(red_time)

    def get_elapsed_time(self) -> float:
        return self.elapsed

    def freeze(self, freeze: bool) -> None:
        """Stop (or restart) every light's cycle, as CARLA does (``TrafficLight.freeze`` freezes all)."""
        self._sim.signals.freeze(freeze)

    def is_frozen(self) -> bool:
        return self.group.frozen if self.group else False

    def get_group_traffic_lights(self) -> list["TrafficLight"]:
        return list(self.group.lights) if self.group else [self]

    def get_pole_index(self) -> int:
        return self.pole_index

    def reset_group(self) -> None:
        if self.group:
            self.group.reset()

    def get_affected_lane_waypoints(self) -> list[carla.Waypoint]:
        """A waypoint at every lane of every reference of this signal in the map (CARLA's)."""
        town_map, result = self._sim.map, []
        for landmark in town_map.get_all_landmarks_from_id(self.signal.opendrive_id):
            for from_lane, to_lane in landmark.get_lane_validities():
                step = 1 if from_lane <= to_lane else -1
                for lane_id in range(from_lane, to_lane + step, step):
                    waypoint = waypoint_xodr(town_map, landmark.road_id, lane_id, landmark.s) if lane_id else None
                    if waypoint is not None:
                        result.append(waypoint)
        return result or list(self.signal.stops)

    def get_stop_waypoints(self) -> list[carla.Waypoint]:
        """The lanes under the trigger volume: points every metre along the light's x axis across
        90 % of the box, one waypoint per lane (CARLA's)."""
        box, transform = self.trigger_volume, self.get_transform()
        centre = transform.transform(box.location)
        across = transform.get_forward_vector()
        result, seen = [], set()
        offset = -0.9 * box.extent.x
        while offset < 0.9 * box.extent.x or not result:
            point = carla.Location(centre.x + across.x * offset, centre.y + across.y * offset, centre.z)
            waypoint = self._sim.map.get_waypoint(point)
            if waypoint is not None and (waypoint.road_id, waypoint.lane_id) not in seen:
                seen.add((waypoint.road_id, waypoint.lane_id))
                result.append(waypoint)
            offset += 1.0
            if offset > 0.9 * box.extent.x + 1.0:
                break
        return result

    def get_light_boxes(self) -> list[carla.BoundingBox]:
        """World-space boxes of the light's heads: one on its pole and one over each lane it controls."""
        t = self.get_transform()
        rotation = carla.Rotation(yaw=t.rotation.yaw)
        boxes = [carla.BoundingBox(carla.Location(t.location.x, t.location.y, t.location.z + HEAD_HEIGHT),
                                   HEAD_EXTENT)]
        for stop in self.signal.stops:
            at = stop.transform.location
            boxes.append(carla.BoundingBox(carla.Location(at.x, at.y, at.z + HEAD_HEIGHT + 1.0), HEAD_EXTENT))
        for box in boxes:
            box.rotation = rotation
        return boxes


class LightGroup:
    """The lights of one junction: their controllers (lights sharing a pole index) turn green in turn."""

    def __init__(self, lights: list[TrafficLight]) -> None:
        self.lights = lights
        self.frozen = False
        self.time = 0.0  # seconds advanced, frozen or not (each light's elapsed time counts from it)
        sequences = sorted({light.signal.sequence for light in lights})
        self.controllers: list[list[TrafficLight]] = []
        for light in lights:
            light.group = self
            index = sequences.index(light.signal.sequence) if len(sequences) > 1 else lights.index(light)
            light.pole_index = index
            while len(self.controllers) <= index:
                self.controllers.append([])
            self.controllers[index].append(light)
        self.controllers = [c for c in self.controllers if c] or [[]]
        self.reset()

    def reset(self) -> None:
        """Start the cycle again with the first controller green."""
        self.active, self.phase, self.clock = 0, carla.TrafficLightState.Green, 0.0
        self._apply()

    def _apply(self) -> None:
        for index, controller in enumerate(self.controllers):
            state = self.phase if index == self.active else carla.TrafficLightState.Red
            for light in controller:
                if light.state != state:
                    light.set_state(state)

    def cycle(self) -> float:
        """Seconds from one green of a controller to its next (inf while the group is frozen)."""
        if self.frozen:
            return math.inf
        leads = [controller[0] for controller in self.controllers if controller]
        return sum(lead.green_time + lead.yellow_time + lead.red_time for lead in leads) or GREEN_TIME

    def _duration(self) -> float:
        lead = self.controllers[self.active][0] if self.controllers[self.active] else None
        if lead is None:
            return GREEN_TIME
        if self.phase == carla.TrafficLightState.Green:
            return lead.green_time
        return lead.yellow_time if self.phase == carla.TrafficLightState.Yellow else lead.red_time

    def advance(self, dt: float) -> None:
        """Move the cycle on by ``dt`` seconds; lights change only at phase changes."""
        self.time += dt
        if self.frozen:
            return
        self.clock += dt
        while self.clock >= self._duration():
            self.clock -= self._duration()
            if self.phase == carla.TrafficLightState.Green:
                self.phase = carla.TrafficLightState.Yellow
            elif self.phase == carla.TrafficLightState.Yellow:
                self.phase = carla.TrafficLightState.Red
            else:
                self.active, self.phase = (self.active + 1) % len(self.controllers), carla.TrafficLightState.Green
            self._apply()


class TrafficSignals:
    """The signal actors of a world, their light groups (advanced before physics each tick) and the
    tables that tell which lights and signs a lane, a location or a vehicle faces."""

    def __init__(self, sim: SignalHost) -> None:
        self.map = sim.map
        self.lights: list[TrafficLight] = []
        self.signs: list[TrafficSign] = []
        by_junction: dict[Any, list[TrafficLight]] = {}
        for signal in signal_placements(sim.map):
            is_light = signal.type_id == "traffic.traffic_light"
            cls = TrafficLight if is_light else TrafficSign
            actor = cls(sim, sim.new_id(), signal.type_id, {"role_name": ""}, signal.transform, signal=signal)
            sim.register(actor)
            if is_light:
                self.lights.append(actor)
                key = signal.junction_id if signal.junction_id is not None else f"alone:{signal.opendrive_id}"
                by_junction.setdefault(key, []).append(actor)
            else:
                self.signs.append(actor)
        self.groups = [LightGroup(group) for group in by_junction.values()]
        self.by_junction = {key: group for key, group in zip(by_junction, self.groups)}
        self.by_id = {actor.signal.opendrive_id: actor for actor in self.lights + self.signs}
        #: (road, lane) of an incoming lane -> the lights / stop and yield signs controlling it
        self.lane_lights: dict[tuple[int, int], tuple[TrafficLight, ...]] = {}
        self.lane_signs: dict[tuple[int, int], tuple[TrafficSign, ...]] = {}
        for actor in self.lights + [s for s in self.signs if s.type_id in ("traffic.stop", "traffic.yield")]:
            table = self.lane_lights if isinstance(actor, TrafficLight) else self.lane_signs
            for stop in actor.signal.stops:
                key = (stop.road_id, stop.lane_id)
                table[key] = table.get(key, ()) + (actor,)
        self._triggers = np.array([light.trigger_box() for light in self.lights]).reshape(-1, 7)
        #: every light's stop points: x, y, heading (rad), index in ``lights``
        self._stop_points = np.array([(w.transform.location.x, w.transform.location.y,
                                       math.radians(w.transform.rotation.yaw), k)
                                      for k, light in enumerate(self.lights) for w in light.signal.stops]).reshape(-1, 4)

    def freeze(self, frozen: bool) -> None:
        """Stop (or restart) the cycle of every light group."""
        for group in self.groups:
            group.frozen = bool(frozen)

    def advance(self, dt: float) -> None:
        """Move every group's cycle on by ``dt`` seconds."""
        for group in self.groups:
            group.advance(dt)

    def on_lane(self, road_id: int, lane_id: int) -> tuple[TrafficLight, ...]:
        """The lights controlling an incoming lane."""
        return self.lane_lights.get((road_id, lane_id), ())

    def signs_on_lane(self, road_id: int, lane_id: int) -> tuple[TrafficSign, ...]:
        """The stop and yield signs controlling an incoming lane."""
        return self.lane_signs.get((road_id, lane_id), ())

    def crossings(self, coords: np.ndarray, headings: np.ndarray) -> list[tuple[int, int]]:
        """Where a path crosses the lights' stop lines, by geometry: (index of the path point before the line, index
        of the light in :attr:`lights`), sorted. ``coords`` (N, 2) are points about 2 m apart, ``headings`` (N,)
        their directions (rad). Each segment is judged alone, so a path's crossings are those of its pieces. Maps
        can overlap the lane a light controls with another road's lane (Town07 has a light on a short road that two
        junctions' connecting roads run over), so the lane's ids alone miss it."""
        if len(self._stop_points) == 0 or len(coords) < 2:
            return []
        start, step = coords[:-1], coords[1:] - coords[:-1]
        length2 = np.maximum(np.einsum("ij,ij->i", step, step), 1e-9)
        rel = self._stop_points[:, None, :2] - start[None]  # (stops, segments, 2)
        t = np.einsum("sij,ij->si", rel, step) / length2
        gap = np.linalg.norm(rel - t[..., None] * step[None], axis=2)
        aligned = np.cos(self._stop_points[:, 2, None] - headings[None, :-1]) > 0.7
        hits = (t >= 0.0) & (t < 1.0) & (gap < STOP_LINE_REACH) & aligned
        return sorted({(int(i), int(self._stop_points[s, 3])) for s, i in zip(*np.nonzero(hits))})

    def affecting_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """For each box row (x, y, yaw rad, ex, ey, z0, z1), the index in :attr:`lights` of the light whose trigger
        volume it overlaps, or -1."""
        if not len(self._triggers):
            return np.full(len(boxes), -1, dtype=np.intp)
        return geometry.first_overlaps(boxes, self._triggers)

    def along(self, waypoint: carla.Waypoint, distance: float) -> list[TrafficLight]:
        """Lights whose signals lie within ``distance`` metres ahead along the lanes (the map's
        landmarks, as CARLA's ``get_traffic_lights_from_waypoint``)."""
        found: list[TrafficLight] = []
        for landmark in waypoint.get_landmarks_of_type(distance, "1000001"):
            light = self.by_id.get(landmark.id)
            if light is not None and light not in found:
                found.append(light)
        return found

    def in_junction(self, junction_id: int) -> list[TrafficLight]:
        group = self.by_junction.get(junction_id)
        return list(group.lights) if group else []
