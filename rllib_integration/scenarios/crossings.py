"""Walkers that step out in front of the hero from behind something that hides them (Leaderboard 2.0's
``DynamicObjectCrossing`` and ``ParkingCrossingPedestrian``), as ScenarioRunner's
``object_crash_vehicle.py`` and ``parking_crossing_pedestrian`` time them: the walker waits on the
``direction`` side of the road ``distance`` metres past the trigger point, hidden by a blocker (a vending
machine, or a car parked at the kerb), and starts across at 2 m/s when the hero is 2.1 s (or 6 m) from where
they would meet; the scenario ends 40 m past that place. A hero that hits the walker fails it.
"""

from __future__ import annotations

import math

import carla

from .base import GENERATION_2_CAR, Scenario, ScenarioBuildError, beside, forward, outermost

WALKER_SPEED = 2.0  # m/s
REACTION_TIME = 2.1  # seconds the hero gets from the walker's start to the meeting place
MIN_TRIGGER_DISTANCE = 6.0  # metres: the walker starts at the latest this close
END_DISTANCE = 40.0  # metres past the meeting place
SIDEWALK_OFFSET = 1.5  # metres past the outermost lane's edge the walker waits
PARKED_OUTSIDE = 1.0  # metres past the lane's edge the parked car's centre stands (it leaves the lane free)


class CrossingWalker(Scenario):
    """A walker crossing the hero's lane from the ``direction`` side, hidden by :meth:`place_blocker`'s actor."""

    DEFAULT_DISTANCE = 12.0
    ROOM_PAST = 10.0  # metres past the meeting place the background's vehicles ahead are moved on to
    CLEARS_CROSSING = True  # whether the background's oncoming vehicles near the crossing go when the walker starts

    def make_room(self, background) -> None:
        background.leave_space_in_front(self.spec.value("distance", self.DEFAULT_DISTANCE) + self.ROOM_PAST)

    def build(self) -> float:
        direction = self.spec.value("direction", "right", str)
        if direction not in ("right", "left"):
            raise ScenarioBuildError(f"direction {direction!r}: 'right' or 'left'")
        sign = 1.0 if direction == "right" else -1.0
        meeting = forward(self.trigger_waypoint(), self.spec.value("distance", self.DEFAULT_DISTANCE))
        self.meeting = meeting.transform.location
        edge = outermost(meeting, right=sign > 0)
        across = abs(sign * edge.lane_width / 2.0 + _lateral(meeting, edge))  # lane centre to the kerb
        start = beside(meeting, sign * (across + SIDEWALK_OFFSET), z=1.0, yaw=-sign * 90.0)
        self.place_blocker(meeting, sign * (across + SIDEWALK_OFFSET))
        self.walker = self.spawn("walker.pedestrian.*", start, role="scenario")
        yaw = math.radians(start.rotation.yaw + self.spec.value("crossing_angle", 0.0))
        self.direction = carla.Vector3D(math.cos(yaw), math.sin(yaw), 0.0)
        self.walk_length = 2.0 * (across + SIDEWALK_OFFSET) + meeting.lane_width  # to the far side and on
        self.walked_from: carla.Location | None = None
        index = self.progress.nearest_index(self.meeting)
        return max(0.0, self.progress.distance_between(self.trigger_index, index)) + END_DISTANCE

    def place_blocker(self, meeting: carla.Waypoint, offset: float) -> None:
        """Spawn what hides the walker waiting ``offset`` metres right of ``meeting``'s lane centre."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        if not self.walker.is_alive:
            return
        if self.walked_from is None:
            location = self.hero.get_location()
            distance = location.distance(self.meeting)
            speed = self.hero.get_velocity().length()
            if distance < MIN_TRIGGER_DISTANCE or (speed > 0.1 and distance / speed < REACTION_TIME):
                self.walked_from = self.walker.get_location()
                self.walker.apply_control(carla.WalkerControl(self.direction, WALKER_SPEED))
                if self.background is not None and self.CLEARS_CROSSING:
                    self.background.leave_crossing_space(self.map.get_waypoint(self.meeting))
        elif self.walker.get_location().distance(self.walked_from) > self.walk_length:
            self.walker.apply_control(carla.WalkerControl(self.direction, 0.0))


class DynamicObjectCrossing(CrossingWalker):
    """A walker behind a ``blocker_model`` prop (a vending machine) on the sidewalk."""

    def place_blocker(self, meeting: carla.Waypoint, offset: float) -> None:
        self.spawn(self.spec.value("blocker_model", "static.prop.vendingmachine", str),
                   beside(_back(meeting, 2.5), offset, z=0.1, yaw=-math.copysign(90.0, offset)), physics=False)


class ParkingCrossingPedestrian(CrossingWalker):
    """A walker stepping out from behind a car parked at the kerb."""

    ROOM_PAST = 15.0
    CLEARS_CROSSING = False

    def place_blocker(self, meeting: carla.Waypoint, offset: float) -> None:
        kerb = offset - math.copysign(SIDEWALK_OFFSET - PARKED_OUTSIDE, offset)  # just past the lane's edge
        parked = self.spawn("vehicle.*", beside(_back(meeting, 4.0), kerb, z=0.5), attributes=GENERATION_2_CAR)
        parked.apply_control(carla.VehicleControl(hand_brake=True))


def _lateral(a: carla.Waypoint, b: carla.Waypoint) -> float:
    """Signed metres from lane ``a``'s centre to lane ``b``'s, to the right of ``a``."""
    right = a.transform.get_right_vector()
    d = b.transform.location - a.transform.location
    return d.x * right.x + d.y * right.y


def _back(waypoint: carla.Waypoint, metres: float) -> carla.Waypoint:
    previous = waypoint.previous(metres)
    return previous[0] if previous else waypoint
