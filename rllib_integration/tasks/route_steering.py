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
from typing import Any, Sequence

import numpy as np
from numba import njit

from ..common.identity_cache import SequenceCache
from ..routes.progress import first_reaching
from ..routes.progress_batch import route_rows

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
        as arrays, :mod:`..hero_batch`: the same values as its getters give; :func:`steer_many` for many at once)."""
        return pursuit_steer(x, y, yaw_degrees, speed, progress.points, progress.cumulative, len(progress.points),
                             progress.index, self.reference, self.wheelbase, self.track, self.max_steer,
                             self.curve_speeds, self.curve_factors)

    def steer_for_curvature(self, kappa: float, speed: float) -> float:
        """The steer input giving a path curvature ``kappa`` (1/m, + right) at ``speed`` (m/s): Ackermann's front
        wheel angle over the steer angle the steering curve allows at that speed."""
        return steer_for_curvature(kappa, speed, self.wheelbase, self.track, self.max_steer, self.curve_speeds,
                                   self.curve_factors)


def steer_many(steerings: Sequence[RouteSteering], kinematics: np.ndarray, speeds: np.ndarray,
               progresses: Sequence[Any], world: Any) -> np.ndarray:
    """:meth:`RouteSteering.steer_at` of many heroes of ``world`` at once (their ``kinematics``: x, y, yaw degrees
    (N, 3), ``speeds`` m/s, routes ``progresses``), in one compiled call over the world's route rows (the same
    arithmetic, the same values)."""
    routes = route_rows(world)
    rows = routes.sync(progresses)
    params, curve_speeds, curve_factors = _VEHICLES.get(steerings, _vehicle_arrays)
    out = np.empty(len(steerings))
    _steer_rows(np.ascontiguousarray(kinematics, dtype=np.float64), np.ascontiguousarray(speeds, dtype=np.float64),
                routes.points, routes.cumulative, routes.counts, rows,
                np.array([progress.index for progress in progresses], dtype=np.int64), params, curve_speeds,
                curve_factors, out)
    return out


#: The vehicles of the last sets of steerings asked for (:func:`steer_many`), as arrays
_VEHICLES: SequenceCache[tuple[np.ndarray, np.ndarray, np.ndarray]] = SequenceCache(8)


def _vehicle_arrays(steerings: Sequence[RouteSteering]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each steering's reference, wheelbase, track, max steer and steering curve's length (N, 5), and its curve's
    speeds and factors (N, the longest curve), padded."""
    curves = max(len(steering.curve_speeds) for steering in steerings)
    params = np.array([(steering.reference, steering.wheelbase, steering.track, steering.max_steer,
                        len(steering.curve_speeds)) for steering in steerings], dtype=np.float64).reshape(-1, 5)
    curve_speeds, curve_factors = np.zeros((len(steerings), curves)), np.zeros((len(steerings), curves))
    for k, steering in enumerate(steerings):
        curve_speeds[k, :len(steering.curve_speeds)] = steering.curve_speeds
        curve_factors[k, :len(steering.curve_factors)] = steering.curve_factors
    return params, curve_speeds, curve_factors


@njit(cache=True)
def _steer_rows(kinematics: np.ndarray, speeds: np.ndarray, points: np.ndarray, cumulative: np.ndarray,
                counts: np.ndarray, rows: np.ndarray, starts: np.ndarray, params: np.ndarray, curve_speeds: np.ndarray,
                curve_factors: np.ndarray, out: np.ndarray) -> None:
    """``out[h]``: :func:`pursuit_steer` of hero ``h`` along route row ``rows[h]`` from its point ``starts[h]``."""
    for h in range(out.shape[0]):
        row, curve = rows[h], int(params[h, 4])
        out[h] = pursuit_steer(kinematics[h, 0], kinematics[h, 1], kinematics[h, 2], speeds[h], points[row],
                               cumulative[row], counts[row], starts[h], params[h, 0], params[h, 1], params[h, 2],
                               params[h, 3], curve_speeds[h, :curve], curve_factors[h, :curve])


@njit(cache=True, inline="always")
def pursuit_steer(x: float, y: float, yaw_degrees: float, speed: float, points: np.ndarray, cumulative: np.ndarray,
                  count: int, index: int, reference: float, wheelbase: float, track: float, max_steer: float,
                  curve_speeds: np.ndarray, curve_factors: np.ndarray) -> float:
    """The steer input pursuing the route point ``4 + 0.5 * speed`` metres past point ``index`` (of ``count``
    points, their ``cumulative`` metres) from ``reference`` metres ahead of (x, y) (see :class:`RouteSteering`)."""
    yaw = math.radians(yaw_degrees)
    fx, fy = math.cos(yaw), math.sin(yaw)
    target = min(first_reaching(cumulative, count, cumulative[index] + (REACH_BASE + REACH_PER_SPEED * speed)),
                 count - 1)  # (RouteProgress.index_after)
    tx = points[target, 0] - (x + reference * fx)
    ty = points[target, 1] - (y + reference * fy)
    along, lateral = tx * fx + ty * fy, -tx * fy + ty * fx
    alpha = math.atan2(lateral, max(along, 0.1))
    kappa = 2.0 * math.sin(alpha) / max(math.hypot(tx, ty), 1.0)
    return steer_for_curvature(kappa, speed, wheelbase, track, max_steer, curve_speeds, curve_factors)


@njit(cache=True, inline="always")
def steer_for_curvature(kappa: float, speed: float, wheelbase: float, track: float, max_steer: float,
                        curve_speeds: np.ndarray, curve_factors: np.ndarray) -> float:
    """:meth:`RouteSteering.steer_for_curvature` of a vehicle of that ``wheelbase``, ``track``, ``max_steer`` and
    steering curve."""
    factor = np.interp(abs(speed) * 3.6, curve_speeds, curve_factors)
    magnitude = abs(kappa)
    tangent = magnitude * wheelbase / max(1.0 - magnitude * track / 2.0, 1e-3)
    steer = math.atan(tangent) / max(factor * max_steer, 1e-3)
    return math.copysign(min(steer, 1.0), kappa)


def _local_xy(transform: Any, position: Any) -> tuple[float, float]:
    """A wheel position (world, cm, as CARLA's physics control gives it) in the vehicle's frame (metres: forward,
    right)."""
    dx, dy = position.x / 100.0 - transform.location.x, position.y / 100.0 - transform.location.y
    yaw = math.radians(transform.rotation.yaw)
    return dx * math.cos(yaw) + dy * math.sin(yaw), -dx * math.sin(yaw) + dy * math.cos(yaw)
