"""The per-vehicle equations of motion, compiled with numba (see :mod:`.dynamics` for the model).

Each function works on one row of the vehicle table (its columns are the constants below) and
plain floats, so the physics reads as scalar equations; :func:`step_rows` runs them for every
vehicle of a world per tick. numba compiles them once per machine (cached beside this file): a tick
of 50 vehicles costs tens of microseconds instead of the hundreds that NumPy's per-call overhead
costs on arrays this small.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...common.formats import GRAVITY

#: Columns of the vehicle table.
STATE = (
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
)
COLUMN = {name: index for index, name in enumerate(STATE)}
(X, Y, Z, YAW, PITCH, ROLL, SPEED, VY, VZ, YAW_RATE, SPIN, AX, AY, AZ, JITTER_YAW, JITTER_LAT, NOISE_STEP,
 NOISE_KEY, THROTTLE, STEER, BRAKE, REVERSE, HAND_BRAKE, MANUAL, GEAR_REQUEST, THROTTLE_IN, STEER_IN, BRAKE_IN,
 HAND_BRAKE_IN, GEAR, SHIFT_TIMER, GROUNDED_TIME, FROZEN, CV_ON, CV_SPEED, FORCE_X, FORCE_Y, TORQUE_Z, GROUND,
 GROUND_PITCH, GROUND_ROLL, MASS, WHEELBASE, REAR_AXLE, TRACK, MAX_STEER, MAX_RPM, FINAL_RATIO, GEAR_COUNT,
 SWITCH_TIME, WHEEL_RADIUS, BRAKE_FORCE, HAND_BRAKE_FORCE, DRAG, MU, ENGINE_BRAKE, HALF_LENGTH, HALF_WIDTH,
 HEIGHT, INERTIA) = range(len(STATE))

REVERSE_RATIO = 4.0  # PhysX's reverse gear
THROTTLE_DEAD_ZONE, THROTTLE_EXPONENT = 0.2, 0.72
THROTTLE_RISE, THROTTLE_FALL = 6.0, 10.0  # UE4's input rates, per second (brake alike)
STEER_OUT, STEER_BACK, HAND_BRAKE_RATE = 2.5, 5.0, 12.0
ROLLING_RESISTANCE = 0.015
YAW_JITTER, LATERAL_JITTER, JITTER_TIME = math.radians(0.04), 0.003, 0.3  # std. deviations, time constant
SPIN_TIME = 0.3  # s: how fast the tyres bring an imposed yaw rate back to the steering's
RPM_PER_RAD_S = 60.0 / (2.0 * math.pi)


@njit(cache=True, inline="always")
def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@njit(cache=True, inline="always")
def interp(x: float, xp: np.ndarray, fp: np.ndarray) -> float:
    """Piecewise-linear ``fp(x)`` of a curve whose points ``xp`` increase (padded by repeats)."""
    if x <= xp[0]:
        return fp[0]
    for k in range(1, len(xp)):
        if x <= xp[k]:
            span = xp[k] - xp[k - 1]
            return fp[k - 1] + (fp[k] - fp[k - 1]) * ((x - xp[k - 1]) / span if span > 0.0 else 1.0)
    return fp[len(fp) - 1]


@njit(cache=True, inline="always")
def gear_ratio(row: np.ndarray, ratios: np.ndarray, gear: int) -> float:
    """Total ratio (gear times final drive) of a gear: reverse for -1, 0 for neutral."""
    if gear == 0:
        return 0.0
    base = REVERSE_RATIO if gear < 0 else ratios[min(gear, len(ratios)) - 1]
    return base * row[FINAL_RATIO]


@njit(cache=True, inline="always")
def drive_force(row: np.ndarray, torque_rpm: np.ndarray, torque_nm: np.ndarray, ratios: np.ndarray,
                speed: float, gear: int) -> float:
    """Full-throttle drive force (N) at ``speed`` in ``gear``, within the tyres' grip."""
    ratio = gear_ratio(row, ratios, gear)
    radius = row[WHEEL_RADIUS]
    rpm = abs(speed) / radius * ratio * RPM_PER_RAD_S
    if ratio == 0.0 or rpm > row[MAX_RPM]:
        return 0.0
    return min(interp(rpm, torque_rpm, torque_nm) * ratio / radius, row[MU] * GRAVITY * row[MASS])


@njit(cache=True, inline="always")
def curvature(row: np.ndarray, steer_kmh: np.ndarray, steer_factor: np.ndarray, steer: float, speed: float) -> float:
    """Path curvature (1/m, + right) of the rear axle for a steer input: the inner front wheel at
    ``steer * steering_curve(speed) * max_steer``, Ackermann geometry."""
    tangent = math.tan(abs(steer) * interp(abs(speed) * 3.6, steer_kmh, steer_factor) * row[MAX_STEER])
    return math.copysign(tangent / (row[WHEELBASE] + tangent * row[TRACK] / 2.0), steer) if steer != 0.0 else 0.0


@njit(cache=True, inline="always")
def noise(key: float, counter: float, salt: float) -> float:
    """A number of mean 0 and variance 1 from a hash of (key, counter): uniform, deterministic."""
    value = math.sin(key * 1e-4 * salt + counter * salt * 0.1031) * 43758.5453
    return ((value - math.floor(value)) * 2.0 - 1.0) * math.sqrt(3.0)


@njit(cache=True, inline="always")
def towards(current: float, target: float, rise: float, fall: float, dt: float) -> float:
    return current + clamp(target - current, -fall * dt, rise * dt)


@njit(cache=True, inline="always")
def shift(row: np.ndarray, ratios: np.ndarray, ups: np.ndarray, downs: np.ndarray, on_ground: bool, dt: float) -> None:
    """Gear changes of this tick: engagement after spawn, reverse, manual gears, the automatic box."""
    timer = max(row[SHIFT_TIMER] - dt, 0.0)
    gear, count = int(row[GEAR]), int(row[GEAR_COUNT])
    speed = row[SPEED]
    reverse = row[REVERSE] > 0.5
    settled = row[GROUNDED_TIME] >= row[SWITCH_TIME]
    target = gear
    if gear == 0 and settled and on_ground:
        target = -1 if reverse else 1
    elif reverse and gear >= 0 and speed < 0.5 and settled:
        target = -1
    elif not reverse and gear < 0 and speed > -0.5:
        target = 1
    elif row[MANUAL] > 0.0 and gear > 0:
        target = int(clamp(row[GEAR_REQUEST], 1, count))
    elif gear > 0 and timer <= 0.0:
        rpm = abs(speed) / row[WHEEL_RADIUS] * gear_ratio(row, ratios, gear) * RPM_PER_RAD_S
        if gear < count and rpm > ups[gear - 1] * row[MAX_RPM]:
            target = gear + 1
        elif gear > 1 and rpm < downs[gear - 1] * row[MAX_RPM] \
                and rpm * ratios[gear - 2] / ratios[gear - 1] < ups[gear - 2] * row[MAX_RPM] * 0.9:
            target = gear - 1
    row[SHIFT_TIMER] = row[SWITCH_TIME] if target != gear and gear != 0 else timer
    row[GEAR] = target


@njit(cache=True, inline="always")
def step_row(row: np.ndarray, torque_rpm: np.ndarray, torque_nm: np.ndarray, steer_kmh: np.ndarray,
             steer_factor: np.ndarray, ratios: np.ndarray, ups: np.ndarray, downs: np.ndarray, dt: float,
             substeps: int, path: np.ndarray) -> None:
    """Advance one vehicle by ``dt``; ``path`` (substeps, 3) receives (x, y, yaw) after each sub-step."""
    live = row[FROZEN] == 0.0
    ground = row[GROUND]
    on_ground = live and not math.isnan(ground) and row[Z] <= ground + 0.02
    # 1. Inputs: rate-limited, the tick uses their mean.
    throttle0, brake0, steer0, hand0 = row[THROTTLE_IN], row[BRAKE_IN], row[STEER_IN], row[HAND_BRAKE_IN]
    row[THROTTLE_IN] = towards(throttle0, row[THROTTLE], THROTTLE_RISE, THROTTLE_FALL, dt)
    row[BRAKE_IN] = towards(brake0, row[BRAKE], THROTTLE_RISE, THROTTLE_FALL, dt)
    row[HAND_BRAKE_IN] = towards(hand0, row[HAND_BRAKE], HAND_BRAKE_RATE, HAND_BRAKE_RATE, dt)
    away = (row[STEER] - steer0) * steer0 >= 0.0
    rate = (STEER_OUT if away else STEER_BACK) * dt
    row[STEER_IN] = steer0 + clamp(row[STEER] - steer0, -rate, rate)
    throttle, brake = (throttle0 + row[THROTTLE_IN]) / 2.0, (brake0 + row[BRAKE_IN]) / 2.0
    steer, hand_brake = (steer0 + row[STEER_IN]) / 2.0, (hand0 + row[HAND_BRAKE_IN]) / 2.0
    # 2. Gearbox and the forces of this tick.
    v0 = row[SPEED]
    shift(row, ratios, ups, downs, on_ground, dt)
    gear = int(row[GEAR])
    fraction = clamp((throttle - THROTTLE_DEAD_ZONE) / (1.0 - THROTTLE_DEAD_ZONE), 0.0, 1.0) ** THROTTLE_EXPONENT
    drive = 0.0
    if gear != 0 and row[SHIFT_TIMER] <= 0.0 and on_ground:
        drive = fraction * drive_force(row, torque_rpm, torque_nm, ratios, v0, gear) * (1.0 if gear > 0 else -1.0)
    mass = row[MASS]
    yaw = row[YAW]
    cos0, sin0 = math.cos(yaw), math.sin(yaw)
    engine_brake = row[ENGINE_BRAKE] * (1.0 - fraction) if gear != 0 else 0.0
    resist = (brake * row[BRAKE_FORCE] + hand_brake * row[HAND_BRAKE_FORCE]) / mass
    mu_g = row[MU] * GRAVITY
    # 4. Lateral: the friction circle shares the grip; locked rear wheels let the rear slide out.
    kappa = curvature(row, steer_kmh, steer_factor, steer, v0)
    long_accel = min(abs(drive) / mass + resist, mu_g)
    grip = math.sqrt(max(mu_g * mu_g - long_accel * long_accel, (0.2 * mu_g) ** 2))
    if hand_brake > 0.5 and abs(v0) > 2.0:
        grip, kappa = 1.4 * grip, 1.4 * kappa
    constant = row[CV_ON] > 0.0
    moving = on_ground and not constant
    # 6. Perturbations: one Ornstein-Uhlenbeck update per tick.
    scale = min(abs(v0) / 5.0, 1.0) * 0.9 + 0.1
    decay = math.exp(-dt / JITTER_TIME)
    spread = math.sqrt(1.0 - decay * decay) * scale
    jitter_yaw = row[JITTER_YAW] * decay + YAW_JITTER * spread * noise(row[NOISE_KEY], row[NOISE_STEP], 12.9898)
    jitter_lat = row[JITTER_LAT] * decay + LATERAL_JITTER * spread * noise(row[NOISE_KEY], row[NOISE_STEP], 78.233)
    row[NOISE_STEP] += 1.0
    d_jitter_yaw = (jitter_yaw - row[JITTER_YAW]) if live else 0.0
    d_jitter_lat = (jitter_lat - row[JITTER_LAT]) if live else 0.0
    row[JITTER_YAW], row[JITTER_LAT] = jitter_yaw, jitter_lat
    # 3, 5. Integrate in sub-steps; rows no force moves (airborne, constant) keep their speed; frozen rows
    # stay in place and keep the speed they were given (hybrid mode's kinematic vehicles are moved by their
    # traffic manager at that speed).
    h = dt / substeps
    v = (row[CV_SPEED] if constant else v0) if live else 0.0
    free = losses = drag = resist_h = 0.0
    if moving:
        free = (drive + row[FORCE_X] * cos0 + row[FORCE_Y] * sin0) / mass - GRAVITY * math.sin(row[GROUND_PITCH])
        losses = ROLLING_RESISTANCE * GRAVITY + engine_brake
        drag, resist_h = row[DRAG] / mass, resist * h
    limit = grip / max(abs(v0), 0.5)
    if not (on_ground and live):
        kappa = 0.0
    spin = (row[SPIN] + row[TORQUE_Z] / row[INERTIA] * dt) if live else 0.0
    vy = (row[VY] + (row[FORCE_Y] * cos0 - row[FORCE_X] * sin0) / mass * dt) if live else 0.0
    vy = math.copysign(max(abs(vy) - mu_g * dt, 0.0), vy)  # the tyres remove sideways slip
    ahead = -row[REAR_AXLE]  # the origin swings about the rear axle, this far ahead of it
    x, y = row[X], row[Y]
    yaw_rate = 0.0
    for k in range(substeps):
        v = v + (free - losses * clamp(2.0 * v, -1.0, 1.0) - drag * v * abs(v)) * h
        v = math.copysign(max(abs(v) - resist_h, 0.0), v)
        steering = clamp(v * kappa, -limit, limit)
        yaw_rate = steering + (spin * math.exp(-(k + 0.5) * h / SPIN_TIME) if spin != 0.0 else spin)  # (no exp
        # where nothing spins the vehicle, most rows: the same sum, a signed zero's sign kept)
        mid = yaw + 0.5 * yaw_rate * h
        side = vy + ahead * steering
        x += (v * math.cos(mid) - side * math.sin(mid)) * h
        y += (v * math.sin(mid) + side * math.cos(mid)) * h
        yaw += yaw_rate * h
        path[k, 0], path[k, 1], path[k, 2] = x, y, yaw
    yaw += d_jitter_yaw
    x -= math.sin(yaw) * d_jitter_lat
    y += math.cos(yaw) * d_jitter_lat
    row[X], row[Y], row[SPEED], row[VY] = x, y, v if live else v0, vy
    row[SPIN] = spin * math.exp(-dt / SPIN_TIME)
    row[YAW] = (yaw + math.pi) % (2.0 * math.pi) - math.pi
    row[YAW_RATE] = yaw_rate
    row[TORQUE_Z] = row[FORCE_X] = row[FORCE_Y] = 0.0
    row[GROUNDED_TIME] = row[GROUNDED_TIME] + dt if on_ground else 0.0
    path[substeps - 1, 0], path[substeps - 1, 1], path[substeps - 1, 2] = x, y, row[YAW]


@njit(cache=True)
def step_rows(data: np.ndarray, torque_rpm: np.ndarray, torque_nm: np.ndarray, steer_kmh: np.ndarray,
              steer_factor: np.ndarray, ratios: np.ndarray, ups: np.ndarray, downs: np.ndarray, count: int,
              dt: float, substeps: int, path: np.ndarray) -> None:
    """:func:`step_row` for the first ``count`` rows; ``path`` is (substeps, count, 3)."""
    for i in range(count):
        step_row(data[i], torque_rpm[i], torque_nm[i], steer_kmh[i], steer_factor[i], ratios[i], ups[i], downs[i],
                 dt, substeps, path[:, i, :])


@njit(cache=True, inline="always")
def world_velocity(row: np.ndarray) -> tuple[float, float, float]:
    """World-frame velocity of a row's origin: forward speed and side slip about the rear axle."""
    side = row[VY] - row[REAR_AXLE] * row[YAW_RATE]
    cos_yaw, sin_yaw = math.cos(row[YAW]), math.sin(row[YAW])
    return row[SPEED] * cos_yaw - side * sin_yaw, row[SPEED] * sin_yaw + side * cos_yaw, row[VZ]


@njit(cache=True)
def kinematics_rows(data: np.ndarray, slots: np.ndarray, lights: np.ndarray, speed_limit: float, out: np.ndarray,
                    lit: np.ndarray) -> int:
    """For each vehicle slot ``slots[r]`` (-1: none, its row left as it is): its location, yaw (degrees) and world
    velocity in ``out[r, :7]``, as ``get_transform`` and ``get_velocity`` compute them, and ``speed_limit`` in
    ``out[r, 7]`` unless it is NaN. ``lights``: each slot's light (-1: none); the rows whose vehicle has one go into
    ``lit``, their count returned."""
    count = 0
    for r in range(slots.shape[0]):
        if slots[r] >= 0:
            row = data[slots[r]]
            out[r, 0], out[r, 1], out[r, 2], out[r, 3] = row[X], row[Y], row[Z], math.degrees(row[YAW])
            out[r, 4], out[r, 5], out[r, 6] = world_velocity(row)
            if not math.isnan(speed_limit):
                out[r, 7] = speed_limit
            if lights[slots[r]] >= 0:
                lit[count] = r
                count += 1
    return count


@njit(cache=True)
def pose_rows(data: np.ndarray, count: int) -> np.ndarray:
    """(count, 3): the x, y and yaw (radians) of the first ``count`` rows (one compiled loop: NumPy's gather of the
    three columns cost 15 µs a tick inside a tick of 32 heroes, where the caches hold little of it)."""
    out = np.empty((count, 3))
    for r in range(count):
        out[r, 0], out[r, 1], out[r, 2] = data[r, X], data[r, Y], data[r, YAW]
    return out


@njit(cache=True)
def box_rows(data: np.ndarray, count: int) -> np.ndarray:
    """(count, 7): the box of each of the first ``count`` rows as :func:`~.geometry.first_overlaps` reads boxes: x,
    y, yaw (radians), half length, half width, the z of its bottom and of its top."""
    out = np.empty((count, 7))
    for r in range(count):
        row = data[r]
        out[r, 0], out[r, 1], out[r, 2], out[r, 3] = row[X], row[Y], row[YAW], row[HALF_LENGTH]
        out[r, 4], out[r, 5], out[r, 6] = row[HALF_WIDTH], row[Z], row[Z] + row[HEIGHT]
    return out


@njit(cache=True)
def location_rows(data: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """(N, 3): the x, y, z of vehicle slots ``slots`` (each 0 or more) as ``get_location`` gives them (32-bit
    floats)."""
    out = np.empty((slots.shape[0], 3))
    for r in range(slots.shape[0]):
        for c in range(3):
            out[r, c] = np.float64(np.float32(data[slots[r], X + c]))
    return out


@njit(cache=True)
def all_finite(rows: np.ndarray) -> bool:
    """Whether every value of ``rows`` (N, 3) is a finite number."""
    for r in range(rows.shape[0]):
        for c in range(rows.shape[1]):
            if not np.isfinite(rows[r, c]):
                return False
    return True


@njit(cache=True)
def write_controls(data: np.ndarray, slots: np.ndarray, rows: np.ndarray) -> None:
    """``apply_control`` of throttle, steer and brake ``rows[r]`` (finite) on vehicle slot ``slots[r]`` (-1: none):
    clamped to their ranges, the other control fields at their defaults."""
    low, high = (0.0, -1.0, 0.0), (1.0, 1.0, 1.0)
    for r in range(slots.shape[0]):
        if slots[r] >= 0:
            row = data[slots[r]]
            for c in range(3):  # as np.minimum(np.maximum(value, low), high)
                value = rows[r, c] if rows[r, c] >= low[c] else low[c]
                row[THROTTLE + c] = value if value <= high[c] else high[c]
            row[REVERSE] = row[HAND_BRAKE] = row[MANUAL] = row[GEAR_REQUEST] = 0.0


@njit(cache=True)
def accelerations(data: np.ndarray, before: np.ndarray, count: int, dt: float) -> None:
    """World-frame acceleration of the first ``count`` rows over a tick that started at ``before``."""
    for i in range(count):
        vx, vy, vz = world_velocity(data[i])
        bx, by, bz = world_velocity(before[i])
        data[i, AX], data[i, AY], data[i, AZ] = (vx - bx) / dt, (vy - by) / dt, (vz - bz) / dt


@njit(cache=True)
def settle_rows(data: np.ndarray, count: int, dt: float, ground: np.ndarray, pitch: np.ndarray,
                roll: np.ndarray) -> None:
    """Vertical motion of the first ``count`` rows after a tick: rest on ``ground`` (heights at the
    new positions; NaN where there is none), fall from above it, land on it, never stay below it;
    take the ground's pitch and roll while on it."""
    for i in range(count):
        row = data[i]
        z, vz = row[Z], row[VZ]
        floor = z - 1e3 if math.isnan(ground[i]) else ground[i]
        if row[FROZEN] == 0.0:
            if z > floor + 0.02 or vz > 0.0:  # airborne: fall, or land
                falling_z = z + vz * dt - 0.5 * GRAVITY * dt * dt
                if falling_z <= floor:
                    row[Z], row[VZ] = floor, 0.0
                    row[PITCH], row[ROLL] = pitch[i], roll[i]
                else:
                    row[Z], row[VZ] = falling_z, vz - GRAVITY * dt
            else:  # on the ground: follow it
                row[Z], row[VZ] = floor, (floor - z) / dt
                row[PITCH], row[ROLL] = pitch[i], roll[i]
        else:
            row[VZ] = 0.0
        row[GROUND], row[GROUND_PITCH], row[GROUND_ROLL] = ground[i], pitch[i], roll[i]


@njit(cache=True)
def throttle_for_rows(data: np.ndarray, torque_rpm: np.ndarray, torque_nm: np.ndarray, ratios: np.ndarray,
                      rows: np.ndarray, accel: np.ndarray) -> np.ndarray:
    """The throttle that gives ``accel`` (m/s², against drag and rolling) to each row at its speed."""
    out = np.zeros(len(rows))
    for k in range(len(rows)):
        row = data[rows[k]]
        speed, mass = row[SPEED], row[MASS]
        full = drive_force(row, torque_rpm[rows[k]], torque_nm[rows[k]], ratios[rows[k]], speed,
                           max(int(row[GEAR]), 1)) / mass
        needed = accel[k] + ROLLING_RESISTANCE * GRAVITY + row[DRAG] * speed * speed / mass
        fraction = clamp(needed / max(full, 1e-3), 0.0, 1.0)
        if fraction > 0.0:
            out[k] = THROTTLE_DEAD_ZONE + (1.0 - THROTTLE_DEAD_ZONE) * fraction ** (1.0 / THROTTLE_EXPONENT)
    return out


@njit(cache=True)
def steer_for_rows(data: np.ndarray, steer_kmh: np.ndarray, steer_factor: np.ndarray, rows: np.ndarray,
                   kappa: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """The steer input giving curvature ``kappa`` (1/m, + right) at ``speed``: :func:`curvature` inverted."""
    out = np.zeros(len(rows))
    for k in range(len(rows)):
        row = data[rows[k]]
        factor = interp(abs(speed[k]) * 3.6, steer_kmh[rows[k]], steer_factor[rows[k]])
        magnitude = abs(kappa[k])
        tangent = magnitude * row[WHEELBASE] / max(1.0 - magnitude * row[TRACK] / 2.0, 1e-3)
        out[k] = clamp(math.copysign(math.atan(tangent) / max(factor * row[MAX_STEER], 1e-3), kappa[k]), -1.0, 1.0)
    return out


@njit(cache=True)
def curvature_rows(data: np.ndarray, steer_kmh: np.ndarray, steer_factor: np.ndarray, rows: np.ndarray,
                   steer: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """:func:`curvature` for several rows."""
    out = np.zeros(len(rows))
    for k in range(len(rows)):
        out[k] = curvature(data[rows[k]], steer_kmh[rows[k]], steer_factor[rows[k]], steer[k], speed[k])
    return out
