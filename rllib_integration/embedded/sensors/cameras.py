"""Cameras of the embedded world: ``sensor.camera.rgb``, ``.depth``, ``.semantic_segmentation``,
``.instance_segmentation``, ``.normals``, ``.optical_flow`` and ``.dvs``.

A pinhole camera (``image_size_x``, ``image_size_y``, ``fov``) at the sensor's transform draws the actors'
and static objects' boxes (the latter within 150 m) by rasterization (:mod:`.raster`), nearest first
(occlusion), then the ground (textured by the map: road, lane markings, sidewalks, shoulders, terrain) and the
sky where nothing is nearer. Data follows CARLA:
BGRA bytes; depth as planar distance encoded in R, G, B over 1000 m; semantic tags in the red channel;
DVS events (x, y, t, polarity) where the log intensity changed by the contrast thresholds.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import carla
import numpy as np

from ...common.formats import DEPTH_SCALE, DVS_EVENT, MAX_DEPTH
from ...common.map_raster import LABEL_TAGS, PALETTE, Label
from . import raster
from .base import Sensor
from .measurements import DVSEventArray, Image, OpticalFlowImage
from .raycast import GroundTexture, scene

SKY_TOP, SKY_HORIZON = np.array([70, 130, 200], float), np.array([190, 215, 235], float)
STATIC_REACH = 150.0  # metres: static objects farther than this are not drawn


def rotation_matrix(rotation: carla.Rotation) -> np.ndarray:
    """World-from-sensor rotation (CARLA's get_matrix convention)."""
    return np.array(carla.Transform(carla.Location(), rotation).get_matrix())[:3, :3]


class Frame:
    """One rendered frame: per pixel (H, W) the planar depth (m), the semantic tag and the RGB colour; per ray
    (H*W) the box seen (-1: ground or sky), and, computed when first read, the hit point (world), the surface
    normal (world) and whether it is sky; the boxes of the scene and the camera's world-from-sensor rotation."""

    def __init__(self, depth: np.ndarray, tags: np.ndarray, rgb: np.ndarray, which: np.ndarray, face: np.ndarray,
                 boxes: Any, rotation: np.ndarray, origin: np.ndarray, directions: np.ndarray) -> None:
        self.depth, self.tags, self.rgb, self.which, self.face = depth, tags, rgb, which, face
        self.boxes, self.rotation, self.origin, self.directions = boxes, rotation, origin, directions

    @functools.cached_property
    def sky(self) -> np.ndarray:
        return self.face == raster.SKY

    @functools.cached_property
    def points(self) -> np.ndarray:
        return self.origin + self.directions * np.where(self.sky, 0.0, self.depth.ravel())[:, None]

    @functools.cached_property
    def normal(self) -> np.ndarray:
        return raster.face_normals(self.boxes.yaw, self.which, self.face)


class Camera(Sensor):
    """Renders one frame per measurement (:mod:`.raster`); subclasses choose what the pixels carry."""

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

    def render(self, transform: carla.Transform) -> Frame:
        """What the camera sees from ``transform`` (see :class:`Frame`)."""
        rotation = rotation_matrix(transform.rotation)
        origin, ground_z, boxes = scene(self._sim, self.parent, transform, MAX_DEPTH, STATIC_REACH)
        count = self.width * self.height
        depth, which, face = np.full(count, np.inf), np.full(count, -1, np.int64), np.full(count, raster.SKY, np.int8)
        order = np.argsort(np.einsum("ij,ij->i", boxes.centre - origin, boxes.centre - origin))
        raster.draw_boxes(self.width, self.height, self._focal, origin, rotation, boxes.centre, boxes.yaw,
                          boxes.extent, order, depth, which, face)
        rgb, tags = np.empty((count, 3), np.uint8), np.empty(count, np.uint8)
        layer = self._ground.layer
        raster.shade(self.width, self.height, self._focal, origin, rotation, ground_z, float(MAX_DEPTH), depth, which,
                     face, boxes.yaw, boxes.colour, boxes.tag, layer.labels, layer.origin_x, layer.origin_y,
                     layer.pixels_per_meter, PALETTE, LABEL_TAGS, int(Label.BACKGROUND), SKY_TOP, SKY_HORIZON,
                     int(carla.CityObjectLabel.Sky), rgb, tags)
        shape = (self.height, self.width)
        return Frame(depth.reshape(shape), tags.reshape(shape), rgb.reshape(*shape, 3), which, face, boxes, rotation,
                     origin, self._rays @ rotation.T)

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
