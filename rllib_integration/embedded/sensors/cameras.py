"""Cameras of the embedded world: ``sensor.camera.rgb``, ``.depth``, ``.semantic_segmentation``,
``.instance_segmentation``, ``.normals``, ``.optical_flow`` and ``.dvs``.

A pinhole camera (``image_size_x``, ``image_size_y``, ``fov``) at the sensor's transform casts one ray per
pixel against the ground (textured by the map: road, lane markings, sidewalks, shoulders, terrain) and the
actors' and static objects' boxes (the latter within 150 m), nearest hit first (occlusion); rays
that hit nothing see the sky. Data follows CARLA:
BGRA bytes; depth as planar distance encoded in R, G, B over 1000 m; semantic tags in the red channel;
DVS events (x, y, t, polarity) where the log intensity changed by the contrast thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import carla
import numpy as np

from ...common.formats import DEPTH_SCALE, DVS_EVENT, MAX_DEPTH
from ...common.map_raster import LABEL_TAGS, PALETTE
from .base import Sensor
from .measurements import DVSEventArray, Image, OpticalFlowImage
from . import ray_kernel
from .raycast import GroundTexture, cast_scene

SKY_TOP, SKY_HORIZON = np.array([70, 130, 200], float), np.array([190, 215, 235], float)
STATIC_REACH = 150.0  # metres: static objects farther than this are not drawn


def rotation_matrix(rotation: carla.Rotation) -> np.ndarray:
    """World-from-sensor rotation (CARLA's get_matrix convention)."""
    return np.array(carla.Transform(carla.Location(), rotation).get_matrix())[:3, :3]


@dataclass
class Frame:
    """One rendered frame: per pixel (H, W) the planar depth (m), the semantic tag and the RGB colour;
    per ray (H*W) the hit point (world), the box hit (-1: ground or sky), the surface normal (world)
    and whether it is sky; the boxes of the scene and the camera's world-from-sensor rotation."""

    depth: np.ndarray
    tags: np.ndarray
    rgb: np.ndarray
    points: np.ndarray
    which: np.ndarray
    normal: np.ndarray
    sky: np.ndarray
    boxes: Any
    rotation: np.ndarray


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

    def render(self, transform: carla.Transform) -> "Frame":
        """What the camera sees from ``transform`` (see :class:`Frame`)."""
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
        normal = np.where(on_box[:, None], normal, np.array([0.0, 0.0, 1.0]))
        if on_box.any():
            tags[on_box] = boxes.tag[which[on_box]]
            shade = 0.55 + 0.45 * np.clip(normal[on_box] @ np.array([0.3, -0.4, 0.87]), 0.0, 1.0)
            rgb[on_box] = boxes.colour[which[on_box]] * shade[:, None]
        elevation = np.clip(directions[:, 2] / np.linalg.norm(directions, axis=1), 0.0, 1.0)[:, None]
        rgb = np.where(sky[:, None], SKY_HORIZON + (SKY_TOP - SKY_HORIZON) * elevation, rgb)
        shape = (self.height, self.width)
        return Frame(depth.reshape(shape), tags.reshape(shape), np.clip(rgb, 0, 255).astype(np.uint8).reshape(*shape, 3),
                     points, np.where(on_box, which, -1), normal, sky, boxes, rotation)

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
        return Image(frame, elapsed, transform, bgra, self.fov)


def _bgra(rgb: np.ndarray) -> np.ndarray:
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb[..., ::-1], alpha], axis=2)


class RGBCamera(Camera):
    def measure(self, frame, elapsed, transform):
        yield self._image(frame, elapsed, transform, _bgra(self.render(transform).rgb))


class DepthCamera(Camera):
    def measure(self, frame, elapsed, transform):
        depth = self.render(transform).depth
        encoded = np.round(depth / MAX_DEPTH * DEPTH_SCALE).astype(np.int64)
        rgb = np.stack([encoded % 256, (encoded // 256) % 256, encoded // 65536], axis=-1).astype(np.uint8)
        yield self._image(frame, elapsed, transform, _bgra(rgb))


class SemanticCamera(Camera):
    def measure(self, frame, elapsed, transform):
        tags = self.render(transform).tags
        rgb = np.zeros(tags.shape + (3,), np.uint8)
        rgb[..., 0] = tags
        yield self._image(frame, elapsed, transform, _bgra(rgb))


class InstanceCamera(Camera):
    """``sensor.camera.instance_segmentation``: the semantic tag in red, the actor id in green (low
    byte) and blue (high byte); the ground and static objects have id 0."""

    def measure(self, frame, elapsed, transform):
        seen = self.render(transform)
        ids = np.where(seen.which >= 0, seen.boxes.actor_id[np.maximum(seen.which, 0)], 0).reshape(seen.tags.shape)
        rgb = np.stack([seen.tags, ids % 256, (ids // 256) % 256], axis=-1).astype(np.uint8)
        yield self._image(frame, elapsed, transform, _bgra(rgb))


class NormalsCamera(Camera):
    """``sensor.camera.normals``: the surface normal in the camera frame, each axis mapped from
    [-1, 1] to [0, 255] in R, G, B."""

    def measure(self, frame, elapsed, transform):
        seen = self.render(transform)
        local = seen.normal @ seen.rotation  # world -> sensor frame
        rgb = np.round((np.clip(local, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
        rgb[seen.sky] = 0
        yield self._image(frame, elapsed, transform, _bgra(rgb.reshape(seen.tags.shape + (3,))))


class OpticalFlowCamera(Camera):
    """``sensor.camera.optical_flow``: where each pixel's point was in the previous frame's image
    (the camera's own motion and the hit actors' velocities), in normalised screen coordinates."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (origin, world-from-sensor rotation)

    def measure(self, frame, elapsed, transform):
        seen = self.render(transform)
        origin = np.array([transform.location.x, transform.location.y, transform.location.z])
        flow = np.zeros((len(seen.points), 2), np.float32)
        if self._previous is not None:
            velocity = np.where(seen.which[:, None] >= 0, seen.boxes.velocity[np.maximum(seen.which, 0)], 0.0)
            before = seen.points - velocity * (self._sim.delta or 0.05)
            old_origin, old_rotation = self._previous
            local = (before - old_origin) @ old_rotation
            ahead = np.maximum(local[:, 0], 1e-3)
            u_before = self.width / 2.0 + self._focal * local[:, 1] / ahead
            v_before = self.height / 2.0 - self._focal * local[:, 2] / ahead
            v_now, u_now = np.divmod(np.arange(len(seen.points)), self.width)
            flow[:, 0] = 2.0 * (u_now + 0.5 - u_before) / self.width
            flow[:, 1] = 2.0 * (v_now + 0.5 - v_before) / self.height
            flow[seen.sky | (local[:, 0] <= 1e-3)] = 0.0
        self._previous = (origin, seen.rotation)
        yield OpticalFlowImage(frame, elapsed, transform, flow.reshape(self.height, self.width, 2), self.fov)


class DVSCamera(Camera):
    """Events where the log intensity changed by ``positive_threshold`` / ``negative_threshold``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reference: np.ndarray | None = None

    def measure(self, frame, elapsed, transform):
        rgb = self.render(transform).rgb.astype(float)
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
        yield DVSEventArray(frame, elapsed, transform, self.width, self.height, self.fov, events)


CAMERAS = {"rgb": RGBCamera, "depth": DepthCamera, "semantic_segmentation": SemanticCamera,
           "instance_segmentation": InstanceCamera, "normals": NormalsCamera, "optical_flow": OpticalFlowCamera,
           "dvs": DVSCamera}
