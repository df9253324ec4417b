"""Sensors, client side: configuration, frame-matched collection and parsing of every CARLA sensor
type, and the BirdView pseudo-sensor.

They talk to the simulator through the carla API only (a real server or the embedded world alike)
and use :mod:`rllib_integration.common` (formats, the map raster), the configuration and the error
types; the embedded world never imports this package.
"""

from .factory import SENSOR_TYPES, SensorFactory, check_sensors
from .sensor import BaseSensor, CarlaSensor, PseudoSensor
from .sensor_interface import SensorInterface, SensorTimeoutError

__all__ = ["SENSOR_TYPES", "BaseSensor", "CarlaSensor", "PseudoSensor", "SensorFactory",
           "SensorInterface", "SensorTimeoutError", "check_sensors"]
