"""Sensors: configuration, frame-matched collection and parsing of every CARLA sensor type."""

from .factory import SENSOR_TYPES, SensorFactory
from .sensor import BaseSensor, CarlaSensor, PseudoSensor
from .sensor_interface import SensorInterface, SensorTimeoutError

__all__ = ["SENSOR_TYPES", "BaseSensor", "CarlaSensor", "PseudoSensor", "SensorFactory",
           "SensorInterface", "SensorTimeoutError"]
