"""The catalogue of the embedded world's sensors: CARLA's blueprint id -> actor class and attributes.

:func:`sensor_blueprints` gives their blueprints for the blueprint library and :func:`sensor_spawners`
the constructors the kernel spawns them with; the server composes both explicitly.
"""

from __future__ import annotations

from ..sim.blueprints import ActorAttribute, ActorBlueprint, Bool, Float, Int, String
from .base import Sensor
from .cameras import CAMERAS
from .detectors import CollisionSensor, LaneInvasionSensor, ObstacleSensor
from .positioning import GnssSensor, ImuSensor
from .ranging import Lidar, Radar, SemanticLidar


def _attrs(*specs: tuple) -> list[ActorAttribute]:
    return [ActorAttribute(*spec) for spec in specs]


_ROLES = ["front", "back", "left", "right", "front_left", "front_right", "back_left", "back_right"]
_COMMON = (("role_name", String, "front", _ROLES), ("sensor_tick", Float, "0.0", ["0.0"]))
_NOISE_SEED = (("noise_seed", Int, "0", ["0"]),)
#: Every camera: image size, field of view and lens distortion (the embedded cameras are pinholes).
_CAMERA = [*_COMMON, ("image_size_x", Int, "800", ["800"]), ("image_size_y", Int, "600", ["600"]),
           ("fov", Float, "90.0", ["90.0"]), ("lens_circle_falloff", Float, "5.0"),
           ("lens_circle_multiplier", Float, "0.0"), ("lens_k", Float, "-1.0"), ("lens_kcube", Float, "0.0"),
           ("lens_x_size", Float, "0.08"), ("lens_y_size", Float, "0.08")]
#: Scene-capture cameras (RGB, DVS) also take UE4's post-processing settings, accepted and kept.
_POST_PROCESS = [("enable_postprocess_effects", Bool, "true"), ("gamma", Float, "2.2"),
                 ("motion_blur_intensity", Float, "0.45"), ("motion_blur_max_distortion", Float, "0.35"),
                 ("motion_blur_min_object_screen_size", Float, "0.1"), ("lens_flare_intensity", Float, "0.1"),
                 ("bloom_intensity", Float, "0.675"),
                 ("exposure_mode", String, "histogram", ["histogram", "manual"], True, True),
                 ("exposure_compensation", Float, "0.0"), ("shutter_speed", Float, "200.0"), ("iso", Float, "100.0"),
                 ("fstop", Float, "1.4"), ("exposure_min_bright", Float, "10.0"), ("exposure_max_bright", Float, "12.0"),
                 ("exposure_speed_up", Float, "3.0"), ("exposure_speed_down", Float, "1.0"),
                 ("calibration_constant", Float, "16.0"), ("focal_distance", Float, "1000.0"),
                 ("blur_amount", Float, "1.0"), ("blur_radius", Float, "0.0"), ("min_fstop", Float, "1.2"),
                 ("blade_count", Int, "5"), ("slope", Float, "0.88"), ("toe", Float, "0.55"), ("shoulder", Float, "0.26"),
                 ("black_clip", Float, "0.0"), ("white_clip", Float, "0.04"), ("temp", Float, "6500.0"),
                 ("tint", Float, "0.0"), ("chromatic_aberration_intensity", Float, "0.0"),
                 ("chromatic_aberration_offset", Float, "0.0")]
_DVS = [("positive_threshold", Float, "0.3"), ("negative_threshold", Float, "0.3"),
        ("sigma_positive_threshold", Float, "0.0"), ("sigma_negative_threshold", Float, "0.0"),
        ("refractory_period_ns", Int, "0"), ("use_log", Bool, "true"), ("log_eps", Float, "0.001")]

SENSORS: dict[str, tuple[type[Sensor], list[tuple]]] = {
    "sensor.other.collision": (CollisionSensor, [_COMMON[0]]),
    "sensor.other.lane_invasion": (LaneInvasionSensor, [_COMMON[0]]),
    "sensor.other.obstacle": (ObstacleSensor, [*_COMMON, ("distance", Float, "5"), ("hit_radius", Float, "0.5"),
                                               ("only_dynamics", Bool, "false"), ("debug_linetrace", Bool, "false")]),
    "sensor.other.gnss": (GnssSensor, [*_COMMON, *_NOISE_SEED] + [
        (f"noise_{axis}_{kind}", Float, "0.0") for axis in ("alt", "lat", "lon") for kind in ("bias", "stddev")]),
    "sensor.other.imu": (ImuSensor, [*_COMMON, *_NOISE_SEED] + [
        (f"noise_accel_stddev_{axis}", Float, "0.0") for axis in "xyz"] + [
        (f"noise_gyro_{kind}_{axis}", Float, "0.0") for kind in ("bias", "stddev") for axis in "xyz"]),
}
for _name, _camera in CAMERAS.items():
    _extra = _POST_PROCESS if _name in ("rgb", "dvs") else []
    SENSORS[f"sensor.camera.{_name}"] = (_camera, _CAMERA + _extra + (_DVS if _name == "dvs" else []))
_LIDAR = [*_COMMON, ("channels", Int, "32"), ("range", Float, "10.0"),
          ("points_per_second", Int, "56000"), ("rotation_frequency", Float, "10.0"), ("upper_fov", Float, "10.0"),
          ("lower_fov", Float, "-30.0"), ("horizontal_fov", Float, "360.0")]
SENSORS["sensor.lidar.ray_cast"] = (Lidar, _LIDAR + [
    *_NOISE_SEED, ("atmosphere_attenuation_rate", Float, "0.004"), ("dropoff_general_rate", Float, "0.45"),
    ("dropoff_intensity_limit", Float, "0.8"), ("dropoff_zero_intensity", Float, "0.4"),
    ("noise_stddev", Float, "0.0")])
SENSORS["sensor.lidar.ray_cast_semantic"] = (SemanticLidar, _LIDAR)
SENSORS["sensor.other.radar"] = (Radar, [*_COMMON, *_NOISE_SEED, ("horizontal_fov", Float, "30.0"),
                                         ("vertical_fov", Float, "30.0"), ("range", Float, "100.0"),
                                         ("points_per_second", Int, "1500")])


def sensor_blueprints() -> list[ActorBlueprint]:
    """Blueprints of every CARLA sensor type."""
    return [ActorBlueprint(blueprint_id, _attrs(*specs)) for blueprint_id, (_, specs) in SENSORS.items()]


def sensor_spawners() -> dict[str, type[Sensor]]:
    """Blueprint id -> sensor class, for the kernel's spawning."""
    return {blueprint_id: cls for blueprint_id, (cls, _) in SENSORS.items()}
