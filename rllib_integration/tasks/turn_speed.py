"""The speed a car can take the route's curves at: a cap on the target speed a policy chooses.

Why: with ``control: levels`` or ``speed`` a policy chooses the target speed and the route controller
(:mod:`.route_steering`) steers. The pure pursuit holds a tight turn only so fast: a driver holding 25 km/h on CARLA's
Town02 with every light green left the lanes or hit a wall at a tight turn on 7 of 12 routes, and at 20 km/h it
completed all 12 (stop 84). A cloned policy that takes a tight right turn at 20-23 km/h swings into the oncoming lane
(README, "A policy for traffic"). The embedded autopilot slows for curves by the same rule
(:mod:`~..embedded.traffic.autopilot`): the sharpest curve over the next 6, 12 and 40 m, taken at a lateral
acceleration ``a``, allows ``sqrt(a * radius)``.

The profile is computed once a route, from its points and headings; a step reads the cap at the last passed point.
Carla API only (the route's waypoints), so it holds on a CARLA server unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..routes.progress import RouteProgress

WINDOWS = (6.0, 12.0, 40.0)  # metres ahead: the sharpest curve over each (the autopilot's)
MIN_TURN = 0.05  # radians of heading change over a window below which it is no curve
HOLD = 8  # route points (a metre apart) after a curve's last one over which its cap holds: the car is still in it


@njit(cache=True)
def turn_speed_profile(cumulative: np.ndarray, headings: np.ndarray, lateral_accel: float) -> np.ndarray:
    """The highest speed (m/s) allowed at each route point: over each of :data:`WINDOWS` ahead of the point, the
    route's heading change ``turn`` (radians) bends it at a radius of ``window / turn``, taken at ``sqrt(lateral_accel
    * radius)``; ``inf`` where no window turns by :data:`MIN_TURN` or more. A point's cap is the lowest of its own and
    the :data:`HOLD` points' before it (the pursuit steers the car out of a curve after the route has left it).

    ``cumulative``: each point's distance along the route (metres); ``headings``: each point's heading (radians, any
    branch: each step is taken the short way round). One compiled pass (a route's start costs microseconds)."""
    count = cumulative.shape[0]
    unwrapped = np.empty(count)
    if count:
        unwrapped[0] = headings[0]
    for k in range(1, count):
        unwrapped[k] = unwrapped[k - 1] + (headings[k] - headings[k - 1] + math.pi) % (2.0 * math.pi) - math.pi
    own = np.full(count, np.inf)
    for window in WINDOWS:
        ahead = 0
        for k in range(count):
            ahead = max(ahead, k)
            while ahead < count - 1 and cumulative[ahead] < cumulative[k] + window:  # the first point window ahead
                ahead += 1
            turn = abs(unwrapped[ahead] - unwrapped[k])
            if turn >= MIN_TURN:
                own[k] = min(own[k], math.sqrt(lateral_accel * (cumulative[ahead] - cumulative[k]) / turn))
    cap = np.empty(count)
    for k in range(count):
        cap[k] = own[max(k - HOLD, 0):k + 1].min()
    return cap


def route_turn_speeds(progress: RouteProgress | None, lateral_accel: float) -> np.ndarray | None:
    """:func:`turn_speed_profile` of ``progress``'s route (None: no cap, where
    ``lateral_accel`` is 0 or there is no route)."""
    if not lateral_accel or progress is None:
        return None
    forward = progress.forward
    return turn_speed_profile(np.ascontiguousarray(progress.cumulative, dtype=np.float64),
                              np.arctan2(forward[:, 1], forward[:, 0]), float(lateral_accel))
