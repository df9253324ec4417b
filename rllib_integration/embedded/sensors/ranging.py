"""LiDAR and radar of the embedded world: ``sensor.lidar.ray_cast``, ``.ray_cast_semantic``, ``sensor.other.radar``.

LiDAR: ``channels`` lasers between ``lower_fov`` and ``upper_fov`` sweep ``rotation_frequency`` turns per
second, ``points_per_second`` in all; each tick casts the slice of the sweep that tick covers against the
ground and the actors' boxes within ``range``. Points are in the sensor frame (x forward, y right, z up),
as CARLA's: (x, y, z, intensity) with intensity ``exp(-atmosphere_attenuation_rate * distance)``, random
drop-off (``dropoff_general_rate``, and below ``dropoff_intensity_limit``) and range noise (``noise_stddev``);
the semantic LiDAR gives (x, y, z, cos of the incidence angle, object index, object tag) and drops nothing.

Radar: ``points_per_second`` rays drawn in ``horizontal_fov`` x ``vertical_fov`` within ``range``; each hit
is a detection (velocity, azimuth, altitude, depth): the relative velocity along the ray, negative when
the object approaches.
"""

from __future__ import annotations

import math

import numpy as np

from ...common.formats import SEMANTIC_LIDAR_POINT
from ...common.map_raster import LABEL_TAGS
from .base import Sensor
from .cameras import rotation_matrix
from .measurements import LidarMeasurement, RadarMeasurement, SemanticLidarMeasurement
from .raycast import GroundTexture, cast_boxes, cast_scene


class _Ranging(Sensor):
    """Casts rays given in the sensor frame; returns hits in the sensor frame."""

    def _cast(self, transform, local_directions: np.ndarray, reach: float):
        rotation = rotation_matrix(transform.rotation)
        directions = local_directions @ rotation.T
        origin, t_ground, boxes = cast_scene(self._sim, self.parent, transform, directions, reach)
        t_box, which, normal = cast_boxes(origin, directions, boxes)
        on_box = t_box < t_ground
        t = np.minimum(t_box, t_ground)
        normal = np.where(on_box[:, None], normal, np.array([0.0, 0.0, 1.0]))
        return t, on_box, which, normal, boxes, origin, directions, rotation


class Lidar(_Ranging):
    def __init__(self, *args, semantic: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.semantic = semantic
        self._angle = 0.0
        self._ground_texture = GroundTexture(self._sim.map) if semantic else None

    def measure(self, frame, elapsed, transform):
        a = self.attributes
        channels, reach = int(a["channels"]), float(a["range"])
        dt = self._sim.delta or 0.05
        sweep = 360.0 * float(a["rotation_frequency"]) * dt
        per_channel = max(1, int(float(a["points_per_second"]) * dt / channels))
        azimuth = np.radians(self._angle + np.arange(per_channel) * min(sweep, 360.0) / per_channel)
        self._angle = (self._angle + sweep) % 360.0
        upper, lower = float(a["upper_fov"]), float(a["lower_fov"])
        elevation = np.radians(np.linspace(upper, lower, channels) if channels > 1 else np.array([upper]))
        el, az = np.meshgrid(elevation, azimuth, indexing="ij")
        local = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1).reshape(-1, 3)
        t, on_box, which, normal, boxes, origin, directions, rotation = self._cast(transform, local, reach)
        noise = float(a.get("noise_stddev", 0.0))
        if noise > 0.0 and not self.semantic:
            t = t + self._rng.normal(0.0, noise, len(t))
        keep = np.isfinite(t) & (t <= reach) & (t > 0.0)
        channel_of = np.repeat(np.arange(channels), per_channel)
        points = local * np.where(keep, t, 0.0)[:, None]
        if self.semantic:
            hit_world = origin + directions * np.where(keep, t, 0.0)[:, None]
            ground_tag = LABEL_TAGS[self._ground_texture.labels(hit_world[:, 0], hit_world[:, 1])]
            records = np.zeros(int(keep.sum()), SEMANTIC_LIDAR_POINT)
            records["x"], records["y"], records["z"] = (points[keep, i] for i in range(3))
            records["cos_inc_angle"] = np.abs((directions[keep] * normal[keep]).sum(axis=1))
            records["object_idx"] = np.where(on_box[keep], boxes.actor_id[np.maximum(which[keep], 0)], 0)
            records["object_tag"] = np.where(on_box[keep], boxes.tag[np.maximum(which[keep], 0)], ground_tag[keep])
            points_out = records
        else:
            intensity = np.exp(-float(a["atmosphere_attenuation_rate"]) * t)
            drop = self._rng.random(len(t)) < float(a["dropoff_general_rate"])
            limit, zero = float(a["dropoff_intensity_limit"]), float(a["dropoff_zero_intensity"])
            weak = intensity < limit
            drop |= weak & (self._rng.random(len(t)) < zero * (limit - intensity) / max(limit, 1e-9))
            keep &= ~drop
            points_out = np.concatenate([points[keep], intensity[keep, None]], axis=1).astype(np.float32)
        counts = np.bincount(channel_of[keep], minlength=channels).tolist()
        cls = SemanticLidarMeasurement if self.semantic else LidarMeasurement
        yield cls(frame, elapsed, transform, channels, math.radians(self._angle), points_out, counts)


class SemanticLidar(Lidar):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, semantic=True, **kwargs)


class Radar(_Ranging):
    def measure(self, frame, elapsed, transform):
        a = self.attributes
        dt = self._sim.delta or 0.05
        count = max(1, int(float(a["points_per_second"]) * dt))
        azimuth = np.radians(self._rng.uniform(-0.5, 0.5, count) * float(a["horizontal_fov"]))
        altitude = np.radians(self._rng.uniform(-0.5, 0.5, count) * float(a["vertical_fov"]))
        local = np.stack([np.cos(altitude) * np.cos(azimuth), np.cos(altitude) * np.sin(azimuth), np.sin(altitude)], 1)
        reach = float(a["range"])
        t, on_box, which, _, boxes, _, directions, _ = self._cast(transform, local, reach)
        keep = np.isfinite(t) & (t <= reach)
        own = self.parent.get_velocity() if self.parent is not None else None
        own_velocity = np.array([own.x, own.y, own.z]) if own is not None else np.zeros(3)
        target = np.where(on_box[:, None], boxes.velocity[np.maximum(which, 0)] if len(boxes.yaw) else 0.0, 0.0)
        velocity = ((target - own_velocity) * directions).sum(axis=1)
        detections = np.stack([velocity, azimuth, altitude, t], axis=1)[keep].astype(np.float32)
        yield RadarMeasurement(frame, elapsed, transform, detections)
