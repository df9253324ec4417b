"""Driving by target speed: a PI controller from a target speed to throttle and brake, and the target speed a
driver's motion shows (the label a demonstration gives a speed-commanding policy).

Why a target speed rather than throttle and brake, for a policy cloned from demonstrations: where a scene does
not tell whether the demonstrator waits or drives off (a car standing at a junction), behaviour cloning learns
the mean of the two. In throttle-and-brake terms that mean is a weak throttle against a held brake, under
what moves the car: the cloned car never leaves its first stop. In target-speed terms waiting is the bottom
of the range (speed 0) and driving off is above it, so the mean is a slow drive-off, which the controller
turns into a throttle that moves the car, and the next states are no longer ambiguous.

Carla API only (the hero's velocity, acceleration and transform), so it runs on a CARLA server unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

#: Seconds ahead the demonstrator's acceleration is projected to give the speed it is heading for.
HORIZON = 3.0
HOLD_SPEED = 0.3  # m/s: a target and a speed both below it hold the car with the brake


@dataclass
class SpeedController:
    """PI control of the hero's speed: ``control(target, speed)`` gives ``(throttle, brake)``.

    ``kp`` throttle per m/s of error, ``ki`` per m of integrated error (clamped to ``integral_limit``),
    ``brake_gain`` brake per m/s of excess speed; ``dt`` the world's step."""

    dt: float = 0.05
    kp: float = 0.5
    ki: float = 0.3
    brake_gain: float = 0.4
    integral_limit: float = 2.0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.integral = 0.0

    def gains(self) -> tuple[float, float, float, float, float]:
        """(dt, kp, ki, brake_gain, integral_limit): what :func:`speed_controls` takes."""
        return self.dt, self.kp, self.ki, self.brake_gain, self.integral_limit

    def control(self, target: float, speed: float) -> tuple[float, float]:
        throttle, brake, self.integral = _control(self.gains(), float(target), float(speed), self.integral)
        return throttle, brake


def _along_heading(actor: Any, vector: Any) -> float:
    return speed_along(vector.x, vector.y, actor.get_transform().rotation.yaw)


def forward_speed(actor: Any) -> float:
    """The actor's speed along its heading (m/s), signed."""
    return _along_heading(actor, actor.get_velocity())


def speed_along(vx: float, vy: float, yaw_degrees: float) -> float:
    """The speed along a heading of ``yaw_degrees`` of a motion (vx, vy) m/s, signed (:func:`forward_speed` from
    many heroes' kinematics read as arrays)."""
    yaw = math.radians(yaw_degrees)
    return vx * math.cos(yaw) + vy * math.sin(yaw)


def forward_motion(actor: Any) -> tuple[float, float]:
    """The actor's speed and acceleration along its heading (m/s, m/s²), signed."""
    return forward_speed(actor), _along_heading(actor, actor.get_acceleration())


def target_from_motion(speed: float, acceleration: float, horizon: float = HORIZON) -> float:
    """The speed a driver is heading for: its speed ``horizon`` seconds on at its present acceleration, not below 0."""
    return max(speed + acceleration * horizon, 0.0)


@njit(cache=True)
def speeds_along(rows: np.ndarray, vx: int, vy: int, yaw: int, out: np.ndarray) -> None:
    """``out[r]``: :func:`speed_along` of row ``r`` of ``rows`` (its velocity in columns ``vx``, ``vy``, its heading
    in degrees in column ``yaw``), many heroes at once (the same arithmetic)."""
    for r in range(rows.shape[0]):
        heading = math.radians(rows[r, yaw])
        out[r] = rows[r, vx] * math.cos(heading) + rows[r, vy] * math.sin(heading)


@njit(cache=True, inline="always")
def _least(a: float, b: float) -> float:
    return b if b < a else a  # (Python's min(a, b): a unless b is smaller, a signed zero kept)


@njit(cache=True, inline="always")
def _most(a: float, b: float) -> float:
    return b if b > a else a  # (Python's max(a, b))


@njit(cache=True)
def speed_controls(gains: tuple, targets: np.ndarray, speeds: np.ndarray, integrals: np.ndarray,
                   out: np.ndarray) -> None:
    """:meth:`SpeedController.control` of many controllers of the same ``gains`` (:meth:`SpeedController.gains`) at
    once: ``out[r]`` gets row ``r``'s throttle and brake from its ``targets[r]`` and ``speeds[r]``, ``integrals[r]``
    (its controller's state) updated in place."""
    for r in range(targets.shape[0]):
        out[r, 0], out[r, 1], integrals[r] = _control(gains, targets[r], speeds[r], integrals[r])


@njit(cache=True, inline="always")
def _control(gains: tuple, target: float, speed: float, integral: float) -> tuple[float, float, float]:
    """The PI control of one controller: (throttle, brake, its integral after)."""
    dt, kp, ki, brake_gain, limit = gains
    if target < HOLD_SPEED and speed < HOLD_SPEED:
        return 0.0, 1.0, 0.0
    error = target - speed
    integral = _least(_most(integral + error * dt, 0.0), limit)
    if error < -0.5:  # well above the target: brake, and let the integral (the cruise throttle) stay
        return 0.0, _least(-error * brake_gain, 1.0), integral
    return _least(_most(kp * error + ki * integral, 0.0), 1.0), 0.0, integral
