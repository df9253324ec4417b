"""``SensorFactory``: builds a sensor from its configuration by ``type``."""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from ..errors import ConfigError
from . import sensor as sensors
from .birdview import BirdviewSensor
from .sensor_interface import SensorInterface
from .virtual_lidar import VirtualLidarSensor

#: Sensor ``type`` -> class. Pseudo-sensors register here too.
SENSOR_TYPES: dict[str, type[sensors.BaseSensor]] = {
    "sensor.camera.rgb": sensors.CameraRGB,
    "sensor.camera.depth": sensors.CameraDepth,
    "sensor.camera.semantic_segmentation": sensors.CameraSemanticSegmentation,
    "sensor.camera.instance_segmentation": sensors.CameraInstanceSegmentation,
    "sensor.camera.normals": sensors.CameraNormals,
    "sensor.camera.optical_flow": sensors.CameraOpticalFlow,
    "sensor.camera.dvs": sensors.CameraDVS,
    "sensor.lidar.ray_cast": sensors.Lidar,
    "sensor.lidar.ray_cast_semantic": sensors.SemanticLidar,
    "sensor.other.radar": sensors.Radar,
    "sensor.other.gnss": sensors.Gnss,
    "sensor.other.imu": sensors.Imu,
    "sensor.other.lane_invasion": sensors.LaneInvasion,
    "sensor.other.collision": sensors.Collision,
    "sensor.other.obstacle": sensors.Obstacle,
    "sensor.birdview": BirdviewSensor,
    "sensor.virtual_lidar": VirtualLidarSensor,
}


def sensor_class(name: str, attributes: Any) -> type[sensors.BaseSensor]:
    """The class of ``hero.sensors.<name>``, after the checks that need no simulator (its type, and the
    attributes' values as the class checks them); raises :class:`ConfigError`."""
    where = f"env_config.experiment.hero.sensors.{name}"
    if not isinstance(attributes, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a 'type'. Fix: write "
                          f"'{name}: {{type: sensor.other.collision}}'.")
    sensor_type = attributes.get("type")
    if not isinstance(sensor_type, str) or sensor_type not in SENSOR_TYPES:
        close = difflib.get_close_matches(str(sensor_type), SENSOR_TYPES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"{where}.type: sensor type {sensor_type!r} is not supported; {hint}"
                          f"supported: {', '.join(sorted(SENSOR_TYPES))}.")
    cls = SENSOR_TYPES[sensor_type]
    cls.check(where, attributes)
    return cls


def check_sensors(configured: Any) -> None:
    """Every ``hero.sensors`` entry checked as far as possible before a simulator runs."""
    if not isinstance(configured, Mapping):
        raise ConfigError("env_config.experiment.hero.sensors: expected a mapping of sensor names to "
                          "their settings. Fix: write 'name: {type: ...}' entries.")
    for name, attributes in configured.items():
        sensor_class(str(name), attributes)


class SensorFactory:
    """Creates sensors from ``hero.sensors`` entries."""

    @staticmethod
    def spawn(name: str, attributes: Mapping[str, Any], interface: SensorInterface,
              parent: Any) -> sensors.BaseSensor:
        """Create sensor ``name`` (attributes are copied, never modified) attached to ``parent``. A sensor registers
        itself first thing; one whose construction fails (a bad attribute, a spawn refused, Ctrl-C while a town's
        raster is built) is not left registered half built, for the interface to wait on or destroy."""
        cls = sensor_class(name, attributes)
        registered = name in interface
        try:
            return cls(name, dict(attributes), interface, parent)
        except BaseException:
            if not registered:
                interface.discard(name)
            raise
