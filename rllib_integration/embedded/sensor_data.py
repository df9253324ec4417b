"""Measurement classes of the embedded world's sensors, with the fields of CARLA's
(``carla.CollisionEvent``, ``carla.LaneInvasionEvent``, ``carla.ObstacleDetectionEvent``,
``carla.GnssMeasurement``, ``carla.IMUMeasurement``)."""

from __future__ import annotations

from typing import Any

import carla


class SensorData:
    """Common fields: the frame and simulation time of the measurement and the sensor's pose."""

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform) -> None:
        self.frame, self.timestamp, self.transform = frame, timestamp, transform


class CollisionEvent(SensorData):
    def __init__(self, frame, timestamp, transform, actor: Any, other_actor: Any,
                 normal_impulse: carla.Vector3D) -> None:
        super().__init__(frame, timestamp, transform)
        self.actor, self.other_actor, self.normal_impulse = actor, other_actor, normal_impulse


class LaneInvasionEvent(SensorData):
    def __init__(self, frame, timestamp, transform, actor: Any,
                 crossed_lane_markings: list[carla.LaneMarking]) -> None:
        super().__init__(frame, timestamp, transform)
        self.actor, self.crossed_lane_markings = actor, crossed_lane_markings


class ObstacleDetectionEvent(SensorData):
    def __init__(self, frame, timestamp, transform, actor: Any, other_actor: Any, distance: float) -> None:
        super().__init__(frame, timestamp, transform)
        self.actor, self.other_actor, self.distance = actor, other_actor, distance


class GnssMeasurement(SensorData):
    def __init__(self, frame, timestamp, transform, latitude: float, longitude: float,
                 altitude: float) -> None:
        super().__init__(frame, timestamp, transform)
        self.latitude, self.longitude, self.altitude = latitude, longitude, altitude


class IMUMeasurement(SensorData):
    def __init__(self, frame, timestamp, transform, accelerometer: carla.Vector3D,
                 gyroscope: carla.Vector3D, compass: float) -> None:
        super().__init__(frame, timestamp, transform)
        self.accelerometer, self.gyroscope, self.compass = accelerometer, gyroscope, compass
