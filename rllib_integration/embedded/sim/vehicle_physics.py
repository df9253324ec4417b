"""The physics of each vehicle blueprint, as a real ``carla.VehiclePhysicsControl``.

Sources and bands: ``shared/reference/carla-dynamics.md`` of the project (CARLA 0.9.x figures). What
CARLA publishes is used as published: the mkz_2017's mass (1696 kg), drag coefficient (0.3), tyre
friction (3.5), wheel radius (35.5 cm), hand brake (1600 N·m, rear wheels), max steer angle (70 deg),
wheelbase (2.871 m) and front axle (1.4775 m ahead of the origin); the wheelbases and axles of
tesla.model3 and audi.a2; CARLA's default steering curve and gear up/down ratios.

What no source gives is derived and documented here:

- **Engine and gearbox** of the mkz: fitted so that full throttle reproduces the fitted CARLA speed
  model (7.6 m/s² from rest falling to 2.0 at 100 km/h, 0-100 km/h in about 7.5 s): a torque curve
  that is flat at 386 N·m up to 2,600 rpm and then holds 105 kW (a power-limited engine), four gears
  (3.2, 1.9, 1.3, 1.0, final ratio 3.45) shifted up at 85 % and down at 50 % of 6,500 rpm (CARLA's
  default up ratio, 65 %, would shift twice below 100 km/h, each time without drive for 0.5 s).
- **Brakes**: 1,050 N·m per wheel. The 800 N·m quoted for the mkz would give 5.3 m/s², while the
  measured stops (100 km/h to 0 in 2.7-4.0 s) need 7-8 m/s².
- **Other blueprints**: from their class and CARLA 0.9.16 size. A car's mass scales with its box volume
  to the power 2/3 from the mkz; vans (2.6 t), trucks (7 t), buses (12 t), motorcycles and bicycles
  (with their riders) have their class's; the engine is the mkz's shape scaled to the
  class's power per kg and traction limit; wheelbase is a fraction of the length (cars 0.60, the
  mean of the three published cars being 0.63 of their box length, which includes bumpers and
  mirrors), the axle midpoint 5 cm ahead of the box centre, the track 0.74 of the width (the mkz's
  1.57 m over its 2.128 m box).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import carla

#: Reference vehicle of the calibration.
MKZ_VOLUME = 4.902 * 2.128 * 1.511


@dataclass(frozen=True)
class ClassProfile:
    """Constants of a vehicle class (see the module docstring for their origin)."""

    mass: float  # kg, at the mkz's volume for cars; fixed for two-wheelers
    power_per_kg: float  # W/kg of the power-limited part of the torque curve
    traction_accel: float  # m/s², full-throttle acceleration from rest (torque limit)
    gears: tuple[float, ...]
    final_ratio: float
    max_rpm: float
    wheel_radius: float  # m
    brake_decel: float  # m/s² of the brakes at brake = 1
    wheelbase_ratio: float
    drag_coefficient: float
    max_steer_angle: float  # degrees, per front wheel (CARLA's figure)
    scales_with_size: bool = True


PROFILES: dict[str, ClassProfile] = {
    "car": ClassProfile(1696.0, 62.0, 7.1, (3.2, 1.9, 1.3, 1.0), 3.45, 6500.0, 0.355, 7.0, 0.60, 0.3, 70.0),
    "van": ClassProfile(2600.0, 45.0, 5.0, (3.5, 2.1, 1.4, 1.0), 3.7, 6000.0, 0.37, 6.5, 0.58, 0.35, 70.0,
                        scales_with_size=False),
    "truck": ClassProfile(7000.0, 24.0, 3.0, (5.5, 3.4, 2.1, 1.4, 1.0), 4.5, 3200.0, 0.5, 6.0, 0.62, 0.6, 60.0,
                          scales_with_size=False),
    "bus": ClassProfile(12000.0, 17.0, 2.2, (5.5, 3.4, 2.1, 1.4, 1.0), 4.5, 3200.0, 0.52, 5.5, 0.60, 0.6, 60.0,
                        scales_with_size=False),
    "motorcycle": ClassProfile(280.0, 200.0, 8.0, (2.6, 1.9, 1.5, 1.25, 1.1), 4.0, 10000.0, 0.31, 7.5, 0.66, 0.6,
                               45.0, scales_with_size=False),
    "bicycle": ClassProfile(90.0, 3.5, 1.5, (1.0,), 2.0, 450.0, 0.34, 4.5, 0.66, 0.9, 45.0, scales_with_size=False),
}

#: Published geometry: blueprint -> (wheelbase, front axle ahead of the origin), metres.
PUBLISHED_AXLES = {"vehicle.lincoln.mkz_2017": (2.871, 1.4775), "vehicle.tesla.model3": (2.9996, 1.5845),
                   "vehicle.audi.a2": (2.5063, None)}
#: CARLA's default steering curve: (speed km/h, factor).
STEERING_CURVE = ((0.0, 1.0), (20.0, 0.9), (60.0, 0.8), (120.0, 0.7))
GEAR_UP_RATIO, GEAR_DOWN_RATIO = 0.85, 0.5  # shift points (CARLA's defaults: 0.65, 0.5), fitted with the engine
GEAR_SWITCH_TIME = 0.5  # s, CARLA's default
TIRE_FRICTION = 3.5  # CARLA sets it on every wheel at play
TRACK_RATIO = 0.74
AXLE_MIDPOINT_OFFSET = 0.05  # m ahead of the box centre
HAND_BRAKE_DECEL = 5.3  # m/s², the mkz's 1600 N·m on two rear wheels of 35.5 cm
DAMPING_ZERO_THROTTLE = 2.0  # CARLA's default; drives the engine braking (see dynamics)


def _vector(x: float, y: float) -> carla.Vector2D:
    return carla.Vector2D(float(x), float(y))


def torque_curve(peak_torque: float, power: float, max_rpm: float) -> list[carla.Vector2D]:
    """A flat torque up to the rpm where it reaches ``power``, then constant power, to ``max_rpm``."""
    base = power / peak_torque * 60.0 / (2.0 * math.pi)
    points = [(0.0, peak_torque), (min(base, max_rpm), peak_torque)]
    for fraction in (0.25, 0.5, 0.75, 1.0):
        rpm = base + fraction * (max_rpm - base)
        if rpm > base + 1.0:
            points.append((rpm, power / (rpm * 2.0 * math.pi / 60.0)))
    return [_vector(rpm, torque) for rpm, torque in points]


def physics_control(blueprint_id: str, base_type: str, size: tuple[float, float, float]) -> carla.VehiclePhysicsControl:
    """The physics control of a freshly spawned vehicle of ``blueprint_id`` (class ``base_type``,
    ``size`` = width, length, height in metres). Wheels are listed as CARLA lists them: front left,
    front right, back left, back right (two-wheelers: front, back); their ``position`` here is relative
    to the vehicle's origin, in centimetres."""
    profile = PROFILES.get(base_type, PROFILES["car"])
    width, length, height = size
    mass = profile.mass * (length * width * height / MKZ_VOLUME) ** (2.0 / 3.0) if profile.scales_with_size \
        else profile.mass
    mass = 1696.0 if blueprint_id == "vehicle.lincoln.mkz_2017" else \
        (min(max(mass, 500.0), 3500.0) if profile.scales_with_size else mass)
    wheelbase, front = PUBLISHED_AXLES.get(blueprint_id, (None, None))
    wheelbase = wheelbase or profile.wheelbase_ratio * length
    front = front if front is not None else wheelbase / 2.0 + AXLE_MIDPOINT_OFFSET
    radius = profile.wheel_radius
    first = profile.gears[0] * profile.final_ratio
    peak = profile.traction_accel * mass * radius / first
    control = carla.VehiclePhysicsControl()
    control.mass = mass
    control.drag_coefficient = profile.drag_coefficient
    control.max_rpm = profile.max_rpm
    control.torque_curve = torque_curve(peak, profile.power_per_kg * mass, profile.max_rpm)
    control.final_ratio = profile.final_ratio
    control.forward_gears = [carla.GearPhysicsControl(g, GEAR_DOWN_RATIO, GEAR_UP_RATIO) for g in profile.gears]
    control.use_gear_autobox = True
    control.gear_switch_time = GEAR_SWITCH_TIME
    control.damping_rate_zero_throttle_clutch_engaged = DAMPING_ZERO_THROTTLE
    control.center_of_mass = carla.Vector3D(0.6, 0.0, -0.3) if blueprint_id == "vehicle.lincoln.mkz_2017" \
        else carla.Vector3D(0.0, 0.0, -0.3)
    control.steering_curve = [_vector(*point) for point in STEERING_CURVE]
    two_wheeler = base_type in ("motorcycle", "bicycle")
    track = 0.0 if two_wheeler else TRACK_RATIO * width
    brake_torque = profile.brake_decel * mass * radius / (2 if two_wheeler else 4)
    if blueprint_id == "vehicle.lincoln.mkz_2017":
        brake_torque = 1050.0
    hand_brake = 1600.0 if blueprint_id == "vehicle.lincoln.mkz_2017" else \
        HAND_BRAKE_DECEL * mass * radius / (1 if two_wheeler else 2)
    wheels = []
    axles = ((front, 0.0, True), (front - wheelbase, 0.0, False)) if two_wheeler else (
        (front, -track / 2, True), (front, track / 2, True), (front - wheelbase, -track / 2, False),
        (front - wheelbase, track / 2, False))
    for x, y, steer in axles:
        wheels.append(carla.WheelPhysicsControl(
            tire_friction=TIRE_FRICTION, damping_rate=0.25, max_steer_angle=profile.max_steer_angle if steer else 0.0,
            radius=radius * 100.0, max_brake_torque=brake_torque, max_handbrake_torque=0.0 if steer else hand_brake,
            position=carla.Vector3D(x * 100.0, y * 100.0, radius * 100.0)))
    control.wheels = wheels
    return control


@functools.lru_cache(maxsize=256)
def spawned_physics(blueprint_id: str, base_type: str, size: tuple[float, float, float]) -> carla.VehiclePhysicsControl:
    """:func:`physics_control` made once and shared by every vehicle spawned alike, which never change it in place
    (a vehicle's ``apply_physics_control`` keeps a copy of what it is given instead): building one costs a respawn
    about 0.1 ms."""
    return physics_control(blueprint_id, base_type, size)


def copy_physics(control: carla.VehiclePhysicsControl) -> carla.VehiclePhysicsControl:
    """An independent copy of a physics control (carla's types cannot be deep-copied)."""
    copied = carla.VehiclePhysicsControl()
    for name in ("mass", "drag_coefficient", "max_rpm", "moi", "damping_rate_full_throttle",
                 "damping_rate_zero_throttle_clutch_engaged", "damping_rate_zero_throttle_clutch_disengaged",
                 "use_gear_autobox", "gear_switch_time", "clutch_strength", "final_ratio", "use_sweep_wheel_collision"):
        setattr(copied, name, getattr(control, name))
    com = control.center_of_mass
    copied.center_of_mass = carla.Vector3D(com.x, com.y, com.z)
    copied.torque_curve = [_vector(p.x, p.y) for p in control.torque_curve]
    copied.steering_curve = [_vector(p.x, p.y) for p in control.steering_curve]
    copied.forward_gears = [carla.GearPhysicsControl(g.ratio, g.down_ratio, g.up_ratio) for g in control.forward_gears]
    copied.wheels = [carla.WheelPhysicsControl(
        tire_friction=w.tire_friction, damping_rate=w.damping_rate, max_steer_angle=w.max_steer_angle,
        radius=w.radius, max_brake_torque=w.max_brake_torque, max_handbrake_torque=w.max_handbrake_torque,
        lat_stiff_max_load=w.lat_stiff_max_load, lat_stiff_value=w.lat_stiff_value,
        long_stiff_value=w.long_stiff_value, position=carla.Vector3D(w.position.x, w.position.y, w.position.z))
        for w in control.wheels]
    return copied
