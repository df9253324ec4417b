"""The hero starts parked and must pull out into traffic: Leaderboard 2.0's ``ParkingExit``, as ScenarioRunner
0.9.16's ``parking_exit.py`` sets it up.

It is a route's first scenario, its trigger point the route's start, and is built before the route's first tick
(before the background activity places its first cars, as on the leaderboard). The hero is moved
onto the lane beside its start (``direction``, right by default: a parking lane or a shoulder), at that lane's
outer side (clear of the driving lane, where the lane is a narrow shoulder), between two parked cars,
``front_vehicle_distance`` metres (20) ahead and ``behind_vehicle_distance`` metres (10) behind; a car on the hero's
lane beside it drives off as the scenario starts: as ScenarioRunner does, it is handed to the traffic manager of the
route's background activity (which yields to a hero pulling out in front of it) and removed 50 m on; without a
background activity it drives along its lane at 8 m/s. Leaving the route's lanes is not counted while the scenario
runs; it ends when the hero has driven ``front_vehicle_distance`` + 15 metres and times out after 240 s.
"""

from __future__ import annotations

import carla

from .base import GENERATION_2_CAR, Scenario, ScenarioBuildError, beside
from .driving import follow_lane

SIDE_CAR_SPEED = 8.0  # m/s the car beside the hero drives off at
SIDE_CAR_DRIVE = 50.0  # metres it drives before it is removed
KERB_CLEARANCE = 0.3  # metres between a parked car's side and the driving lane's edge at least


class ParkingExit(Scenario):
    """The hero pulls out of a parking place between two parked cars (see the module docstring)."""

    TIMEOUT = 240.0
    OUTSIDE_LANES_ALLOWED = True
    BUILT_BEFORE_START = True  # (else the background's first cars may stand where its parked cars go)

    def build(self) -> float:
        direction = self.spec.value("direction", "right", str)
        if direction not in ("right", "left"):
            raise ScenarioBuildError(f"direction {direction!r}: 'right' or 'left'")
        self.sign = 1.0 if direction == "right" else -1.0
        reference = self.trigger_waypoint()
        parking = reference.get_right_lane() if direction == "right" else reference.get_left_lane()
        if parking is None:
            raise ScenarioBuildError(f"no lane on the {direction} of the route's start to park on")
        front_distance = self.spec.value("front_vehicle_distance", 20.0)
        ahead = parking.next(front_distance)
        behind = parking.previous(self.spec.value("behind_vehicle_distance", 10.0))
        if not ahead or not behind:
            raise ScenarioBuildError("the parking lane has no room for the cars in front and behind")
        # the hero first: the car beside it takes the place it started at
        self.hero.set_transform(self.parked_transform(parking, self.hero, z=0.1))
        self.hero.set_target_velocity(carla.Vector3D())
        for place in (ahead[0], behind[0]):
            car = self.spawn("vehicle.*", self.parked_transform(place, None), role="scenario no lights",
                             attributes=GENERATION_2_CAR)
            car.apply_control(carla.VehicleControl(hand_brake=True))
        self.side_car = self.spawn("vehicle.*", carla.Transform(reference.transform.location + carla.Location(z=0.3),
                                                                reference.transform.rotation),
                                   attributes=GENERATION_2_CAR)
        self.side_start = reference.transform.location
        self.handed_over = False
        return front_distance + 15.0

    def parked_transform(self, waypoint: carla.Waypoint, actor: carla.Actor | None, z: float = 0.3
                         ) -> carla.Transform:
        """On ``waypoint``'s (parking) lane, towards its outer side as ScenarioRunner displaces parked cars (a quarter
        of the lane's width less the car's half width, 1.0 m where the car is yet to be spawned), and at least
        :data:`KERB_CLEARANCE` clear of the driving lane beside: on a narrow shoulder (CARLA's Town01 and Town02 have
        0.3 m ones) the car stands partly on the sidewalk, not in the traffic's lane."""
        half_width = actor.bounding_box.extent.y if actor is not None else 1.0
        driving = waypoint.get_left_lane() if self.sign > 0 else waypoint.get_right_lane()
        driving_half = driving.lane_width / 2.0 if driving is not None else 0.0
        clear = driving_half + half_width + KERB_CLEARANCE - (driving_half + waypoint.lane_width / 2.0)
        return beside(waypoint, self.sign * max((waypoint.lane_width - half_width) / 4.0, clear), z=z)

    def make_room(self, background) -> None:
        background.change_road_behavior(spacing=self.spec.value("flow_distance", 25.0))

    def give_back_room(self, background) -> None:
        background.change_road_behavior(spacing=15.0)

    def tick(self, now: float) -> None:
        if not self.side_car.is_alive:
            return
        driven = self.background is not None  # by the traffic manager, as ScenarioRunner drives it
        if self.side_car.get_location().distance(self.side_start) > SIDE_CAR_DRIVE:
            if driven:
                self.background.autopilot(self.side_car, False)
            self.side_car.destroy()
            return
        if not driven:  # (no traffic manager of the route's: along its lane, heedless)
            self.side_car.apply_control(follow_lane(self.map, self.side_car, SIDE_CAR_SPEED))
        elif not self.handed_over:
            self.background.autopilot(self.side_car)
            self.handed_over = True
