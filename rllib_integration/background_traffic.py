"""``BackgroundTraffic``: the autopilot vehicles and walkers of ``env_config.experiment.background_activity``.

Spawned as the original did, in batches through the simulator's ``command`` module: vehicles at the
map's spawn points (random blueprints of ``vehicle_filter`` with the ``vehicle_attributes`` asked for, as
ScenarioRunner's ``attribute_filter``; random colours; role ``autopilot``) handed to the traffic manager,
then walkers at random navigation points with an AI controller each walking to another random
point. ``seed`` makes the choices (and the traffic manager's and pedestrians' randomness)
deterministic; any shortfall is logged as a warning. A count given as ``[low, high]`` is drawn each time the
background is spawned, from a generator of its own (seeded by ``seed`` and the world's load number ``draw``: a
world loaded again draws again; a fixed count's choices are those they always were). Works on the embedded world
and a real server alike (carla API only).
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any, Mapping

import carla
import numpy as np

from .errors import ConfigError

logger = logging.getLogger(__name__)


#: What the CARLA Leaderboard 2.0's background activity spawns (ScenarioRunner's BackgroundActivity):
#: cars of no special type (no police, taxi, electric) with lights.
LEADERBOARD_VEHICLES = {"base_type": "car", "special_type": "", "has_lights": True}


def vehicle_blueprints(library: Any, wildcard: str, attributes: Mapping[str, Any]) -> list[Any]:
    """The blueprints of ``library`` matching ``wildcard`` whose attributes have the values of
    ``attributes`` (compared as CARLA's attributes print them); ``ConfigError`` when none does."""
    def matches(blueprint: Any) -> bool:
        for key, wanted in attributes.items():
            if not blueprint.has_attribute(key):
                return False
            text = blueprint.get_attribute(key).as_str()
            if (text.lower() != str(wanted).lower()) if isinstance(wanted, bool) else text != str(wanted):
                return False
        return True
    found = [b for b in library.filter(wildcard) if matches(b)]
    if not found:
        raise ConfigError(f"background_activity: no vehicle blueprint matches vehicle_filter {wildcard!r} with "
                          f"vehicle_attributes {dict(attributes)!r}. Fix: widen the filter or drop an attribute.")
    return found


class BackgroundTraffic:
    """The non-player actors of one world: spawned, respawned and destroyed together."""

    def __init__(self, client: Any, world: Any, command: ModuleType, traffic_manager: Any, tm_port: int,
                 activity: Mapping[str, Any], draw: int = 0, no_sidewalks: set[str] | None = None) -> None:
        """``draw``: the world's load number (see the module docstring); ``no_sidewalks``: the towns whose lack of
        sidewalks for walkers was said already (a world's backgrounds share it: the warning once a town)."""
        self.client, self.world, self.command = client, world, command
        self.no_sidewalks = no_sidewalks if no_sidewalks is not None else set()
        self.traffic_manager, self.tm_port = traffic_manager, tm_port
        self.activity = dict(activity)
        self.actor_ids: list[int] = []
        seed = self.activity["seed"]
        self.rng = np.random.default_rng(seed)
        self.counts_rng = np.random.default_rng(None if seed is None else [seed, draw])  # (ranges of counts)
        traffic_manager.set_synchronous_mode(True)
        traffic_manager.set_hybrid_physics_mode(self.activity["tm_hybrid_mode"])
        if seed is not None:
            traffic_manager.set_random_device_seed(seed)
            world.set_pedestrians_seed(seed)

    def spawn(self) -> None:
        """Spawn the configured vehicles and walkers (counted in :attr:`actor_ids`)."""
        library = self.world.get_blueprint_library()
        n_vehicles, n_walkers = self.count("n_vehicles"), self.count("n_walkers")
        vehicles = self._spawn_vehicles(n_vehicles, library)
        walkers = self._spawn_walkers(n_walkers, library) if n_walkers else []
        self.actor_ids = vehicles + walkers

    def count(self, key: str) -> int:
        """How many of ``key`` (``n_vehicles``, ``n_walkers``) to spawn now: the number configured, or one drawn
        from its ``[low, high]`` (both included)."""
        value = self.activity.get(key, 0)
        if isinstance(value, (list, tuple)):
            return int(self.counts_rng.integers(value[0], value[1] + 1))
        return int(value)

    def respawn(self) -> None:
        self.destroy()
        self.spawn()

    def _spawn_vehicles(self, count: int, library: Any) -> list[int]:
        command, rng = self.command, self.rng
        points = self.world.get_map().get_spawn_points()
        if count > len(points):
            logger.warning("%d vehicles requested but the map has %d spawn points", count, len(points))
            count = len(points)
        order = rng.permutation(len(points))[:count]
        blueprints = vehicle_blueprints(library, self.activity.get("vehicle_filter", "vehicle.*"),
                                        self.activity.get("vehicle_attributes") or {})
        batch = []
        for index in order:
            blueprint = blueprints[int(rng.integers(len(blueprints)))]
            if blueprint.has_attribute("color"):
                colors = blueprint.get_attribute("color").recommended_values
                blueprint.set_attribute("color", colors[int(rng.integers(len(colors)))])
            blueprint.set_attribute("role_name", "autopilot")
            t = points[index]
            spot = carla.Transform(carla.Location(t.location.x, t.location.y, t.location.z + 1.0), t.rotation)
            batch.append(command.SpawnActor(blueprint, spot).then(
                command.SetAutopilot(command.FutureActor, True, self.tm_port)))
        vehicles = [r.actor_id for r in self.client.apply_batch_sync(batch, True) if not r.has_error()]
        if len(vehicles) < count:
            logger.warning("spawned %d of %d background vehicles", len(vehicles), count)
        return vehicles

    def _spawn_walkers(self, count: int, library: Any) -> list[int]:
        command, rng = self.command, self.rng
        walker_blueprints = list(library.filter("walker.pedestrian.*"))
        batch, speeds = [], []
        for _ in range(count):
            location = self.world.get_random_location_from_navigation()
            if location is None:  # no navigation: a town without sidewalks
                break
            blueprint = walker_blueprints[int(rng.integers(len(walker_blueprints)))]
            if blueprint.has_attribute("is_invincible"):
                blueprint.set_attribute("is_invincible", "false")
            speed = blueprint.get_attribute("speed").recommended_values if blueprint.has_attribute("speed") else []
            speeds.append(float(speed[1]) if len(speed) > 1 else 1.4)
            location.z += 1.0
            batch.append(command.SpawnActor(blueprint, carla.Transform(location)))
        if not batch:
            town = self.world.get_map().name  # (said once a town: a world that draws its towns meets it again)
            (logger.debug if town in self.no_sidewalks else logger.warning)(
                "no walkers spawned: %s has no sidewalks for them (no pedestrian navigation)", town)
            self.no_sidewalks.add(town)
            return []
        results = self.client.apply_batch_sync(batch, True)
        walkers = [(r.actor_id, s) for r, s in zip(results, speeds) if not r.has_error()]
        if len(walkers) < count:
            logger.warning("spawned %d of %d walkers", len(walkers), count)
        controller = library.find("controller.ai.walker")
        results = self.client.apply_batch_sync(
            [command.SpawnActor(controller, carla.Transform(), walker_id) for walker_id, _ in walkers], True)
        controllers = []
        for response, (_, speed) in zip(results, walkers):
            if response.has_error():
                continue
            actor = self.world.get_actor(response.actor_id)
            actor.start()
            actor.go_to_location(self.world.get_random_location_from_navigation())
            actor.set_max_speed(speed)
            controllers.append(response.actor_id)
        if len(controllers) < len(walkers):
            logger.warning("spawned %d of %d walker controllers", len(controllers), len(walkers))
        self.world.tick()
        return [walker_id for walker_id, _ in walkers] + controllers

    def clear_around(self, location: carla.Location, radius: float) -> int:
        """Destroy the background vehicles and walkers (their controllers stopped and destroyed first)
        within ``radius`` metres of ``location``; how many vehicles and walkers."""
        actors = list(self.world.get_actors(self.actor_ids))
        near = {actor.id for actor in actors if actor.type_id.startswith(("vehicle.", "walker."))
                and actor.get_location().distance(location) < radius}
        if not near:
            return 0
        controllers = [actor for actor in actors if actor.type_id == "controller.ai.walker"
                       and actor.parent is not None and actor.parent.id in near]
        for controller in controllers:
            controller.stop()
        doomed = [controller.id for controller in controllers] + sorted(near)
        self.client.apply_batch_sync([self.command.DestroyActor(i) for i in doomed], False)
        self.actor_ids = [i for i in self.actor_ids if i not in set(doomed)]
        logger.debug("removed %d background vehicles and walkers standing at %s", len(near), location)
        return len(near)

    def destroy(self) -> None:
        """Destroy the vehicles, walkers and controllers spawned here."""
        for actor_id in reversed(self.actor_ids):  # controllers first
            actor = self.world.get_actor(actor_id)
            if actor is not None and actor.type_id == "controller.ai.walker":
                actor.stop()
        self.client.apply_batch([self.command.DestroyActor(i) for i in reversed(self.actor_ids)])
        self.actor_ids = []
