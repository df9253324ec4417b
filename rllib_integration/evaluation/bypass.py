"""The autopilot's way round an obstacle that blocks its lane (Leaderboard 2.0's accidents, parked cars and
construction sites), through the carla API only.

:func:`find_blockers` looks along the route ahead for scenario obstacles on or beside the route's lane: a vehicle
standing on its hand brake whose ``role_name`` starts with ``scenario`` (as the Leaderboard's obstacle scenarios name theirs:
the autopilot is privileged, as PDM-Lite reads the scenario's actors), a scenario's slow two-wheeler
(HazardAtSideLane's cyclists: the manoeuvre's end follows them), a car parked beside the lane that opens its door into
it (``role_name`` ``scenario door``: VehicleOpensDoorTwoWays) or a prop taller than ground clutter.
:class:`Bypass` then drives the hero itself: it creeps up to :data:`WAIT_GAP` metres from the first obstacle and
waits there, braking, until the lane beside has room (on the opposite direction's lane: every oncoming vehicle
far enough to stop for the hero beyond the point where it is back in its lane; on a lane of its own direction: a
gap the next vehicle from behind can stop in), then follows the route shifted as far over as the obstacles need
(at most one lane) from :data:`LEAD_IN` metres before the first obstacle to :data:`CLEARANCE` metres past the last,
and back, with a pure-pursuit steering controller at :data:`BYPASS_SPEED` (against the traffic at
:data:`OPPOSITE_SPEED`, at most the speed limit, looking less far ahead: the less time there, the nearer the oncoming
traffic may be when it starts), stopping for a walker or a vehicle (not the obstacles) on that way.
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
BYPASS_SPEED = 5.0  # m/s round obstacles on a lane of the hero's direction (or within its own)
OPPOSITE_SPEED = 8.0  # m/s (at most the lane's speed limit) on the opposite direction's lane: the less time there, the
#   nearer the oncoming traffic may be
CREEP_SPEED, WAIT_GAP = 2.5, RAMP + LEAD_IN + 4.0  # m/s, metres: the hero waits just before the way round begins
DOOR_WAIT_GAP = 9.0  # metres: it waits nearer a parked car whose door may open (so that it does)
ACCELERATION_TIME = 1.5  # seconds the hero loses getting up to speed from a stop
ONCOMING_STOP_REACH = 10.0  # metres before the hero an oncoming car stops (a traffic manager's head-on leader)
FLOW_STOP_REACH, FLOW_STOP_PER_SPEED = 10.0, 1.6  # a scenario's oncoming flow stops earlier (BasicAgent)
FLOW_ACCELERATION = 4.0  # m/s²: how fast a scenario's oncoming car may get up to its lane's speed limit
STANDING = 0.5  # m/s: an oncoming vehicle slower than this stands
PASS_CLEARANCE = 0.4  # metres between the hero's side and an oncoming car's, shifted over, for both to pass
BESIDE_REACH = 7.0  # metres ahead and behind the hero a vehicle on the lane beside is beside it
FOLLOWER_DECELERATION, FOLLOWER_REACTION, FOLLOWER_MARGIN = 4.0, 1.0, 3.0  # m/s², s, m: a follower can stop behind
SIDE_CLEARANCE = 0.5  # metres between the hero's side and an obstacle it passes
IN_LANE_SHIFT = 0.8  # metres: a smaller shift stays in the lane and needs no gap in the lane beside
AHEAD_MIN, BRAKE_TIME, WAY_MARGIN = 4.0, 1.5, 0.8  # a walker or car this far before the hero's front (m + s x speed) stops it
DOOR_REACH = 1.0  # metres a car's open door stands out from its side
LOOK_SHIFTED = 1.0  # seconds of look ahead (plus 3 m) on the opposite lane: nearer the shifted way at its speed
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


def stopping_distance(speed: float) -> float:
    """Metres a follower at ``speed`` m/s needs to stop behind a car that pulls in front of it."""
    return speed * speed / (2.0 * FOLLOWER_DECELERATION) + FOLLOWER_REACTION * speed + FOLLOWER_MARGIN


def covered(speed: float, top: float, acceleration: float, time: float) -> float:
    """Metres a vehicle at ``speed`` m/s covers in ``time`` seconds, speeding up at ``acceleration`` to ``top``."""
    rising = min(time, max(0.0, top - speed) / acceleration)
    return speed * rising + 0.5 * acceleration * rising ** 2 + max(speed, top) * (time - rising)


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
        self.blockers = [actor for _, _, actor in blockers]
        self.blocker_ids = {actor.id for actor in self.blockers}
        self.wait_gap = DOOR_WAIT_GAP if opens_door(blockers[0][2]) else WAIT_GAP
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
        self.lane_shift = lane_shift
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
        """Past the obstacles and back (or they are gone: a scenario that ended removed them)."""
        return index >= self.last + CLEARANCE + RAMP or not any(a.is_alive for a in self.blockers)

    def clear(self, index: int) -> bool:
        """Whether the lane beside has room for the manoeuvre now (a shift within the lane needs none): on the
        opposite direction's lane, no vehicle standing before the point where the hero is back in its lane, and every
        oncoming one that could not pass the shifted hero side by side far enough that it stops for the hero (as the
        traffic manager and ScenarioRunner's flows do) beyond that point; a lane of the hero's direction
        with nobody beside the hero, no standing vehicle on the way, and a gap ahead of the next vehicle coming from
        behind in which it can stop behind the hero (the traffic makes room for a car that pulls in, as CARLA's traffic
        manager does: it brakes for a car halfway into its lane)."""
        if self.shift < IN_LANE_SHIFT:
            return True
        hero_location = self.hero.get_location()
        length = (self.last - index) + CLEARANCE + RAMP  # route metres until the hero is back in its lane
        for vehicle in self.world.get_actors().filter("vehicle.*"):
            if vehicle.id == self.hero.id:
                continue
            location = vehicle.get_location()
            if location.distance(hero_location) > length + 150.0:
                continue
            waypoint = self.map.get_waypoint(location)
            if waypoint is None or (waypoint.road_id, waypoint.lane_id) != (self.beside.road_id, self.beside.lane_id):
                continue
            along, speed = self._along(location, index), vehicle.get_velocity().length()
            if self.opposite:
                side_by_side = self.lane_shift - self.shift - self.half_width - vehicle.bounding_box.extent.y
                if along > -5.0 and side_by_side < PASS_CLEARANCE and \
                        not self._oncoming_stops_beyond(along, speed, length, vehicle):
                    return False
            elif -BESIDE_REACH < along < BESIDE_REACH or BESIDE_REACH <= along < length and speed < 1.0:
                return False
            elif along <= -BESIDE_REACH and -along - BESIDE_REACH < stopping_distance(speed):
                return False
        return True

    def _oncoming_stops_beyond(self, along: float, speed: float, back: float, vehicle: Any) -> bool:
        """Whether an oncoming vehicle ``along`` metres ahead at ``speed`` either stands beyond the point where the
        hero is back in its lane (``back`` metres on) or, stopping for the hero when it comes within its reach,
        stops beyond that point."""
        scenario_flow = vehicle.attributes.get("role_name", "").startswith("scenario")
        if speed < STANDING and not scenario_flow:
            return along > back + 5.0
        # a scenario's flow car (ScenarioRunner's enter from a standstill) gets up to its lane's speed limit
        top = max(speed, vehicle.get_speed_limit() / 3.6) if scenario_flow else speed
        reach = FLOW_STOP_REACH + FLOW_STOP_PER_SPEED * top if scenario_flow else ONCOMING_STOP_REACH
        travel = max(0.0, back + 5.0 - reach)  # the hero's way until the vehicle may stop, beyond the point
        time = travel / self.opposite_speed() + ACCELERATION_TIME
        return along >= reach + travel + covered(speed, top, FLOW_ACCELERATION, time)

    def _in_the_way(self, index: int, transform: carla.Transform, speed: float, shifted: bool) -> bool:
        """Whether a walker or a vehicle other than the obstacles stands on the hero's way within its braking reach:
        near the route ahead, shifted as the manoeuvre shifts it (``shifted``) or not."""
        forward = transform.get_forward_vector()
        reach = AHEAD_MIN + BRAKE_TIME * speed
        for actor in self.world.get_actors():
            if actor.id == self.hero.id or not actor.type_id.startswith(("walker.", "vehicle.")) or \
                    actor.id in self.blocker_ids or any(actor.id == mover.id for mover in self.moving):
                continue
            location = actor.get_location()
            along = (location.x - transform.location.x) * forward.x + (location.y - transform.location.y) * forward.y
            # (the reach is from the hero's front to the actor's back: from centre to centre, a car standing just
            # ahead was within it only once the two touched)
            if not 0.0 < along < reach + self.hero.bounding_box.extent.x + actor.bounding_box.extent.x:
                continue
            point = min(index + int(round(along)), len(self.route) - 1)
            way = self.route[point][0].transform
            offset = self.offset_at(point) if shifted else 0.0
            right = way.get_right_vector()
            x, y = way.location.x - offset * right.x, way.location.y - offset * right.y
            if math.hypot(location.x - x, location.y - y) < self.half_width + actor.bounding_box.extent.y + WAY_MARGIN:
                return True
        return False

    def _along(self, location: carla.Location, index: int) -> float:
        here = self.route[index][0].transform
        forward = here.get_forward_vector()
        return (location.x - here.location.x) * forward.x + (location.y - here.location.y) * forward.y

    def follow_movers(self, index: int) -> None:
        """Move the manoeuvre's end with the obstacles that ride on (to the route point nearest each), and, until the
        manoeuvre starts, its beginning with the nearest of them (the hero waits behind where they are now)."""
        nearest = None
        for actor in self.moving:
            if not actor.is_alive:
                continue
            location = actor.get_location()
            window = self.route_xy[index:index + int(LOOK_AHEAD)]
            if len(window):
                k = int(np.argmin((window[:, 0] - location.x) ** 2 + (window[:, 1] - location.y) ** 2))
                self.last = max(self.last, index + k)
                nearest = index + k if nearest is None else min(nearest, index + k)
        if not self.started and nearest is not None and len(self.moving) == len(self.blocker_ids):
            self.first = max(self.first, nearest)

    def control(self, index: int) -> carla.VehicleControl:
        """Steer along the shifted route (at :data:`OPPOSITE_SPEED` on the opposite direction's lane, else
        :data:`BYPASS_SPEED`); before it starts, creep up to :data:`WAIT_GAP` metres from the first obstacle and wait
        there, braked, while the lane beside is busy."""
        self.follow_movers(index)
        if not self.started:
            self.started = self.clear(index)
            if not self.started:
                if index >= self.first - self.wait_gap:
                    return carla.VehicleControl(brake=1.0)
                return self._drive(index, CREEP_SPEED, shifted=False)
        return self._drive(index, self.opposite_speed() if self.opposite else BYPASS_SPEED, shifted=True)

    def opposite_speed(self) -> float:
        """m/s on the opposite direction's lane: :data:`OPPOSITE_SPEED`, at most the hero's speed limit."""
        limit = self.hero.get_speed_limit() / 3.6
        return min(OPPOSITE_SPEED, limit) if limit > 0 else OPPOSITE_SPEED

    def _drive(self, index: int, target_speed: float, shifted: bool) -> carla.VehicleControl:
        """Pure pursuit along the route (shifted or not) at ``target_speed``, braking for what is on the way."""
        transform = self.hero.get_transform()
        speed = self.hero.get_velocity().length()
        look = LOOK_SHIFTED if shifted and self.opposite else 1.5  # seconds ahead (plus 3 m)
        target_index = min(index + max(4, int(look * speed) + 3), len(self.route) - 1)
        waypoint = self.route[target_index][0].transform
        offset = self.offset_at(target_index) if shifted else 0.0
        right = waypoint.get_right_vector()
        target = carla.Location(waypoint.location.x - offset * right.x, waypoint.location.y - offset * right.y)
        steer = steer_towards(self.hero, target, full_lock=35.0)
        error_speed = (0.0 if self._in_the_way(index, transform, speed, shifted) else target_speed) - speed
        return carla.VehicleControl(throttle=max(0.0, min(0.75, 0.4 * error_speed + 0.25)) if error_speed > 0 else 0.0,
                                    brake=max(0.0, min(1.0, -0.4 * error_speed)) if error_speed < -0.5 else 0.0,
                                    steer=steer)
