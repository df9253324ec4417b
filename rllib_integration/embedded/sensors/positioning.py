"""Positioning sensors of the embedded world: ``sensor.other.gnss`` and ``sensor.other.imu``."""

from __future__ import annotations

import math

import carla
import numpy as np

from ...common.formats import GRAVITY
from .base import Sensor
from .measurements import GnssMeasurement, IMUMeasurement


class GnssSensor(Sensor):
    """``sensor.other.gnss``: the sensor's position through the map's geo-reference, plus noise."""

    def measure(self, frame, elapsed, transform):
        geo = self._sim.map.transform_to_geolocation(transform.location)
        yield GnssMeasurement(frame, elapsed, transform,
                              geo.latitude + self._noise("noise_lat_stddev", "noise_lat_bias"),
                              geo.longitude + self._noise("noise_lon_stddev", "noise_lon_bias"),
                              geo.altitude + self._noise("noise_alt_stddev", "noise_alt_bias"))


class ImuSensor(Sensor):
    """``sensor.other.imu``: proper acceleration (gravity included, +9.81 z at rest) and angular
    velocity in the sensor frame, compass in radians from north (-y), plus noise."""

    def measure(self, frame, elapsed, transform):
        body = self.parent if self.parent is not None else self
        a = body.get_acceleration()
        world_accel = np.array([a.x, a.y, a.z + GRAVITY])
        inverse = np.array(transform.get_inverse_matrix())[:3, :3]
        local = inverse @ world_accel
        w = body.get_angular_velocity()
        gyro = inverse @ np.radians([w.x, w.y, w.z])
        accelerometer = carla.Vector3D(*(local[i] + self._noise(f"noise_accel_stddev_{axis}")
                                         for i, axis in enumerate("xyz")))
        gyroscope = carla.Vector3D(*(gyro[i] + self._noise(f"noise_gyro_stddev_{axis}", f"noise_gyro_bias_{axis}")
                                     for i, axis in enumerate("xyz")))
        compass = math.radians(transform.rotation.yaw + 90.0) % (2.0 * math.pi)
        yield IMUMeasurement(frame, elapsed, transform, accelerometer, gyroscope, compass)
