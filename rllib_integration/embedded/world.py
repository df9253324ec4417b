"""``carla.World`` of the embedded world: a facade over the simulation kernel.

Every method has CARLA's name, arguments and semantics and delegates to the
:class:`~.sim.kernel.Simulation` (actors, settings, ticks, snapshots), its static world, its traffic
lights, or the pedestrian navigation graph. The tick itself is described in :mod:`.sim.kernel`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import carla
import numpy as np

from ..common.finite import finite_number, finite_transform
from .debug import DebugHelper
from .light_manager import LightManager
from .maps.towns import EmbeddedMap
from .not_simulated import refuse
from .sim.actors import Actor, ActorList
from .sim.blueprints import ActorBlueprint, BlueprintLibrary
from .sim.clock import serialised
from .sim.kernel import Simulation, copy_settings
from .sim.lights import TrafficLight, TrafficSign
from .sim.snapshot import WorldSnapshot
from .traffic.navigation import navigation_for

logger = logging.getLogger(__name__)


@serialised
class World:
    """A world running one map; created by ``Client.load_world``."""

    def __init__(self, sim: Simulation, library: BlueprintLibrary) -> None:
        self._sim = sim
        self.simulation_lock = sim.lock  # what every public method runs under (see .sim.clock)
        self._library = library
        self._pedestrian_rng = np.random.default_rng()
        #: ``world.debug``: draw calls are recorded (see :mod:`.debug`).
        self.debug = DebugHelper(sim)
        self._light_manager = LightManager()
        sim.world = self

    def __getattr__(self, name: str) -> Any:
        refuse(["World"], name)

    def get_lightmanager(self) -> LightManager:
        """The scene's street and building lights (the embedded world's scene has none)."""
        return self._light_manager

    def get_vehicles_light_states(self) -> dict[int, carla.VehicleLightState]:
        """Every vehicle's light state, by actor id."""
        return {a.id: a.get_light_state() for a in self._sim.actors() if a.type_id.startswith("vehicle.")}

    def set_annotations_traverse_translucency(self, enable: bool) -> None:
        """Accepted: the embedded world has no translucent objects for annotations to traverse."""

    @property
    def id(self) -> int:
        """The episode id (a new one for every world loaded)."""
        return self._sim.episode_id

    # -- map, blueprints, settings, weather -------------------------------------------------
    def get_map(self) -> EmbeddedMap:
        return self._sim.map

    def get_blueprint_library(self) -> BlueprintLibrary:
        return self._library

    def get_settings(self) -> carla.WorldSettings:
        return copy_settings(self._sim.settings)

    def apply_settings(self, settings: carla.WorldSettings, seconds: float = 0.0) -> int:
        """Apply ``settings``; returns the frame they take effect at (``ValueError`` for a step that is not a
        positive finite number of seconds)."""
        if settings.fixed_delta_seconds:  # None or 0: a variable step, as CARLA's
            finite_number(settings.fixed_delta_seconds, "apply_settings: fixed_delta_seconds", 1e-6, 10.0)
        elif settings.synchronous_mode and self._sim.settings.fixed_delta_seconds:
            logger.warning("apply_settings: a synchronous world without fixed_delta_seconds (libcarla turns a "
                           "negative or NaN value into none): each tick advances a variable step")
        finite_number(settings.max_substep_delta_time, "apply_settings: max_substep_delta_time", 1e-6, 10.0)
        return self._sim.apply_settings(settings)

    def get_weather(self) -> carla.WeatherParameters:
        current, weather = self._sim.weather, carla.WeatherParameters()
        for name in dir(current):
            if not name.startswith("_") and isinstance(getattr(current, name), float):
                setattr(weather, name, getattr(current, name))
        return weather

    def set_weather(self, weather: carla.WeatherParameters) -> None:
        self._sim.weather = weather

    # -- actors -----------------------------------------------------------------------------
    def get_actors(self, actor_ids: list[int] | None = None) -> ActorList:
        return ActorList(self._sim.actors(actor_ids))

    def get_actor(self, actor_id: int) -> Actor | None:
        return self._sim.actor(actor_id)

    def get_spectator(self) -> Actor:
        return self._sim.spectator

    def actor_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids (N,) and x, y (m), yaw (radians) (N, 3) of every vehicle, walker and prop at the current frame, in
        one call (not carla API: the BirdView's and the virtual LiDAR's per-frame read; on a server they loop over
        ``get_actors``)."""
        return self._sim.actor_poses()

    def vehicle_kinematics(self, actor_ids: list[int]) -> np.ndarray:
        """(N, 9): x, y, z, yaw (degrees), velocity x, y, z, speed limit (km/h), red light (1.0 or 0.0) of the
        vehicles ``actor_ids``, in one call (not carla API: many heroes' state a frame; on a server,
        :func:`rllib_integration.hero_batch.read_kinematics` asks each hero)."""
        return self._sim.vehicle_kinematics(actor_ids)

    def apply_vehicle_controls(self, actor_ids: list[int], rows: np.ndarray) -> None:
        """``apply_control`` of the vehicles ``actor_ids`` with the throttle, steer and brake of ``rows`` (N, 3), in one
        call (not carla API: many heroes' controls a tick; on a server, ``apply_batch_sync`` of
        ``ApplyVehicleControl`` commands)."""
        self._sim.apply_vehicle_controls(actor_ids, rows)

    def actor_locations(self, actor_ids: list[int]) -> np.ndarray:
        """(N, 3) locations of the actors ``actor_ids`` as ``get_location`` gives them, in one call (not carla API:
        many heroes' routes followed a tick)."""
        return self._sim.actor_locations(actor_ids)

    @property
    def collisions(self) -> list:
        """The collisions of the last tick (``actor``, ``other_actor``, ``normal_impulse``); not carla API."""
        return list(self._sim.collisions)

    def spawn_actor(self, blueprint: ActorBlueprint, transform: carla.Transform,
                    attach_to: Actor | None = None,
                    attachment_type: carla.AttachmentType = carla.AttachmentType.Rigid,
                    bone: str = "") -> Actor:
        """Spawn an actor; raises ``RuntimeError`` if the spot is occupied, as CARLA does (``ValueError`` for a
        transform that is not finite)."""
        finite_transform(transform, "spawn_actor: transform")
        return self._sim.spawn(blueprint, transform, attach_to)

    def try_spawn_actor(self, blueprint: ActorBlueprint, transform: carla.Transform,
                        attach_to: Actor | None = None,
                        attachment_type: carla.AttachmentType = carla.AttachmentType.Rigid,
                        bone: str = "") -> Actor | None:
        """Like :meth:`spawn_actor`, but returns None where the spot is occupied."""
        finite_transform(transform, "try_spawn_actor: transform")
        try:
            return self._sim.spawn(blueprint, transform, attach_to)
        except RuntimeError:
            return None

    # -- the static world (buildings, vegetation, poles, guard rails, walls) ------------------------
    def get_level_bbs(self, actor_type: carla.CityObjectLabel = carla.CityObjectLabel.Any) -> list[carla.BoundingBox]:
        """World-space bounding boxes of the loaded static objects of a label."""
        return self._sim.static.level_bbs(actor_type)

    def get_environment_objects(self, object_type: carla.CityObjectLabel = carla.CityObjectLabel.Any) -> list:
        """The loaded static objects of a label (``carla.EnvironmentObject``: transform, bounding_box,
        id, name, type)."""
        return self._sim.static.environment_objects(object_type)

    def enable_environment_objects(self, env_objects_ids: list[int], enable: bool) -> None:
        """Show or hide static objects by id: hidden ones neither collide nor appear to sensors."""
        self._sim.static.enable_objects(list(env_objects_ids), bool(enable))

    def load_map_layer(self, map_layers: carla.MapLayer) -> None:
        self._sim.static.load_layers(map_layers)

    def unload_map_layer(self, map_layers: carla.MapLayer) -> None:
        self._sim.static.unload_layers(map_layers)

    def cast_ray(self, initial_location: carla.Location, final_location: carla.Location) -> list:
        """Every static object and ground crossing of the segment, nearest first (``carla.LabelledPoint``)."""
        return self._sim.static.cast_ray(initial_location, final_location)

    def project_point(self, location: carla.Location, direction: carla.Vector3D,
                      search_distance: float = 10000.0):
        """The first static object or ground hit along ``direction`` from ``location``, or None."""
        return self._sim.static.project_point(location, direction, search_distance)

    def ground_projection(self, location: carla.Location, search_distance: float = 10000.0):
        """What lies straight below ``location`` (a roof, the ground), or None."""
        return self._sim.static.project_point(location, carla.Vector3D(0.0, 0.0, -1.0), search_distance)

    # -- traffic lights and signs ----------------------------------------------------------------
    def get_traffic_lights_from_waypoint(self, waypoint: carla.Waypoint, distance: float) -> list[TrafficLight]:
        """Lights whose signals lie within ``distance`` metres ahead along the lanes."""
        return self._sim.signals.along(waypoint, distance)

    def get_traffic_lights_in_junction(self, junction_id: int) -> list[TrafficLight]:
        """The lights of the group controlling a junction."""
        return self._sim.signals.in_junction(junction_id)

    def get_traffic_light(self, landmark: carla.Landmark) -> TrafficLight | None:
        found = self._sim.signals.by_id.get(landmark.id)
        return found if isinstance(found, TrafficLight) else None

    def get_traffic_light_from_opendrive_id(self, traffic_light_id: str) -> TrafficLight | None:
        found = self._sim.signals.by_id.get(str(traffic_light_id))
        return found if isinstance(found, TrafficLight) else None

    def get_traffic_sign(self, landmark: carla.Landmark) -> TrafficSign | None:
        """The sign (or light) actor of a landmark."""
        return self._sim.signals.by_id.get(landmark.id)

    def freeze_all_traffic_lights(self, frozen: bool) -> None:
        for group in self._sim.signals.groups:
            group.frozen = bool(frozen)

    def reset_all_traffic_lights(self) -> None:
        for group in self._sim.signals.groups:
            group.reset()

    # -- pedestrians ---------------------------------------------------------------------------
    def set_pedestrians_seed(self, seed: int) -> None:
        """Seed of the random navigation locations."""
        self._pedestrian_rng = np.random.default_rng(int(seed))

    def set_pedestrians_cross_factor(self, percentage: float) -> None:
        """Accepted for compatibility; walkers cross where their shortest path crosses."""

    def get_random_location_from_navigation(self) -> carla.Location | None:
        """A random point of the sidewalk navigation graph (None on a map without sidewalks)."""
        points = navigation_for(self._sim.map).points
        if len(points) == 0:
            return None
        x, y, z = points[int(self._pedestrian_rng.integers(len(points)))]
        return carla.Location(float(x), float(y), float(z))

    # -- time -------------------------------------------------------------------------------
    def get_snapshot(self) -> WorldSnapshot:
        """The state of every actor at the current frame."""
        return self._sim.snapshot()

    def on_tick(self, callback: Callable[[WorldSnapshot], None]) -> int:
        """Call ``callback(snapshot)`` after every tick; returns an id for :meth:`remove_on_tick`."""
        return self._sim.on_tick(callback)

    def remove_on_tick(self, callback_id: int) -> None:
        self._sim.remove_on_tick(callback_id)

    def wait_for_tick(self, seconds: float = 10.0) -> WorldSnapshot:
        """The snapshot of the next frame. In synchronous mode, the next ``tick()`` of another thread
        (as a second client waits on a CARLA server: ScenarioRunner's actor spawning does) and a
        free-running world's (see :mod:`.sim.clock`) next frame are waited for, up to ``seconds``;
        otherwise an asynchronous world advances one step per call."""
        sim = self._sim
        synchronous = sim.settings.synchronous_mode
        if not synchronous and not sim.free_running:
            sim.tick()
        elif not sim.ticked.wait_for(lambda frame=sim.frame: sim.frame != frame, timeout=seconds or None):
            raise RuntimeError(f"time-out of {int(seconds * 1000)}ms while waiting for the simulator" + (
                ": the world is in synchronous mode and no one called world.tick()" if synchronous else ""))
        return sim.snapshot()

    def tick(self, seconds: float = 10.0) -> int:
        """Advance the simulation by one step; returns the new frame. A free-running asynchronous
        world ticks on its own: this waits for its next frame, as CARLA's server ignores the request."""
        sim = self._sim
        if sim.free_running and not sim.settings.synchronous_mode:
            return self.wait_for_tick(seconds).frame
        return sim.tick()
