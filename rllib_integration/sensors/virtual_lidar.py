"""``sensor.virtual_lidar``: distances from the hero along N planar rays, computed from the map and the
actors rather than rendered (a cheap, town-independent observation for route following).

Each ray starts at the hero's centre, at an angle from its heading (CARLA's left-handed yaw: positive
angles to the right), and reports three distances in metres, capped at ``range``:

- ``road_edge``: the first point that is not road (shoulder, sidewalk, kerb or off the map), read from
  the map raster (:mod:`..common.map_raster`, 4 px/m) by marching along the ray every 0.25 m;
- ``marking``: the first lane marking on the same march (the hero's own lane's lines on the side rays);
- ``obstacle``: the nearest bounding box of another vehicle, walker or ``static.prop`` actor, by exact
  ray-box intersection.

The rays of every hero of a world are measured together, once per frame, in one compiled call
(:mod:`.ray_march`): the first hero's sensor to ask for a frame measures them all (:class:`LidarBatch`).

Output: ``float32`` array ``(rays, 3)`` with the columns in that order. Attributes: ``rays`` (default 32),
``range`` (metres, 40), ``fov`` (degrees spanned, 360: all around; below 360 the rays spread over
``[-fov/2, fov/2]``). Works on a real server too (carla API only).
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Mapping, Sequence

import numpy as np
from numba import njit

from ..common.identity_cache import IdentityCache
from ..common.per_frame import PerFrame, PerWorld, forget_gone, same_ids
from ..common.map_raster import MARKING_LABELS, ROAD_LABELS, map_layer
from ..errors import ConfigError
from .ray_march import MarchRaster, clearances, march_cells, march_rays
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


#: The raster the rays of a map layer march (:func:`~.ray_march.march_cells`: the road and marking masks and their
#: clearances), computed once and shared by every hero's rays (a town's raster takes megabytes).
_CELLS: IdentityCache[MarchRaster] = IdentityCache(4)


def _cells(layer: Any) -> MarchRaster:
    road, marking = ROAD_LABELS[layer.labels], MARKING_LABELS[layer.labels]
    return march_cells(road, marking, *clearances(road, marking, layer.pixels_per_meter, MARCH_STEP))


class ObstacleTable(PerFrame):
    """Every obstacle's box (vehicles, walkers, ``static.prop``) in a world at one frame, and each one's pose,
    read once per frame for the rays of every hero of that world (each hero leaves itself out)."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.positions = np.zeros((0, 2))  # the actors' locations (x, y)
        self.centres = np.zeros((0, 2))  # their boxes' centres
        self.yaws = np.zeros(0)
        self.extents = np.zeros((0, 2))
        self.rows: dict[int, int] = {}  # actor id -> row
        self._boxes: dict[int, tuple | None] = {}  # actor id -> (box centre offset, half extents) or None
        self._layout: tuple | None = None  # the ids last read, the rows of those that are obstacles, their boxes
        self._rows_of: dict[tuple[int, ...], np.ndarray | None] = {}  # (see rows_of), while the rows stay

    def read(self, world: Any) -> None:
        poses = getattr(world, "actor_poses", None)  # the embedded world reads every pose in one call
        if callable(poses):
            self._read_poses(world, *poses())
            return
        ids, positions, centres, yaws, extents = [], [], [], [], []
        actors = list(world.get_actors())
        forget_gone(self._boxes, {actor.id for actor in actors})
        for actor in actors:
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
            positions.append((t.location.x, t.location.y))
            centres.append((t.location.x + c * bx - s * by, t.location.y + s * bx + c * by))
            yaws.append(yaw)
            extents.append(extent)
        self.ids, self._layout = np.array(ids, dtype=np.int64), None
        self.positions, self.centres = np.array(positions).reshape(-1, 2), np.array(centres).reshape(-1, 2)
        self.yaws, self.extents = np.array(yaws), np.array(extents).reshape(-1, 2)
        self.rows = {actor_id: row for row, actor_id in enumerate(ids)}
        self._rows_of = {}

    def rows_of(self, actor_ids: tuple[int, ...]) -> np.ndarray | None:
        """The rows of the actors ``actor_ids`` (int64), or None where one is no obstacle; kept while no obstacle
        comes or goes (a world's heroes ask for theirs every frame)."""
        found = self._rows_of.get(actor_ids, False)
        if found is False:
            if len(self._rows_of) >= 16:
                self._rows_of.clear()
            rows = [self.rows.get(actor_id) for actor_id in actor_ids]
            found = self._rows_of[actor_ids] = None if None in rows else np.array(rows, dtype=np.int64)
        return found

    def _read_poses(self, world: Any, ids: np.ndarray, poses: np.ndarray) -> None:
        """:meth:`read` from every actor's id and (x, y, yaw radians) in arrays, rounded as ``get_transform``
        rounds them (32-bit floats, the yaw in degrees), so the rays are those of the actor-by-actor read."""
        if self._layout is None or not same_ids(self._layout[0], ids):  # actors came or went: their boxes
            forget_gone(self._boxes, ids.tolist())
            boxes = [self._boxes.get(actor_id, False) for actor_id in ids.tolist()]
            for k, box in enumerate(boxes):
                if box is False:
                    actor = world.get_actor(int(ids[k]))
                    boxes[k] = self._boxes[int(ids[k])] = self._box(actor) if actor is not None else None
            rows = np.array([k for k, box in enumerate(boxes) if box is not None], dtype=np.int64)
            self._layout = (ids if not ids.flags.writeable else ids.copy(), rows,
                            np.array([boxes[k][0] for k in rows]).reshape(-1, 2),
                            np.array([boxes[k][1] for k in rows]).reshape(-1, 2))
            self.ids = ids[rows].astype(np.int64)
            self.rows = {actor_id: row for row, actor_id in enumerate(self.ids.tolist())}
            self._rows_of = {}
        _, rows, offsets, self.extents = self._layout
        self.positions, self.yaws, self.centres = np.empty((len(rows), 2)), np.empty(len(rows)), np.empty((len(rows), 2))
        place_boxes(poses, rows, offsets, self.positions, self.yaws, self.centres)

    @staticmethod
    def _box(actor: Any) -> tuple | None:
        if not actor.type_id.startswith(OBSTACLE_PREFIXES):
            return None
        box = actor.bounding_box
        return (box.location.x, box.location.y), (box.extent.x, box.extent.y)


@njit(cache=True)
def place_boxes(poses: np.ndarray, rows: np.ndarray, offsets: np.ndarray, positions: np.ndarray, yaws: np.ndarray,
                centres: np.ndarray) -> None:
    """The boxes of the actors ``rows`` of ``poses`` (x, y, yaw radians), as the actor-by-actor read places them
    from ``get_transform`` (32-bit floats, the yaw in degrees): their ``positions``, ``yaws`` (radians) and the
    ``centres`` of their boxes (``offsets`` from the actors' locations, in their frames)."""
    for b in range(rows.shape[0]):
        x, y = np.float64(np.float32(poses[rows[b], 0])), np.float64(np.float32(poses[rows[b], 1]))
        yaw = math.radians(np.float64(np.float32(math.degrees(poses[rows[b], 2]))))
        c, s = math.cos(yaw), math.sin(yaw)
        positions[b, 0], positions[b, 1], yaws[b] = x, y, yaw
        centres[b, 0] = x + c * offsets[b, 0] - s * offsets[b, 1]
        centres[b, 1] = y + s * offsets[b, 0] + c * offsets[b, 1]


class VirtualLidar:
    """The rays of one hero in one world (see the module docstring)."""

    def __init__(self, world: Any, hero: Any, rays: int = 32, max_range: float = 40.0, fov: float = 360.0) -> None:
        self.world, self.hero, self.hero_id = world, hero, hero.id
        self.range = float(max_range)
        self.angles = ray_angles(rays, fov)
        self.layer = map_layer(world.get_map(), RASTER_PPM)
        self.cells = _CELLS.get(self.layer, _cells)
        #: what lidars measured in one call share: the map raster, the rays and the range
        self.key = (id(self.cells), self.angles.tobytes(), self.range)
        self.batch = lidar_batch(world)
        self.batch.add(self)

    def measure(self, frame: int | None = None) -> np.ndarray:
        """``(rays, 3)`` distances in metres: road edge, lane marking, obstacle, at ``frame`` (measured with
        every other hero's of this world, once per frame); ``None``: this hero alone, now."""
        return self.batch.measure(self, frame)

    def close(self) -> None:
        """Leave the world's batch (the hero is going)."""
        self.batch.remove(self)


class LidarBatch:
    """The virtual LiDARs of one world, measured together once per frame (see the module docstring). It holds
    no reference to the world (it is kept in a weak map keyed by the world)."""

    def __init__(self) -> None:
        self.table = ObstacleTable()
        self._members: "weakref.WeakValueDictionary[int, VirtualLidar]" = weakref.WeakValueDictionary()
        self._frame: int | None = None
        self._results: dict[int, np.ndarray] = {}  # id(lidar) -> its rays at self._frame, until taken

    def __len__(self) -> int:
        return len(self._members)

    def add(self, lidar: VirtualLidar) -> None:
        self._members[id(lidar)] = lidar

    def remove(self, lidar: VirtualLidar) -> None:
        self._members.pop(id(lidar), None)
        self._results.pop(id(lidar), None)

    def measure(self, lidar: VirtualLidar, frame: int | None) -> np.ndarray:
        """``lidar``'s rays at ``frame`` (every member's measured at the first call of a frame)."""
        if frame is None:
            return self._compute([lidar], self.table.at(lidar.world, None))[id(lidar)]
        if frame != self._frame or id(lidar) not in self._results:
            self._frame = frame
            table = self.table.at(lidar.world, frame)
            members = [m for m in self._members.values() if m.hero.id in table.rows] \
                if lidar.hero.id in table.rows else [lidar]
            self._results = {}
            groups: dict[tuple, list[VirtualLidar]] = {}
            for member in members:
                groups.setdefault(member.key, []).append(member)
            for group in groups.values():
                self._results.update(self._compute(group, table))
        return self._results.pop(id(lidar))

    def measure_many(self, lidars: list[VirtualLidar], frame: int, hero_ids: Sequence[int] | None = None) -> np.ndarray:
        """``(len(lidars), rays, 3)``: the rays of ``lidars`` (heroes of this world, one key; ``hero_ids``: their
        heroes' ids, where the caller has them) at ``frame``, in one compiled call (what each one's :meth:`measure`
        would give)."""
        return self._rays(lidars, self.table.at(lidars[0].world, frame), hero_ids)

    @classmethod
    def _compute(cls, lidars: list[VirtualLidar], table: ObstacleTable) -> dict[int, np.ndarray]:
        """The rays of ``lidars`` (one key) in one compiled call, by lidar."""
        return {id(lidar): rays for lidar, rays in zip(lidars, cls._rays(lidars, table))}

    @staticmethod
    def _rays(lidars: list[VirtualLidar], table: ObstacleTable, hero_ids: Sequence[int] | None = None) -> np.ndarray:
        """``(len(lidars), rays, 3)``: the rays of ``lidars`` (one key; ``hero_ids``: their heroes' ids, or None) in
        one compiled call."""
        first = lidars[0]
        hero_ids = tuple([lidar.hero_id for lidar in lidars] if hero_ids is None else hero_ids)
        rows = table.rows_of(hero_ids)
        if rows is None:  # a hero that is no obstacle (not a vehicle or walker): read its pose
            transforms = [lidar.hero.get_transform() for lidar in lidars]
            origins = np.array([(t.location.x, t.location.y) for t in transforms])
            yaws = np.radians([t.rotation.yaw for t in transforms])
            self_ids = np.array(hero_ids, dtype=np.int64)
        else:
            origins, yaws, self_ids = table.positions[rows], table.yaws[rows], table.ids[rows]
        out = np.empty((len(lidars), len(first.angles), 3), dtype=np.float32)
        layer = first.layer
        march_rays(origins.reshape(-1, 2), np.asarray(yaws, dtype=np.float64),
                   self_ids, first.angles, MARCH_STEP,
                   first.range, first.cells, layer.origin_x, layer.origin_y, layer.pixels_per_meter,
                   table.centres, table.yaws, table.extents, table.ids, out)
        return out


#: Each world's batch (the very world object: the heroes of one world share it), kept while the world is.
lidar_batch: PerWorld[LidarBatch] = PerWorld(LidarBatch)


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

    def destroy(self) -> None:
        self.lidar.close()
        super().destroy()
