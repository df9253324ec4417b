"""Measurement classes of the embedded world's sensors, with the fields of CARLA's
(``carla.CollisionEvent``, ``carla.LaneInvasionEvent``, ``carla.ObstacleDetectionEvent``,
``carla.GnssMeasurement``, ``carla.IMUMeasurement``, ``carla.Image``, ``carla.DVSEventArray``,
``carla.LidarMeasurement``, ``carla.SemanticLidarMeasurement``, ``carla.RadarMeasurement``) and
their data formats (:mod:`rllib_integration.common.formats`)."""

from __future__ import annotations

from typing import Any

import carla

from ...common.formats import DVS_EVENT


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


class Image(SensorData):
    """``carla.Image``: ``raw_data`` is BGRA bytes, row by row."""

    def __init__(self, frame, timestamp, transform, width: int, height: int, fov: float, raw_data: bytes) -> None:
        super().__init__(frame, timestamp, transform)
        self.width, self.height, self.fov, self.raw_data = width, height, fov, raw_data


class DVSEventArray(SensorData):
    """``carla.DVSEventArray``: ``raw_data`` holds (x uint16, y uint16, t int64, pol bool) records."""

    def __init__(self, frame, timestamp, transform, width: int, height: int, fov: float, raw_data: bytes) -> None:
        super().__init__(frame, timestamp, transform)
        self.width, self.height, self.fov, self.raw_data = width, height, fov, raw_data

    def __len__(self) -> int:
        return len(self.raw_data) // DVS_EVENT.itemsize


class LidarMeasurement(SensorData):
    """``carla.LidarMeasurement`` / ``SemanticLidarMeasurement``."""

    def __init__(self, frame, timestamp, transform, channels: int, horizontal_angle: float, raw_data: bytes,
                 counts: list[int]) -> None:
        super().__init__(frame, timestamp, transform)
        self.channels, self.horizontal_angle, self.raw_data = channels, horizontal_angle, raw_data
        self._counts = counts

    def get_point_count(self, channel: int) -> int:
        return self._counts[channel]

    def __len__(self) -> int:
        return sum(self._counts)


class RadarMeasurement(SensorData):
    """``carla.RadarMeasurement``: ``raw_data`` holds float32 (velocity, azimuth, altitude, depth)."""

    def __init__(self, frame, timestamp, transform, raw_data: bytes) -> None:
        super().__init__(frame, timestamp, transform)
        self.raw_data = raw_data

    def get_detection_count(self) -> int:
        return len(self.raw_data) // 16

    def __len__(self) -> int:
        return self.get_detection_count()
