"""Obstacles that block the hero's lane and must be driven around (Leaderboard 2.0's route obstacles):
``Accident``, ``ParkedObstacle``, ``ConstructionObstacle`` and ``HazardAtSideLane`` (slow cyclists), and their
``TwoWays`` variants where the
lane beside is the opposite direction's (driving against it is then not counted outside the route's lanes
while the scenario runs, as ScenarioRunner switches its wrong-direction test off). As ScenarioRunner's ``route_obstacles.py`` and
``construction_crash_vehicle.py`` place them (``VehicleOpensDoorTwoWays``, a parked car that opens its door
into the hero's lane, as ``vehicle_opens_door.py``: see the class): ``distance`` metres (a route parameter) past the trigger
point along the hero's lane (stopping before a junction), displaced towards ``direction``
(``right``/``left``), with a warning sign at the road's edge at the trigger point; the scenario ends 50 m past the last one and times out
after 180 s (240 s for an accident) as ScenarioRunner's ``ScenarioTimeout`` does. Five seconds after the hero
comes within 50 m of them, ScenarioRunner's oncoming flow comes down the other lane of ``TwoWays``
(:class:`~.flows.OppositeFlow`), and the route's background activity (where it runs) is capped at the route's
``speed`` beside the one-way obstacles.
"""

from __future__ import annotations

import carla

from .base import GENERATION_2_CAR, Scenario, ScenarioBuildError, beside, forward, outermost
from .driving import speed_control, steer_towards
from .flows import OppositeFlow

END_DISTANCE = 50.0  # metres past the last obstacle the scenario ends
NEAR, SETTLE = 50.0, 5.0  # the background's speed cap comes this many seconds after the hero is this near (m)


class LaneObstacle(Scenario):
    """Common placement: a warning sign at the trigger point, the obstacles ``distance`` metres on."""

    TIMEOUT = 180.0
    DEFAULT_DISTANCE = 120.0
    OFFSET = 0.6  # share of half the lane width the obstacles stand towards ``direction``
    WARNING_SIGN = True

    def direction_sign(self) -> float:
        direction = self.spec.value("direction", "right", str)
        if direction not in ("right", "left"):
            raise ScenarioBuildError(f"direction {direction!r}: 'right' or 'left'")
        return 1.0 if direction == "right" else -1.0

    #: Metres past the first obstacle ScenarioRunner's scenario has the background leave free of its vehicles
    #: (``LeaveSpaceInFront``), None where it takes the hero's lane out of the background instead.
    ROOM_PAST_FIRST: float | None = 20.0
    #: Whether the background's vehicles are capped at the route's ``speed`` (60 km/h) once the hero is near.
    SPEED_CAP = True

    def build(self) -> float:
        start = self.trigger_waypoint()
        sign = self.direction_sign()
        if self.WARNING_SIGN:
            self.warning_sign(start, sign)
        self.distance = self.spec.value("distance", self.DEFAULT_DISTANCE)
        first = forward(start, self.distance)
        self.first_location, self.first_waypoint, self.near_since = first.transform.location, first, None
        last = self.place(first, sign)
        return self.progress_metres(last) + END_DISTANCE

    def make_room(self, background) -> None:
        if self.ROOM_PAST_FIRST is None:
            background.remove_road_lane(self.trigger_waypoint())
        else:
            background.leave_space_in_front(self.distance + self.ROOM_PAST_FIRST)

    def tick(self, now: float) -> None:
        """:data:`SETTLE` s after the hero came within :data:`NEAR` m of the first obstacle, ScenarioRunner caps the
        background's speed (one-way obstacles) or sends its oncoming flow (``TwoWays``: see :class:`OppositeFlow`)."""
        if self.near_since is None and self.hero.get_location().distance(self.first_location) <= NEAR:
            self.near_since = now
        if self.near_since is not None and self.near_since >= 0.0 and now - self.near_since >= SETTLE:
            self.near_since = -1.0
            self.settled()
        if self.oncoming is not None:
            self.oncoming.tick()

    oncoming: OppositeFlow | None = None

    def settled(self) -> None:
        if self.background is not None and self.SPEED_CAP:
            self.background.set_max_speed(self.spec.value("speed", 60.0))

    def give_back_room(self, background) -> None:
        if self.SPEED_CAP:
            background.set_max_speed(0.0)
        if self.ROOM_PAST_FIRST is None:
            background.readd_road_lane(0)

    def warning_sign(self, start: carla.Waypoint, sign: float) -> None:
        """ScenarioRunner's warning sign: at the trigger point, past the road's edge on the ``direction`` side
        (the lane beyond the outermost driving or parking lane, 0.3 of that lane's width further out)."""
        edge = outermost(start, right=sign > 0)
        past = edge.get_right_lane() if sign > 0 else edge.get_left_lane()
        reference = past if past is not None else edge
        offset = 0.3 * edge.lane_width + (0.0 if past is not None else edge.lane_width / 2.0)
        self.spawn("static.prop.warningaccident", beside(reference, sign * offset, yaw=90.0), physics=False)

    def place(self, waypoint: carla.Waypoint, sign: float) -> carla.Waypoint:
        """Spawn the obstacles from ``waypoint`` on; the waypoint of the last."""
        raise NotImplementedError

    def progress_metres(self, waypoint: carla.Waypoint) -> float:
        """Route metres from the trigger point to ``waypoint``'s place."""
        index = self.progress.nearest_index(waypoint.transform.location)
        return max(0.0, self.progress.distance_between(self.trigger_index, index))

    def obstacle_at(self, waypoint: carla.Waypoint, sign: float, blueprint: str, role: str = "scenario") -> None:
        """A vehicle on ``waypoint``'s lane, displaced towards the side, hand brake on (any car: a generation-2 one,
        as ScenarioRunner picks)."""
        vehicle = self.spawn(blueprint, beside(waypoint, sign * self.OFFSET * waypoint.lane_width / 2.0, z=0.5), role,
                             attributes=GENERATION_2_CAR if blueprint == "vehicle.*" else None)
        vehicle.apply_control(carla.VehicleControl(hand_brake=True))


class Accident(LaneObstacle):
    """A police car and, 10 m and 16 m on, two crashed cars."""

    TIMEOUT = 240.0
    ROOM_PAST_FIRST = 10.0 + 6.0 + 20.0

    def place(self, waypoint: carla.Waypoint, sign: float) -> carla.Waypoint:
        police = waypoint
        self.obstacle_at(police, sign, "vehicle.dodge.charger_police_2020")
        first = forward(police, 10.0)
        self.obstacle_at(first, sign, "vehicle.*", role="scenario no lights")
        second = forward(first, 6.0)
        self.obstacle_at(second, sign, "vehicle.*", role="scenario no lights")
        return second


class ParkedObstacle(LaneObstacle):
    """A parked car, 0.7 of half a lane towards the side."""

    OFFSET = 0.7

    def place(self, waypoint: carla.Waypoint, sign: float) -> carla.Waypoint:
        self.obstacle_at(waypoint, sign, "vehicle.*")
        return waypoint


class ConstructionObstacle(LaneObstacle):
    """A traffic warning board and a wedge of construction cones closing the lane."""

    DEFAULT_DISTANCE = 100.0
    WARNING_SIGN = False  # (its board is in the lane)
    ROOM_PAST_FIRST = None  # ScenarioRunner takes the hero's lane out of the background while it runs

    def place(self, waypoint: carla.Waypoint, sign: float) -> carla.Waypoint:
        for share in (-0.6, 0.0, 0.6):  # a row of cones across the lane
            self.spawn("static.prop.constructioncone", beside(waypoint, share * waypoint.lane_width / 2.0, z=0.1),
                       physics=False)
        board = forward(waypoint, 3.0)
        self.spawn("static.prop.trafficwarning", beside(board, 0.0), physics=False)
        last = board
        for step in (4.0, 8.0, 12.0):  # cones along the closed side past the board
            last = forward(board, step)
            self.spawn("static.prop.constructioncone", beside(last, sign * 0.3 * last.lane_width, z=0.1),
                       physics=False)
        return last


class TwoWays:
    """The ``TwoWays`` obstacles: the way round is the opposite direction's lane, down which ScenarioRunner's
    oncoming flow comes (instead of the background's) once the hero is near."""

    WRONG_WAY_ALLOWED = True
    SPEED_CAP = False

    def settled(self) -> None:
        if self.background is not None:
            self.background.change_opposite_behavior(active=False)
        self.oncoming = OppositeFlow(self, self.first_waypoint.get_left_lane(), self.spec)

    def give_back_room(self, background) -> None:
        super().give_back_room(background)
        background.change_opposite_behavior(active=True)


class AccidentTwoWays(TwoWays, Accident):
    """An accident where the way round is the opposite direction's lane."""


class ParkedObstacleTwoWays(TwoWays, ParkedObstacle):
    """A parked car where the way round is the opposite direction's lane."""


class ConstructionObstacleTwoWays(TwoWays, ConstructionObstacle):
    """Construction where the way round is the opposite direction's lane."""


class HazardAtSideLane(LaneObstacle):
    """Two cyclists ``distance`` metres on, 9 m apart, riding 0.55 of half a lane towards ``direction`` at
    ``bicycle_speed`` km/h (10) for ``bicycle_drive_distance`` metres (50), then stopping; the scenario ends 10 m past
    where the second stops (``route_obstacles.py``'s HazardAtSideLane; its timeout 240 s)."""

    TIMEOUT = 240.0
    DEFAULT_DISTANCE = 100.0
    OFFSET = 0.55
    WARNING_SIGN = False
    BICYCLES = ("vehicle.bh.crossbike", "vehicle.diamondback.century", "vehicle.gazelle.omafiets")
    ROOM_PAST_FIRST = 9.0 + 20.0
    EXTRA_SPACE = 30.0  # metres more the background leaves ahead of the hero while the cyclists ride

    def make_room(self, background) -> None:
        super().make_room(background)
        background.change_road_behavior(extra_space=self.EXTRA_SPACE)

    def give_back_room(self, background) -> None:
        super().give_back_room(background)
        background.change_road_behavior(extra_space=0.0)

    def place(self, waypoint: carla.Waypoint, sign: float) -> carla.Waypoint:
        self.riders = []
        second = forward(waypoint, 9.0)
        for k, place in enumerate((waypoint, second)):
            rider = self.spawn(self.BICYCLES[k % len(self.BICYCLES)],
                               beside(place, sign * self.OFFSET * place.lane_width / 2.0, z=0.5))
            self.riders.append((rider, place.transform.location))
        self.sign = sign
        self.ride = self.spec.value("bicycle_drive_distance", 50.0)
        self.speed = self.spec.value("bicycle_speed", 10.0) / 3.6
        return forward(second, self.ride)

    def progress_metres(self, waypoint: carla.Waypoint) -> float:
        return super().progress_metres(waypoint) + 10.0 - END_DISTANCE  # (10 m past where the second stops)

    def tick(self, now: float) -> None:
        super().tick(now)
        for rider, start in self.riders:
            if not rider.is_alive:
                continue
            if rider.get_location().distance(start) >= self.ride:
                rider.apply_control(carla.VehicleControl(brake=1.0))
                continue
            lane = self.map.get_waypoint(rider.get_location())
            ahead = forward(lane, 5.0, stop_at_junction=False)
            target = beside(ahead, self.sign * self.OFFSET * ahead.lane_width / 2.0).location
            rider.apply_control(speed_control(rider, self.speed, steer_towards(rider, target)))


class HazardAtSideLaneTwoWays(HazardAtSideLane):
    """Cyclists where the way round them is the opposite direction's lane (the background's oncoming vehicles come
    every ``frequency`` metres, 100 by default, while the hero is near)."""

    WRONG_WAY_ALLOWED = True
    SPEED_CAP = False

    def settled(self) -> None:
        if self.background is not None:
            self.background.change_opposite_behavior(spacing=self.spec.value("frequency", 100.0))

    def give_back_room(self, background) -> None:
        super().give_back_room(background)
        background.change_opposite_behavior(spacing=40.0)


class VehicleOpensDoorTwoWays(Scenario):
    """A car parked on the lane beside the hero's (``direction``, right by default) ``distance`` metres (50) past
    the trigger point, at that lane's side nearest the hero, opens the door on the hero's side when the hero is 3 s
    (or 10 m) from it: the door stands in the hero's lane (the embedded world's doors are physical, as CARLA's), and
    the way round is the opposite direction's lane, down which ScenarioRunner's oncoming flow comes 5 s after the
    door opened (on the lane left of the hero's: ScenarioRunner takes the lane left of the parked car's, which for
    a car parked on the right is the hero's own). The scenario ends 50 m past the car and times out after 240 s.
    The car's ``role_name`` is ``scenario door``: the autopilot, privileged as PDM-Lite is, passes it as an
    obstacle."""

    TIMEOUT = 240.0
    WRONG_WAY_ALLOWED = True
    REACTION_TIME, MIN_TRIGGER_DISTANCE = 3.0, 10.0

    def build(self) -> float:
        direction = self.spec.value("direction", "right", str)
        if direction not in ("right", "left"):
            raise ScenarioBuildError(f"direction {direction!r}: 'right' or 'left'")
        ahead = self.trigger_waypoint().next(self.spec.value("distance", 50.0))
        if not ahead:
            raise ScenarioBuildError("the hero's lane ends before the parked car's place")
        front = ahead[0]
        parked = front.get_left_lane() if direction == "left" else front.get_right_lane()
        if parked is None:
            raise ScenarioBuildError(f"no lane on the {direction} of the hero's to park on")
        self.car = self.spawn("vehicle.*", carla.Transform(parked.transform.location + carla.Location(z=0.3),
                                                           parked.transform.rotation),
                              role="scenario door", attributes={"has_dynamic_doors": True, "base_type": "car"})
        # at the parked lane's side nearest the hero's lane (ScenarioRunner's displacement)
        toward_hero = -1.0 if direction == "right" else 1.0
        shift = toward_hero * (parked.lane_width - self.car.bounding_box.extent.y) / 4.0
        self.car.set_location(beside(parked, shift, z=0.3).location)
        self.car.apply_control(carla.VehicleControl(hand_brake=True))
        self.door = carla.VehicleDoor.FR if direction == "left" else carla.VehicleDoor.FL
        self.meeting, self.front = front.transform.location, front
        self.opened, self.oncoming = None, None
        self.distance = self.spec.value("distance", 50.0)
        index = self.progress.nearest_index(self.meeting)
        return max(0.0, self.progress.distance_between(self.trigger_index, index)) + 50.0

    def tick(self, now: float) -> None:
        if self.oncoming is not None:
            self.oncoming.tick()
        elif self.opened is not None and now - self.opened >= SETTLE:
            if self.background is not None:
                self.background.change_opposite_behavior(active=False)
            self.oncoming = OppositeFlow(self, self.front.get_left_lane(), self.spec)
        if self.opened is not None or not self.car.is_alive:
            return
        distance = self.hero.get_location().distance(self.meeting)
        speed = self.hero.get_velocity().length()
        if distance < self.MIN_TRIGGER_DISTANCE or (speed > 0.1 and distance / speed < self.REACTION_TIME):
            self.car.open_door(self.door)
            self.opened = now
            if self.background is not None:  # ScenarioRunner stops the background behind the hero meanwhile
                self.background.stop_back_vehicles()

    def make_room(self, background) -> None:
        background.leave_space_in_front(self.distance + 20.0)

    def give_back_room(self, background) -> None:
        background.start_back_vehicles()
        background.change_opposite_behavior(active=True)
