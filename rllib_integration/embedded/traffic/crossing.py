"""Vehicles that no traffic manager of this port drives (a scenario's cars, heroes driven by an agent or a policy)
coming across an autopilot vehicle's way through a junction.

Right of way among the traffic manager's own vehicles is settled by holding junctions (:mod:`.junctions`); the
others hold nothing, so before a vehicle enters a junction it looks at them as CARLA's traffic manager looks at
every vehicle's path there: each moving one is predicted at constant velocity, the vehicle along its route speeding
up from its speed, and one that would be on a point of the route while the vehicle is there (give or take
:data:`TIME_GAP`) is coming across it. Followers (behind, driving its way) and leaders (on its way ahead, driving
it) are the car following's business and are left out.
"""

from __future__ import annotations

import math

import numpy as np

HORIZON, STEP = 6.0, 0.25  # seconds predicted at most, and their step
MOVING = 1.0  # m/s: slower vehicles are not predicted (standing ones are leaders or wait themselves)
ACCELERATION, CRUISE = 2.0, 8.0  # m/s², m/s: how the vehicle is assumed to go on from its speed
TIME_GAP = 1.0  # seconds between two vehicles at the same place: a conflict
OCCUPANCY_MARGIN = 2.0  # metres added to the vehicle's length while it covers a point
CLEARANCE = 3.0  # metres between predicted centres that count as the same place
NEAR = 60.0  # metres: farther vehicles are not looked at
SAME_WAY = math.radians(35.0)  # a vehicle heading within this of the way drives it


class CrossingTraffic:
    """The moving vehicles of one plan that the traffic manager does not drive (see the module docstring)."""

    def __init__(self, table, registered: set[int]) -> None:
        owners = table.owners
        speed = table.column("speed")
        rows = [k for k, owner in enumerate(owners) if owner.id not in registered and speed[k] > MOVING]
        self.ids = [owners[k].id for k in rows]
        self.x, self.y = table.column("x")[rows], table.column("y")[rows]
        self.yaw = table.column("yaw")[rows]
        self.vx, self.vy = speed[rows] * np.cos(self.yaw), speed[rows] * np.sin(self.yaw)

    def coming(self, x: float, y: float, yaw: float, speed: float, half_length: float, path: np.ndarray) -> int | None:
        """The id of a vehicle coming across ``path`` (the route's points, x and y, from the vehicle on) while the
        vehicle at (``x``, ``y``) heading ``yaw`` (radians) drives it from ``speed``; None if none."""
        if not self.ids or len(path) < 2:
            return None
        dx, dy = self.x - x, self.y - y
        near = dx * dx + dy * dy < NEAR * NEAR
        behind = dx * math.cos(yaw) + dy * math.sin(yaw) < 0.0
        near &= ~(behind & (np.abs(_angle(self.yaw - yaw)) < SAME_WAY))  # followers
        if not near.any():
            return None
        steps = np.diff(path, axis=0)
        along = np.concatenate([[0.0], np.cumsum(np.hypot(steps[:, 0], steps[:, 1]))]) + math.hypot(*(path[0] - (x, y)))
        headings = np.arctan2(steps[:, 1], steps[:, 0])
        headings = np.concatenate([headings, headings[-1:]])
        speed = min(max(speed, 0.0), CRUISE)
        arrival = _arrival_times(along, speed)
        speed_there = np.minimum(np.sqrt(speed * speed + 2.0 * ACCELERATION * along), CRUISE)
        leaves = arrival + (2.0 * half_length + OCCUPANCY_MARGIN) / np.maximum(speed_there, 1.0)
        times = np.arange(0.0, min(HORIZON, float(leaves.max()) + TIME_GAP) + 1e-9, STEP)
        for k in np.flatnonzero(near):
            px, py = self.x[k] + self.vx[k] * times, self.y[k] + self.vy[k] * times
            d2 = (px[:, None] - path[None, :, 0]) ** 2 + (py[:, None] - path[None, :, 1]) ** 2
            close = d2 < CLEARANCE * CLEARANCE
            if close[0].any() and np.abs(_angle(self.yaw[k] - headings[close[0]])).min() < SAME_WAY:
                continue  # a leader on the way, driving it
            window = (times[:, None] > arrival[None, :] - TIME_GAP) & (times[:, None] < leaves[None, :] + TIME_GAP)
            if (close & window).any():
                return self.ids[k]
        return None


def _angle(radians: np.ndarray) -> np.ndarray:
    return (radians + math.pi) % (2.0 * math.pi) - math.pi


def _arrival_times(distance: np.ndarray, speed: float) -> np.ndarray:
    """Seconds to cover each ``distance`` from ``speed``, speeding up at :data:`ACCELERATION` to :data:`CRUISE`."""
    to_cruise = (CRUISE - speed) / ACCELERATION
    cruise_from = speed * to_cruise + 0.5 * ACCELERATION * to_cruise ** 2
    accelerating = (-speed + np.sqrt(speed * speed + 2.0 * ACCELERATION * np.minimum(distance, cruise_from))) \
        / ACCELERATION
    return accelerating + np.maximum(distance - cruise_from, 0.0) / CRUISE
