"""Steering along the route: pure pursuit of a route point ahead, the base a residual steer is added to.

Why: a policy cloned from demonstrations learns the lateral task slowly and loses it first on towns it never saw
(held out, it turned late at tight junctions, mounted the corner's kerb and stayed pinned there). With
``others.steer: residual`` the policy's steer is added to this controller's, so the policy learns what the route
alone does not say (pulling round an obstacle, giving room) and the speed: when to stop, for whom, how fast. It is
the residual policy learning of Johannink et al. (2019) and Silver et al. (2018) on a classic path tracker.

The pursuit matches the embedded traffic manager's (its demonstrations then label a residual near zero): a route
point ``4 + 0.5 * speed`` metres ahead, pursued from a point between the axles, converted to a steer input through
the vehicle's own wheelbase, track, front-wheel steer angle and steering curve. Carla API only (the hero's
transform, velocity and physics control), so it runs on a CARLA server unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

REACH_BASE, REACH_PER_SPEED = 4.0, 0.5  # metres, seconds: the pursued point's distance ahead on the route
REFERENCE = 0.3  # the pursuit's reference point, as a share of the wheelbase in front of the rear axle


class RouteSteering:
    """The steer input that follows the route from where the hero is (``steer(hero, progress)``).

    Built per episode from the hero's physics control: ``wheelbase`` and ``track`` (metres), the front
    wheels' ``max_steer`` (radians), the steering curve (speed km/h to the share of ``max_steer`` reached),
    and ``reference`` (metres in front of the hero's location the pursuit starts from)."""

    def __init__(self, hero: Any) -> None:
        transform = hero.get_transform()
        physics = hero.get_physics_control()
        local = np.array([_local_xy(transform, w.position) for w in physics.wheels])  # front wheels first
        front, rear = local[:2].mean(axis=0), local[2:].mean(axis=0) if len(local) > 2 else local[:2].mean(axis=0)
        self.wheelbase = max(float(front[0] - rear[0]), 0.5)
        self.track = float(abs(local[0, 1] - local[1, 1])) if len(local) > 1 else 0.0
        self.max_steer = math.radians(max(float(physics.wheels[0].max_steer_angle), 1.0))
        curve = sorted((float(p.x), float(p.y)) for p in physics.steering_curve) or [(0.0, 1.0)]
        self.curve_speeds = np.array([s for s, _ in curve])
        self.curve_factors = np.array([f for _, f in curve])
        self.reference = float(rear[0]) + REFERENCE * self.wheelbase

    def steer(self, hero: Any, progress: Any) -> float:
        """The steer input (-1..1, + right) pursuing the route point ``4 + 0.5 * speed`` metres ahead of the last
        passed one; 0 without a route."""
        if progress is None:
            return 0.0
        transform, speed = hero.get_transform(), hero.get_velocity().length()
        return self.steer_at(transform.location.x, transform.location.y, transform.rotation.yaw, speed, progress)

    def steer_at(self, x: float, y: float, yaw_degrees: float, speed: float, progress: Any) -> float:
        """:meth:`steer` of the hero at (x, y) heading ``yaw_degrees`` at ``speed`` m/s (many heroes' kinematics read
        as arrays, :mod:`..hero_batch`: the same values as its getters give)."""
        yaw = math.radians(yaw_degrees)
        fx, fy = math.cos(yaw), math.sin(yaw)
        target = progress.points[progress.index_after(progress.index, REACH_BASE + REACH_PER_SPEED * speed)]
        tx = float(target[0]) - (x + self.reference * fx)
        ty = float(target[1]) - (y + self.reference * fy)
        along, lateral = tx * fx + ty * fy, -tx * fy + ty * fx
        alpha = math.atan2(lateral, max(along, 0.1))
        kappa = 2.0 * math.sin(alpha) / max(math.hypot(tx, ty), 1.0)
        return self.steer_for_curvature(kappa, speed)

    def steer_for_curvature(self, kappa: float, speed: float) -> float:
        """The steer input giving a path curvature ``kappa`` (1/m, + right) at ``speed`` (m/s): Ackermann's front
        wheel angle over the steer angle the steering curve allows at that speed."""
        factor = float(np.interp(abs(speed) * 3.6, self.curve_speeds, self.curve_factors))
        magnitude = abs(kappa)
        tangent = magnitude * self.wheelbase / max(1.0 - magnitude * self.track / 2.0, 1e-3)
        steer = math.atan(tangent) / max(factor * self.max_steer, 1e-3)
        return math.copysign(min(steer, 1.0), kappa)


def _local_xy(transform: Any, position: Any) -> tuple[float, float]:
    """A wheel position (world, cm, as CARLA's physics control gives it) in the vehicle's frame (metres: forward,
    right)."""
    dx, dy = position.x / 100.0 - transform.location.x, position.y / 100.0 - transform.location.y
    yaw = math.radians(transform.rotation.yaw)
    return dx * math.cos(yaw) + dy * math.sin(yaw), -dx * math.sin(yaw) + dy * math.cos(yaw)
