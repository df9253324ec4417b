"""Vehicle motion of the embedded world, calibrated to CARLA 0.9.x (see :mod:`.vehicle_physics`).

Every vehicle of a world is a row of one :class:`VehicleStates` table, advanced by
:meth:`VehicleStates.step` (the equations, per vehicle, are :mod:`.vehicle_kernel`'s, compiled).
Per tick of ``dt`` (what depends on the tick's start is computed once; motion is integrated in
sub-steps of at most :data:`PHYSICS_STEP`):

1. **Inputs** move towards the applied control at UE4's rates: throttle and brake rise 6/s and fall
   10/s; steer moves away from the centre at 2.5/s and back at 5/s; the hand brake 12/s.
2. **Gearbox** (automatic, or the control's gear with ``manual_gear_shift``): a vehicle spawns in
   neutral and engages first gear once it has rested on the ground for ``gear_switch_time``; it
   shifts up above ``up_ratio * max_rpm`` and down below ``down_ratio * max_rpm`` (when the lower
   gear would not shift straight back), with no drive for ``gear_switch_time``; ``reverse`` engages
   the reverse gear (ratio 4) once the vehicle is nearly still.
3. **Longitudinal**: engine torque from the torque curve at the engine's rpm, times the throttle
   response (nothing below throttle 0.2, ``((t - 0.2) / 0.8) ** 0.72`` above), through the gear,
   the final ratio and the wheel radius; engine braking at closed throttle
   (``0.15 * damping_rate_zero_throttle_clutch_engaged`` m/s²), rolling resistance (0.015 g),
   aerodynamic drag (0.5 ρ Cd A v², A = 0.85 width x height), gravity along the slope; brakes
   (``max_brake_torque`` of every wheel) and the hand brake (rear wheels) never reverse the motion.
4. **Lateral**: the inner front wheel turns ``steer * steering_curve(speed) * 0.7 * max_steer_angle``
   (full lock of 70 deg gives 49 deg inner / 35 deg outer on a model3, as measured in CARLA); the path
   curvature follows Ackermann geometry about the rear axle. A friction circle of ``mu * g``
   (``mu = tire_friction / 3.5``) is shared by the longitudinal and the lateral acceleration: braking
   hard in a curve understeers. Locked rear wheels (hand brake) let the rear slide out.
5. **Motion** of the actor's origin (ahead of the rear axle, so the front swings out in turns), plus
   a lateral slip velocity (impulses, forces) that the tyres remove, plus small perturbations as
   PhysX shows them: the heading and the lateral position follow mean-reverting random processes
   (about 0.04 deg and 3 mm), seeded per vehicle by its blueprint and spawn pose, so runs are
   deterministic and two vehicles never jitter alike.
6. **Vertical**: vehicles rest on the ground the world supplies (with pitch and roll from its
   slope); one above it falls and lands; none ever stays below it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable

import carla
import numpy as np

from . import vehicle_kernel as kernel
from .vehicle_physics import physics_control
from .vehicle_kernel import COLUMN, STATE

PHYSICS_STEP = 0.01  # seconds; CARLA's default max_substep_delta_time
CURVE_POINTS = 8  # torque and steering curves are kept with this many points (padded)
MAX_GEARS = 8
STEER_LOCK_FRACTION = 0.7  # inner wheel angle at full lock / max_steer_angle
ENGINE_BRAKE_PER_DAMPING = 0.15  # m/s² of engine braking per unit of damping_rate_zero_throttle_clutch_engaged
AIR_DENSITY, FRONTAL_AREA_RATIO = 1.225, 0.85
FRICTION_PER_TIRE_FRICTION = 1.0 / 3.5
_CURVES = ("torque_rpm", "torque_nm", "steer_kmh", "steer_factor")
_GEARS = ("gear_ratio", "gear_up", "gear_down")
_PHYSICS = slice(COLUMN["mass"], COLUMN["inertia"] + 1)  # the columns a physics control and the size set


def clamp(values: np.ndarray, low, high) -> np.ndarray:
    """``np.clip`` without its per-call overhead (it is called on every tick)."""
    return np.minimum(np.maximum(values, low), high)


def _padded(points: list[tuple[float, float]], size: int) -> tuple[np.ndarray, np.ndarray]:
    points = sorted(points)[:size] or [(0.0, 0.0)]
    points += [points[-1]] * (size - len(points))
    return np.array([p[0] for p in points]), np.array([p[1] for p in points])


def noise_key(blueprint_id: str, x: float, y: float, yaw_deg: float) -> int:
    """The seed of a vehicle's perturbations: its blueprint and spawn pose (stable across processes)."""
    return zlib.crc32(f"{blueprint_id}:{x:.2f}:{y:.2f}:{yaw_deg:.1f}".encode())


class VehicleStates:
    """State table of every vehicle in a world; a vehicle is a row (its ``slot``)."""

    def __init__(self, capacity: int = 16) -> None:
        self.data = np.zeros((capacity, len(STATE)))
        self.curves = {name: np.zeros((capacity, CURVE_POINTS)) for name in _CURVES}
        self.gears = {name: np.ones((capacity, MAX_GEARS)) for name in _GEARS}
        self.count = 0
        self.owners: list[object] = []
        self._owner_ids: np.ndarray | None = None  # the owners' ids, built when asked after rows came or went
        #: A fresh row's parameters, curves and gears by the key of the physics control it was spawned with
        #: (reading a ``carla.VehiclePhysicsControl`` costs a respawn more than the rest of its row)
        self._spawned: dict[Hashable, tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]] = {}

    # -- rows -------------------------------------------------------------------------------
    def add(self, owner: object, control: carla.VehiclePhysicsControl, size: tuple[float, float, float],
            x: float, y: float, z: float, yaw_deg: float, key: int, physics_key: Hashable | None = None) -> int:
        """Add a vehicle of ``size`` (width, length, height) at rest, in neutral; returns its slot. Vehicles
        spawned with the same ``physics_key`` (not None) have the same ``control`` and size: the parameters read
        from the first one's are copied."""
        if self.count == len(self.data):
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
            for table in (self.curves, self.gears):
                for name, array in table.items():
                    table[name] = np.concatenate([array, np.ones_like(array)])
        slot = self.count
        self.data[slot] = 0.0
        self.owners.append(owner)
        self._owner_ids = None
        self.count += 1
        row = self.data[slot]
        c = COLUMN
        row[[c["x"], c["y"], c["z"], c["yaw"]]] = (x, y, z, math.radians(yaw_deg))
        row[c["ground"]] = np.nan
        row[c["noise_key"]] = key
        row[[c["half_length"], c["half_width"], c["height"]]] = (size[1] / 2, size[0] / 2, size[2])
        spawned = self._spawned.get(physics_key) if physics_key is not None else None
        if spawned is None:
            self.apply_physics(slot, control)
            if physics_key is not None:
                self._spawned[physics_key] = (row[_PHYSICS].copy(), {name: array[slot].copy() for name, array in
                                                                     self.curves.items()},
                                              {name: array[slot].copy() for name, array in self.gears.items()})
            return slot
        row[_PHYSICS] = spawned[0]
        for table, values in ((self.curves, spawned[1]), (self.gears, spawned[2])):
            for name, array in table.items():
                array[slot] = values[name]
        return slot

    def apply_physics(self, slot: int, control: carla.VehiclePhysicsControl) -> None:
        """Set a row's parameters from a ``carla.VehiclePhysicsControl`` (wheel positions are the
        vehicle's geometry: kept from spawn, as CARLA keeps them read-only)."""
        row, c = self.data[slot], COLUMN
        wheels = list(control.wheels)
        front = [w for w in wheels if w.max_steer_angle > 0.0] or wheels[:1]
        rear = [w for w in wheels if w.max_steer_angle == 0.0] or wheels[-1:]
        if row[c["wheelbase"]] == 0.0:  # geometry, from the spawn-time control (positions in cm)
            front_x = np.mean([w.position.x for w in front]) / 100.0
            rear_x = np.mean([w.position.x for w in rear]) / 100.0
            row[c["wheelbase"]] = max(front_x - rear_x, 0.1)
            row[c["rear_axle"]] = rear_x
            row[c["track"]] = abs(front[-1].position.y - front[0].position.y) / 100.0
        mass = float(control.mass)
        radius = max(np.mean([w.radius for w in wheels]) / 100.0, 0.05)
        width, height = 2.0 * row[c["half_width"]], row[c["height"]]
        row[c["mass"]] = mass
        row[c["inertia"]] = mass * ((2.0 * row[c["half_length"]]) ** 2 + width ** 2) / 12.0
        row[c["max_steer"]] = math.radians(max(w.max_steer_angle for w in front)) * STEER_LOCK_FRACTION
        row[c["max_rpm"]] = float(control.max_rpm)
        row[c["final_ratio"]] = float(control.final_ratio)
        row[c["switch_time"]] = float(control.gear_switch_time)
        row[c["wheel_radius"]] = radius
        row[c["brake_force"]] = sum(w.max_brake_torque for w in wheels) / radius
        row[c["hand_brake_force"]] = sum(w.max_handbrake_torque for w in wheels) / radius
        row[c["drag"]] = 0.5 * AIR_DENSITY * float(control.drag_coefficient) * FRONTAL_AREA_RATIO * width * height
        row[c["mu"]] = np.mean([w.tire_friction for w in wheels]) * FRICTION_PER_TIRE_FRICTION
        row[c["engine_brake"]] = ENGINE_BRAKE_PER_DAMPING * float(control.damping_rate_zero_throttle_clutch_engaged)
        for names, points in ((("torque_rpm", "torque_nm"), [(p.x, p.y) for p in control.torque_curve]),
                              (("steer_kmh", "steer_factor"), [(p.x, p.y) for p in control.steering_curve])):
            xs, ys = _padded(points, CURVE_POINTS)
            self.curves[names[0]][slot], self.curves[names[1]][slot] = xs, ys
        gears = list(control.forward_gears)[:MAX_GEARS] or [carla.GearPhysicsControl(1.0, 0.5, 0.65)]
        row[c["gear_count"]] = len(gears)
        for name, attribute in zip(_GEARS, ("ratio", "up_ratio", "down_ratio")):
            values = [getattr(g, attribute) for g in gears]
            self.gears[name][slot] = values + [values[-1]] * (MAX_GEARS - len(values))
        row[c["manual"]] = 0.0 if control.use_gear_autobox else row[c["manual"]]

    def remove(self, slot: int) -> object | None:
        """Remove a row by moving the last row into it; returns the owner that moved (or None)."""
        last = self.count - 1
        moved = None
        if slot != last:
            self.data[slot] = self.data[last]
            for table in (self.curves, self.gears):
                for array in table.values():
                    array[slot] = array[last]
            moved = self.owners[last]
            self.owners[slot] = moved
        self.owners.pop()
        self._owner_ids = None
        self.count -= 1
        return moved

    def owner_ids(self) -> np.ndarray:
        """The ids of the rows' owners, row by row (read-only: the same array until a row is added or removed)."""
        if self._owner_ids is None:
            ids = np.fromiter((owner.id for owner in self.owners), dtype=np.int64, count=self.count)
            ids.flags.writeable = False
            self._owner_ids = ids
        return self._owner_ids

    def column(self, name: str) -> np.ndarray:
        """A view of one column over the live rows."""
        return self.data[: self.count, COLUMN[name]]

    # -- derived quantities (also used by the traffic manager) --------------------------------
    def throttle_for(self, rows: np.ndarray, accel: np.ndarray) -> np.ndarray:
        """The throttle that gives ``accel`` (m/s², against drag and rolling) at the rows' speed."""
        return kernel.throttle_for_rows(self.data, self.curves["torque_rpm"], self.curves["torque_nm"],
                                        self.gears["gear_ratio"], np.asarray(rows), np.asarray(accel, float))

    def brake_decel(self, rows: np.ndarray) -> np.ndarray:
        """Deceleration of full brake (m/s²) of the rows, brakes alone."""
        return self.data[rows, COLUMN["brake_force"]] / self.data[rows, COLUMN["mass"]]

    def curvature(self, rows: np.ndarray, steer: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Path curvature (1/m, + to the right) of a steer input at a speed, about the rear axle."""
        return kernel.curvature_rows(self.data, self.curves["steer_kmh"], self.curves["steer_factor"],
                                     np.asarray(rows), np.asarray(steer, float), np.asarray(speed, float))

    def steer_for(self, rows: np.ndarray, curvature: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """The steer input that gives ``curvature`` (1/m, + right) at ``speed``: the inverse of
        :meth:`curvature`, clipped to [-1, 1]."""
        return kernel.steer_for_rows(self.data, self.curves["steer_kmh"], self.curves["steer_factor"],
                                     np.asarray(rows), np.asarray(curvature, float), np.asarray(speed, float))

    def velocity(self, slot: int) -> tuple[float, float, float]:
        """World-frame velocity of one vehicle's origin."""
        return kernel.world_velocity(self.data[slot])

    def update_accelerations(self, before: np.ndarray, dt: float) -> None:
        """World-frame acceleration of every vehicle over a tick that started from ``before``."""
        kernel.accelerations(self.data, before, self.count, dt)

    # -- the step ---------------------------------------------------------------------------
    def step(self, dt: float) -> np.ndarray:
        """Advance every vehicle by ``dt`` seconds (see the module docstring); returns the path:
        (x, y, yaw) after each sub-step, shape (sub-steps, vehicles, 3)."""
        substeps = max(1, math.ceil(dt / PHYSICS_STEP - 1e-9))
        path = np.zeros((substeps, self.count, 3))
        if self.count and dt > 0.0:
            kernel.step_rows(self.data, self.curves["torque_rpm"], self.curves["torque_nm"], self.curves["steer_kmh"],
                             self.curves["steer_factor"], self.gears["gear_ratio"], self.gears["gear_up"],
                             self.gears["gear_down"], self.count, dt, substeps, path)
        return path

    def settle_vertical(self, dt: float, ground: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> None:
        """Vertical motion after a tick: rest on ``ground`` (heights at the new positions), fall
        from above it, land on it, never stay below it; take the ground's pitch and roll."""
        kernel.settle_rows(self.data, self.count, dt, np.ascontiguousarray(ground, float),
                           np.ascontiguousarray(pitch, float), np.ascontiguousarray(roll, float))


def warm_up() -> None:
    """Compile (or load from numba's cache) the physics kernels now, with one throwaway vehicle, so
    that the first tick of a world running in real time does not stall."""
    states = VehicleStates(1)
    size = (1.8, 4.5, 1.5)
    states.add(None, physics_control("vehicle.warm_up", "car", size), size, 0.0, 0.0, 0.0, 0.0, 0)
    states.step(0.05)
