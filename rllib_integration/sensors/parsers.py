"""Conversion of CARLA sensor measurements to NumPy (and plain Python) values.

Works on a real server's measurement objects and the embedded world's alike (only their public
fields are read). Output formats:

========================================  ===========================================================
camera rgb / depth / semantic (raw)       uint8 ``(H, W, 3)`` RGB (CARLA delivers BGRA)
depth in metres (``depth_in_meters``)     float32 ``(H, W)``: ``(R + 256 G + 65536 B) / (2^24 - 1) * 1000``
semantic tags / palette                   tags: uint8 ``(H, W)`` from the red channel; palette: RGB
                                          ``(H, W, 3)`` in CARLA's CityScapes colours
instance segmentation / normals (raw)     uint8 ``(H, W, 3)`` RGB
optical flow                              float32 ``(H, W, 2)``: motion in normalised screen coordinates
dvs                                       uint8 ``(H, W, 3)``: 255 in channel 2 (blue) for positive
                                          and channel 0 (red) for negative events
lidar                                     float32 ``(N, 4)``: x, y, z, intensity
semantic lidar                            structured ``(N,)``: x, y, z, cos_inc_angle (float32),
                                          object_idx, object_tag (uint32)
radar                                     float32 ``(N, 4)`` in CARLA's order: velocity (m/s, towards
                                          the sensor negative), azimuth, altitude (rad), depth (m)
gnss                                      float64 ``[latitude, longitude, altitude]``
imu                                       float64 ``[ax, ay, az, gx, gy, gz, compass]``
collision (event)                         ``[other_actor, |normal_impulse|]``
lane invasion (event)                     ``[transform, crossed_lane_markings]``
obstacle (event)                          ``[other_actor, distance]``
========================================  ===========================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..common.formats import CITYSCAPES_PALETTE, DEPTH_SCALE, DVS_EVENT, MAX_DEPTH, SEMANTIC_LIDAR_POINT


def image_rgb(image: Any) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` from a BGRA image."""
    bgra = np.frombuffer(image.raw_data, dtype=np.uint8).reshape(image.height, image.width, 4)
    return np.ascontiguousarray(bgra[:, :, 2::-1])


def depth_to_meters(rgb: np.ndarray) -> np.ndarray:
    """Metres from CARLA's depth encoding in an RGB image (1000 m range)."""
    rgb = rgb.astype(np.float32)
    normalised = (rgb[..., 0] + rgb[..., 1] * 256.0 + rgb[..., 2] * 65536.0) / DEPTH_SCALE
    return normalised * MAX_DEPTH


def semantic_tags(rgb: np.ndarray) -> np.ndarray:
    """CARLA's semantic tags (red channel) as uint8 ``(H, W)``."""
    return np.ascontiguousarray(rgb[..., 0])


def semantic_palette(tags: np.ndarray) -> np.ndarray:
    """CityScapes colours of semantic tags (unknown tags are black)."""
    return CITYSCAPES_PALETTE[np.where(tags < len(CITYSCAPES_PALETTE), tags, 0)]


def optical_flow(image: Any) -> np.ndarray:
    """float32 ``(H, W, 2)`` flow of an optical-flow image."""
    return np.frombuffer(image.raw_data, dtype=np.float32).reshape(image.height, image.width, 2).copy()


def dvs_image(events: Any, width: int, height: int) -> np.ndarray:
    """Picture of DVS events: blue where brightness rose, red where it fell."""
    array = np.frombuffer(events.raw_data, dtype=DVS_EVENT)
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[array["y"], array["x"], np.where(array["pol"], 2, 0)] = 255
    return image


def lidar(measurement: Any) -> np.ndarray:
    return np.frombuffer(measurement.raw_data, dtype=np.float32).reshape(-1, 4).copy()


def semantic_lidar(measurement: Any) -> np.ndarray:
    return np.frombuffer(measurement.raw_data, dtype=SEMANTIC_LIDAR_POINT).copy()


def radar(measurement: Any) -> np.ndarray:
    return np.frombuffer(measurement.raw_data, dtype=np.float32).reshape(-1, 4).copy()


def gnss(measurement: Any) -> np.ndarray:
    return np.array([measurement.latitude, measurement.longitude, measurement.altitude], dtype=np.float64)


def imu(measurement: Any) -> np.ndarray:
    a, g = measurement.accelerometer, measurement.gyroscope
    return np.array([a.x, a.y, a.z, g.x, g.y, g.z, measurement.compass], dtype=np.float64)


def collision(event: Any) -> list:
    impulse = event.normal_impulse
    return [event.other_actor, float(np.sqrt(impulse.x ** 2 + impulse.y ** 2 + impulse.z ** 2))]


def lane_invasion(event: Any) -> list:
    return [event.transform, list(event.crossed_lane_markings)]


def obstacle(event: Any) -> list:
    return [event.other_actor, float(event.distance)]
