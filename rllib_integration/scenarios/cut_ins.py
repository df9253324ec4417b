"""Vehicles that pull out from the side into the hero's lane just ahead of it, as ScenarioRunner 0.9.16's
``parking_cut_in.py`` and ``cut_in_with_static_vehicle.py`` set them up:

- ``ParkingCutIn``: a car parked on the lane beside the hero's (``direction``, right by default: a parking
  lane, a shoulder or a driving lane), 35 m past the trigger point, behind another parked car 28 m past it; it
  pulls out at 13 m/s when the hero is 2.35 s (or 10 m) from it; the scenario ends 30 m past it;
- ``StaticCutIn``: a queue of standing cars on the lane beside, ``distance`` metres (100 by default) past the
  trigger point, 11 m apart; the third pulls out at 60 km/h when the hero is 2.7 s (or 15 m) from it and drives on
  in the hero's lane for 70 m; the scenario ends there.

The cut-in car steers from its lane onto the hero's over :data:`MERGE` metres, follows the hero's lane and is
removed at the end of its drive.
"""

from __future__ import annotations

import carla

from .base import GENERATION_2_CAR, LIT_CAR, Scenario, ScenarioBuildError, forward
from .driving import Path, drive_path

MERGE = 12.0  # metres along which the cut-in car moves over into the hero's lane
SIDE_LANES = (carla.LaneType.Parking, carla.LaneType.Shoulder, carla.LaneType.Driving)


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
        side = self.side_lane(waypoint)
        transform = side.transform
        vehicle = self.spawn("vehicle.*", carla.Transform(transform.location + carla.Location(z=0.3),
                                                          transform.rotation), role=role, attributes=self.CARS)
        vehicle.apply_control(carla.VehicleControl(hand_brake=hand_brake, brake=1.0))
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
        side = self.side_lane(lane).transform.location
        points = []
        for step in range(int(MERGE + self.DRIVE_ON)):
            point = forward(lane, float(step), stop_at_junction=False).transform.location
            share = max(0.0, 1.0 - step / MERGE)  # of the way back towards the side lane
            points.append(carla.Location(point.x + share * (side.x - lane.transform.location.x),
                                            point.y + share * (side.y - lane.transform.location.y), point.z))
        self.path = Path(points)
        self.moving = False
        index = self.progress.nearest_index(self.meeting)
        return max(0.0, self.progress.distance_between(self.trigger_index, index)) + self.DRIVE_ON

    def cut_in_distance(self) -> float:
        return self.CUT_IN_DISTANCE

    def tick(self, now: float) -> None:
        if not self.adversary.is_alive:
            return
        if not self.moving:
            distance = self.hero.get_location().distance(self.meeting)
            speed = self.hero.get_velocity().length()
            self.moving = distance < self.MIN_TRIGGER_DISTANCE or (speed > 0.1 and distance / speed < self.REACTION_TIME)
            if not self.moving:
                return
            if self.background is not None:
                self.pulling_out(self.background)
        if self.adversary.get_location().distance(self.path[-1]) < 3.0:
            self.adversary.destroy()  # (ScenarioRunner removes it there)
            return
        self.adversary.apply_control(drive_path(self.adversary, self.path, self.SPEED))


class ParkingCutIn(CutIn):
    """A parked car pulls out of the parking lane (see the module docstring)."""


class StaticCutIn(CutIn):
    """A car of a standing queue on the lane beside pulls out (see the module docstring)."""

    SPEED = 60.0 / 3.6
    REACTION_TIME, MIN_TRIGGER_DISTANCE = 2.7, 15.0
    DRIVE_ON = 70.0
    CARS = LIT_CAR
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

    def place_others(self, start: carla.Waypoint) -> None:
        first = self.spec.value("distance", 100.0)
        for k in list(range(self.BEHIND)) + [self.BEHIND + 1 + k for k in range(self.AHEAD)]:
            self.parked(forward(start, first + k * self.GAP, stop_at_junction=False))
