"""The embedded world (``carla.World``): actors, settings, weather and the simulation tick.

One tick, in order: every vehicle moves through the vectorised dynamics (sub-stepped at
:data:`~.physics.PHYSICS_STEP`), walkers move, overlapping actors collide (the vehicles involved
go back to their pose before the tick and stop; every pair is recorded as a collision of this
frame), the frame advances by one and ``elapsed_seconds`` by the step, then tick listeners run.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import carla
import numpy as np

from . import geometry
from .actors import Actor, ActorList, Vehicle, Walker
from .blueprints import ActorBlueprint, BlueprintLibrary
from .physics import COLUMN, VehicleParameters, VehicleStates
from .snapshot import ActorSnapshot, WorldSnapshot
from .towns import EmbeddedMap, ground_model, road_speed_limits
from .traffic_lights import light_ahead, place_traffic_lights, stop_lines
from .traffic_manager import TrafficManager
from .walkers import Navigation, WalkerAIController

logger = logging.getLogger(__name__)

#: Step used when ``fixed_delta_seconds`` is not set (variable time step on a real server).
DEFAULT_DELTA_SECONDS = 0.05

class CollisionRecord:
    """One collision of ``actor`` with ``other_actor`` during a tick."""

    def __init__(self, actor: Actor, other_actor: Actor, normal_impulse: carla.Vector3D) -> None:
        self.actor, self.other_actor, self.normal_impulse = actor, other_actor, normal_impulse


def copy_settings(settings: carla.WorldSettings) -> carla.WorldSettings:
    """An independent copy of ``settings``."""
    copied = carla.WorldSettings()
    for name in ("synchronous_mode", "no_rendering_mode", "fixed_delta_seconds", "substepping",
                 "max_substep_delta_time", "max_substeps", "max_culling_distance",
                 "deterministic_ragdolls", "tile_stream_distance", "actor_active_distance",
                 "spectator_as_ego"):
        if hasattr(settings, name):
            setattr(copied, name, getattr(settings, name))
    return copied


class World:
    """A world running one map; created by ``Client.load_world``."""

    def __init__(self, episode_id: int, town_map: EmbeddedMap, library: BlueprintLibrary,
                 settings: carla.WorldSettings, first_frame: int, map_layers: carla.MapLayer) -> None:
        self.id = episode_id
        self._map = town_map
        self._library = library
        self._settings = copy_settings(settings)
        self._weather = carla.WeatherParameters.ClearNoon
        self._map_layers = map_layers
        self._ground = ground_model(town_map)
        self._vehicles = VehicleStates()
        self._actors: dict[int, Actor] = {}
        self._walkers: list[Walker] = []
        self._next_id = 1
        self._frame = first_frame
        self._elapsed = 0.0
        self._delta = 0.0
        self._snapshot: WorldSnapshot | None = None
        self._listeners: dict[int, Callable[[WorldSnapshot], None]] = {}
        self._next_listener = 1
        self.collisions: list[CollisionRecord] = []  # collisions of the last tick
        self._pre_tick_hooks: list[Callable[["World", float], None]] = []
        self._server_check: Callable[[], None] = lambda: None  # the server's fault injection
        self._sensor_actors: list[Actor] = []  # sensors measure after every tick, in spawn order
        self._spectator = self._add(Actor(self, self._new_id(), "spectator", {}, carla.Transform()))
        self._traffic_managers: dict[int, TrafficManager] = {}
        self._traffic_lights = place_traffic_lights(self)
        self._light_stops = stop_lines(self._traffic_lights)
        self._speed_limits, self._default_speed_limit = road_speed_limits(town_map)
        groups = {id(light.group): light.group for light in self._traffic_lights}.values()
        self.add_pre_tick_hook(lambda world, dt: [group.advance(dt) for group in groups])
        self._walker_controllers: list = []
        self._pedestrian_rng = np.random.default_rng()
        self.add_pre_tick_hook(lambda world, dt: [c._step() for c in list(self._walker_controllers)])

    # -- map, blueprints, settings, weather -------------------------------------------------
    def get_map(self) -> EmbeddedMap:
        return self._map

    def get_blueprint_library(self) -> BlueprintLibrary:
        return self._library

    def get_settings(self) -> carla.WorldSettings:
        return copy_settings(self._settings)

    def apply_settings(self, settings: carla.WorldSettings, seconds: float = 0.0) -> int:
        """Apply ``settings``; returns the frame they take effect at."""
        delta = settings.fixed_delta_seconds
        if settings.synchronous_mode and delta and settings.substepping \
                and delta > settings.max_substep_delta_time * settings.max_substeps + 1e-9:
            logger.warning("fixed_delta_seconds %.3f exceeds max_substep_delta_time x max_substeps; "
                           "the embedded world sub-steps at its own physics step anyway", delta)
        self._settings = copy_settings(settings)
        return self._frame

    def get_weather(self) -> carla.WeatherParameters:
        weather = carla.WeatherParameters()
        for name in dir(self._weather):
            if not name.startswith("_") and isinstance(getattr(self._weather, name), float):
                setattr(weather, name, getattr(self._weather, name))
        return weather

    def set_weather(self, weather: carla.WeatherParameters) -> None:
        self._weather = weather

    # -- actors -----------------------------------------------------------------------------
    def _new_id(self) -> int:
        actor_id, self._next_id = self._next_id, self._next_id + 1
        return actor_id

    def _add(self, actor: Actor) -> Actor:
        self._actors[actor.id] = actor
        if isinstance(actor, Walker):
            self._walkers.append(actor)
        self._snapshot = None
        return actor

    def get_actors(self, actor_ids: list[int] | None = None) -> ActorList:
        if actor_ids is None:
            return ActorList(self._actors.values())
        return ActorList(self._actors[i] for i in actor_ids if i in self._actors)

    def get_actor(self, actor_id: int) -> Actor | None:
        return self._actors.get(actor_id)

    def get_spectator(self) -> Actor:
        return self._spectator

    def _boxes(self) -> tuple[list[Actor], tuple[np.ndarray, ...]]:
        """Boxes of every vehicle (vectorised from the state table) and walker:
        (actors, (x, y, yaw, ex, ey, z0, z1))."""
        s = self._vehicles
        actors: list[Actor] = list(s.owners)
        z = s.column("z")
        columns = [s.column("x"), s.column("y"), s.column("yaw"), s.column("half_length"),
                   s.column("half_width"), z, z + s.column("height")]
        walkers = self._walkers
        if walkers:
            rows = []
            for walker in walkers:
                t, e = walker.get_transform(), walker.bounding_box.extent
                rows.append((t.location.x, t.location.y, math.radians(t.rotation.yaw), e.x, e.y,
                             t.location.z - e.z, t.location.z + e.z))
            columns = [np.concatenate([column, extra]) for column, extra in zip(columns, zip(*rows))]
            actors += walkers
        return actors, tuple(columns)

    def _blocked(self, blueprint: ActorBlueprint, transform: carla.Transform) -> bool:
        actors, boxes = self._boxes()
        if not actors:
            return False
        width, length, height = blueprint.size
        loc = transform.location
        bottom = loc.z - height / 2 if blueprint.id.startswith("walker.") else loc.z
        box = (loc.x, loc.y, math.radians(transform.rotation.yaw), length / 2, width / 2,
               bottom, bottom + height)
        return len(geometry.overlaps_with(box, *boxes)) > 0

    def spawn_actor(self, blueprint: ActorBlueprint, transform: carla.Transform,
                    attach_to: Actor | None = None,
                    attachment_type: carla.AttachmentType = carla.AttachmentType.Rigid,
                    bone: str = "") -> Actor:
        """Spawn an actor; raises ``RuntimeError`` if the spot is occupied, as CARLA does."""
        if not isinstance(blueprint, ActorBlueprint):
            raise TypeError(f"spawn_actor needs a blueprint of this world's library "
                            f"(world.get_blueprint_library()), got {type(blueprint).__name__}")
        if attach_to is not None and (not attach_to.is_alive or attach_to.id not in self._actors):
            raise RuntimeError(f"cannot attach to actor {attach_to.id}: it is not alive")
        kind = blueprint.id.split(".")[0]
        if kind in ("vehicle", "walker") and attach_to is None and self._blocked(blueprint, transform):
            raise RuntimeError("Spawn failed because of collision at spawn position")
        width, length, height = blueprint.size
        extent = carla.Vector3D(length / 2, width / 2, height / 2)
        args = (self, self._new_id(), blueprint.id, blueprint.attribute_values(), transform)
        if kind == "vehicle":
            vehicle = Vehicle(*args, extent=extent)
            base_type = blueprint.get_attribute("base_type").value
            params = VehicleParameters.for_vehicle(base_type, width, length, height)
            loc = transform.location
            vehicle.slot = self._vehicles.add(vehicle, params, blueprint.size, loc.x, loc.y, loc.z,
                                              transform.rotation.yaw)
            return self._add(vehicle)
        if kind == "walker":
            return self._add(Walker(*args, extent=extent))
        factory = SPAWN_HANDLERS.get(blueprint.id)
        if factory is None:
            self._next_id -= 1
            raise RuntimeError(f"the embedded world cannot spawn '{blueprint.id}' yet")
        return self._add(factory(*args, parent=attach_to))

    def try_spawn_actor(self, blueprint: ActorBlueprint, transform: carla.Transform,
                        attach_to: Actor | None = None,
                        attachment_type: carla.AttachmentType = carla.AttachmentType.Rigid,
                        bone: str = "") -> Actor | None:
        """Like :meth:`spawn_actor`, but returns None where the spot is occupied."""
        try:
            return self.spawn_actor(blueprint, transform, attach_to, attachment_type, bone)
        except RuntimeError:
            return None

    def _destroy_actor(self, actor: Actor) -> bool:
        if not actor.is_alive or self._actors.get(actor.id) is not actor:
            return False
        for child in [a for a in self._actors.values() if a.parent is actor]:
            child.destroy()
        stop = getattr(actor, "stop", None)
        if callable(stop):
            stop()
        actor.is_alive = False
        del self._actors[actor.id]
        if isinstance(actor, Walker):
            self._walkers.remove(actor)
        if isinstance(actor, Vehicle):
            moved = self._vehicles.remove(actor.slot)
            if moved is not None:
                moved.slot = actor.slot
            actor.slot = -1
        self._snapshot = None
        return True

    # -- traffic ------------------------------------------------------------------------------
    def traffic_manager(self, port: int) -> TrafficManager:
        """The traffic manager on ``port`` (created on first use); not carla API."""
        if port not in self._traffic_managers:
            self._traffic_managers[port] = TrafficManager(self, port)
        return self._traffic_managers[port]

    def _set_autopilot(self, vehicle: Vehicle, enabled: bool, tm_port: int) -> None:
        if vehicle.autopilot_port is not None:
            self._traffic_managers[vehicle.autopilot_port].unregister(vehicle)
            vehicle.autopilot_port = None
        if enabled:
            self.traffic_manager(tm_port).register(vehicle)
            vehicle.autopilot_port = tm_port

    def _speed_limit_for_road(self, road_id: int) -> float:
        return self._speed_limits.get(road_id, self._default_speed_limit)

    def _speed_limit_at(self, location: carla.Location) -> float:
        return self._speed_limit_for_road(self._map.get_waypoint(location).road_id)

    def _light_for(self, vehicle: Vehicle):
        """(light, distance to its stop line) just ahead of the vehicle, or None."""
        waypoint = self._map.get_waypoint(vehicle.get_location())
        return light_ahead(self._light_stops, waypoint) if waypoint is not None else None

    def get_traffic_lights_from_waypoint(self, waypoint: carla.Waypoint, distance: float) -> list:
        """Lights whose stop lines lie within ``distance`` metres ahead along the lanes."""
        found, frontier, travelled = [], [waypoint], 0.0
        while frontier and travelled <= distance:
            for current in frontier:
                hit = light_ahead(self._light_stops, current, reach=2.0)
                if hit and hit[0] not in found:
                    found.append(hit[0])
            frontier = [n for current in frontier for n in current.next(2.0)]
            travelled += 2.0
        return found

    def get_traffic_light(self, landmark: carla.Landmark):
        return self.get_traffic_light_from_opendrive_id(landmark.id)

    def get_traffic_light_from_opendrive_id(self, traffic_light_id: str):
        return next((light for light in self._traffic_lights if light.opendrive_id == str(traffic_light_id)), None)

    def freeze_all_traffic_lights(self, frozen: bool) -> None:
        for light in self._traffic_lights:
            light.freeze(frozen)

    def reset_all_traffic_lights(self) -> None:
        for light in self._traffic_lights:
            light.reset_group()

    # -- pedestrians ---------------------------------------------------------------------------
    def _navigation(self):
        return navigation_for(self._map)

    def set_pedestrians_seed(self, seed: int) -> None:
        """Seed of the random navigation locations."""
        self._pedestrian_rng = np.random.default_rng(int(seed))

    def set_pedestrians_cross_factor(self, percentage: float) -> None:
        """Accepted for compatibility; walkers cross where their shortest path crosses."""

    def get_random_location_from_navigation(self) -> carla.Location | None:
        """A random point of the sidewalk navigation graph (None on a map without sidewalks)."""
        points = self._navigation().points
        if len(points) == 0:
            return None
        x, y, z = points[int(self._pedestrian_rng.integers(len(points)))]
        return carla.Location(float(x), float(y), float(z))

    def _walker_positions(self) -> np.ndarray:
        """(x, y, yaw radians) of every walker."""
        rows = [(t.location.x, t.location.y, math.radians(t.rotation.yaw))
                for t in (walker.get_transform() for walker in self._walkers)]
        return np.array(rows) if rows else np.empty((0, 3))

    # -- time -------------------------------------------------------------------------------
    def _timestamp(self) -> carla.Timestamp:
        return carla.Timestamp(self._frame, self._elapsed, self._delta, self._elapsed)

    def get_snapshot(self) -> WorldSnapshot:
        """The state of every actor at the current frame."""
        if self._snapshot is None:
            actors = [ActorSnapshot(a.id, a.get_transform(), a.get_velocity(),
                                    a.get_angular_velocity(), a.get_acceleration())
                      for a in self._actors.values()]
            self._snapshot = WorldSnapshot(self.id, self._timestamp(), actors)
        return self._snapshot

    def on_tick(self, callback: Callable[[WorldSnapshot], None]) -> int:
        """Call ``callback(snapshot)`` after every tick; returns an id for :meth:`remove_on_tick`."""
        listener, self._next_listener = self._next_listener, self._next_listener + 1
        self._listeners[listener] = callback
        return listener

    def remove_on_tick(self, callback_id: int) -> None:
        self._listeners.pop(callback_id, None)

    def add_pre_tick_hook(self, hook: Callable[["World", float], None]) -> None:
        """Run ``hook(world, dt)`` at the start of every tick (traffic, walker AI); not carla API."""
        self._pre_tick_hooks.append(hook)

    def wait_for_tick(self, seconds: float = 0.0) -> WorldSnapshot:
        """In asynchronous mode the embedded world advances one step per call."""
        if self._settings.synchronous_mode:
            raise RuntimeError("time-out while waiting for the simulator: the world is in "
                               "synchronous mode, call world.tick() instead")
        self.tick()
        return self.get_snapshot()

    def tick(self, seconds: float = 0.0) -> int:
        """Advance the simulation by one step; returns the new frame."""
        self._server_check()
        dt = self._settings.fixed_delta_seconds or DEFAULT_DELTA_SECONDS
        for hook in self._pre_tick_hooks:
            hook(self, dt)
        states = self._vehicles
        before = states.data[: states.count].copy()
        states.column("ground")[:] = self._ground.height(states.column("x"), states.column("y"))
        states.step(dt)
        for walker in self._walkers:
            walker._advance(dt)
        self.collisions = self._resolve_collisions(before)
        self._update_accelerations(before, dt)
        self._frame += 1
        self._elapsed += dt
        self._delta = dt
        self._snapshot = None
        for sensor in list(self._sensor_actors):
            sensor._on_tick(self._frame, self._elapsed)
        if self._listeners:
            snapshot = self.get_snapshot()
            for callback in list(self._listeners.values()):
                callback(snapshot)
        return self._frame

    def _update_accelerations(self, before: np.ndarray, dt: float) -> None:
        """World-frame acceleration of every vehicle over the tick, into the state table."""
        c, data = COLUMN, self._vehicles.data[: self._vehicles.count]

        def velocity(rows: np.ndarray) -> np.ndarray:
            speed, yaw = rows[:, c["speed"]], rows[:, c["yaw"]]
            return np.stack([speed * np.cos(yaw), speed * np.sin(yaw), rows[:, c["vz"]]], axis=1)

        data[:, c["ax"]:c["az"] + 1] = (velocity(data) - velocity(before)) / dt

    def _resolve_collisions(self, before: np.ndarray) -> list[CollisionRecord]:
        actors, boxes = self._boxes()
        if len(actors) < 2:
            return []
        pairs = geometry.overlapping_pairs(*boxes)
        records = []
        for i, j in pairs:
            a, b = actors[i], actors[j]
            va, vb = a.get_velocity(), b.get_velocity()
            mass_a, mass_b = self._mass(a), self._mass(b)
            reduced = mass_a * mass_b / (mass_a + mass_b)
            impulse = carla.Vector3D((vb.x - va.x) * reduced, (vb.y - va.y) * reduced, 0.0)
            records.append(CollisionRecord(a, b, impulse))
            records.append(CollisionRecord(b, a, carla.Vector3D(-impulse.x, -impulse.y, 0.0)))
        for actor in {actors[k] for pair in pairs for k in pair}:
            if isinstance(actor, Vehicle):
                row = self._vehicles.data[actor.slot]
                for name in ("x", "y", "yaw"):
                    row[COLUMN[name]] = before[actor.slot, COLUMN[name]]
                row[COLUMN["speed"]] = 0.0
                row[COLUMN["yaw_rate"]] = 0.0
        return records

    def _mass(self, actor: Actor) -> float:
        if isinstance(actor, Vehicle):
            return float(self._vehicles.data[actor.slot, COLUMN["mass"]])
        return 70.0

    def _close(self) -> None:
        """Destroy every actor (the server unloads this world)."""
        for actor in list(self._actors.values()):
            if actor.parent is None:
                actor.destroy()
        self._listeners.clear()


_NAVIGATION: dict[str, Navigation] = {}


def navigation_for(town_map: EmbeddedMap) -> Navigation:
    """The pedestrian navigation graph of a map, built once per process."""
    if town_map.opendrive_hash not in _NAVIGATION:
        _NAVIGATION[town_map.opendrive_hash] = Navigation(town_map)
    return _NAVIGATION[town_map.opendrive_hash]


#: Blueprint id -> constructor of non-vehicle, non-walker actors (sensors, controllers); sensor
#: modules add theirs.
SPAWN_HANDLERS: dict[str, Callable[..., Actor]] = {"controller.ai.walker": WalkerAIController}
