"""The autopilot's way round an obstacle that blocks its lane (Leaderboard 2.0's accidents, parked cars and
construction sites), through the carla API only.

:func:`find_blockers` looks along the route ahead for scenario obstacles on or beside the route's lane: a vehicle
standing on its hand brake whose ``role_name`` starts with ``scenario`` (as the Leaderboard's obstacle scenarios name theirs:
the autopilot is privileged, as PDM-Lite reads the scenario's actors), a scenario's slow two-wheeler
(HazardAtSideLane's cyclists: the manoeuvre's end follows them), a car parked beside the lane that opens its door into
it (``role_name`` ``scenario door``: VehicleOpensDoorTwoWays) or a prop taller than ground clutter.
:class:`Bypass` then drives the hero itself: it waits, braking, until the lane beside has room (the
opposite direction's lane clear of oncoming vehicles for the whole manoeuvre), then follows the route
shifted as far over as the obstacles need (at most one lane) from :data:`LEAD_IN` metres before the first
obstacle to :data:`CLEARANCE` metres past the last, and back, with a pure-pursuit steering controller at
:data:`BYPASS_SPEED`, stopping for a walker or a moving vehicle in its way.
"""

from __future__ import annotations

import math
from typing import Any

import carla
import numpy as np

from ..routes.progress import Route
from ..scenarios.driving import steer_towards

LOOK_AHEAD = 60.0  # route metres searched for obstacles (an accident spans 30 m)
NEAR_LANE = 0.6  # metres past the lane's edge an obstacle's side may be and still be passed with care
SLOW_RIDER = 4.0  # m/s: a scenario's two-wheeler slower than this is passed like an obstacle
CLUTTER_HEIGHT = 0.12  # metres: props this low are driven over (debris)
RAMP, CLEARANCE = 8.0, 6.0  # metres to move over in, and past the last obstacle before moving back
LEAD_IN = 8.0  # metres before the first obstacle the hero is all the way over
BYPASS_SPEED = 5.0  # m/s
ONCOMING_TIME = 12.0  # seconds of oncoming traffic at its speed the opposite lane must be clear for
SIDE_CLEARANCE = 0.5  # metres between the hero's side and an obstacle it passes
IN_LANE_SHIFT = 0.8  # metres: a smaller shift stays in the lane and needs no gap in the lane beside
AHEAD_MIN, BRAKE_TIME, WAY_MARGIN = 4.0, 1.5, 0.8  # a walker or moving car this far ahead (m + s x speed) stops it
DOOR_REACH = 1.0  # metres a car's open door stands out from its side
HAND_OVER_GAP = 20.0  # metres (plus a second at the hero's speed) from the first obstacle the bypass takes over


def find_blockers(world: Any, town_map: carla.Map, hero: Any, route: Route,
                  index: int) -> list[tuple[float, float, Any]]:
    """Obstacles on the route's lane within :data:`LOOK_AHEAD` route metres: ``(route metres ahead, lateral
    offset to the right of the route, actor)``, nearest first. A car standing on another driving lane (a queue
    beside the hero) is not one."""
    ahead = route[index:index + int(LOOK_AHEAD)]
    if len(ahead) < 2:
        return []
    points = np.array([[w.transform.location.x, w.transform.location.y] for w, _ in ahead])
    yaws = np.radians([w.transform.rotation.yaw for w, _ in ahead])
    found = []
    for actor in world.get_actors():
        type_id = actor.type_id
        if type_id.startswith("vehicle."):
            if actor.id == hero.id or not actor.attributes.get("role_name", "").startswith("scenario"):
                continue
            speed = actor.get_velocity().length()
            slow_rider = actor.attributes.get("number_of_wheels") == "2" and speed < SLOW_RIDER
            if not slow_rider and (speed > 0.1 or not actor.get_control().hand_brake):
                continue
        elif not type_id.startswith("static.prop.") or actor.bounding_box.extent.z * 2.0 <= CLUTTER_HEIGHT:
            continue
        location = actor.get_location()
        d = (points[:, 0] - location.x) ** 2 + (points[:, 1] - location.y) ** 2
        k = int(np.argmin(d))
        if d[k] > 16.0 or k == 0 and d[k] > 1.0:
            continue
        waypoint = ahead[k][0]
        lateral = -(location.x - points[k, 0]) * math.sin(yaws[k]) + (location.y - points[k, 1]) * math.cos(yaws[k])
        if abs(lateral) - side_reach(actor) >= waypoint.lane_width / 2.0 + NEAR_LANE:
            continue
        if type_id.startswith("vehicle.") and not opens_door(actor):
            lane = town_map.get_waypoint(location)
            if lane is not None and (lane.road_id, lane.lane_id) != (waypoint.road_id, waypoint.lane_id) and \
                    not lane.is_junction and abs(lateral) > waypoint.lane_width / 2.0:
                continue
        found.append((float(k), float(lateral), actor))
    return sorted(found, key=lambda item: item[0])


def opens_door(actor: Any) -> bool:
    """Whether ``actor`` is a scenario's parked car that opens its door into the lane."""
    return actor.attributes.get("role_name", "") == "scenario door"


def side_reach(actor: Any) -> float:
    """Metres from ``actor``'s centre line its side (or its door, opened or about to be) stands out."""
    return actor.bounding_box.extent.y + (DOOR_REACH if opens_door(actor) else 0.0)


class Bypass:
    """One manoeuvre round the obstacles ``blockers`` (from :func:`find_blockers` at route point ``index``)."""

    def __init__(self, world: Any, town_map: carla.Map, hero: Any, route: Route, index: int,
                 blockers: list[tuple[float, float, Any]]) -> None:
        self.world, self.map, self.hero, self.route = world, town_map, hero, route
        self.first = index + int(blockers[0][0])
        self.last = index + int(blockers[-1][0])
        self.route_xy = np.array([[w.transform.location.x, w.transform.location.y] for w, _ in route])
        self.moving = [actor for _, _, actor in blockers if actor.get_velocity().length() > 0.1 or
                       actor.attributes.get("number_of_wheels") == "2"]
        lane = route[self.first][0]
        mean_offset = sum(lateral for _, lateral, _ in blockers) / len(blockers)
        self.left = mean_offset > -0.5  # round them on the left (overtaking's side) unless they stand left
        beside = lane.get_left_lane() if self.left else lane.get_right_lane()
        if beside is None or beside.lane_type != carla.LaneType.Driving:
            beside = lane.get_right_lane() if self.left else lane.get_left_lane()
            self.left = not self.left
        self.beside = beside if beside is not None and beside.lane_type == carla.LaneType.Driving else None
        lane_shift = 0.0 if self.beside is None else lane.transform.location.distance(self.beside.transform.location)
        # as far over as the obstacles need (a car at the kerb: hardly), at most one lane
        side = 1.0 if self.left else -1.0
        half = hero.bounding_box.extent.y
        needed = max(side_reach(actor) + half + SIDE_CLEARANCE - side * lateral
                     for _, lateral, actor in blockers)
        self.shift = min(lane_shift, max(0.0, needed))
        self.opposite = self.beside is not None and self.beside.lane_id * lane.lane_id < 0
        self.half_width = half
        self.started = False

    @property
    def possible(self) -> bool:
        return self.beside is not None or self.shift < IN_LANE_SHIFT

    def offset_at(self, point: int) -> float:
        """Metres to the left (negative: right) of the route at route point ``point``."""
        start, end = self.first - RAMP - LEAD_IN, self.last + CLEARANCE
        if point <= start or point >= end + RAMP:
            return 0.0
        share = min(1.0, (point - start) / RAMP, (end + RAMP - point) / RAMP)
        return (self.shift if self.left else -self.shift) * max(0.0, share)

    def finished(self, index: int) -> bool:
        return index >= self.last + CLEARANCE + RAMP

    def clear(self, index: int) -> bool:
        """Whether the lane beside has room for the whole manoeuvre now (a shift within the lane needs none)."""
        if self.shift < IN_LANE_SHIFT:
            return True
        hero_location = self.hero.get_location()
        length = (self.last - index) + CLEARANCE + 2 * RAMP
        for vehicle in self.world.get_actors().filter("vehicle.*"):
            if vehicle.id == self.hero.id:
                continue
            location = vehicle.get_location()
            if location.distance(hero_location) > length + 150.0:
                continue
            waypoint = self.map.get_waypoint(location)
            if waypoint is None or (waypoint.road_id, waypoint.lane_id) != (self.beside.road_id, self.beside.lane_id):
                continue
            along = self._along(location, index)
            if self.opposite:
                reach = length + ONCOMING_TIME * max(vehicle.get_velocity().length(), 3.0)
                if -5.0 < along < reach:
                    return False
            elif -15.0 < along < length:
                return False
        return True

    def _in_the_way(self, transform: carla.Transform, speed: float) -> bool:
        """Whether a walker or a moving vehicle stands in the hero's way ahead (it brakes for it)."""
        forward = transform.get_forward_vector()
        reach = AHEAD_MIN + BRAKE_TIME * speed
        for actor in self.world.get_actors():
            if actor.id == self.hero.id or not actor.type_id.startswith(("walker.", "vehicle.")) or \
                    any(actor.id == mover.id for mover in self.moving):
                continue
            location = actor.get_location()
            dx, dy = location.x - transform.location.x, location.y - transform.location.y
            along = dx * forward.x + dy * forward.y
            if not 0.0 < along < reach:
                continue
            if actor.type_id.startswith("vehicle.") and actor.get_velocity().length() < 0.1:
                continue  # the obstacles themselves: steered round
            if abs(-dx * forward.y + dy * forward.x) < self.half_width + actor.bounding_box.extent.y + WAY_MARGIN:
                return True
        return False

    def _along(self, location: carla.Location, index: int) -> float:
        here = self.route[index][0].transform
        forward = here.get_forward_vector()
        return (location.x - here.location.x) * forward.x + (location.y - here.location.y) * forward.y

    def follow_movers(self, index: int) -> None:
        """Move the manoeuvre's end with the obstacles that ride on (to the route point nearest each)."""
        for actor in self.moving:
            if not actor.is_alive:
                continue
            location = actor.get_location()
            window = self.route_xy[index:index + int(LOOK_AHEAD)]
            if len(window):
                k = int(np.argmin((window[:, 0] - location.x) ** 2 + (window[:, 1] - location.y) ** 2))
                self.last = max(self.last, index + k)

    def control(self, index: int) -> carla.VehicleControl:
        """Steer along the shifted route at :data:`BYPASS_SPEED`; wait braked before the first obstacle
        while the lane beside is busy."""
        self.follow_movers(index)
        transform = self.hero.get_transform()
        speed = self.hero.get_velocity().length()
        if not self.started:
            self.started = self.clear(index)
            if not self.started:
                return carla.VehicleControl(brake=1.0)
        target_index = min(index + max(4, int(1.5 * speed) + 3), len(self.route) - 1)
        waypoint = self.route[target_index][0].transform
        offset = self.offset_at(target_index)
        right = waypoint.get_right_vector()
        target = carla.Location(waypoint.location.x - offset * right.x, waypoint.location.y - offset * right.y)
        steer = steer_towards(self.hero, target, full_lock=35.0)
        error_speed = (0.0 if self._in_the_way(transform, speed) else BYPASS_SPEED) - speed
        return carla.VehicleControl(throttle=max(0.0, min(0.75, 0.4 * error_speed + 0.25)) if error_speed > 0 else 0.0,
                                    brake=max(0.0, min(1.0, -0.4 * error_speed)) if error_speed < -0.5 else 0.0,
                                    steer=steer)
