"""An emergency vehicle coming up behind the hero that it must let pass (Leaderboard 2.0's
``YieldToEmergencyVehicle``), as ScenarioRunner 0.9.16's ``yield_to_emergency_vehicle.py`` sets it up: when the
hero reaches the trigger point the vehicle appears ``distance`` metres (140 by default, less where the route
is shorter) behind it on its lane and drives at the hero's speed plus 25 km/h, keeping its distance to whatever
is ahead on its way. The scenario ends when the vehicle has passed the hero and driven 50 m on (passed), or 10 s
after coming within 50 m of the hero, as ScenarioRunner's does; the hero failed to yield when it is still ahead
of the vehicle then (``yield_emergency_vehicle_infractions``, x0.7).
"""

from __future__ import annotations

import carla

from .base import FAILED, NOT_BUILT, RUNNING, YIELD_EVENT, Scenario, ScenarioBuildError
from .driving import Footprints, follow_lane

SPEED_INCREMENT = 25.0 / 3.6  # m/s over the hero's speed
NEAR, IDLE = 50.0, 10.0  # metres behind the hero, and seconds there, after which the scenario ends
DRIVE_PAST = 50.0  # metres it drives past the hero before the scenario ends (passed)
KEEP = 8.0  # metres it keeps to whatever is ahead of it


class YieldToEmergencyVehicle(Scenario):
    """An ambulance, fire truck or police car from behind (see the module docstring)."""

    def build(self) -> float:
        self.distance = self.spec.value("distance", 140.0)
        self.ev = None
        self.near_since: float | None = None
        self.passed_at: carla.Location | None = None
        return 1000.0  # the end is the vehicle's doing (update below), not a place on the route

    def make_room(self, background) -> None:
        background.remove_road_lane(self.trigger_waypoint())

    def give_back_room(self, background) -> None:
        background.readd_road_lane(0)

    def spawn_vehicle(self) -> None:
        behind = min(self.distance, self.progress.completed - 5.0)
        if behind < 20.0:
            raise ScenarioBuildError("the route has less than 20 m behind the trigger point for the emergency vehicle")
        lane = self.map.get_waypoint(self.hero.get_location())
        previous = lane.previous(behind)
        if not previous:
            raise ScenarioBuildError("no lane behind the hero for the emergency vehicle")
        transform = previous[0].transform
        self.ev = self.spawn("vehicle.ford.ambulance", carla.Transform(transform.location + carla.Location(z=0.3),
                                                                       transform.rotation))
        self.ev.set_light_state(carla.VehicleLightState(carla.VehicleLightState.Special1 |
                                                        carla.VehicleLightState.Position))

    def tick(self, now: float) -> None:
        if self.ev is None:
            try:
                self.spawn_vehicle()
            except ScenarioBuildError as error:
                self.state, self.reason = NOT_BUILT, str(error)
                self.destroy()
                return
        if not self.ev.is_alive:
            return
        hero_location = self.hero.get_location()
        ev_transform = self.ev.get_transform()
        forward = ev_transform.get_forward_vector()
        d = hero_location - ev_transform.location
        hero_ahead = d.x * forward.x + d.y * forward.y > 0.0
        if not hero_ahead:
            if self.passed_at is None:
                self.passed_at = ev_transform.location
            elif ev_transform.location.distance(self.passed_at) > DRIVE_PAST:
                self.end_index = self.progress.index  # passed: the scenario ends now
                return
        elif hero_location.distance(ev_transform.location) < NEAR:
            self.near_since = now if self.near_since is None else self.near_since
            if now - self.near_since > IDLE:
                self.events.append(YIELD_EVENT)
                self.note("yield_emergency_vehicle")
                self.end_index = self.progress.index
                return
        speed = self.hero.get_velocity().length() + SPEED_INCREMENT
        if Footprints(self.world.get_actors().filter("vehicle.*")).blocked_ahead(self.ev, KEEP, 0.3):
            speed = 0.0
        self.ev.apply_control(follow_lane(self.map, self.ev, speed))

    def finish(self, route_completed: bool = False) -> None:
        if self.state == RUNNING and self.ev is not None and self.passed_at is None:
            self.state, self.reason = FAILED, "the route ended with the emergency vehicle still behind the hero"
        super().finish(route_completed)
