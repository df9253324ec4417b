"""Vehicle motion of the embedded world: a kinematic bicycle with longitudinal dynamics.

All vehicles of a world live in one :class:`VehicleStates` table (NumPy columns) and are advanced
together by :meth:`VehicleStates.step`, sub-stepped at a fixed physics step so the result does not
depend on how the caller slices time, and deterministic (no random numbers).

Model, per vehicle, with ``v`` the signed speed along the heading (m/s):

- drive force ``throttle * min(F_max, P_max / |v|)``, backwards when ``reverse`` is set;
- aerodynamic drag ``k_drag * v * |v|`` and rolling resistance ``c_rr * g``;
- brakes decelerate by ``brake * a_brake`` (``hand_brake`` by ``a_hand_brake``) and never reverse
  the motion;
- steering angle ``steer * max_steer * curve(speed)`` with CARLA's default steering curve
  (1.0 at 0 km/h, 0.9 at 20, 0.8 at 60, 0.7 at 120; taken at the tick's starting speed), yaw rate
  ``v * tan(angle) / wheelbase``
  (positive steer turns right: +yaw in CARLA's left-handed frame), capped so the lateral
  acceleration stays under ``mu * g`` (tyre grip);
- vertical motion: gravity, resting on the ground height the world supplies (``NaN``: no ground,
  the vehicle falls); no traction while airborne.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...common.formats import GRAVITY

PHYSICS_STEP = 0.01  # seconds; CARLA's default max_substep_delta_time
GRIP = 1.0  # tyre friction coefficient for the lateral-acceleration cap
_CURVE_KMH = np.array([0.0, 20.0, 60.0, 120.0])
_CURVE_FACTOR = np.array([1.0, 0.9, 0.8, 0.7])


@dataclass(frozen=True)
class VehicleParameters:
    """Physical constants of one vehicle."""

    mass: float  # kg
    wheelbase: float  # m
    max_steer_deg: float  # effective front-wheel angle at full steer
    max_drive_force: float  # N
    max_power: float  # W
    brake_decel: float  # m/s^2 at brake = 1
    hand_brake_decel: float  # m/s^2
    drag_constant: float  # 0.5 * rho * Cd * A, kg/m
    rolling_coefficient: float

    @classmethod
    def for_vehicle(cls, base_type: str, width: float, length: float, height: float):
        """Plausible constants for a CARLA vehicle class and size."""
        table = {  # mass, steer, accel limit m/s^2, power kW, brake m/s^2
            "car": (1500.0, 35.0, 3.5, 150.0, 8.0),
            "van": (2500.0, 35.0, 3.0, 150.0, 7.0),
            "truck": (6000.0, 35.0, 2.0, 300.0, 6.0),
            "bus": (11000.0, 35.0, 1.5, 250.0, 6.0),
            "motorcycle": (250.0, 30.0, 5.0, 60.0, 7.0),
            "bicycle": (90.0, 30.0, 1.5, 0.5, 5.0),
        }
        mass, steer, accel, power_kw, brake = table.get(base_type, table["car"])
        return cls(mass=mass, wheelbase=0.6 * length, max_steer_deg=steer,
                   max_drive_force=mass * accel, max_power=power_kw * 1000.0, brake_decel=brake,
                   hand_brake_decel=5.0, drag_constant=0.5 * 1.2 * 0.3 * width * height * 0.85,
                   rolling_coefficient=0.015)


_STATE = ["x", "y", "z", "yaw", "speed", "vz", "yaw_rate", "ax", "ay", "az",
          "throttle", "steer", "brake", "reverse", "hand_brake", "ground", "frozen",
          "mass", "wheelbase", "max_steer", "drive_force", "power", "brake_decel",
          "hand_brake_decel", "drag", "rolling", "half_length", "half_width", "height"]
COLUMN = {name: index for index, name in enumerate(_STATE)}


class VehicleStates:
    """State table of every vehicle in a world; a vehicle is a row (its ``slot``)."""

    def __init__(self, capacity: int = 16) -> None:
        self.data = np.zeros((capacity, len(_STATE)))
        self.count = 0
        self.owners: list[object] = []

    def add(self, owner: object, params: VehicleParameters, size: tuple[float, float, float],
            x: float, y: float, z: float, yaw_deg: float) -> int:
        """Add a vehicle of ``size`` (width, length, height) at rest; returns its slot."""
        if self.count == len(self.data):
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
        slot = self.count
        row = self.data[slot]
        row[:] = 0.0
        row[[COLUMN["x"], COLUMN["y"], COLUMN["z"], COLUMN["yaw"]]] = (x, y, z, math.radians(yaw_deg))
        row[COLUMN["ground"]] = np.nan
        row[COLUMN["mass"]:] = (params.mass, params.wheelbase, math.radians(params.max_steer_deg),
                                params.max_drive_force, params.max_power, params.brake_decel,
                                params.hand_brake_decel, params.drag_constant,
                                params.rolling_coefficient, size[1] / 2, size[0] / 2, size[2])
        self.owners.append(owner)
        self.count += 1
        return slot

    def remove(self, slot: int) -> object | None:
        """Remove a row by moving the last row into it; returns the owner that moved (or None)."""
        last = self.count - 1
        moved = None
        if slot != last:
            self.data[slot] = self.data[last]
            moved = self.owners[last]
            self.owners[slot] = moved
        self.owners.pop()
        self.count -= 1
        return moved

    def column(self, name: str) -> np.ndarray:
        """A view of one column over the live rows."""
        return self.data[: self.count, COLUMN[name]]

    def step(self, dt: float) -> None:
        """Advance every vehicle by ``dt`` seconds in fixed sub-steps of at most ``PHYSICS_STEP``."""
        if self.count == 0 or dt <= 0.0:
            return
        substeps = max(1, math.ceil(dt / PHYSICS_STEP - 1e-9))
        h = dt / substeps
        s = self.data[: self.count].T  # s[COLUMN[name]] is a view of one column
        c = COLUMN
        # Per-tick invariants.
        live = s[c["frozen"]] == 0.0
        ground = s[c["ground"]]
        has_ground = ~np.isnan(ground)
        floor = np.where(has_ground, ground, -np.inf)  # vehicles never land without ground
        throttle_force = s[c["throttle"]] * np.where(s[c["reverse"]] > 0.0, -1.0, 1.0)
        inv_mass = 1.0 / s[c["mass"]]
        resist = (s[c["brake"]] * s[c["brake_decel"]] + s[c["hand_brake"]] * s[c["hand_brake_decel"]]
                  + s[c["rolling"]] * GRAVITY) * h
        steer = s[c["steer"]] * s[c["max_steer"]]
        drive_force, power, drag = s[c["drive_force"]], s[c["power"]], s[c["drag"]]
        inv_wheelbase = 1.0 / s[c["wheelbase"]]
        x, y, z, yaw, v, vz = (s[c[k]].copy() for k in ("x", "y", "z", "yaw", "speed", "vz"))
        yaw_rate = np.zeros_like(v)
        # The steering curve at the speed of the tick's start (speed changes little within a tick).
        steer_tan = np.tan(steer * np.interp(np.abs(v) * 3.6, _CURVE_KMH, _CURVE_FACTOR)) * inv_wheelbase
        # Usually every vehicle rests on the ground: then the vertical motion needs no integration.
        resting = bool(np.all((np.abs(z - floor) < 1e-9) & (vz == 0.0)))
        for _ in range(substeps):
            grounded = live if resting else live & (z <= floor + 0.02)
            speed = np.abs(v)
            drive = throttle_force * np.minimum(drive_force, power / np.maximum(speed, 1.0))
            v1 = v + (drive - drag * v * speed) * inv_mass * h
            braked = np.copysign(np.maximum(np.abs(v1) - resist, 0.0), v1)
            v = np.where(grounded, braked, v * live)
            limit = GRIP * GRAVITY / np.maximum(np.abs(v), 1e-3)
            yaw_rate = np.maximum(np.minimum(v * steer_tan, limit), -limit) * grounded
            mid = yaw + 0.5 * yaw_rate * h
            x += v * np.cos(mid) * h
            y += v * np.sin(mid) * h
            yaw += yaw_rate * h
            if resting:
                continue
            vz = (vz - GRAVITY * h) * live
            z1 = z + vz * h
            landed = (z1 <= floor) & (z >= floor - 0.5)  # not when below the ground already
            z = np.where(landed, floor, z1)
            vz = np.where(landed, 0.0, vz)
        s[c["x"]], s[c["y"]], s[c["z"]], s[c["speed"]], s[c["vz"]] = x, y, z, v, vz
        s[c["yaw"]] = (yaw + np.pi) % (2.0 * np.pi) - np.pi
        s[c["yaw_rate"]] = yaw_rate

    def velocities(self, rows: np.ndarray) -> np.ndarray:
        """World-frame velocity (N, 3) of state rows (a copy of ``data`` rows)."""
        c = COLUMN
        speed, yaw = rows[:, c["speed"]], rows[:, c["yaw"]]
        return np.stack([speed * np.cos(yaw), speed * np.sin(yaw), rows[:, c["vz"]]], axis=1)

    def update_accelerations(self, before: np.ndarray, dt: float) -> None:
        """World-frame acceleration of every vehicle over a tick that started from ``before``."""
        data = self.data[: self.count]
        data[:, COLUMN["ax"]:COLUMN["az"] + 1] = (self.velocities(data) - self.velocities(before)) / dt
