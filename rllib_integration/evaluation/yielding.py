"""The autopilot's look at crossing traffic before and in a junction (a vehicle running its red light, or
taking priority it does not have, as the Leaderboard 2.0's junction scenarios send), through the carla API
only.

:func:`crossing_conflict` predicts every moving vehicle near the junction at constant velocity for
:data:`HORIZON` seconds and the hero along its route speeding up from its speed (:func:`arrival_times`); a vehicle
that would be on a point of the hero's path from :data:`TIME_GAP` seconds before the hero reaches it
until :data:`TIME_GAP` seconds after the hero's length has passed it is a conflict, and the
autopilot stands on its brakes until there is none. Vehicles driving the hero's way (its leaders and
followers, the traffic manager's business) are left out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..routes.progress import Route

LOOK_AHEAD = 30  # route points (metres) ahead in which a junction makes the autopilot look
PATH_POINTS = 40  # route points (metres) of the hero's path predicted
HORIZON, STEP = 4.0, 0.25  # seconds predicted, and their step
ACCELERATION, CRUISE = 2.0, 8.0  # m/s², m/s: how the hero is assumed to go on from its speed
TIME_GAP = 1.0  # seconds between the hero and a crossing vehicle at the same place: a conflict
OCCUPANCY_MARGIN = 2.0  # metres added to the hero's length while it covers a point
CLEARANCE = 3.0  # metres between the predicted centres that count as the same place
SAME_WAY = 35.0  # degrees: a vehicle heading within this of the hero's path drives its way
NEAR = 60.0  # metres: vehicles farther than this from the hero are not looked at
MOVING = 1.0  # m/s: slower vehicles are not predicted (standing ones are the traffic manager's leaders)


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
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id:
            continue
        velocity = vehicle.get_velocity()
        speed = math.hypot(velocity.x, velocity.y)
        location = vehicle.get_location()
        if speed < MOVING or location.distance(hero_location) > NEAR:
            continue
        heading = math.degrees(math.atan2(velocity.y, velocity.x))
        xs, ys = location.x + velocity.x * times, location.y + velocity.y * times
        d2 = (xs[:, None] - points[None, :, 0]) ** 2 + (ys[:, None] - points[None, :, 1]) ** 2
        close_t, close_k = np.nonzero(d2 < CLEARANCE ** 2)
        for t, k in zip(close_t, close_k):
            if abs((heading - headings[k] + 180.0) % 360.0 - 180.0) < SAME_WAY:
                continue  # driving the hero's way at that place
            if arrival[k] - TIME_GAP < times[t] < leaves[k] + TIME_GAP:
                return True
    return False
