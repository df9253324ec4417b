"""The background activity's vehicles: spawned as ScenarioRunner's ``BackgroundBehavior`` spawns them (cars with
lights of no special type, ``role_name`` ``background``, 0.2 m above the lane, handed to the traffic manager with
lane changes off, 10 m to the leader and 0.1 m off the lane's centre), destroyed, and driven at a share of the
hero's speed limit each (``set_desired_speed``), through the carla API only."""

from __future__ import annotations

from typing import Any, Callable

import carla

from ...background_traffic import LEADERBOARD_VEHICLES, vehicle_blueprints

SPAWN_LIFT = 0.2  # metres above the lane a vehicle is spawned
LEADING_DISTANCE = 10.0  # metres each keeps to its leader
LANE_OFFSET = 0.1  # metres off the lane's centre each drives
TOP_SPEED = 90.0  # km/h no background vehicle exceeds


class Fleet:
    """The background vehicles of one route; ``forget`` is called with each vehicle it destroys (or finds
    gone) so that whoever holds it in a list lets go."""

    def __init__(self, world: Any, hero: Any, traffic_manager: Any, tm_port: int, rng: Any,
                 forget: Callable[[Any], None]) -> None:
        self.world, self.hero, self.tm, self.tm_port, self.rng = world, hero, traffic_manager, tm_port, rng
        self.blueprints = vehicle_blueprints(world.get_blueprint_library(), "vehicle.*", LEADERBOARD_VEHICLES)
        self.forget = forget
        self.actors: dict[int, Any] = {}
        self.speeds: dict[int, float] = {}  # actor id -> per cent of the hero's speed limit
        self.max_speed = 0.0  # km/h cap a scenario set (0: none)

    def spawn(self, waypoint: carla.Waypoint, hero_distance: float = 0.0) -> Any:
        """A background vehicle on ``waypoint`` (None where it is closer than ``hero_distance`` to the hero or
        the place is taken)."""
        if self.hero.get_location().distance(waypoint.transform.location) < hero_distance:
            return None
        blueprint = self.blueprints[int(self.rng.integers(len(self.blueprints)))]
        if blueprint.has_attribute("role_name"):
            blueprint.set_attribute("role_name", "background")
        if blueprint.has_attribute("color"):
            colours = blueprint.get_attribute("color").recommended_values
            blueprint.set_attribute("color", colours[int(self.rng.integers(len(colours)))])
        transform = waypoint.transform
        actor = self.world.try_spawn_actor(
            blueprint, carla.Transform(transform.location + carla.Location(z=SPAWN_LIFT), transform.rotation))
        if actor is None:
            return None
        actor.set_autopilot(True, self.tm_port)
        self.tm.auto_lane_change(actor, False)
        self.tm.update_vehicle_lights(actor, True)
        self.tm.distance_to_leading_vehicle(actor, LEADING_DISTANCE)
        self.tm.vehicle_lane_offset(actor, LANE_OFFSET)
        self.actors[actor.id] = actor
        return actor

    def spawn_many(self, waypoints: list[carla.Waypoint], hero_distance: float = 0.0) -> list[Any]:
        """Vehicles on ``waypoints`` (those that could be placed), in their order."""
        return [a for a in (self.spawn(w, hero_distance) for w in waypoints) if a is not None]

    def destroy(self, actor: Any) -> None:
        """Take ``actor`` out of the world and out of every list."""
        self.forget(actor)
        self.actors.pop(actor.id, None)
        self.speeds.pop(actor.id, None)
        if actor.is_alive:
            actor.set_autopilot(False, self.tm_port)
            actor.destroy()

    def sweep(self) -> None:
        """Let go of vehicles destroyed by someone else (the traffic manager, a scenario)."""
        for actor in [a for a in self.actors.values() if not a.is_alive]:
            self.forget(actor)
            self.actors.pop(actor.id, None)
            self.speeds.pop(actor.id, None)

    def set_speed(self, actor: Any, percentage: float) -> None:
        self.speeds[actor.id] = percentage

    def apply_speeds(self, speed_limit: float) -> None:
        """Every vehicle with a share set drives at that share of ``speed_limit`` (km/h), within the cap."""
        for actor_id, percentage in self.speeds.items():
            speed = speed_limit * percentage / 100.0
            if self.max_speed:
                speed = min(speed, self.max_speed)
            self.tm.set_desired_speed(self.actors[actor_id], min(speed, TOP_SPEED))

    def move_forward(self, actors: list[Any], town_map: carla.Map, metres: float) -> None:
        """Move ``actors`` ``metres`` on along their lanes (destroyed where the lane ends)."""
        for actor in list(actors):
            if not actor.is_alive:
                continue
            following = town_map.get_waypoint(actor.get_location()).next(metres)
            if following:
                transform = following[0].transform
                actor.set_transform(carla.Transform(transform.location + carla.Location(z=SPAWN_LIFT),
                                                    transform.rotation))
            else:
                self.destroy(actor)

    def hand_over(self, actor: Any, on: bool) -> None:
        """Hand a scenario's ``actor`` to the traffic manager (or take it back), with its default settings, as
        ScenarioRunner's ``ChangeAutoPilot`` does; the fleet neither counts nor removes it."""
        actor.set_autopilot(on, self.tm_port)

    def destroy_all(self) -> None:
        for actor in list(self.actors.values()):
            self.destroy(actor)
