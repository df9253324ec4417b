"""The autopilot's look at crossing traffic before and in a junction (a vehicle running its red light, or
taking priority it does not have, as the Leaderboard 2.0's junction scenarios send), and along the route's lane
before it pulls out onto it (:func:`pulling_out_blocked`: ParkingExit), through the carla API only.

:func:`crossing_conflict` predicts every moving vehicle near the junction at constant velocity for
:data:`HORIZON` seconds and the hero along its route speeding up from its speed (:func:`arrival_times`); a vehicle
that would be on a point of the hero's path from :data:`TIME_GAP` seconds before the hero reaches it
until :data:`TIME_GAP` seconds after the hero's length has passed it is a conflict, and the
autopilot stands on its brakes until there is none. A two-wheeler is predicted longer (:data:`RIDER_HORIZON`: a
flow of bicycles along a biking lane stops for nobody). The hero goes on rather than stand in a crossing vehicle's
way: the points of its path it covers already do not count, nor does a vehicle whose predicted way a front corner
of the hero stands on (:func:`front_on_its_way`; braking there left it across a flow's lane, where the flow's cars
stopped for it and it for them). Vehicles driving the hero's way (its leaders and
followers, the traffic manager's business) are left out: a leader already on the hero's path at the points it
shares with it (one driving beside the hero, off its path, that merges into it from a ramp is not:
HighwayCutIn), and a follower anywhere (where the route leaves its lane at a sharp kink, as at a motorway exit, a follower's straight
line crosses the hero's path).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..routes.progress import Route

LOOK_AHEAD = 30  # route points (metres) ahead in which a junction makes the autopilot look
PATH_POINTS = 40  # route points (metres) of the hero's path predicted
HORIZON, STEP = 4.0, 0.25  # seconds predicted, and their step
RIDER_HORIZON = 6.0  # seconds a two-wheeler is predicted: a flow of them along a biking lane stops for nothing
ACCELERATION, CRUISE = 2.0, 8.0  # m/s², m/s: how the hero is assumed to go on from its speed
TIME_GAP = 1.0  # seconds between the hero and a crossing vehicle at the same place: a conflict
OCCUPANCY_MARGIN = 2.0  # metres added to the hero's length while it covers a point
CLEARANCE = 3.0  # metres between the predicted centres that count as the same place
SAME_WAY = 35.0  # degrees: a vehicle heading within this of the hero's path drives its way
NEAR = 60.0  # metres: vehicles farther than this from the hero are not looked at
MOVING = 1.0  # m/s: slower vehicles are not predicted (standing ones are the traffic manager's leaders)
MERGE_SIDE = 8.0  # metres: a vehicle beside the hero driving its way, off its path, within this may merge into it
ON_ITS_WAY_MARGIN = 0.3  # metres past a crossing vehicle's side the hero's front corner counts as on its way
PULL_OUT_SPEED = 1.0  # m/s: the hero this slow off the route's lane is pulling out (a parking place)
PULL_OUT_BEHIND, PULL_OUT_AHEAD = 10.0, 12.0  # metres of the route's lane a pull-out needs free ...
PULL_OUT_TIME = 3.0  # ... and seconds of a vehicle coming up behind at its speed


def near_junction(route: Route, index: int) -> bool:
    """Whether the route enters or is in a junction within :data:`LOOK_AHEAD` points of ``index``."""
    return any(w.is_junction for w, _ in route[index:index + LOOK_AHEAD])


def arrival_times(distance: np.ndarray, speed: float) -> np.ndarray:
    """Seconds to cover each ``distance`` from ``speed``, speeding up at :data:`ACCELERATION` to
    :data:`CRUISE` at most (the traffic manager's pace through a junction)."""
    speed = min(speed, CRUISE)
    to_cruise = (CRUISE - speed) / ACCELERATION
    cruise_from = speed * to_cruise + 0.5 * ACCELERATION * to_cruise ** 2
    accelerating = (-speed + np.sqrt(speed ** 2 + 2.0 * ACCELERATION * np.minimum(distance, cruise_from))) / ACCELERATION
    return accelerating + np.maximum(distance - cruise_from, 0.0) / CRUISE


def crossing_conflict(world: Any, hero: Any, route: Route, index: int) -> bool:
    """Whether a moving vehicle crossing the hero's path will be where the hero is (see the module docstring)."""
    path = route[index:index + PATH_POINTS]
    if len(path) < 2:
        return False
    points = np.array([[w.transform.location.x, w.transform.location.y] for w, _ in path])
    hero_location = hero.get_location()
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    along += math.hypot(points[0, 0] - hero_location.x, points[0, 1] - hero_location.y)
    hero_speed = min(hero.get_velocity().length(), CRUISE)
    arrival = arrival_times(along, hero_speed)
    # the hero covers a point from its arrival until its length (and a margin) has passed it
    speed_there = np.minimum(np.sqrt(hero_speed ** 2 + 2.0 * ACCELERATION * along), CRUISE)
    leaves = arrival + (2.0 * hero.bounding_box.extent.x + OCCUPANCY_MARGIN) / np.maximum(speed_there, 1.0)
    headings = np.array([w.transform.rotation.yaw for w, _ in path])
    times = np.arange(0.0, HORIZON + 1e-9, STEP)
    rider_times = np.arange(0.0, RIDER_HORIZON + 1e-9, STEP)
    front = hero.bounding_box.extent.x
    hero_transform = hero.get_transform()
    hero_forward, hero_yaw = hero_transform.get_forward_vector(), hero_transform.rotation.yaw
    corners = front_corners(hero_transform, hero.bounding_box.extent)
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id:
            continue
        velocity = vehicle.get_velocity()
        speed = math.hypot(velocity.x, velocity.y)
        location = vehicle.get_location()
        if speed < MOVING or location.distance(hero_location) > NEAR:
            continue
        heading = math.degrees(math.atan2(velocity.y, velocity.x))
        behind = (location.x - hero_location.x) * hero_forward.x + (location.y - hero_location.y) * hero_forward.y < 0
        if behind and abs((heading - hero_yaw + 180.0) % 360.0 - 180.0) < SAME_WAY:
            continue  # a follower (where the route leaves its lane at a kink, too): it keeps its distance
        rider = vehicle.attributes.get("number_of_wheels") == "2"
        steps = rider_times if rider else times
        xs, ys = location.x + velocity.x * steps, location.y + velocity.y * steps
        d2 = (xs[:, None] - points[None, :, 0]) ** 2 + (ys[:, None] - points[None, :, 1]) ** 2
        close_t, close_k = np.nonzero(d2 < CLEARANCE ** 2)
        merging = abs((heading - hero_yaw + 180.0) % 360.0 - 180.0) < SAME_WAY and \
            not np.any(d2[0] < CLEARANCE ** 2) and abs(
                (location.x - hero_location.x) * hero_forward.y - (location.y - hero_location.y) * hero_forward.x) < MERGE_SIDE
        if not merging and front_on_its_way(corners, xs, ys, vehicle.bounding_box.extent.y + ON_ITS_WAY_MARGIN):
            continue  # the hero's front stands on its way already: better on across it than standing in it
        for t, k in zip(close_t, close_k):
            if along[k] < front:
                continue  # a point the hero covers already: better on off it than standing on it
            if not merging and abs((heading - headings[k] + 180.0) % 360.0 - 180.0) < SAME_WAY:
                continue  # driving the hero's way at that place
            if arrival[k] - TIME_GAP < steps[t] < leaves[k] + TIME_GAP:
                return True
    return False


def front_corners(transform: Any, extent: Any) -> np.ndarray:
    """(2, 2): the world (x, y) of the front left and front right corners of a vehicle at ``transform``."""
    forward, right = transform.get_forward_vector(), transform.get_right_vector()
    x, y = transform.location.x, transform.location.y
    return np.array([[x + forward.x * extent.x + right.x * side * extent.y,
                      y + forward.y * extent.x + right.y * side * extent.y] for side in (-1.0, 1.0)])


def front_on_its_way(corners: np.ndarray, xs: np.ndarray, ys: np.ndarray, half_width: float) -> bool:
    """Whether a corner in ``corners`` lies within ``half_width`` of the way a vehicle's predicted centres
    (``xs``, ``ys``, in time order) sweep, ahead of where it is."""
    a = np.stack([xs[:-1], ys[:-1]], axis=1)
    b = np.stack([xs[1:], ys[1:]], axis=1)
    ab = b - a
    length2 = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-9)
    for corner in corners:
        t = np.clip(np.einsum("ij,ij->i", corner - a, ab) / length2, 0.0, 1.0)
        nearest = a + ab * t[:, None]
        if np.min(np.hypot(nearest[:, 0] - corner[0], nearest[:, 1] - corner[1])) < half_width:
            return True
    return False


def pulling_out_blocked(world: Any, town_map: Any, hero: Any, route: Route, index: int) -> bool:
    """Whether the hero, standing (slower than :data:`PULL_OUT_SPEED`) beside the route's lane (its centre outside
    the lane: a parking place), must wait: a vehicle on the route's lane from :data:`PULL_OUT_BEHIND` metres (plus
    :data:`PULL_OUT_TIME` seconds at its speed) behind it to :data:`PULL_OUT_AHEAD` metres ahead."""
    if hero.get_velocity().length() > PULL_OUT_SPEED or index >= len(route):
        return False
    waypoint = route[index][0]
    lane, location = waypoint.transform, hero.get_location()
    right, forward = lane.get_right_vector(), lane.get_forward_vector()
    if abs((location.x - lane.location.x) * right.x + (location.y - lane.location.y) * right.y) <= \
            waypoint.lane_width / 2.0:
        return False
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id:
            continue
        other = vehicle.get_location()
        along = (other.x - location.x) * forward.x + (other.y - location.y) * forward.y
        if not -(PULL_OUT_BEHIND + PULL_OUT_TIME * vehicle.get_velocity().length()) <= along <= PULL_OUT_AHEAD:
            continue
        on = town_map.get_waypoint(other)
        if on is not None and (on.road_id, on.lane_id) == (waypoint.road_id, waypoint.lane_id):
            return True
    return False
