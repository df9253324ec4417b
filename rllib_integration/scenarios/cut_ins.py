"""Vehicles that pull out from the side into the hero's lane just ahead of it, as ScenarioRunner 0.9.16's
``parking_cut_in.py`` and ``cut_in_with_static_vehicle.py`` set them up:

- ``ParkingCutIn``: a car parked on the lane beside the hero's (``direction``, right by default: a parking
  lane, a shoulder or a driving lane), 35 m past the trigger point, behind another parked car 28 m past it; it
  pulls out at 13 m/s when the hero is 2.35 s (or 10 m) from it; the scenario ends 30 m past it;
- ``StaticCutIn``: a queue of standing cars on the lane beside, ``distance`` metres (100 by default) past the
  trigger point, 11 m apart; the third pulls out when the hero is 2.7 s (or 15 m) from it and drives on in the
  hero's lane for 70 m at 60 km/h; the scenario ends there.

ParkingCutIn's car steers from its lane onto the hero's over :data:`MERGE` metres. StaticCutIn's changes lanes as
ScenarioRunner's ``CutIn`` behaviour has CARLA's ``BasicAgent`` do it from a standstill: the lane change's
distances are its own speed (zero) times their times, so its path turns into the hero's lane 2 m ahead of it,
driven at the hero's speed when it pulled out, aiming at the turn's points in turn as the agent's local planner does (each
until it is 3 m + 0.5 s at its speed away, the last one until 1 m away), with at most 0.8 of full steering and 0.75
throttle, stopping (brake 0.5) while a vehicle stands in its way on its lane or the plan's (the parked car ahead of
it, once it is fast enough to look that far: it may stop half in the hero's lane); then it speeds up to 60 km/h
along the lane. Both follow the hero's lane and are removed at the end of their drive.
"""

from __future__ import annotations

import math

import carla

from .base import GENERATION_2_CAR, LIT_CAR, Scenario, ScenarioBuildError, forward
from .driving import Path, drive_path, path_target, speed_control, steer_towards

MERGE = 12.0  # metres along which the cut-in car moves over into the hero's lane
SIDE_LANES = (carla.LaneType.Parking, carla.LaneType.Shoulder, carla.LaneType.Driving)
#: CARLA's LocalPlanner is done with a point of its plan within this many metres (and seconds at its speed), the
#: last one within PLANNER_LAST_REACH,
PLANNER_REACH, PLANNER_REACH_PER_SPEED, PLANNER_LAST_REACH = 3.0, 0.5, 1.0
#: and BasicAgent steers at most MAX_STEER, fully at FULL_LOCK degrees off (K_P 1.95 per radian), with at most
#: MAX_THROTTLE
MAX_STEER, FULL_LOCK, MAX_THROTTLE = 0.8, 29.4, 0.75
#: and stops (brake 0.5) for a vehicle in its way within 5 m + 1 s at its speed
VEHICLE_THRESHOLD, VEHICLE_THRESHOLD_PER_SPEED, EMERGENCY_BRAKE = 5.0, 1.0, 0.5


class CutIn(Scenario):
    """A car on the lane beside pulls out in front of the hero (see the module docstring)."""

    TIMEOUT = 120.0
    CUT_IN_DISTANCE = 35.0
    SPEED = 13.0
    REACTION_TIME, MIN_TRIGGER_DISTANCE = 2.35, 10.0
    DRIVE_ON = 30.0
    #: The cars' attributes (ScenarioRunner's ``attribute_filter``).
    CARS: dict = {**GENERATION_2_CAR, "special_type": ""}
    EXTRA_SPACE = 20.0  # metres more the background leaves ahead of the hero once the car pulls out
    #: The cut-in car's control from the scenario's start until it pulls out (None: held by its brakes).
    READY_CONTROL: carla.VehicleControl | None = None

    def room_ahead(self) -> float:
        """Metres ahead of the hero the background's vehicles are moved beyond when the scenario starts."""
        return self.cut_in_distance() + 10.0

    def make_room(self, background) -> None:
        background.leave_space_in_front(self.room_ahead())

    def pulling_out(self, background) -> None:
        """The car starts to pull out: what the background is asked then."""
        background.change_road_behavior(extra_space=self.EXTRA_SPACE)

    def give_back_room(self, background) -> None:
        background.change_road_behavior(extra_space=0.0)

    def side_lane(self, waypoint: carla.Waypoint) -> carla.Waypoint:
        direction = self.spec.value("direction", "right", str)
        if direction not in ("right", "left"):
            raise ScenarioBuildError(f"direction {direction!r}: 'right' or 'left'")
        side = waypoint.get_right_lane() if direction == "right" else waypoint.get_left_lane()
        if side is None or side.lane_type not in SIDE_LANES or \
                (side.lane_type == carla.LaneType.Driving and side.lane_id * waypoint.lane_id <= 0):
            raise ScenarioBuildError(f"no parking, shoulder or same-direction lane on the {direction} to cut in from")
        return side

    def parked(self, waypoint: carla.Waypoint, role: str = "scenario", hand_brake: bool = True) -> carla.Actor:
        """A car on the side lane by ``waypoint``: parked with its hand brake on as ScenarioRunner's (it can be pushed
        along), or, ``hand_brake`` False, held by its brakes (the cut-in car, ready to go)."""
        side = self.side_lane(waypoint)
        transform = side.transform
        vehicle = self.spawn("vehicle.*", carla.Transform(transform.location + carla.Location(z=0.3),
                                                          transform.rotation), role=role, attributes=self.CARS)
        vehicle.apply_control(carla.VehicleControl(hand_brake=True) if hand_brake else carla.VehicleControl(brake=1.0))
        return vehicle

    def place_others(self, start: carla.Waypoint) -> None:
        """The cars around the cut-in car (ParkingCutIn: one parked behind it)."""
        self.parked(forward(start, 28.0), role="scenario no lights")

    def build(self) -> float:
        start = self.trigger_waypoint()
        self.place_others(start)
        lane = forward(start, self.cut_in_distance())
        self.adversary = self.parked(lane, hand_brake=False)
        self.meeting = lane.transform.location
        self.path = Path(self.cut_in_path(lane))
        self.moving, self.hero_speed_at_start, self.readied = False, 0.0, False
        index = self.progress.nearest_index(self.meeting)
        return max(0.0, self.progress.distance_between(self.trigger_index, index)) + self.DRIVE_ON

    def cut_in_distance(self) -> float:
        return self.CUT_IN_DISTANCE

    def cut_in_path(self, lane: carla.Waypoint) -> list[carla.Location]:
        """The cut-in car's path from beside ``lane`` (the hero's lane where it cuts in) onto it and along it."""
        side = self.side_lane(lane).transform.location
        points = []
        for step in range(int(MERGE + self.DRIVE_ON)):
            point = forward(lane, float(step), stop_at_junction=False).transform.location
            share = max(0.0, 1.0 - step / MERGE)  # of the way back towards the side lane
            points.append(carla.Location(point.x + share * (side.x - lane.transform.location.x),
                                         point.y + share * (side.y - lane.transform.location.y), point.z))
        return points

    def control(self) -> carla.VehicleControl:
        """The cut-in car's control this tick, once it moves."""
        return drive_path(self.adversary, self.path, self.SPEED)

    def tick(self, now: float) -> None:
        if not self.adversary.is_alive:
            return
        if not self.moving:
            if not self.readied and self.READY_CONTROL is not None:
                self.adversary.apply_control(self.READY_CONTROL)
                self.readied = True
            distance = self.hero.get_location().distance(self.meeting)
            speed = self.hero.get_velocity().length()
            self.moving = distance < self.MIN_TRIGGER_DISTANCE or (speed > 0.1 and distance / speed < self.REACTION_TIME)
            if not self.moving:
                return
            if self.background is not None:
                self.pulling_out(self.background)
            self.hero_speed_at_start = speed
        if self.adversary.get_location().distance(self.path[-1]) < 3.0:
            self.adversary.destroy()  # (ScenarioRunner removes it there)
            return
        self.adversary.apply_control(self.control())


class ParkingCutIn(CutIn):
    """A parked car pulls out of the parking lane (see the module docstring)."""


class StaticCutIn(CutIn):
    """A car of a standing queue on the lane beside pulls out (see the module docstring)."""

    SPEED = 60.0 / 3.6
    REACTION_TIME, MIN_TRIGGER_DISTANCE = 2.7, 15.0
    DRIVE_ON = 70.0
    CARS = LIT_CAR
    # ScenarioRunner holds it with full throttle and full brake once the scenario starts (it sets the cars in
    # place then): where the brakes do not quite hold that throttle, it creeps towards the car ahead meanwhile
    READY_CONTROL = carla.VehicleControl(throttle=1.0, brake=1.0)
    GAP, BEHIND, AHEAD = 11.0, 2, 3  # metres between the queue's cars, cars behind and ahead of the cut-in car
    EXTRA_SPACE = 30.0

    def cut_in_distance(self) -> float:
        return self.spec.value("distance", 100.0) + self.BEHIND * self.GAP

    def room_ahead(self) -> float:
        return self.spec.value("distance", 100.0) + self.GAP * (self.BEHIND + self.AHEAD + 1)

    def pulling_out(self, background) -> None:
        super().pulling_out(background)
        background.remove_road_lane(self.side_lane(self.map.get_waypoint(self.meeting)))

    def give_back_room(self, background) -> None:
        super().give_back_room(background)
        background.readd_road_lane(1 if self.spec.value("direction", "right", str) == "right" else -1)

    def cut_in_path(self, lane: carla.Waypoint) -> list[carla.Location]:
        # BasicAgent.lane_change at zero speed: 2 m on its lane, then the hero's lane 0.1 m on and 2 m further
        side = self.side_lane(lane)
        self.turn = [forward(side, 2.0, stop_at_junction=False).transform.location,  # its lane change, still ahead
                     forward(lane, 2.1, stop_at_junction=False).transform.location,
                     forward(lane, 4.1, stop_at_junction=False).transform.location]
        return [forward(lane, float(step), stop_at_junction=False).transform.location
                for step in range(5, int(self.DRIVE_ON) + 1)]

    def control(self) -> carla.VehicleControl:
        speed = self.adversary.get_velocity().length()
        location = self.adversary.get_location()
        reach = PLANNER_REACH + PLANNER_REACH_PER_SPEED * speed
        while self.turn and location.distance(self.turn[0]) < (reach if len(self.turn) > 1 else PLANNER_LAST_REACH):
            self.turn.pop(0)  # the local planner's queue: a point is done once within reach, the last one within 1 m
        if self.turn:  # the lane change, at the hero's speed when it began
            target, target_speed = self.turn[0], self.hero_speed_at_start
        else:  # then along the hero's lane at the scenario's speed
            target, target_speed = path_target(self.adversary, self.path, reach), self.SPEED
        steer = max(-MAX_STEER, min(MAX_STEER, steer_towards(self.adversary, target, FULL_LOCK)))
        if self.vehicle_ahead(speed, target):  # BasicAgent's emergency stop, its steering kept
            return carla.VehicleControl(throttle=0.0, brake=EMERGENCY_BRAKE, steer=steer)
        control = speed_control(self.adversary, target_speed, steer)
        control.throttle = min(control.throttle, MAX_THROTTLE)
        return control

    def vehicle_ahead(self, speed: float, target: carla.Location) -> bool:
        """BasicAgent's check for a vehicle in its way (its simple, lane-based one): one on its own lane or the lane
        of the plan's point ahead whose centre and rear are within 5 m + 1 s at its speed of its front, the rear
        ahead (the agent measures the centre's distance from its front too: its front's location aliases its own)."""
        transform = self.adversary.get_transform()
        reach = VEHICLE_THRESHOLD + VEHICLE_THRESHOLD_PER_SPEED * speed
        lanes = {(w.road_id, w.lane_id) for w in (self.map.get_waypoint(transform.location), self.map.get_waypoint(target))
                 if w is not None}
        forward = transform.get_forward_vector()
        front = transform.location + forward * self.adversary.bounding_box.extent.x
        for vehicle in self.world.get_actors().filter("vehicle.*"):
            other = vehicle.get_transform()
            if vehicle.id == self.adversary.id or other.location.distance(front) > reach:
                continue
            lane = self.map.get_waypoint(other.location, lane_type=carla.LaneType.Any)
            if lane is None or (lane.road_id, lane.lane_id) not in lanes:
                continue
            rear = other.location - other.get_forward_vector() * vehicle.bounding_box.extent.x
            dx, dy = rear.x - front.x, rear.y - front.y
            distance = math.hypot(dx, dy)
            if distance < 0.001 or (distance <= reach and 0.0 < dx * forward.x + dy * forward.y < distance):
                return True
        return False

    def place_others(self, start: carla.Waypoint) -> None:
        first = self.spec.value("distance", 100.0)
        for k in list(range(self.BEHIND)) + [self.BEHIND + 1 + k for k in range(self.AHEAD)]:
            self.parked(forward(start, first + k * self.GAP, stop_at_junction=False))
