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


_COMMON = (("role_name", String, "front"), ("sensor_tick", Float, "0.0"))
_NOISE_SEED = (("noise_seed", Int, "0"),)

SENSORS: dict[str, tuple[type[Sensor], list[tuple]]] = {
    "sensor.other.collision": (CollisionSensor, [("role_name", String, "front")]),
    "sensor.other.lane_invasion": (LaneInvasionSensor, [("role_name", String, "front")]),
    "sensor.other.obstacle": (ObstacleSensor, [*_COMMON, ("distance", Float, "5"), ("hit_radius", Float, "0.5"),
                                               ("only_dynamics", Bool, "false"), ("debug_linetrace", Bool, "false")]),
    "sensor.other.gnss": (GnssSensor, [*_COMMON, *_NOISE_SEED] + [
        (f"noise_{axis}_{kind}", Float, "0.0") for axis in ("alt", "lat", "lon") for kind in ("bias", "stddev")]),
    "sensor.other.imu": (ImuSensor, [*_COMMON, *_NOISE_SEED] + [
        (f"noise_accel_stddev_{axis}", Float, "0.0") for axis in "xyz"] + [
        (f"noise_gyro_{kind}_{axis}", Float, "0.0") for kind in ("bias", "stddev") for axis in "xyz"]),
}
_CAMERA = [*_COMMON, ("image_size_x", Int, "800"), ("image_size_y", Int, "600"), ("fov", Float, "90.0")]
for _name, _camera in CAMERAS.items():
    _extra = [("positive_threshold", Float, "0.3"), ("negative_threshold", Float, "0.3")] if _name == "dvs" else []
    SENSORS[f"sensor.camera.{_name}"] = (_camera, _CAMERA + _extra)
_LIDAR = [*_COMMON, *_NOISE_SEED, ("channels", Int, "32"), ("range", Float, "10.0"),
          ("points_per_second", Int, "56000"), ("rotation_frequency", Float, "10.0"), ("upper_fov", Float, "10.0"),
          ("lower_fov", Float, "-30.0"), ("horizontal_fov", Float, "360.0")]
SENSORS["sensor.lidar.ray_cast"] = (Lidar, _LIDAR + [
    ("atmosphere_attenuation_rate", Float, "0.004"), ("dropoff_general_rate", Float, "0.45"),
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
