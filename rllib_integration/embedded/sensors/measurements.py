"""Measurements of the embedded world's sensors, with the fields, methods and data formats of CARLA's
(``carla.CollisionEvent``, ``carla.LaneInvasionEvent``, ``carla.ObstacleDetectionEvent``,
``carla.GnssMeasurement``, ``carla.IMUMeasurement``, ``carla.Image``, ``carla.OpticalFlowImage``,
``carla.DVSEventArray``, ``carla.LidarMeasurement``, ``carla.SemanticLidarMeasurement``,
``carla.RadarMeasurement``).

Each class derives from CARLA's own (``isinstance(image, carla.Image)`` holds, as code written for a
server checks: CARLA's leaderboard sorts sensor data by it); the C++ base is never constructed, and
CARLA's C++ members are hidden behind the embedded ones (:mod:`..carla_types`).

Images hold BGRA pixels (``raw_data``), can be converted in place (``convert``), indexed and iterated
as ``carla.Color`` pixels and saved as PNG (``save_to_disk``, Pillow); point clouds iterate as
CARLA's detection objects and save as ASCII PLY, as CARLA writes them.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import carla
import numpy as np

from ...common.formats import CITYSCAPES_PALETTE, DEPTH_SCALE, DVS_EVENT, SEMANTIC_LIDAR_POINT
from ..carla_types import adopt_carla_base

RAW = carla.ColorConverter.Raw


@adopt_carla_base
class SensorData(carla.SensorData):
    """Common fields: the frame and simulation time of the measurement and the sensor's pose."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        adopt_carla_base(cls)

    def __init__(self, frame: int, timestamp: float, transform: carla.Transform) -> None:
        self.frame, self.timestamp, self.transform = frame, timestamp, transform

    @property
    def frame_number(self) -> int:
        return self.frame

    def __str__(self) -> str:
        return f"{type(self).__name__}(frame={self.frame}, timestamp={self.timestamp:g})"

    __repr__ = __str__


def disk_path(path: str, extension: str) -> str:
    """``path`` with ``extension`` added where it has none, its folder created (as CARLA does)."""
    if not os.path.splitext(path)[1]:
        path += extension
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return path


# -- events and small measurements -------------------------------------------------------------------
class CollisionEvent(SensorData, carla.CollisionEvent):
    def __init__(self, frame, timestamp, transform, actor: Any, other_actor: Any,
                 normal_impulse: carla.Vector3D) -> None:
        super().__init__(frame, timestamp, transform)
        self.actor, self.other_actor, self.normal_impulse = actor, other_actor, normal_impulse


class LaneInvasionEvent(SensorData, carla.LaneInvasionEvent):
    def __init__(self, frame, timestamp, transform, actor: Any,
                 crossed_lane_markings: list[carla.LaneMarking]) -> None:
        super().__init__(frame, timestamp, transform)
        self.actor, self.crossed_lane_markings = actor, crossed_lane_markings

    def __str__(self) -> str:
        return f"LaneInvasionEvent(frame={self.frame}, timestamp={self.timestamp:g}, actor={self.actor})"


class ObstacleDetectionEvent(SensorData, carla.ObstacleDetectionEvent):
    def __init__(self, frame, timestamp, transform, actor: Any, other_actor: Any, distance: float) -> None:
        super().__init__(frame, timestamp, transform)
        self.actor, self.other_actor, self.distance = actor, other_actor, distance

    def __str__(self) -> str:
        return (f"ObstacleDetectionEvent(frame={self.frame}, timestamp={self.timestamp:g}, "
                f"other_actor={self.other_actor})")


class GnssMeasurement(SensorData, carla.GnssMeasurement):
    def __init__(self, frame, timestamp, transform, latitude: float, longitude: float,
                 altitude: float) -> None:
        super().__init__(frame, timestamp, transform)
        self.latitude, self.longitude, self.altitude = latitude, longitude, altitude

    def __str__(self) -> str:
        return (f"GnssMeasurement(frame={self.frame}, timestamp={self.timestamp:f}, lat={self.latitude:f}, "
                f"lon={self.longitude:f}, alt={self.altitude:f})")


class IMUMeasurement(SensorData, carla.IMUMeasurement):
    def __init__(self, frame, timestamp, transform, accelerometer: carla.Vector3D,
                 gyroscope: carla.Vector3D, compass: float) -> None:
        super().__init__(frame, timestamp, transform)
        self.accelerometer, self.gyroscope, self.compass = accelerometer, gyroscope, compass

    def __str__(self) -> str:
        return (f"IMUMeasurement(frame={self.frame}, timestamp={self.timestamp:f}, "
                f"accelerometer={self.accelerometer}, gyroscope={self.gyroscope}, compass={self.compass:f})")


# -- images ------------------------------------------------------------------------------------------
def _converted(bgra: np.ndarray, converter: carla.ColorConverter) -> np.ndarray:
    """BGRA pixels after CARLA's colour converter (depth and palette conversions of the raw encoding)."""
    if converter == RAW:
        return bgra
    out = bgra.copy()
    if converter == carla.ColorConverter.CityScapesPalette:
        tags = bgra[..., 2]
        out[..., 2::-1][...] = CITYSCAPES_PALETTE[np.where(tags < len(CITYSCAPES_PALETTE), tags, 0)]
        return out
    encoded = bgra[..., 2].astype(np.float64) + bgra[..., 1] * 256.0 + bgra[..., 0] * 65536.0
    depth = encoded / DEPTH_SCALE  # normalised 0..1 over 1000 m
    if converter == carla.ColorConverter.LogarithmicDepth:
        with np.errstate(divide="ignore"):
            grey = np.clip(1.0 + np.log(np.maximum(depth, 1e-12)) / 5.70378, 0.005, 1.0)
    else:
        grey = depth
    out[..., :3] = np.round(grey * 255.0).astype(np.uint8)[..., None]
    return out


class Image(SensorData, carla.Image):
    """``carla.Image``: ``raw_data`` is BGRA bytes row by row; ``image[i]`` is the ``carla.Color``
    of pixel ``i`` (row-major); ``convert`` changes the pixels in place."""

    def __init__(self, frame, timestamp, transform, bgra: np.ndarray, fov: float) -> None:
        super().__init__(frame, timestamp, transform)
        self._bgra = np.ascontiguousarray(bgra, dtype=np.uint8)
        self.height, self.width = self._bgra.shape[:2]
        self.fov = fov

    @property
    def raw_data(self) -> memoryview:
        return memoryview(self._bgra.reshape(-1))

    def convert(self, color_converter: carla.ColorConverter) -> None:
        """Convert the pixels in place (``Depth``, ``LogarithmicDepth``, ``CityScapesPalette``, ``Raw``)."""
        self._bgra = np.ascontiguousarray(_converted(self._bgra, color_converter))

    def save_to_disk(self, path: str, color_converter: carla.ColorConverter = RAW) -> str:
        """Write the image (converted, the image itself unchanged) as PNG (or the extension's
        format); returns the path written."""
        from PIL import Image as PILImage  # Pillow, a dependency; imported here, off the tick path
        path = disk_path(path, ".png")
        bgra = _converted(self._bgra, color_converter)
        PILImage.fromarray(np.ascontiguousarray(bgra[..., [2, 1, 0, 3]]), "RGBA").save(path)
        return path

    def __len__(self) -> int:
        return self.width * self.height

    def __getitem__(self, index: int) -> carla.Color:
        b, g, r, a = (int(v) for v in self._bgra.reshape(-1, 4)[index])
        return carla.Color(r, g, b, a)

    def __setitem__(self, index: int, color: carla.Color) -> None:
        self._bgra.reshape(-1, 4)[index] = (color.b, color.g, color.r, color.a)

    def __iter__(self) -> Iterator[carla.Color]:
        return (self[i] for i in range(len(self)))

    def __str__(self) -> str:
        return f"Image(frame={self.frame}, timestamp={self.timestamp:f}, size={self.width}x{self.height})"


class OpticalFlowImage(SensorData, carla.OpticalFlowImage):
    """``carla.OpticalFlowImage``: two float32 per pixel, the motion in normalised screen
    coordinates (-2..2) since the previous frame."""

    def __init__(self, frame, timestamp, transform, flow: np.ndarray, fov: float) -> None:
        super().__init__(frame, timestamp, transform)
        self._flow = np.ascontiguousarray(flow, dtype=np.float32)
        self.height, self.width = self._flow.shape[:2]
        self.fov = fov

    @property
    def raw_data(self) -> memoryview:
        return memoryview(self._flow.reshape(-1).view(np.uint8))

    def get_color_coded_flow(self) -> Image:
        """The flow as colours: hue the direction, brightness the magnitude (as CARLA's)."""
        dx, dy = self._flow[..., 0], self._flow[..., 1]
        hue = (np.arctan2(dy, dx) + np.pi) / (2.0 * np.pi)
        value = np.clip(np.hypot(dx, dy) * 4.0, 0.0, 1.0)
        sector = np.floor(hue * 6.0).astype(int) % 6
        fraction = hue * 6.0 - np.floor(hue * 6.0)
        p, q, t = np.zeros_like(value), value * (1.0 - fraction), value * fraction
        table = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)]
        rgb = np.zeros(value.shape + (3,))
        for k, channels in enumerate(table):
            mask = sector == k
            for c in range(3):
                rgb[..., c][mask] = channels[c][mask]
        bgra = np.concatenate([np.round(rgb[..., ::-1] * 255).astype(np.uint8),
                               np.full(value.shape + (1,), 255, np.uint8)], axis=2)
        return Image(self.frame, self.timestamp, self.transform, bgra, self.fov)

    def __len__(self) -> int:
        return self.width * self.height

    def __getitem__(self, index: int) -> carla.OpticalFlowPixel:
        pixel = carla.OpticalFlowPixel()
        pixel.x, pixel.y = (float(v) for v in self._flow.reshape(-1, 2)[index])
        return pixel

    def __setitem__(self, index: int, pixel: carla.OpticalFlowPixel) -> None:
        self._flow.reshape(-1, 2)[index] = (pixel.x, pixel.y)

    def __iter__(self) -> Iterator[carla.OpticalFlowPixel]:
        return (self[i] for i in range(len(self)))


@adopt_carla_base
class DVSEvent(carla.DVSEvent):
    """One event of a ``carla.DVSEventArray`` (``carla.DVSEvent``): pixel, time (ns), polarity."""

    def __init__(self, x: int, y: int, t: int, pol: bool) -> None:
        self.x, self.y, self.t, self.pol = x, y, t, pol

    def __str__(self) -> str:
        return f"Event(x={self.x}, y={self.y}, t={self.t}, pol={int(self.pol)})"

    __repr__ = __str__

    def __reduce__(self) -> tuple:  # picklable, unlike CARLA's C++ base
        return DVSEvent, (self.x, self.y, self.t, self.pol)


class DVSEventArray(SensorData, carla.DVSEventArray):
    """``carla.DVSEventArray``: ``raw_data`` holds (x uint16, y uint16, t int64, pol bool) records."""

    def __init__(self, frame, timestamp, transform, width: int, height: int, fov: float, events: np.ndarray) -> None:
        super().__init__(frame, timestamp, transform)
        self.width, self.height, self.fov = width, height, fov
        self._events = np.ascontiguousarray(events, dtype=DVS_EVENT)

    @property
    def raw_data(self) -> memoryview:
        return memoryview(self._events.view(np.uint8))

    def to_image(self) -> Image:
        """Blue where brightness rose, red where it fell (as CARLA's)."""
        bgra = np.zeros((self.height, self.width, 4), np.uint8)
        bgra[..., 3] = 255
        e = self._events
        bgra[e["y"], e["x"], np.where(e["pol"], 0, 2)] = 255
        return Image(self.frame, self.timestamp, self.transform, bgra, self.fov)

    def to_array(self) -> np.ndarray:
        """(N, 4) int64: x, y, t, pol."""
        e = self._events
        return np.stack([e["x"], e["y"], e["t"], e["pol"]], axis=1).astype(np.int64)

    def to_array_x(self) -> list[int]:
        return self._events["x"].tolist()

    def to_array_y(self) -> list[int]:
        return self._events["y"].tolist()

    def to_array_t(self) -> list[int]:
        return self._events["t"].tolist()

    def to_array_pol(self) -> list[bool]:
        return self._events["pol"].tolist()

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> DVSEvent:
        x, y, t, pol = self._events[index]
        return DVSEvent(int(x), int(y), int(t), bool(pol))

    def __iter__(self) -> Iterator[DVSEvent]:
        return (self[i] for i in range(len(self)))


# -- point clouds ------------------------------------------------------------------------------------
class _PointCloud(SensorData):
    """A LiDAR sweep slice: ``channels``, ``horizontal_angle`` (rad), points per channel."""

    def __init__(self, frame, timestamp, transform, channels: int, horizontal_angle: float, points: np.ndarray,
                 counts: list[int]) -> None:
        super().__init__(frame, timestamp, transform)
        self.channels, self.horizontal_angle = channels, horizontal_angle
        self._points = np.ascontiguousarray(points)
        self._counts = counts

    @property
    def raw_data(self) -> memoryview:
        return memoryview(self._points.reshape(-1).view(np.uint8))

    def get_point_count(self, channel: int) -> int:
        return self._counts[channel]

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def save_to_disk(self, path: str) -> str:
        """Write the points as an ASCII PLY file (as CARLA's); returns the path written."""
        path = disk_path(path, ".ply")
        fields, rows = self._ply_columns()
        header = ["ply", "format ascii 1.0", f"element vertex {len(self)}"]
        header += [f"property {kind} {name}" for name, kind in fields] + ["end_header"]
        with open(path, "w", encoding="ascii") as stream:
            stream.write("\n".join(header) + "\n")
            np.savetxt(stream, rows, fmt=["%.4f" if kind == "float32" else "%d" for _, kind in fields])
        return path


class LidarMeasurement(_PointCloud, carla.LidarMeasurement):
    """``carla.LidarMeasurement``: float32 (x, y, z, intensity) per point, sensor frame."""

    def __getitem__(self, index: int) -> carla.LidarDetection:
        x, y, z, intensity = (float(v) for v in self._points[index])
        detection = carla.LidarDetection()
        detection.point, detection.intensity = carla.Location(x, y, z), intensity
        return detection

    def _ply_columns(self):
        return [("x", "float32"), ("y", "float32"), ("z", "float32"), ("I", "float32")], self._points


class SemanticLidarMeasurement(_PointCloud, carla.SemanticLidarMeasurement):
    """``carla.SemanticLidarMeasurement``: (x, y, z, cos_inc_angle, object_idx, object_tag) records."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._points = self._points.view(SEMANTIC_LIDAR_POINT).reshape(-1)

    def __getitem__(self, index: int) -> carla.SemanticLidarDetection:
        record = self._points[index]
        detection = carla.SemanticLidarDetection()
        detection.point = carla.Location(float(record["x"]), float(record["y"]), float(record["z"]))
        detection.cos_inc_angle = float(record["cos_inc_angle"])
        detection.object_idx, detection.object_tag = int(record["object_idx"]), int(record["object_tag"])
        return detection

    def _ply_columns(self):
        p = self._points
        rows = np.column_stack([p["x"], p["y"], p["z"], p["cos_inc_angle"], p["object_idx"], p["object_tag"]])
        return [("x", "float32"), ("y", "float32"), ("z", "float32"), ("CosAngle", "float32"),
                ("ObjIdx", "uint32"), ("ObjTag", "uint32")], rows


class RadarMeasurement(SensorData, carla.RadarMeasurement):
    """``carla.RadarMeasurement``: float32 (velocity, azimuth, altitude, depth) per detection."""

    def __init__(self, frame, timestamp, transform, detections: np.ndarray) -> None:
        super().__init__(frame, timestamp, transform)
        self._detections = np.ascontiguousarray(detections, dtype=np.float32).reshape(-1, 4)

    @property
    def raw_data(self) -> memoryview:
        return memoryview(self._detections.reshape(-1).view(np.uint8))

    def get_detection_count(self) -> int:
        return len(self._detections)

    def __len__(self) -> int:
        return self.get_detection_count()

    def __getitem__(self, index: int) -> carla.RadarDetection:
        velocity, azimuth, altitude, depth = (float(v) for v in self._detections[index])
        detection = carla.RadarDetection()
        detection.velocity, detection.azimuth, detection.altitude, detection.depth = velocity, azimuth, altitude, depth
        return detection

    def __iter__(self) -> Iterator[carla.RadarDetection]:
        return (self[i] for i in range(len(self)))
