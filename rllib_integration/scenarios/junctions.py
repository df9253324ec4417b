"""Scenarios at the first junction of the route past the trigger point, placed as ScenarioRunner 0.9.16 places
them (``opposite_vehicle_taking_priority.py``, ``pedestrian_crossing.py``, ``blocked_intersection.py``):

- ``OppositeVehicleRunningRedLight`` / ``OppositeVehicleTakingPriority``: an emergency vehicle waits
  30 m before the junction on the lane entering it from ``direction`` (``right`` by default) and, when the
  hero is 2.2 s (or 12 m) from where their paths cross, drives straight through at 60 km/h ignoring
  everything, and is removed 10 m past the junction; at a signalized junction the hero's light is held green
  and the others red meanwhile;
- ``PedestrianCrossing``: three walkers wait on the far side of the junction beside the hero's exit lane and
  cross it when the hero is 15 m from the junction;
- ``BlockedIntersection``: a car stands on the hero's exit lane just past the junction; it is removed 10 s after the
  hero came within 13 m of it (the hero must not go round it);
- ``PriorityAtJunction``: the hero's light held green and the others red until it is through;
- ``VehicleTurningRoute`` / ``VehicleTurningRoutePedestrian``: a cyclist (a walker) crosses the hero's exit
  lane from the right just past the junction the hero turns at.
"""

from __future__ import annotations

import math
from typing import Any

import carla

from .base import LIT_CAR, Scenario, ScenarioBuildError, beside, forward
from .driving import Path, drive_path, yaw_difference

SOURCE_DISTANCE, SINK_DISTANCE = 30.0, 10.0  # metres before the junction the adversary waits, past it removed
ADVERSARY_SPEED = 60.0 / 3.6  # m/s
SYNC_TIME, MIN_TRIGGER_DISTANCE = 2.2, 12.0  # the adversary starts when the hero is this close to the crossing
END_PAST_JUNCTION = 20.0  # route metres past the junction's exit the scenario ends
WALKERS, WALKER_SPEED, WALKER_TRIGGER = 3, 1.5, 15.0  # walkers, m/s, metres from the junction
BLOCKER_WAIT, BLOCKER_NEAR = 10.0, 13.0  # BlockedIntersection's car goes this long after the hero is this near


class JunctionScenario(Scenario):
    """Finds the route's first junction past the trigger point: its route indices and the junction."""

    def find_junction(self) -> None:
        self.entry_index, self.exit_index = self.route_junction()
        route = self.progress.route
        self.junction = next(route[k][0] for k in range(self.entry_index, self.exit_index + 1)
                             if route[k][0].is_junction).get_junction()
        if self.junction is None:
            raise ScenarioBuildError("the route's junction waypoint has no junction")

    def entries(self) -> list[carla.Waypoint]:
        """The junction's entry lanes: the lane point just before it, one per lane."""
        seen, found = set(), []
        for entry, _ in self.junction.get_waypoints(carla.LaneType.Driving):
            for _ in range(100):
                previous = entry.previous(0.5)
                if not previous or not entry.is_junction:
                    break
                entry = previous[0]
            key = (entry.road_id, entry.lane_id)
            if not entry.is_junction and key not in seen:
                seen.add(key)
                found.append(entry)
        return found

    def junction_lights(self, fix: str) -> list:
        """The junction's traffic lights; ``fix`` is said where it has none."""
        lights = list(self.world.get_traffic_lights_in_junction(self.junction.id))
        if not lights:
            raise ScenarioBuildError(f"the junction has no traffic lights ({fix})")
        return lights

    @staticmethod
    def light_of(lights: list, entry: carla.Waypoint) -> Any:
        """The light whose stop line is nearest the lane point ``entry``."""
        return min(lights, key=lambda light: min(
            (w.transform.location.distance(entry.transform.location) for w in light.get_stop_waypoints()),
            default=math.inf))

    def hold(self, states: dict) -> None:
        """Set and freeze each light of ``states`` (light -> state) until the scenario's actors are removed."""
        self.held = dict(states)
        for light, state in states.items():
            light.set_state(state)
            light.freeze(True)

    def destroy(self) -> None:
        for light in getattr(self, "held", {}):
            if light.is_alive:
                light.freeze(False)
        self.held = {}
        super().destroy()

    def entry_from(self, direction: str, ego_entry: carla.Waypoint) -> carla.Waypoint:
        """The lane entering the junction from ``direction`` (``right``, ``left``, ``opposite``) of the hero
        entering at ``ego_entry``, nearest it; as ScenarioRunner tells them by heading (left-handed yaw: a lane
        from the hero's right heads 90 degrees anticlockwise of it)."""
        wanted = {"right": -90.0, "left": 90.0, "opposite": 180.0}.get(direction)
        if wanted is None:
            raise ScenarioBuildError(f"direction {direction!r}: right, left or opposite")
        candidates = [e for e in self.entries()
                      if abs(yaw_difference(e.transform.rotation.yaw - ego_entry.transform.rotation.yaw, wanted)) < 45.0]
        if not candidates:
            raise ScenarioBuildError(f"no lane enters the junction from the {direction}")
        return min(candidates, key=lambda e: e.transform.location.distance(ego_entry.transform.location))

    def end_metres(self) -> float:
        return self.progress.distance_between(self.trigger_index, self.exit_index) + END_PAST_JUNCTION


class OppositeVehicleTakingPriority(JunctionScenario):
    """A vehicle from ``direction`` crosses the junction in front of the hero (no lights)."""

    SIGNALIZED = False

    def build(self) -> float:
        self.find_junction()
        direction = self.spec.value("direction", "right", str)
        ego_entry = self.progress.route[self.entry_index][0]
        entry = self.entry_from(direction, ego_entry)
        source = entry
        for _ in range(int(SOURCE_DISTANCE)):
            previous = source.previous(1.0)
            if not previous or previous[0].is_junction:
                break
            source = previous[0]
        self.path = straight_through(entry, SINK_DISTANCE)
        self.path_points = Path([w.transform.location for w in self.path])
        self.crossing = crossing_point(self.progress, self.entry_index, self.exit_index, self.path)
        transform = source.transform
        self.adversary = self.spawn("vehicle.dodge.charger_police_2020", carla.Transform(transform.location + carla.Location(z=0.3),
                                                                 transform.rotation), role="scenario")
        self.source, self.sink = source, self.path[-1]
        self.adversary.apply_control(carla.VehicleControl(brake=1.0))
        self.started_driving = False
        self.priority = {}
        if self.SIGNALIZED:
            lights = self.junction_lights("use OppositeVehicleTakingPriority")
            ego_light = self.light_of(lights, ego_entry)
            self.priority = {light: carla.TrafficLightState.Green if light.id == ego_light.id else
                             carla.TrafficLightState.Red for light in lights}
        return self.end_metres()

    def make_room(self, background) -> None:
        background.handle_junction_scenario(clear_junction=True, clear_entry=True, remove_entries=[self.source],
                                            remove_exits=[self.sink], stop_entries=not self.SIGNALIZED)

    def tick(self, now: float) -> None:
        if self.priority:
            self.hold(self.priority)
        if not self.adversary.is_alive:
            return
        if not self.started_driving:
            location = self.hero.get_location()
            distance = location.distance(self.crossing)
            speed = self.hero.get_velocity().length()
            if distance < MIN_TRIGGER_DISTANCE or (speed > 0.1 and distance / speed < SYNC_TIME):
                self.started_driving = True
                self.adversary.apply_control(carla.VehicleControl())
                self.adversary.enable_constant_velocity(carla.Vector3D(ADVERSARY_SPEED, 0.0, 0.0))
            return
        location = self.adversary.get_location()
        if location.distance(self.path[-1].transform.location) < 3.0:
            self.adversary.destroy()
            return
        control = drive_path(self.adversary, self.path_points, ADVERSARY_SPEED)
        self.adversary.apply_control(carla.VehicleControl(steer=control.steer))  # (its speed is held constant)


class OppositeVehicleRunningRedLight(OppositeVehicleTakingPriority):
    """The same at a signalized junction: the crossing vehicle runs its red light."""

    SIGNALIZED = True


class PedestrianCrossing(JunctionScenario):
    """Walkers cross the hero's exit lane from the far side of the junction."""

    def build(self) -> float:
        self.find_junction()
        exit_lane = self.progress.route[self.exit_index][0]
        side = exit_lane
        for _ in range(10):  # to the road's left edge (the far side for a hero that turns right or goes on)
            left = side.get_left_lane()
            if left is None or left.lane_type not in (carla.LaneType.Driving, carla.LaneType.Parking):
                break
            side = left
        across = exit_lane.transform.location.distance(side.transform.location) + side.lane_width / 2.0 + 1.5
        self.walkers = []
        for k in range(WALKERS):
            place = forward(exit_lane, 1.5 + 1.2 * k, stop_at_junction=False)
            self.walkers.append(self.spawn("walker.pedestrian.*", beside(place, -across, z=1.0, yaw=90.0)))
        yaw = math.radians(exit_lane.transform.rotation.yaw + 90.0)
        self.direction = carla.Vector3D(math.cos(yaw), math.sin(yaw), 0.0)
        self.walk = 2.0 * across + 3.0
        self.walking_from: list | None = None
        return self.end_metres()

    def make_room(self, background) -> None:
        background.handle_junction_scenario(clear_entry=True)

    def tick(self, now: float) -> None:
        if self.walking_from is None:
            if self.progress.distance_between(self.progress.index, self.entry_index) < WALKER_TRIGGER:
                self.walking_from = [w.get_location() for w in self.walkers]
                for walker in self.walkers:
                    walker.apply_control(carla.WalkerControl(self.direction, WALKER_SPEED))
            return
        for walker, start in zip(self.walkers, self.walking_from):
            if walker.is_alive and walker.get_location().distance(start) > self.walk:
                walker.apply_control(carla.WalkerControl(self.direction, 0.0))


class BlockedIntersection(JunctionScenario):
    """A car stands just past the junction on the hero's exit lane; :data:`BLOCKER_WAIT` s after the hero came within
    :data:`BLOCKER_NEAR` m of it, it is removed (``blocked_intersection.py``; the hero must not go round it)."""

    def build(self) -> float:
        self.find_junction()
        place = forward(self.progress.route[self.exit_index][0], 6.0, stop_at_junction=False)
        transform = place.transform
        self.blocker = self.spawn("vehicle.*", carla.Transform(transform.location + carla.Location(z=0.3),
                                                               transform.rotation),
                                  attributes={**LIT_CAR, "special_type": ""})
        self.blocker.apply_control(carla.VehicleControl(brake=1.0))  # (no hand brake: not an obstacle to pass)
        self.near_since: float | None = None
        return self.end_metres()

    def make_room(self, background) -> None:
        background.handle_junction_scenario(clear_junction=True, clear_entry=True, stop_entries=True)

    def tick(self, now: float) -> None:
        if not self.blocker.is_alive:
            return
        if self.near_since is None and \
                self.hero.get_location().distance(self.blocker.get_location()) < BLOCKER_NEAR:
            self.near_since = now
        if self.near_since is not None and now - self.near_since >= BLOCKER_WAIT:
            self.blocker.destroy()  # (ScenarioRunner removes it)


class VehicleTurningRoutePedestrian(JunctionScenario):
    """A walker crosses the hero's exit lane just past the junction from the right kerb (``object_crash_intersection.py``:
    1.8 m/s, when the hero is 2.2 s or 6 m from the crossing; the scenario ends 40 m past it)."""

    BLUEPRINT, SPEED, REACTION_TIME, SIDE_OFFSET = "walker.pedestrian.*", 1.8, 2.2, 1.5

    def build(self) -> float:
        self.find_junction()
        exit_lane = forward(self.progress.route[self.exit_index][0], 0.5, stop_at_junction=False)
        self.crossing = exit_lane.transform.location
        edge = exit_lane
        for _ in range(10):  # the outermost lane on the right
            right = edge.get_right_lane()
            if right is None or right.lane_type not in (carla.LaneType.Driving, carla.LaneType.Parking) or \
                    right.lane_id * exit_lane.lane_id <= 0:
                break
            edge = right
        across = exit_lane.transform.location.distance(edge.transform.location) + edge.lane_width / 2.0
        start = beside(exit_lane, across + self.SIDE_OFFSET, z=1.0 if self.BLUEPRINT.startswith("walker") else 0.3,
                       yaw=-90.0)
        self.adversary = self.spawn(self.BLUEPRINT, start)
        yaw = math.radians(start.rotation.yaw)
        self.direction = carla.Vector3D(math.cos(yaw), math.sin(yaw), 0.0)
        self.travel = 2.0 * (across + self.SIDE_OFFSET) + exit_lane.lane_width
        self.moving_from: carla.Location | None = None
        index = self.progress.nearest_index(self.crossing)
        return max(0.0, self.progress.distance_between(self.trigger_index, index)) + 40.0

    def tick(self, now: float) -> None:
        if not self.adversary.is_alive:
            return
        if self.moving_from is None:
            distance = self.hero.get_location().distance(self.crossing)
            speed = self.hero.get_velocity().length()
            if distance < 6.0 or (speed > 0.1 and distance / speed < self.REACTION_TIME):
                self.moving_from = self.adversary.get_location()
                self.start_moving()
                if self.background is not None:
                    self.background.leave_crossing_space(self.map.get_waypoint(self.crossing))
            return
        if self.adversary.get_location().distance(self.moving_from) > self.travel:
            self.adversary.destroy()  # across: ScenarioRunner removes it

    def start_moving(self) -> None:
        self.adversary.apply_control(carla.WalkerControl(self.direction, self.SPEED))


class VehicleTurningRoute(VehicleTurningRoutePedestrian):
    """A cyclist crosses the hero's exit lane just past the junction from the right (at 4 m/s, when the hero is 1.8 s
    or 6 m from the crossing). It waits 1 m past the lane's edge, its front clear of the lane: 0.5 m left its front
    in the lane, and background cars coming into the exit lane stopped for it there, and the hero behind them, for
    ever (3 of 16 seeds; 1 m: 1; 1.5 m, nearer ScenarioRunner's sidewalk spot, has it reach the lane as the hero
    crosses: 12 collisions)."""

    BLUEPRINT, SPEED, REACTION_TIME, SIDE_OFFSET = "vehicle.bh.crossbike", 4.0, 1.8, 1.0

    def start_moving(self) -> None:
        self.adversary.enable_constant_velocity(carla.Vector3D(self.SPEED, 0.0, 0.0))


class PriorityAtJunction(JunctionScenario):
    """The hero's light at the next junction held green and the others red until it is through
    (``green_traffic_light.py``)."""

    def build(self) -> float:
        self.find_junction()
        lights = self.junction_lights("PriorityAtJunction needs a signalized junction")
        ego_light = self.light_of(lights, self.progress.route[self.entry_index][0])
        self.priority = {light: carla.TrafficLightState.Green if light.id == ego_light.id else
                         carla.TrafficLightState.Red for light in lights}
        return self.progress.distance_between(self.trigger_index, self.exit_index)

    def tick(self, now: float) -> None:
        self.hold(self.priority)


def straight_through(entry: carla.Waypoint, past: float) -> list[carla.Waypoint]:
    """Points every metre from ``entry`` straight across its junction (the successor keeping the heading) and
    ``past`` metres beyond."""
    path, waypoint, beyond = [entry], entry, 0.0
    for _ in range(300):
        following = waypoint.next(1.0)
        if not following:
            break
        heading = entry.transform.rotation.yaw
        waypoint = min(following, key=lambda w: abs(yaw_difference(w.transform.rotation.yaw, heading)))
        path.append(waypoint)
        if not waypoint.is_junction and len(path) > 3:
            beyond += 1.0
            if beyond >= past:
                break
    return path


def crossing_point(progress, start: int, end: int, path: list[carla.Waypoint]) -> carla.Location:
    """Where the route between points ``start`` and ``end`` comes nearest ``path``."""
    best, where = math.inf, progress.route[start][0].transform.location
    for k in range(start, end + 1):
        a = progress.route[k][0].transform.location
        for waypoint in path:
            d = a.distance(waypoint.transform.location)
            if d < best:
                best, where = d, a
    return where
