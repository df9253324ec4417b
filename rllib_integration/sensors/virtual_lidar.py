"""``sensor.virtual_lidar``: distances from the hero along N planar rays, computed from the map and the
actors rather than rendered (a cheap, town-independent observation for route following).

Each ray starts at the hero's centre, at an angle from its heading (CARLA's left-handed yaw: positive
angles to the right), and reports three distances in metres, capped at ``range``:

- ``road_edge``: the first point that is not road (shoulder, sidewalk, kerb or off the map), read from
  the map raster (:mod:`..common.map_raster`, 4 px/m) by marching along the ray every 0.25 m;
- ``marking``: the first lane marking on the same march (the hero's own lane's lines on the side rays);
- ``obstacle``: the nearest bounding box of another vehicle, walker or ``static.prop`` actor, by exact
  ray-box intersection (vectorised over rays and actors).

Output: ``float32`` array ``(rays, 3)`` with the columns in that order. Attributes: ``rays`` (default 32),
``range`` (metres, 40), ``fov`` (degrees spanned, 360: all around; below 360 the rays spread over
``[-fov/2, fov/2]``). Works on a real server too (carla API only).
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Mapping

import numpy as np

from ..common.identity_cache import IdentityCache
from ..common.map_raster import MARKING_LABELS, ROAD_LABELS, map_layer
from ..errors import ConfigError
from .sensor import PseudoSensor

RASTER_PPM = 4.0  # pixels per metre of the marched map raster (the BirdView's cached layer)
MARCH_STEP = 0.25  # metres between the raster samples along a ray
COLUMNS = ("road_edge", "marking", "obstacle")
OBSTACLE_PREFIXES = ("vehicle.", "walker.", "static.prop")


def ray_angles(rays: int, fov: float) -> np.ndarray:
    """Ray angles in radians from the heading (positive: right), evenly spread over ``fov`` degrees."""
    if fov >= 360.0:
        return np.radians(np.arange(rays) * 360.0 / rays)  # straight ahead first, then clockwise
    return np.radians(np.linspace(-fov / 2.0, fov / 2.0, rays))


def box_distances(origin: np.ndarray, directions: np.ndarray, centres: np.ndarray, yaws: np.ndarray,
                  extents: np.ndarray, limit: float) -> np.ndarray:
    """Distance along each ray (``directions``: (R, 2) unit vectors from ``origin``) to the nearest of the
    oriented boxes (``centres`` (B, 2), ``yaws`` (B,) radians, half ``extents`` (B, 2)), ``limit`` if none."""
    if len(centres) == 0:
        return np.full(len(directions), limit, dtype=np.float32)
    c, s = np.cos(yaws), np.sin(yaws)
    rel = origin[None, :] - centres  # ray origin in each box's frame (B, 2)
    o = np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]], axis=1)
    d = np.stack([directions[:, None, 0] * c + directions[:, None, 1] * s,
                  -directions[:, None, 0] * s + directions[:, None, 1] * c], axis=2)  # (R, B, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
        t1 = (-extents[None] - o[None]) * inverse
        t2 = (extents[None] - o[None]) * inverse
    near = np.minimum(t1, t2).max(axis=2)
    far = np.maximum(t1, t2).min(axis=2)
    hit = far >= np.maximum(near, 0.0)
    distance = np.where(hit, np.maximum(near, 0.0), np.inf).min(axis=1)
    return np.minimum(distance, limit).astype(np.float32)


#: The road and marking masks of a map layer, computed once and shared by every hero's rays (a town's masks
#: take megabytes).
_MASKS: IdentityCache[tuple[np.ndarray, np.ndarray]] = IdentityCache(4)


class ObstacleTable:
    """Every obstacle's box (vehicles, walkers, ``static.prop``) in a world at one frame, gathered once per frame
    and shared by the rays of every hero of that world (each hero leaves itself out)."""

    def __init__(self) -> None:
        self.frame: int | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.centres = np.zeros((0, 2))
        self.yaws = np.zeros(0)
        self.extents = np.zeros((0, 2))
        self._boxes: dict[int, tuple | None] = {}  # actor id -> (box centre offset, half extents) or None

    def at(self, world: Any, frame: int | None) -> "ObstacleTable":
        """The table of ``frame`` (gathered now unless it already is; ``None``: always gathered)."""
        if frame is None or frame != self.frame:
            self._gather(world)
            self.frame = frame
        return self

    def _gather(self, world: Any) -> None:
        ids, centres, yaws, extents = [], [], [], []
        for actor in world.get_actors():
            box = self._boxes.get(actor.id, False)
            if box is False:
                box = self._boxes[actor.id] = self._box(actor)
            if box is None:
                continue
            t = actor.get_transform()
            yaw = math.radians(t.rotation.yaw)
            c, s = math.cos(yaw), math.sin(yaw)
            (bx, by), extent = box
            ids.append(actor.id)
            centres.append((t.location.x + c * bx - s * by, t.location.y + s * bx + c * by))
            yaws.append(yaw)
            extents.append(extent)
        self.ids = np.array(ids, dtype=np.int64)
        self.centres, self.yaws = np.array(centres).reshape(-1, 2), np.array(yaws)
        self.extents = np.array(extents).reshape(-1, 2)

    @staticmethod
    def _box(actor: Any) -> tuple | None:
        if not actor.type_id.startswith(OBSTACLE_PREFIXES):
            return None
        box = actor.bounding_box
        return (box.location.x, box.location.y), (box.extent.x, box.extent.y)


#: Each world's obstacle table (the very world object: the heroes of one world share it), kept while the world is.
_TABLES: "weakref.WeakKeyDictionary[Any, ObstacleTable]" = weakref.WeakKeyDictionary()


def obstacle_table(world: Any) -> ObstacleTable:
    """The obstacle table the rays of every hero of ``world`` share (a world that cannot be referenced weakly
    gets a table of its own)."""
    try:
        return _TABLES.setdefault(world, ObstacleTable())
    except TypeError:
        return ObstacleTable()


class VirtualLidar:
    """The rays of one hero in one world (see the module docstring)."""

    def __init__(self, world: Any, hero: Any, rays: int = 32, max_range: float = 40.0, fov: float = 360.0) -> None:
        self.world, self.hero = world, hero
        self.range = float(max_range)
        self.angles = ray_angles(rays, fov)
        self.layer = map_layer(world.get_map(), RASTER_PPM)
        self.road, self.marking = _MASKS.get(self.layer, lambda layer: (ROAD_LABELS[layer.labels],
                                                                         MARKING_LABELS[layer.labels]))
        self.steps = np.arange(MARCH_STEP, self.range + 1e-6, MARCH_STEP)
        self.table = obstacle_table(world)

    def measure(self, frame: int | None = None) -> np.ndarray:
        """``(rays, 3)`` distances in metres: road edge, lane marking, obstacle (at ``frame``, whose obstacles
        are gathered once for every hero; ``None``: gathered for this call)."""
        transform = self.hero.get_transform()
        x, y = transform.location.x, transform.location.y
        headings = math.radians(transform.rotation.yaw) + self.angles
        directions = np.stack([np.cos(headings), np.sin(headings)], axis=1)
        result = np.empty((len(self.angles), 3), dtype=np.float32)
        layer = self.layer
        px = ((x + directions[:, None, 0] * self.steps - layer.origin_x) * layer.pixels_per_meter).astype(np.int64)
        py = ((y + directions[:, None, 1] * self.steps - layer.origin_y) * layer.pixels_per_meter).astype(np.int64)
        rows, cols = self.road.shape
        inside = (px >= 0) & (px < cols) & (py >= 0) & (py < rows)
        px, py = np.clip(px, 0, cols - 1), np.clip(py, 0, rows - 1)
        for column, (mask, outside_hits) in enumerate(((~self.road, True), (self.marking, False))):
            hits = np.where(inside, mask[py, px], outside_hits)
            first = np.argmax(hits, axis=1)
            result[:, column] = np.where(hits.any(axis=1), self.steps[first] - MARCH_STEP, self.range)
        result[:, 2] = self._obstacles(np.array([x, y]), directions, self.table.at(self.world, frame))
        return result

    def _obstacles(self, origin: np.ndarray, directions: np.ndarray, table: ObstacleTable) -> np.ndarray:
        reach = (self.range + 10.0) ** 2
        near = (((table.centres - origin) ** 2).sum(axis=1) <= reach) & (table.ids != self.hero.id)
        return box_distances(origin, directions, table.centres[near], table.yaws[near], table.extents[near],
                             self.range)


class VirtualLidarSensor(PseudoSensor):
    """``sensor.virtual_lidar``: one ``(rays, 3)`` measurement per simulator frame."""

    KIND = "virtual LiDAR"
    ATTRIBUTES = frozenset({"rays", "range", "fov"})

    @classmethod
    def check_attributes(cls, where: str, attributes: Mapping[str, Any]) -> None:
        rays, max_range, fov = (attributes.get(k, d) for k, d in (("rays", 32), ("range", 40.0), ("fov", 360.0)))
        if not isinstance(rays, int) or isinstance(rays, bool) or not 1 <= rays <= 1024:
            raise ConfigError(f"{where}.rays: expected a whole number from 1 to 1024, got {rays!r}.")
        for key, value, high in (("range", max_range, 200.0), ("fov", fov, 360.0)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= high:
                raise ConfigError(f"{where}.{key}: expected a number above 0 and at most {high:g}, got {value!r}.")

    def __init__(self, name: str, attributes: Mapping[str, Any], interface: Any, parent: Any) -> None:
        super().__init__(name, attributes, interface, parent)
        get = self.attributes.get
        self.lidar = VirtualLidar(parent.get_world(), parent, get("rays", 32), float(get("range", 40.0)),
                                  float(get("fov", 360.0)))

    def compute(self, frame: int) -> None:
        self.update_sensor(self.lidar.measure(frame), frame)

    def parse(self, data: np.ndarray) -> np.ndarray:
        return data

