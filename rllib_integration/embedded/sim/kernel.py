"""The simulation kernel of the embedded world.

A :class:`Simulation` owns everything that changes while a world runs:

- the actor registry: ids (from 1, never reused within a world), every actor by id, the walkers and
  the sensors;
- the vehicle state table (:class:`~.dynamics.VehicleStates`), advanced in one vectorised step;
- the ground (:mod:`..maps.ground`), the static world around the roads
  (:class:`~.static_scene.StaticScene`), the traffic lights and signs (:class:`~.lights.TrafficSignals`) and the
  speed limits of the map;
- the settings, the weather, the clock (frame, elapsed and delta seconds) and the tick phases.

One :meth:`Simulation.tick`, in order:

1. the fault check (a failing server raises here, before anything moves);
2. pre-tick hooks in the order they were added: the traffic-light cycle first, then traffic
   managers and walker AI controllers;
3. physics: every vehicle through the vectorised dynamics (sub-stepped at
   :data:`~.dynamics.PHYSICS_STEP`) onto the ground's surface, then every walker by its control;
4. collisions: with the static world (:mod:`.static_scene`, resolved by :mod:`.contacts`: pushed out,
   sliding along), then between overlapping actors (:mod:`.collisions`), recorded for this frame;
5. the clock advances by the step; sensors measure, in spawn order; tick listeners get the snapshot.

The facades (``World``, ``Client``, the actors, ``TrafficManager``), the traffic subsystem and the
world-side sensors use the public members below; the kernel's underscore members are its own.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Callable, Iterable, Mapping, Protocol

import carla
import numpy as np

from ..maps.ground import ground_model
from ..maps.rules import SpeedLimits
from ..maps.static_world import static_world
from ..maps.towns import EmbeddedMap
from . import geometry
from .actors import Actor, Prop, Walker
from .blueprints import ActorBlueprint
from .collisions import CollisionRecord, resolve_collisions
from .dynamics import COLUMN, VehicleStates, noise_key
from .vehicle import Vehicle, apply_control_rows
from .vehicle_kernel import box_rows, kinematics_rows, location_rows, pose_rows
from .vehicle_physics import spawned_physics
from .lights import TrafficSignals
from .snapshot import ActorSnapshot, WorldSnapshot
from .static_scene import StaticScene

logger = logging.getLogger(__name__)

#: Step used when ``fixed_delta_seconds`` is not set (variable time step on a real server).
DEFAULT_DELTA_SECONDS = 0.05
MAX_LOOKUPS = 64  # id lists whose actors and vehicle slots a simulation keeps (Simulation._lookup)

#: ``carla.WorldSettings`` fields the embedded world keeps.
SETTINGS_FIELDS = ("synchronous_mode", "no_rendering_mode", "fixed_delta_seconds", "substepping",
                   "max_substep_delta_time", "max_substeps", "max_culling_distance", "deterministic_ragdolls",
                   "tile_stream_distance", "actor_active_distance", "spectator_as_ego")

#: A constructor of a spawnable actor other than a vehicle or a walker (sensors, controllers):
#: ``(sim, actor_id, type_id, attributes, transform, parent=...) -> Actor``.
Spawner = Callable[..., Actor]


class TrafficService(Protocol):
    """What the kernel's vehicles need from the traffic subsystem (``vehicle.set_autopilot``)."""

    def set_autopilot(self, vehicle: Vehicle, enabled: bool, port: int) -> None: ...


def copy_settings(settings: carla.WorldSettings) -> carla.WorldSettings:
    """An independent copy of ``settings``."""
    copied = carla.WorldSettings()
    for name in SETTINGS_FIELDS:
        if hasattr(settings, name):
            setattr(copied, name, getattr(settings, name))
    return copied


class Simulation:
    """The state and the tick of one embedded world (one map, one episode)."""

    def __init__(self, episode_id: int, town_map: EmbeddedMap, settings: carla.WorldSettings,
                 first_frame: int, spawners: Mapping[str, Spawner],
                 fault_check: Callable[[], None] = lambda: None,
                 layers: carla.MapLayer = carla.MapLayer.All, first_actor_id: int = 1) -> None:
        self.episode_id = episode_id
        self.map = town_map
        self.settings = copy_settings(settings)
        self.weather = carla.WeatherParameters.ClearNoon
        self.spawners = dict(spawners)
        self.fault_check = fault_check
        self.ground = ground_model(town_map)
        self.static = StaticScene(static_world(town_map, self.ground), self.ground, town_map, layers)
        self.speed_limits = SpeedLimits(town_map)
        self.vehicles = VehicleStates()
        self.frame, self.elapsed, self.delta = first_frame, 0.0, 0.0
        #: Collisions of the last tick.
        self.collisions: list[CollisionRecord] = []
        #: The ``carla.World`` facade serving this simulation (what ``actor.get_world()`` returns).
        self.world: Any = None
        #: The traffic subsystem (traffic managers by port), set by whoever composes the world.
        self.traffic: TrafficService | None = None
        self._actors: dict[int, Actor] = {}
        self._children: dict[int, list[Actor]] = {}  # the actors attached to each actor (by its id), in spawn order
        self._walkers: list[Walker] = []
        self._props: list[Prop] = []
        self._open_doors: list[Vehicle] = []  # vehicles with an open door (their doors are boxes too)
        self._sensors: list[Any] = []
        self._collision_sensors: dict[int, list[Any]] = {}  # parent id -> sensors measuring only its collisions
        #: The next actor's id. A server carries it over from world to world (as CARLA's actor registry
        #: counts on across load_world), so no id names two actors of one session.
        self.next_actor_id = first_actor_id
        #: Every API call and tick runs under this lock (the free-running clock ticks in a thread).
        self.lock = threading.RLock()
        self.ticked = threading.Condition(self.lock)  # notified after every tick
        #: Whether a FreeRunningClock ticks this world while it is asynchronous.
        self.free_running = False
        self._hooks: list[Callable[[float], None]] = []
        self._listeners: dict[int, Callable[[WorldSnapshot], None]] = {}
        self._next_listener = 1
        self._snapshot: WorldSnapshot | None = None
        #: the actors and vehicle slots of the id lists asked of the one-call reads and writes, until actors come
        #: or go (a batch asks for the same heroes tick after tick)
        self._lookups: dict[tuple[int, ...], tuple[list[Actor | None], np.ndarray]] = {}
        self.spectator = self.register(Actor(self, self.new_id(), "spectator", {}, carla.Transform()))
        self.signals = TrafficSignals(self)
        self.add_pre_tick_hook(self.signals.advance)
        #: the vehicles whose Ackermann controller runs (a control written to one stops it)
        self.ackermann_driven: set[Vehicle] = set()
        self._lights_of: tuple[tuple[int, int], np.ndarray] | None = None  # ((frame, vehicles), light per slot)

    # -- settings ------------------------------------------------------------------------------
    def apply_settings(self, settings: carla.WorldSettings) -> int:
        """Keep a copy of ``settings``; returns the frame they take effect at."""
        delta = settings.fixed_delta_seconds
        if settings.synchronous_mode and delta and settings.substepping \
                and delta > settings.max_substep_delta_time * settings.max_substeps + 1e-9:
            logger.warning("fixed_delta_seconds %.3f exceeds max_substep_delta_time x max_substeps; "
                           "the embedded world sub-steps at its own physics step anyway", delta)
        self.settings = copy_settings(settings)
        return self.frame

    # -- actor registry ------------------------------------------------------------------------
    def new_id(self) -> int:
        """A fresh actor id."""
        actor_id, self.next_actor_id = self.next_actor_id, self.next_actor_id + 1
        return actor_id

    def register(self, actor: Actor) -> Actor:
        """Add an actor created with an id from :meth:`new_id`; returns it."""
        self._actors[actor.id] = actor
        if actor.parent is not None:
            self._children.setdefault(actor.parent.id, []).append(actor)
        self._lookups.clear()
        if isinstance(actor, Walker):
            self._walkers.append(actor)
        elif isinstance(actor, Prop):
            self._props.append(actor)
        self._snapshot = None
        return actor

    def actor(self, actor_id: int) -> Actor | None:
        return self._actors.get(actor_id)

    def actors(self, actor_ids: Iterable[int] | None = None) -> list[Actor]:
        """Every actor (in spawn order), or those of ``actor_ids`` that exist."""
        if actor_ids is None:
            return list(self._actors.values())
        return [self._actors[i] for i in actor_ids if i in self._actors]

    def destroy(self, actor: Actor) -> bool:
        """Remove an actor and the actors attached to it; False if it was already gone."""
        if not actor.is_alive or self._actors.get(actor.id) is not actor:
            return False
        for child in list(self._children.get(actor.id, ())):
            child.destroy()
        if callable(getattr(type(actor), "stop", None)):  # (a sensor: looked up on its class, not through the
            actor.stop()                                   # actor's refusal of what carla's class lacks)
        actor.is_alive = False
        del self._actors[actor.id]
        self._children.pop(actor.id, None)
        if actor.parent is not None:
            siblings = self._children.get(actor.parent.id, [])
            if actor in siblings:
                siblings.remove(actor)
                if not siblings:
                    del self._children[actor.parent.id]
        self._lookups.clear()  # (and a vehicle's slot goes to another below)
        if actor in self._sensors:
            self._sensors.remove(actor)
        parent_id = actor.parent.id if actor.parent is not None else -1
        watching = self._collision_sensors.get(parent_id, [])
        if actor in watching:
            watching.remove(actor)
            if not watching:  # (heroes come and go: no empty list kept for each one gone)
                del self._collision_sensors[parent_id]
        if isinstance(actor, Walker):
            self._walkers.remove(actor)
        elif isinstance(actor, Prop):
            self._props.remove(actor)
        if isinstance(actor, Vehicle):
            if actor in self._open_doors:
                self._open_doors.remove(actor)
            moved = self.vehicles.remove(actor.slot)
            if moved is not None:
                moved.slot = actor.slot
            actor.slot = -1
        self._snapshot = None
        return True

    def add_sensor(self, sensor: Any, on_collisions_only: bool = False) -> None:
        """Make ``sensor.on_tick(frame, elapsed)`` run after every tick (in the order added), or with
        ``on_collisions_only`` (an attached sensor that measures nothing else) only after the ticks in which its
        parent collided, after the others (a world of many heroes has a collision sensor on each, and few collide)."""
        if on_collisions_only and sensor.parent is not None:
            self._collision_sensors.setdefault(sensor.parent.id, []).append(sensor)
        else:
            self._sensors.append(sensor)

    # -- spawning ------------------------------------------------------------------------------
    def boxes(self) -> tuple[list[Actor], np.ndarray]:
        """Boxes of every vehicle (from the state table, in one compiled pass), walker, prop and open door (a door's
        actor is its vehicle): (actors, rows ``(x, y, yaw, ex, ey, z0, z1)`` (N, 7))."""
        s = self.vehicles
        actors: list[Actor] = list(s.owners)
        boxes = box_rows(s.data, s.count)
        others = self._walkers + self._props
        if others or self._open_doors:
            rows = []
            for actor in others:
                (x, y, z, yaw), e = actor.pose(), actor.bounding_box.extent
                bottom = z - e.z if isinstance(actor, Walker) else z
                rows.append((x, y, math.radians(yaw), e.x, e.y, bottom, bottom + 2.0 * e.z))
            actors += others
            for vehicle in self._open_doors:  # each open door a box of its vehicle's
                doors = vehicle.door_boxes()
                rows += doors
                actors += [vehicle] * len(doors)
            boxes = np.concatenate([boxes, np.array(rows, dtype=np.float64).reshape(-1, 7)])
        return actors, boxes

    def doors_changed(self, vehicle: Vehicle) -> None:
        """``vehicle`` opened or closed a door: its open doors join (or leave) the collision boxes."""
        if vehicle.open_doors and vehicle not in self._open_doors:
            self._open_doors.append(vehicle)
        elif not vehicle.open_doors and vehicle in self._open_doors:
            self._open_doors.remove(vehicle)

    def blocked(self, blueprint: ActorBlueprint, transform: carla.Transform) -> bool:
        """Whether an actor of ``blueprint`` at ``transform`` would overlap a vehicle, walker or prop
        (ground clutter, which nothing collides with, neither blocks nor is blocked)."""
        width, length, height = blueprint.size
        if blueprint.id.startswith("static.") and Prop.lies_flat(height):
            return False
        walker = blueprint.id.startswith("walker.")
        return self.occupied(transform, carla.Vector3D(length / 2, width / 2, height / 2), centred=walker)

    def occupied(self, transform: carla.Transform, extent: carla.Vector3D, centred: bool = False) -> bool:
        """Whether a box of half ``extent`` at ``transform`` (its bottom centre, or its centre if
        ``centred``) overlaps a vehicle, walker or prop."""
        actors, boxes = self.boxes()
        if not actors:
            return False
        loc = transform.location
        bottom = loc.z - extent.z if centred else loc.z
        box = (loc.x, loc.y, math.radians(transform.rotation.yaw), extent.x, extent.y, bottom, bottom + 2 * extent.z)
        return any(not (isinstance(actors[i], Prop) and actors[i].overrun) for i in geometry.overlaps_with(box, boxes))

    def spawn(self, blueprint: ActorBlueprint, transform: carla.Transform, parent: Actor | None = None) -> Actor:
        """Spawn an actor; raises ``RuntimeError`` if the spot is occupied, as CARLA does."""
        if not isinstance(blueprint, ActorBlueprint):
            raise TypeError(f"spawn_actor needs a blueprint of this world's library "
                            f"(world.get_blueprint_library()), got {type(blueprint).__name__}")
        if parent is not None and (not parent.is_alive or self._actors.get(parent.id) is not parent):
            raise RuntimeError(f"cannot attach to actor {parent.id}: it is not alive")
        kind = blueprint.id.split(".")[0]
        bodies = ("vehicle", "walker", "static")
        if kind not in bodies and blueprint.id not in self.spawners:
            raise RuntimeError(f"the embedded world cannot spawn '{blueprint.id}'")
        if kind in bodies and parent is None and self.blocked(blueprint, transform):
            raise RuntimeError("Spawn failed because of collision at spawn position")
        width, length, height = blueprint.size
        extent = carla.Vector3D(length / 2, width / 2, height / 2)
        args = (self, self.new_id(), blueprint.id, blueprint.attribute_values(), transform)
        if kind == "vehicle":
            profile = (blueprint.id, blueprint.get_attribute("base_type").as_str(), blueprint.size)
            physics = spawned_physics(*profile)
            vehicle = Vehicle(*args, extent=extent, physics=physics)
            loc, yaw = transform.location, transform.rotation.yaw
            vehicle.slot = self.vehicles.add(vehicle, physics, blueprint.size, loc.x, loc.y, loc.z, yaw,
                                             noise_key(blueprint.id, loc.x, loc.y, yaw), physics_key=profile)
            return self.register(vehicle)
        if kind == "walker":
            return self.register(Walker(*args, extent=extent))
        if kind == "static":
            prop = Prop(*args, extent=extent, parent=parent)
            prop.semantic_tags = [int(carla.CityObjectLabel.Static)]
            return self.register(prop)
        return self.register(self.spawners[blueprint.id](*args, parent=parent))

    # -- queries -------------------------------------------------------------------------------
    def traffic_light_of(self, slot: int) -> Any:
        """The light whose trigger volume vehicle ``slot``'s box overlaps, or None: every vehicle's found in one
        compiled call a frame (again when vehicles came or went), as CARLA's server finds them once a tick."""
        lights = self._light_indices()
        index = int(lights[slot]) if 0 <= slot < len(lights) else -1
        return self.signals.lights[index] if index >= 0 else None

    def _light_indices(self) -> np.ndarray:
        """Each vehicle slot's light (an index of ``signals.lights``, -1 for none) at this frame."""
        states = self.vehicles
        key = (self.frame, states.count)
        if self._lights_of is None or self._lights_of[0] != key:
            self._lights_of = key, self.signals.affecting_boxes(box_rows(states.data, states.count))
        return self._lights_of[1]

    def walker_positions(self) -> np.ndarray:
        """(x, y, yaw radians, speed m/s) of every walker, shape (N, 4)."""
        rows = [(x, y, math.radians(yaw), walker.speed())
                for walker, (x, y, _, yaw) in ((walker, walker.pose()) for walker in self._walkers)]
        return np.array(rows) if rows else np.empty((0, 4))

    def actor_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids (N,) and (x, y, yaw radians) (N, 3) of every vehicle, then every walker, then every prop: the
        vehicles read off the vehicle table in one go rather than one ``get_transform`` per actor."""
        states = self.vehicles
        ids = states.owner_ids()  # (read-only: the same array while no vehicle comes or goes)
        vehicles = pose_rows(states.data, states.count)
        if not self._walkers and not self._props:
            return ids, vehicles
        others = self._walkers + self._props
        other_ids = np.fromiter((actor.id for actor in others), dtype=np.int64, count=len(others))
        poses = [(x, y, math.radians(yaw)) for x, y, _, yaw in (actor.pose() for actor in others)]
        return np.concatenate([ids, other_ids]), np.concatenate([vehicles, np.array(poses).reshape(-1, 3)])

    def vehicle_kinematics(self, actor_ids: Iterable[int]) -> np.ndarray:
        """(N, 9) rows of the vehicles ``actor_ids`` at the current frame, read off the vehicle table in one go:
        x, y, z (m), yaw (degrees), velocity x, y, z (m/s), the speed limit (km/h, ``get_speed_limit``) and 1.0 where
        a red light affects the vehicle (``get_traffic_light_state`` red and ``is_at_traffic_light``). A vehicle
        that is gone reads as zeros, as its getters do."""
        vehicles, slots, _ = self._lookup(actor_ids)
        out, lit = np.zeros((len(slots), 9)), np.empty(len(slots), dtype=np.int64)
        uniform = self.speed_limits.uniform  # one limit everywhere (as each vehicle's get_speed_limit answers)
        lights, limit = self._light_indices(), float(self.speed_limits.default) if uniform else np.nan
        count = kinematics_rows(self.vehicles.data, slots, lights, limit, out, lit)
        if not uniform:
            for k in (slots >= 0).nonzero()[0].tolist():
                out[k, 7] = vehicles[k].get_speed_limit()
        for k in lit[:count].tolist():
            out[k, 8] = float(self.signals.lights[lights[slots[k]]].get_state() == carla.TrafficLightState.Red)
        return out

    def apply_vehicle_controls(self, actor_ids: Iterable[int], rows: np.ndarray) -> None:
        """``apply_control`` of the vehicles ``actor_ids`` with throttle, steer, brake from ``rows`` (N, 3), in one
        write (:func:`.vehicle.apply_control_rows`). A vehicle that is gone is left out, as its own ``apply_control``
        goes nowhere; an actor that is no vehicle raises ``RuntimeError``."""
        actors, slots, vehicles_only = self._lookup(actor_ids)
        rows = np.asarray(rows, dtype=np.float64).reshape(len(actors), 3)
        if not vehicles_only:
            strays = [actor.id for actor in actors if actor is not None and not isinstance(actor, Vehicle)]
            if strays:
                raise RuntimeError(f"apply_vehicle_controls: actor {strays[0]} is no vehicle")
            present = np.flatnonzero(slots >= 0)
            actors, rows, slots = [actors[k] for k in present.tolist()], rows[present], slots[present]
        if actors:
            apply_control_rows(actors, slots, rows, self.vehicles.data, self.ackermann_driven)

    def _lookup(self, actor_ids: Iterable[int]) -> tuple[list[Actor | None], np.ndarray, bool]:
        """The actors ``actor_ids`` (None for one that is gone), their vehicle slots (-1: gone, or no vehicle) and
        whether every one is a vehicle of the table, looked up once while no actor comes or goes."""
        key = tuple(actor_ids)
        found = self._lookups.get(key)
        if found is None:
            if len(self._lookups) >= MAX_LOOKUPS:  # (many id lists asked while no actor comes or goes)
                self._lookups.clear()
            actors = [self._actors.get(actor_id) for actor_id in key]
            slots = np.array([a.slot if isinstance(a, Vehicle) else -1 for a in actors], dtype=np.int64)
            found = self._lookups[key] = (actors, slots, bool((slots >= 0).all()))
        return found

    def actor_locations(self, actor_ids: Iterable[int]) -> np.ndarray:
        """(N, 3) x, y, z of the actors ``actor_ids`` as ``get_location`` gives them (32-bit floats; zeros for one that
        is gone): the vehicles read off the vehicle table in one go."""
        actors, slots, vehicles_only = self._lookup(actor_ids)
        if len(slots) and vehicles_only:  # (heroes): one read
            return location_rows(self.vehicles.data, slots)
        out = np.zeros((len(actors), 3))
        table = slots >= 0
        out[table] = self.vehicles.data[slots[table], COLUMN["x"]:COLUMN["x"] + 3]
        for k in np.flatnonzero(~table):
            if actors[k] is not None and not isinstance(actors[k], Vehicle):
                location = actors[k].get_location()
                out[k] = (location.x, location.y, location.z)
        return out.astype(np.float32).astype(np.float64)

    def timestamp(self) -> carla.Timestamp:
        return carla.Timestamp(self.frame, self.elapsed, self.delta, self.elapsed)

    def snapshot(self) -> WorldSnapshot:
        """The state of every actor at the current frame (cached until something changes)."""
        if self._snapshot is None:
            actors = [ActorSnapshot(a.id, a.get_transform(), a.get_velocity(), a.get_angular_velocity(),
                                    a.get_acceleration()) for a in self._actors.values()]
            self._snapshot = WorldSnapshot(self.episode_id, self.timestamp(), actors)
        return self._snapshot

    # -- the tick ------------------------------------------------------------------------------
    def add_pre_tick_hook(self, hook: Callable[[float], None]) -> None:
        """Run ``hook(dt)`` at the start of every tick, after the hooks added before it."""
        self._hooks.append(hook)

    def remove_pre_tick_hook(self, hook: Callable[[float], None]) -> None:
        if hook in self._hooks:
            self._hooks.remove(hook)

    def on_tick(self, callback: Callable[[WorldSnapshot], None]) -> int:
        """Call ``callback(snapshot)`` after every tick; returns an id for :meth:`remove_on_tick`."""
        listener, self._next_listener = self._next_listener, self._next_listener + 1
        self._listeners[listener] = callback
        return listener

    def remove_on_tick(self, callback_id: int) -> None:
        self._listeners.pop(callback_id, None)

    def tick(self) -> int:
        """Advance the simulation by one step; returns the new frame."""
        with self.lock:
            frame = self._step()
            self.ticked.notify_all()
        return frame

    def _step(self) -> int:
        self.fault_check()
        dt = self.settings.fixed_delta_seconds or DEFAULT_DELTA_SECONDS
        for hook in list(self._hooks):
            hook(dt)
        states = self.vehicles
        before, static_hits = states.data[: states.count].copy(), []
        if states.count:
            path = states.step(dt)
            static_hits, curb = self.static.collide(states, before, path, dt)
            if self.ground.flat:  # one height everywhere, no slope (GroundModel.surface's answer, not computed)
                level = np.zeros(states.count)
                states.settle_vertical(dt, curb + self.ground.constant, level, level)
            else:
                track = np.maximum(states.column("track"), 0.6) / 2.0
                z, pitch, roll = self.ground.surface(states.column("x"), states.column("y"), states.column("yaw"),
                                                     states.column("wheelbase") / 2.0, track)
                states.settle_vertical(dt, z + curb, pitch, roll)
        for walker in self._walkers:
            walker.advance(dt)
        moving = states.count or self._walkers
        self.collisions = resolve_collisions(*self.boxes(), states) if moving else []
        self.collisions += [CollisionRecord(vehicle, other, impulse) for vehicle, other, impulse in static_hits]
        states.update_accelerations(before, dt)
        self.frame += 1
        self.elapsed += dt
        self.delta = dt
        self._snapshot = None
        for sensor in list(self._sensors):
            sensor.on_tick(self.frame, self.elapsed)
        if self.collisions and self._collision_sensors:
            for parent in dict.fromkeys(record.actor.id for record in self.collisions):  # each once, in order
                for sensor in list(self._collision_sensors.get(parent, ())):
                    sensor.on_tick(self.frame, self.elapsed)
        if self._listeners:
            snapshot = self.snapshot()
            for callback in list(self._listeners.values()):
                callback(snapshot)
        return self.frame

    def close(self) -> None:
        """Destroy every actor (the server unloads this world)."""
        for actor in list(self._actors.values()):
            if actor.parent is None:
                actor.destroy()
        self._listeners.clear()
