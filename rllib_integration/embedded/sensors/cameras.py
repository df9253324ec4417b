"""Cameras of the embedded world: ``sensor.camera.rgb``, ``.depth``, ``.semantic_segmentation``, ``.dvs``.

A pinhole camera (``image_size_x``, ``image_size_y``, ``fov``) at the sensor's transform casts one ray per
pixel against the ground (textured by the map: road, lane markings, sidewalks, shoulders, terrain) and the
actors' and static objects' boxes (the latter within 150 m), nearest hit first (occlusion); rays
that hit nothing see the sky. Data follows CARLA:
BGRA bytes; depth as planar distance encoded in R, G, B over 1000 m; semantic tags in the red channel;
DVS events (x, y, t, polarity) where the log intensity changed by the contrast thresholds.
"""

from __future__ import annotations

import math

import carla
import numpy as np

from ...common.formats import DEPTH_SCALE, DVS_EVENT, MAX_DEPTH
from ...common.map_raster import LABEL_TAGS, PALETTE
from .base import Sensor
from .measurements import DVSEventArray, Image
from . import ray_kernel
from .raycast import GroundTexture, cast_scene

SKY_TOP, SKY_HORIZON = np.array([70, 130, 200], float), np.array([190, 215, 235], float)
STATIC_REACH = 150.0  # metres: static objects farther than this are not drawn


def rotation_matrix(rotation: carla.Rotation) -> np.ndarray:
    """World-from-sensor rotation (CARLA's get_matrix convention)."""
    return np.array(carla.Transform(carla.Location(), rotation).get_matrix())[:3, :3]


class Camera(Sensor):
    """Renders one frame per measurement; subclasses choose what the pixels carry."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.width = int(self.attributes["image_size_x"])
        self.height = int(self.attributes["image_size_y"])
        self.fov = float(self.attributes["fov"])
        focal = self.width / (2.0 * math.tan(math.radians(self.fov) / 2.0))
        u = (np.arange(self.width) + 0.5 - self.width / 2.0) / focal
        v = (np.arange(self.height) + 0.5 - self.height / 2.0) / focal
        uu, vv = np.meshgrid(u, v)
        self._rays = np.stack([np.ones_like(uu), uu, -vv], axis=-1).reshape(-1, 3)  # camera frame, x = 1
        self._focal = focal
        self._ground = GroundTexture(self._sim.map)

    def render(self, transform: carla.Transform) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(depth (H, W) metres, semantic tags (H, W), RGB (H, W, 3) uint8) seen from ``transform``."""
        rotation = rotation_matrix(transform.rotation)
        directions = self._rays @ rotation.T
        origin, t_ground, boxes = cast_scene(self._sim, self.parent, transform, directions, MAX_DEPTH, STATIC_REACH)
        t_box, which, normal = self._cast_visible_boxes(origin, directions, rotation, boxes)
        depth = np.minimum(np.minimum(t_ground, t_box), MAX_DEPTH)
        sky = ~np.isfinite(np.minimum(t_ground, t_box)) | (np.minimum(t_ground, t_box) >= MAX_DEPTH)
        on_box = (t_box < t_ground) & ~sky
        points = origin + directions * np.where(sky, 0.0, depth)[:, None]
        labels = self._ground.labels(points[:, 0], points[:, 1])
        tags = np.where(sky, int(carla.CityObjectLabel.Sky), LABEL_TAGS[labels]).astype(np.uint8)
        rgb = PALETTE[labels].astype(float)
        if on_box.any():
            tags[on_box] = boxes.tag[which[on_box]]
            shade = 0.55 + 0.45 * np.clip(normal[on_box] @ np.array([0.3, -0.4, 0.87]), 0.0, 1.0)
            rgb[on_box] = boxes.colour[which[on_box]] * shade[:, None]
        elevation = np.clip(directions[:, 2] / np.linalg.norm(directions, axis=1), 0.0, 1.0)[:, None]
        rgb = np.where(sky[:, None], SKY_HORIZON + (SKY_TOP - SKY_HORIZON) * elevation, rgb)
        shape = (self.height, self.width)
        return depth.reshape(shape), tags.reshape(shape), np.clip(rgb, 0, 255).astype(np.uint8).reshape(*shape, 3)

    def _cast_visible_boxes(self, origin, directions, rotation, boxes):
        """Boxes cast only over the pixels their projected corners cover (the corners of every box are
        projected at once; boxes behind the camera or off the picture are skipped)."""
        count = len(directions)
        best, which, normal = np.full(count, np.inf), np.full(count, -1), np.zeros((count, 3))
        if len(boxes.yaw) == 0:
            return best, which, normal
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
        c, s = np.cos(boxes.yaw)[:, None], np.sin(boxes.yaw)[:, None]
        local = signs[None, :, :] * boxes.extent[:, None, :]  # (K, 8, 3)
        corners = boxes.centre[:, None, :] + np.stack(
            [c * local[..., 0] - s * local[..., 1], s * local[..., 0] + c * local[..., 1], local[..., 2]], axis=2)
        camera = (corners - origin) @ rotation  # sensor frame: x forward, y right, z up
        front = np.maximum(camera[..., 0], 0.05)
        u = self.width / 2.0 + self._focal * camera[..., 1] / front
        v = self.height / 2.0 - self._focal * camera[..., 2] / front
        behind = camera[..., 0] <= 0.05
        partly = behind.any(axis=1)  # partly behind the camera: try every pixel
        u0 = np.where(partly, 0, np.maximum(np.floor(u.min(axis=1)) - 1, 0)).astype(int)
        u1 = np.where(partly, self.width, np.minimum(np.ceil(u.max(axis=1)) + 1, self.width)).astype(int)
        v0 = np.where(partly, 0, np.maximum(np.floor(v.min(axis=1)) - 1, 0)).astype(int)
        v1 = np.where(partly, self.height, np.minimum(np.ceil(v.max(axis=1)) + 1, self.height)).astype(int)
        visible = np.flatnonzero(~behind.all(axis=1) & (u0 < u1) & (v0 < v1))
        ray_kernel.cast_rectangles(origin, np.ascontiguousarray(directions), self.width, boxes.centre, boxes.yaw,
                                   boxes.extent, visible, u0[visible], u1[visible], v0[visible], v1[visible], best,
                                   which, normal)
        return best, which, normal

    def _image(self, frame, elapsed, transform, bgra: np.ndarray) -> Image:
        return Image(frame, elapsed, transform, self.width, self.height, self.fov, np.ascontiguousarray(bgra).tobytes())


def _bgra(rgb: np.ndarray) -> np.ndarray:
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb[..., ::-1], alpha], axis=2)


class RGBCamera(Camera):
    def measure(self, frame, elapsed, transform):
        yield self._image(frame, elapsed, transform, _bgra(self.render(transform)[2]))


class DepthCamera(Camera):
    def measure(self, frame, elapsed, transform):
        depth = self.render(transform)[0]
        encoded = np.round(depth / MAX_DEPTH * DEPTH_SCALE).astype(np.int64)
        rgb = np.stack([encoded % 256, (encoded // 256) % 256, encoded // 65536], axis=-1).astype(np.uint8)
        yield self._image(frame, elapsed, transform, _bgra(rgb))


class SemanticCamera(Camera):
    def measure(self, frame, elapsed, transform):
        tags = self.render(transform)[1]
        rgb = np.zeros(tags.shape + (3,), np.uint8)
        rgb[..., 0] = tags
        yield self._image(frame, elapsed, transform, _bgra(rgb))


class DVSCamera(Camera):
    """Events where the log intensity changed by ``positive_threshold`` / ``negative_threshold``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reference: np.ndarray | None = None

    def measure(self, frame, elapsed, transform):
        rgb = self.render(transform)[2].astype(float)
        log_intensity = np.log(rgb @ np.array([0.299, 0.587, 0.114]) + 1.0)
        if self._reference is None:
            self._reference = log_intensity
        change = log_intensity - self._reference
        positive = change >= float(self.attributes["positive_threshold"])
        negative = change <= -float(self.attributes["negative_threshold"])
        ys, xs = np.nonzero(positive | negative)
        events = np.zeros(len(xs), DVS_EVENT)
        events["x"], events["y"] = xs, ys
        events["t"] = int(elapsed * 1e9)
        events["pol"] = positive[ys, xs]
        self._reference = np.where(positive | negative, log_intensity, self._reference)
        yield DVSEventArray(frame, elapsed, transform, self.width, self.height, self.fov, events.tobytes())


CAMERAS = {"rgb": RGBCamera, "depth": DepthCamera, "semantic_segmentation": SemanticCamera, "dvs": DVSCamera}
