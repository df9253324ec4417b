"""Vehicle motion of the embedded world, calibrated to CARLA 0.9.x (see :mod:`.vehicle_physics`).

Every vehicle of a world is a row of one :class:`VehicleStates` table, advanced for all rows at once
by :meth:`VehicleStates.step`. Per tick of ``dt`` (what depends on the tick's start is computed
once; motion is integrated in sub-steps of at most :data:`PHYSICS_STEP`):

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

import carla
import numpy as np

from ...common.formats import GRAVITY

PHYSICS_STEP = 0.01  # seconds; CARLA's default max_substep_delta_time
CURVE_POINTS = 8  # torque and steering curves are kept with this many points (padded)
MAX_GEARS = 8
REVERSE_RATIO = 4.0  # PhysX's reverse gear
THROTTLE_DEAD_ZONE, THROTTLE_EXPONENT = 0.2, 0.72
THROTTLE_RATES, BRAKE_RATES, STEER_RATES, HAND_BRAKE_RATE = (6.0, 10.0), (6.0, 10.0), (2.5, 5.0), 12.0
STEER_LOCK_FRACTION = 0.7  # inner wheel angle at full lock / max_steer_angle
ROLLING_RESISTANCE = 0.015
ENGINE_BRAKE_PER_DAMPING = 0.15  # m/s² of engine braking per unit of damping_rate_zero_throttle_clutch_engaged
AIR_DENSITY, FRONTAL_AREA_RATIO = 1.225, 0.85
FRICTION_PER_TIRE_FRICTION = 1.0 / 3.5
JITTER_YAW, JITTER_LATERAL, JITTER_TIME = math.radians(0.04), 0.003, 0.3

_STATE = [
    "x", "y", "z", "yaw", "pitch", "roll", "speed", "vy", "vz", "yaw_rate", "spin", "ax", "ay", "az",
    "jitter_yaw", "jitter_lat", "noise_step", "noise_key",
    "throttle", "steer", "brake", "reverse", "hand_brake", "manual", "gear_request",
    "throttle_in", "steer_in", "brake_in", "hand_brake_in",
    "gear", "shift_timer", "grounded_time",
    "frozen", "cv_on", "cv_speed", "force_x", "force_y", "torque_z",
    "ground", "ground_pitch", "ground_roll",
    "mass", "wheelbase", "rear_axle", "track", "max_steer", "max_rpm", "final_ratio", "gear_count",
    "switch_time", "wheel_radius", "brake_force", "hand_brake_force", "drag", "mu", "engine_brake",
    "half_length", "half_width", "height", "inertia",
]
COLUMN = {name: index for index, name in enumerate(_STATE)}
_CURVES = ("torque_rpm", "torque_nm", "steer_kmh", "steer_factor")
_GEARS = ("gear_ratio", "gear_up", "gear_down")


def interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` row by row: ``x`` (N,), curves ``xp``/``fp`` (N, K), increasing, padded by repeats."""
    rows = np.arange(len(x))
    k = np.clip((x[:, None] >= xp).sum(axis=1) - 1, 0, xp.shape[1] - 2)
    x0, x1, f0, f1 = xp[rows, k], xp[rows, k + 1], fp[rows, k], fp[rows, k + 1]
    t = np.clip((x - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0, 1.0)
    return f0 + t * (f1 - f0)


def _padded(points: list[tuple[float, float]], size: int) -> tuple[np.ndarray, np.ndarray]:
    points = sorted(points)[:size] or [(0.0, 0.0)]
    points += [points[-1]] * (size - len(points))
    return np.array([p[0] for p in points]), np.array([p[1] for p in points])


def noise_key(blueprint_id: str, x: float, y: float, yaw_deg: float) -> int:
    """The seed of a vehicle's perturbations: its blueprint and spawn pose (stable across processes)."""
    return zlib.crc32(f"{blueprint_id}:{x:.2f}:{y:.2f}:{yaw_deg:.1f}".encode())


def _normals(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Two standard normals per row from a counter-based hash of (key, counter): (N, 2)."""
    state = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + counters.astype(np.uint64)
    out = []
    for salt in (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)):
        z = (state ^ salt) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        out.append((z >> np.uint64(11)).astype(np.float64) / float(1 << 53))
    u1, u2 = np.maximum(out[0], 1e-12), out[1]
    radius = np.sqrt(-2.0 * np.log(u1))
    return np.stack([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)], axis=1)


def _towards(current: np.ndarray, target: np.ndarray, rise: float, fall: float, dt: float) -> np.ndarray:
    delta = target - current
    return current + np.clip(delta, -fall * dt, rise * dt)


class VehicleStates:
    """State table of every vehicle in a world; a vehicle is a row (its ``slot``)."""

    def __init__(self, capacity: int = 16) -> None:
        self.data = np.zeros((capacity, len(_STATE)))
        self.curves = {name: np.zeros((capacity, CURVE_POINTS)) for name in _CURVES}
        self.gears = {name: np.ones((capacity, MAX_GEARS)) for name in _GEARS}
        self.count = 0
        self.owners: list[object] = []

    # -- rows -------------------------------------------------------------------------------
    def add(self, owner: object, control: carla.VehiclePhysicsControl, size: tuple[float, float, float],
            x: float, y: float, z: float, yaw_deg: float, key: int) -> int:
        """Add a vehicle of ``size`` (width, length, height) at rest, in neutral; returns its slot."""
        if self.count == len(self.data):
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
            for table in (self.curves, self.gears):
                for name, array in table.items():
                    table[name] = np.concatenate([array, np.ones_like(array)])
        slot = self.count
        self.data[slot] = 0.0
        self.owners.append(owner)
        self.count += 1
        row = self.data[slot]
        c = COLUMN
        row[[c["x"], c["y"], c["z"], c["yaw"]]] = (x, y, z, math.radians(yaw_deg))
        row[c["ground"]] = np.nan
        row[c["noise_key"]] = key
        row[[c["half_length"], c["half_width"], c["height"]]] = (size[1] / 2, size[0] / 2, size[2])
        self.apply_physics(slot, control)
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
        self.count -= 1
        return moved

    def column(self, name: str) -> np.ndarray:
        """A view of one column over the live rows."""
        return self.data[: self.count, COLUMN[name]]

    # -- derived quantities (also used by the traffic manager) --------------------------------
    def drive_force(self, rows: np.ndarray, speed: np.ndarray, gear: np.ndarray) -> np.ndarray:
        """Full-throttle drive force (N) of table rows ``rows`` at ``speed`` in ``gear`` (0: first)."""
        c, data = COLUMN, self.data
        ratio = np.where(gear < 0, REVERSE_RATIO, self.gears["gear_ratio"][rows, np.clip(gear - 1, 0, MAX_GEARS - 1)])
        ratio = ratio * data[rows, c["final_ratio"]]
        radius = data[rows, c["wheel_radius"]]
        rpm = np.abs(speed) / radius * ratio * (60.0 / (2.0 * math.pi))
        torque = interp_rows(rpm, self.curves["torque_rpm"][rows], self.curves["torque_nm"][rows])
        force = np.where(rpm <= data[rows, c["max_rpm"]], torque * ratio / radius, 0.0)
        return np.minimum(force, data[rows, c["mu"]] * GRAVITY * data[rows, c["mass"]])

    def throttle_for(self, rows: np.ndarray, accel: np.ndarray) -> np.ndarray:
        """The throttle that gives ``accel`` (m/s², against drag and rolling) at the rows' speed."""
        c, data = COLUMN, self.data
        speed, mass = data[rows, c["speed"]], data[rows, c["mass"]]
        gear = np.maximum(data[rows, c["gear"]], 1).astype(int)
        full = self.drive_force(rows, speed, gear) / mass
        needed = accel + ROLLING_RESISTANCE * GRAVITY + data[rows, c["drag"]] * speed * speed / mass
        fraction = np.clip(needed / np.maximum(full, 1e-3), 0.0, 1.0)
        return np.where(fraction > 0.0, THROTTLE_DEAD_ZONE + (1.0 - THROTTLE_DEAD_ZONE)
                        * fraction ** (1.0 / THROTTLE_EXPONENT), 0.0)

    def brake_decel(self, rows: np.ndarray) -> np.ndarray:
        """Deceleration of full brake (m/s²) of the rows, brakes alone."""
        return self.data[rows, COLUMN["brake_force"]] / self.data[rows, COLUMN["mass"]]

    def curvature(self, rows: np.ndarray, steer: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Path curvature (1/m, + to the right) of a steer input at a speed, about the rear axle."""
        c, data = COLUMN, self.data
        factor = interp_rows(np.abs(speed) * 3.6, self.curves["steer_kmh"][rows], self.curves["steer_factor"][rows])
        tangent = np.tan(np.abs(steer) * factor * data[rows, c["max_steer"]])
        return np.sign(steer) * tangent / (data[rows, c["wheelbase"]] + tangent * data[rows, c["track"]] / 2.0)

    def steer_for(self, rows: np.ndarray, curvature: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """The steer input that gives ``curvature`` (1/m, + right) at ``speed``: the inverse of
        :meth:`curvature`, clipped to [-1, 1]."""
        c, data = COLUMN, self.data
        factor = interp_rows(np.abs(speed) * 3.6, self.curves["steer_kmh"][rows], self.curves["steer_factor"][rows])
        magnitude = np.abs(curvature)
        half_track = data[rows, c["track"]] / 2.0
        tangent = magnitude * data[rows, c["wheelbase"]] / np.maximum(1.0 - magnitude * half_track, 1e-3)
        angle = np.arctan(tangent) / np.maximum(factor * data[rows, c["max_steer"]], 1e-3)
        return np.clip(np.sign(curvature) * angle, -1.0, 1.0)

    def velocities(self, rows: np.ndarray) -> np.ndarray:
        """World-frame velocity (N, 3) of state rows (copies of ``data`` rows)."""
        c = COLUMN
        speed, yaw = rows[:, c["speed"]], rows[:, c["yaw"]]
        side = rows[:, c["vy"]] - rows[:, c["rear_axle"]] * rows[:, c["yaw_rate"]]
        return np.stack([speed * np.cos(yaw) - side * np.sin(yaw), speed * np.sin(yaw) + side * np.cos(yaw),
                         rows[:, c["vz"]]], axis=1)

    def update_accelerations(self, before: np.ndarray, dt: float) -> None:
        """World-frame acceleration of every vehicle over a tick that started from ``before``."""
        data = self.data[: self.count]
        data[:, COLUMN["ax"]:COLUMN["az"] + 1] = (self.velocities(data) - self.velocities(before)) / dt

    # -- the step ---------------------------------------------------------------------------
    def step(self, dt: float) -> np.ndarray:
        """Advance every vehicle by ``dt`` seconds (see the module docstring); returns the path:
        (x, y, yaw) after each sub-step, shape (sub-steps, vehicles, 3)."""
        if self.count == 0 or dt <= 0.0:
            return np.zeros((0, self.count, 3))
        n = self.count
        rows = np.arange(n)
        s = self.data[:n].T  # s[COLUMN[name]] is a view of one column
        c = COLUMN
        live = s[c["frozen"]] == 0.0
        floor = np.where(np.isnan(s[c["ground"]]), -np.inf, s[c["ground"]])
        on_ground = live & (s[c["z"]] <= floor + 0.02)
        # 1. Inputs (the mean over the tick of a linear ramp to the rate-limited value).
        before = {k: s[c[k]].copy() for k in ("throttle_in", "brake_in", "steer_in", "hand_brake_in")}
        s[c["throttle_in"]] = _towards(before["throttle_in"], s[c["throttle"]], *THROTTLE_RATES, dt)
        s[c["brake_in"]] = _towards(before["brake_in"], s[c["brake"]], *BRAKE_RATES, dt)
        s[c["hand_brake_in"]] = _towards(before["hand_brake_in"], s[c["hand_brake"]], HAND_BRAKE_RATE,
                                         HAND_BRAKE_RATE, dt)
        away = (s[c["steer"]] - before["steer_in"]) * before["steer_in"] >= 0.0
        rate = np.where(away, STEER_RATES[0], STEER_RATES[1]) * dt
        s[c["steer_in"]] = before["steer_in"] + np.clip(s[c["steer"]] - before["steer_in"], -rate, rate)
        throttle, brake, steer, hand_brake = ((before[k] + s[c[k]]) / 2.0 for k in
                                              ("throttle_in", "brake_in", "steer_in", "hand_brake_in"))
        # 2. Gearbox.
        v0 = s[c["speed"]].copy()
        self._shift(s, rows, v0, on_ground, dt)
        gear = s[c["gear"]].astype(int)
        engaged = (gear != 0) & (s[c["shift_timer"]] <= 0.0) & on_ground
        fraction = np.clip((throttle - THROTTLE_DEAD_ZONE) / (1.0 - THROTTLE_DEAD_ZONE), 0.0, 1.0) ** THROTTLE_EXPONENT
        drive = np.where(engaged, fraction * self.drive_force(rows, v0, gear) * np.sign(gear), 0.0)
        mass = s[c["mass"]]
        inv_mass = 1.0 / mass
        heading_force = (s[c["force_x"]] * np.cos(s[c["yaw"]]) + s[c["force_y"]] * np.sin(s[c["yaw"]]))
        engine_brake = np.where(gear != 0, s[c["engine_brake"]] * (1.0 - fraction), 0.0)
        slope = GRAVITY * np.sin(s[c["ground_pitch"]]) * on_ground
        resist = (brake * s[c["brake_force"]] + hand_brake * s[c["hand_brake_force"]]) * inv_mass
        mu_g = s[c["mu"]] * GRAVITY
        # 4. Lateral (the curvature of the tick's mean steer input; grip from the friction circle).
        curvature = self.curvature(rows, steer, v0)
        long_accel = np.minimum(np.abs(drive) * inv_mass + resist, mu_g)
        lateral_grip = np.sqrt(np.maximum(mu_g * mu_g - long_accel * long_accel, (0.2 * mu_g) ** 2))
        sliding = (hand_brake > 0.5) & (np.abs(v0) > 2.0)
        lateral_grip = np.where(sliding, 1.4 * lateral_grip, lateral_grip)
        curvature = np.where(sliding, 1.4 * curvature, curvature)
        constant = s[c["cv_on"]] > 0.0
        # 6. Perturbations: one Ornstein-Uhlenbeck update per tick.
        scale = np.minimum(np.abs(v0) / 5.0, 1.0) * 0.9 + 0.1
        normal = _normals(s[c["noise_key"]], s[c["noise_step"]])
        s[c["noise_step"]] += 1.0
        decay = math.exp(-dt / JITTER_TIME)
        spread = math.sqrt(1.0 - decay * decay)
        jitter_yaw = s[c["jitter_yaw"]] * decay + JITTER_YAW * spread * scale * normal[:, 0]
        jitter_lat = s[c["jitter_lat"]] * decay + JITTER_LATERAL * spread * scale * normal[:, 1]
        d_jitter_yaw, d_jitter_lat = (jitter_yaw - s[c["jitter_yaw"]]) * live, (jitter_lat - s[c["jitter_lat"]]) * live
        s[c["jitter_yaw"]], s[c["jitter_lat"]] = jitter_yaw, jitter_lat
        # 3, 5. Integrate the motion in sub-steps.
        substeps = max(1, math.ceil(dt / PHYSICS_STEP - 1e-9))
        h = dt / substeps
        x, y, yaw, v, vy = (s[c[k]].copy() for k in ("x", "y", "yaw", "speed", "vy"))
        spin = s[c["spin"]] + s[c["torque_z"]] / s[c["inertia"]] * dt
        vy = vy + (s[c["force_y"]] * np.cos(s[c["yaw"]]) - s[c["force_x"]] * np.sin(s[c["yaw"]])) * inv_mass * dt
        spin_decay = math.exp(-h / 0.3)
        ahead = -s[c["rear_axle"]]  # origin ahead of the rear axle
        drag = s[c["drag"]]
        free = (drive + heading_force) * inv_mass - slope
        losses = ROLLING_RESISTANCE * GRAVITY + engine_brake  # m/s², against the motion
        yaw_rate = np.zeros(n)
        path = np.empty((substeps, n, 3))
        for k in range(substeps):
            speed = np.abs(v)
            v1 = v + (free - losses * np.sign(v) * np.minimum(speed * 2.0, 1.0) - drag * v * speed * inv_mass) * h
            v1 = np.copysign(np.maximum(np.abs(v1) - resist * h, 0.0), v1)
            v = np.where(constant, s[c["cv_speed"]], np.where(on_ground, v1, v)) * live
            limit = lateral_grip / np.maximum(np.abs(v), 0.5)
            yaw_rate = (np.clip(v * curvature, -limit, limit) * on_ground + spin) * live
            vy = np.copysign(np.maximum(np.abs(vy) - mu_g * h, 0.0), vy) * live
            spin *= spin_decay
            mid = yaw + 0.5 * yaw_rate * h
            side = vy + ahead * (yaw_rate - spin)  # the origin swings about the rear axle
            cos, sin = np.cos(mid), np.sin(mid)
            x += (v * cos - side * sin) * h
            y += (v * sin + side * cos) * h
            yaw += yaw_rate * h
            path[k, :, 0], path[k, :, 1], path[k, :, 2] = x, y, yaw
        yaw += d_jitter_yaw
        x -= np.sin(yaw) * d_jitter_lat
        y += np.cos(yaw) * d_jitter_lat
        s[c["x"]], s[c["y"]], s[c["speed"]], s[c["vy"]], s[c["spin"]] = x, y, v, vy, spin
        s[c["yaw"]] = (yaw + np.pi) % (2.0 * np.pi) - np.pi
        s[c["yaw_rate"]] = yaw_rate
        s[c["torque_z"]] = s[c["force_x"]] = s[c["force_y"]] = 0.0
        s[c["grounded_time"]] = np.where(on_ground, s[c["grounded_time"]] + dt, 0.0)
        path[-1, :, 0], path[-1, :, 1], path[-1, :, 2] = x, y, s[c["yaw"]]
        return path

    def _shift(self, s: np.ndarray, rows: np.ndarray, speed: np.ndarray, on_ground: np.ndarray, dt: float) -> None:
        """Gear changes of this tick (automatic, manual, reverse and the engagement after spawn)."""
        c = COLUMN
        timer = np.maximum(s[c["shift_timer"]] - dt, 0.0)
        gear = s[c["gear"]].astype(int)
        count = s[c["gear_count"]].astype(int)
        reverse = s[c["reverse"]] > 0.5
        settled = s[c["grounded_time"]] >= s[c["switch_time"]]
        target = gear.copy()
        target = np.where((gear == 0) & settled & on_ground, np.where(reverse, -1, 1), target)
        target = np.where(reverse & (gear >= 0) & (speed < 0.5) & settled, -1, target)
        target = np.where(~reverse & (gear < 0) & (speed > -0.5), 1, target)
        manual = (s[c["manual"]] > 0.0) & (gear > 0)
        target = np.where(manual, np.clip(s[c["gear_request"]].astype(int), 1, count), target)
        index = np.clip(gear - 1, 0, MAX_GEARS - 1)
        ratio = self.gears["gear_ratio"][rows, index] * s[c["final_ratio"]]
        rpm = np.abs(speed) / s[c["wheel_radius"]] * ratio * (60.0 / (2.0 * math.pi))
        max_rpm = s[c["max_rpm"]]
        automatic = ~manual & (gear > 0) & (timer <= 0.0) & (target == gear)
        up = automatic & (gear < count) & (rpm > self.gears["gear_up"][rows, index] * max_rpm)
        lower = self.gears["gear_ratio"][rows, np.clip(index - 1, 0, MAX_GEARS - 1)] / self.gears["gear_ratio"][rows, index]
        down = automatic & (gear > 1) & (rpm < self.gears["gear_down"][rows, index] * max_rpm) \
            & (rpm * lower < self.gears["gear_up"][rows, np.clip(index - 1, 0, MAX_GEARS - 1)] * max_rpm * 0.9)
        target = np.where(up, gear + 1, np.where(down, gear - 1, target))
        changed = target != gear
        s[c["shift_timer"]] = np.where(changed & (gear != 0), s[c["switch_time"]], timer)
        s[c["gear"]] = target

    def settle_vertical(self, dt: float, ground: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> None:
        """Vertical motion after a tick: rest on ``ground`` (heights at the new positions), fall
        from above it, land on it, never stay below it; take the ground's pitch and roll."""
        s = self.data[: self.count].T
        c = COLUMN
        z, vz = s[c["z"]], s[c["vz"]]
        floor = np.where(np.isnan(ground), z - 1e3, ground)
        live = s[c["frozen"]] == 0.0
        airborne = live & ((z > floor + 0.02) | (vz > 0.0))
        falling_z = z + vz * dt - 0.5 * GRAVITY * dt * dt
        falling_vz = vz - GRAVITY * dt
        new_z = np.where(airborne, np.maximum(falling_z, floor), np.where(live, floor, z))
        landed = airborne & (falling_z <= floor)
        s[c["vz"]] = np.where(airborne & ~landed, falling_vz, np.where(live & ~airborne, (new_z - z) / dt, 0.0))
        s[c["vz"]] = np.where(landed, 0.0, s[c["vz"]])
        s[c["z"]] = new_z
        grounded = live & ~(airborne & ~landed)
        s[c["pitch"]] = np.where(grounded, pitch, s[c["pitch"]])
        s[c["roll"]] = np.where(grounded, roll, s[c["roll"]])
        s[c["ground"]] = ground
        s[c["ground_pitch"]] = pitch
        s[c["ground_roll"]] = roll
