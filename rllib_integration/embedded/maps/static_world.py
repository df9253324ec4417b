"""A static world around the roads, inferred from the OpenDRIVE: an approximation of CARLA's meshes.

CARLA's buildings and props are meshes nobody can download here and no footprint data of its towns
is public, so this module infers a plausible layer from the map raster (:mod:`rllib_integration.common.map_raster`
at :data:`PIXELS_PER_METRE`), once per map, cached on disk beside the BirdView layer:

- **sidewalks** are raised by a curb of :data:`CURB_HEIGHT` along the road;
- **buildings** fill the land beyond the sidewalks, :data:`SETBACK` metres back from them, up to
  :data:`BLOCK_DEPTH` metres deep (CARLA's urban blocks), cut into lots of about :data:`LOT` metres,
  each 6-30 m tall;
- **guard rails** line the carriageways' outer edges (beyond shoulders, along medians) in towns that
  have almost no sidewalks (highways), outside junctions;
- **vegetation**: trees on a jittered grid every :data:`TREE_SPACING` metres in the land farther
  than 4 m from roads and not built on (rural roadsides, parks);
- **poles** under every traffic light and stop, yield and speed sign, set back from the lanes
  (:data:`POLE_CLEARANCE`, more beside the lanes through junctions) where the map puts the signal at
  the road's edge;
- **walls** along the edge of the map, so nothing can leave the world.

Each object is an environment object (label, name, layer, box); a raster of object indices and
one of sidewalks serve collisions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import sys
from dataclasses import dataclass

import carla
import cv2
import numpy as np

from ...common import map_raster
from ...common.map_cache import map_stem, source_version
from ...common.map_raster import ROAD_LABELS, Label, map_layer
from . import signals
from .signals import signal_placements

logger = logging.getLogger(__name__)

PIXELS_PER_METRE = 4.0
CURB_HEIGHT = 0.15  # m
SETBACK, BLOCK_DEPTH, LOT = 1.0, 35.0, 20.0  # m
TREE_SPACING, TREE_CLEARANCE = 8.0, 4.0  # m
HIGHWAY_SIDEWALK_SHARE = 0.03  # towns whose sidewalks cover less than this share of the paved area
WALL_INSET = 2.0  # m inside the raster's edge
#: Width of thin things (pole, trunk; guard rail) on the collision raster, wider than drawn so that a
#: vehicle checked every 0.9 m cannot pass through them.
THIN_FOOTPRINT, RAIL_FOOTPRINT = 1.0, 0.8
RAIL_JUNCTION_GAP = 20.0  # metres around junctions without rails (lanes of ramps run side by side there)
POLE_CLEARANCE = 0.8  # metres between a pole's footprint and the edge of the nearest driving lane
TURN_CLEARANCE = 1.0  # metres more from the lanes through junctions (turning vehicles cut the corner)
#: Part of the cache key: the source of the construction (this module, the signals and the map raster it
#: uses), so a change of any of them rebuilds the cached worlds.
VERSION = source_version(sys.modules[__name__], signals, map_raster)
_LABEL = carla.CityObjectLabel


@dataclass
class StaticObject:
    """One object of the static world: a box (centre, yaw in radians, half extents) with a label."""

    id: int
    label: int  # carla.CityObjectLabel value
    name: str
    layer: int  # carla.MapLayer value
    x: float
    y: float
    z: float
    yaw: float
    ex: float
    ey: float
    ez: float


class StaticWorld:
    """The objects of a map's static world and the rasters collisions use.

    ``object_index[row, col]`` is 1 + the index in :attr:`objects` of the solid object over a pixel
    (0 for none); ``sidewalk`` marks raised sidewalks. Pixel ``(row, col)`` covers world
    ``x = origin_x + (col + 0.5) / ppm``, ``y = origin_y + (row + 0.5) / ppm``.
    """

    def __init__(self, objects: list[StaticObject], object_index: np.ndarray, sidewalk: np.ndarray,
                 origin_x: float, origin_y: float, ppm: float) -> None:
        self.objects, self.object_index, self.sidewalk = objects, object_index, sidewalk
        self.origin_x, self.origin_y, self.ppm = origin_x, origin_y, ppm
        boxes = np.array([(o.x, o.y, o.z, o.yaw, o.ex, o.ey, o.ez, o.label, o.layer) for o in objects]) \
            if objects else np.zeros((0, 9))
        self.centre, self.yaw, self.extent = boxes[:, 0:3], boxes[:, 3], boxes[:, 4:7]
        self.labels, self.layers = boxes[:, 7].astype(int), boxes[:, 8].astype(int)

    @functools.cached_property
    def object_clearance(self) -> np.ndarray:
        """uint8 (as :attr:`object_index`): how many pixels each pixel's centre lies from the nearest object pixel's
        centre (any object, loaded or not; rounded down, at most 255): a vehicle whose box fits well inside this
        reach meets no object (the contacts' broad phase, computed once a map)."""
        return _clearance(self.object_index != 0)

    @functools.cached_property
    def sidewalk_clearance(self) -> np.ndarray:
        """:attr:`object_clearance` of the sidewalk pixels (the wheels' broad phase)."""
        return _clearance(self.sidewalk != 0)

    def pixels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of world points, clipped to the raster."""
        rows = np.minimum(np.maximum(((y - self.origin_y) * self.ppm).astype(np.int64), 0), self.sidewalk.shape[0] - 1)
        cols = np.minimum(np.maximum(((x - self.origin_x) * self.ppm).astype(np.int64), 0), self.sidewalk.shape[1] - 1)
        return rows, cols


def _clearance(occupied: np.ndarray) -> np.ndarray:
    """uint8: each pixel centre's distance in pixels to the nearest ``occupied`` pixel's centre, rounded down, at
    most 255 (255 everywhere where none is)."""
    if not occupied.any():
        return np.full(occupied.shape, 255, dtype=np.uint8)
    distance = cv2.distanceTransform((~occupied).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.minimum(np.floor(distance), 255).astype(np.uint8)


def _stable_random(*values: float) -> float:
    """A number in [0, 1) determined by ``values`` (the same in every process)."""
    digest = hashlib.sha1(repr(tuple(round(v, 3) for v in values)).encode()).digest()
    return int.from_bytes(digest[:4], "little") / 2 ** 32


class _Builder:
    """Builds a :class:`StaticWorld` from a map and its raster."""

    def __init__(self, town_map: carla.Map) -> None:
        self.map = town_map
        layer = map_layer(town_map, PIXELS_PER_METRE)
        self.labels, self.ppm = layer.labels, layer.pixels_per_meter
        self.origin_x, self.origin_y = layer.origin_x, layer.origin_y
        self.objects: list[StaticObject] = []
        self.index = np.zeros(self.labels.shape, dtype=np.int32)

    def _add(self, label: int, layer: carla.MapLayer, box: tuple[float, ...], footprint: np.ndarray | None = None,
             corner: tuple[int, int] = (0, 0)) -> None:
        """Add an object (box = x, y, z, yaw, ex, ey, ez). Its solid pixels are ``footprint`` (a mask whose
        top-left pixel is ``corner`` = (row, col)), or the box's own footprint."""
        name = f"{carla.CityObjectLabel.values[label].name}_{len(self.objects) + 1}"
        self.objects.append(StaticObject(len(self.objects) + 1, int(label), name, int(layer), *map(float, box)))
        if footprint is None:
            polygon = self._corners(box)
            corner = (max(int(polygon[:, 1].min()) - 1, 0), max(int(polygon[:, 0].min()) - 1, 0))
            footprint = np.zeros((int(polygon[:, 1].max()) + 2 - corner[0], int(polygon[:, 0].max()) + 2 - corner[1]),
                                 np.uint8)
            cv2.fillConvexPoly(footprint, polygon - np.array([corner[1], corner[0]], dtype=np.int32), 1)
        r0, c0 = corner
        footprint = footprint[max(-r0, 0):, max(-c0, 0):]
        r0, c0 = max(r0, 0), max(c0, 0)
        target = self.index[r0:r0 + footprint.shape[0], c0:c0 + footprint.shape[1]]
        footprint = footprint[:target.shape[0], :target.shape[1]]
        target[(footprint > 0) & (target == 0)] = len(self.objects)

    def _corners(self, box: tuple[float, ...]) -> np.ndarray:
        """Pixel (col, row) corners of a box's footprint."""
        x, y, _, yaw, ex, ey, _ = box
        c, s = math.cos(yaw), math.sin(yaw)
        corners = [(x + c * dx - s * dy, y + s * dx + c * dy) for dx, dy in ((ex, ey), (ex, -ey), (-ex, -ey), (-ex, ey))]
        return np.array([((px - self.origin_x) * self.ppm, (py - self.origin_y) * self.ppm) for px, py in corners],
                        dtype=np.int32)

    def _pieces(self, mask: np.ndarray, size: float, minimum_pixels: int):
        """Connected parts of ``mask`` cut by a grid of ``size`` metres: (crop mask, (row, col) of its
        top-left pixel, key) for each part of at least ``minimum_pixels``."""
        count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
        cell = max(int(size * self.ppm), 1)
        rows, cols = np.nonzero(components)
        keys = components[rows, cols].astype(np.int64) * 1_000_000_000 + (rows // cell) * 100_000 + cols // cell
        order = np.argsort(keys, kind="stable")
        rows, cols, keys = rows[order], cols[order], keys[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        for start, end in zip(starts, np.r_[starts[1:], len(keys)]):
            if end - start < minimum_pixels:
                continue
            r, c = rows[start:end], cols[start:end]
            crop = np.zeros((r.max() - r.min() + 1, c.max() - c.min() + 1), np.uint8)
            crop[r - r.min(), c - c.min()] = 1
            yield crop, (int(r.min()), int(c.min())), int(keys[start])

    def _box_of(self, crop: np.ndarray, corner: tuple[int, int], z0: float, height: float) -> tuple[float, ...]:
        """The rotated rectangle around a crop's pixels, as a box standing on ``z0``."""
        points = np.argwhere(crop)[:, ::-1].astype(np.float32)
        (cx, cy), (w, h), angle = cv2.minAreaRect(points)
        x = self.origin_x + (cx + corner[1] + 0.5) / self.ppm
        y = self.origin_y + (cy + corner[0] + 0.5) / self.ppm
        return (x, y, z0 + height / 2.0, math.radians(angle), max(w, 1.0) / (2.0 * self.ppm),
                max(h, 1.0) / (2.0 * self.ppm), height / 2.0)

    def build(self, ground) -> StaticWorld:
        labels = self.labels
        paved = ROAD_LABELS[labels] | (labels == Label.SHOULDER)
        sidewalk = labels == Label.SIDEWALK
        free = ~paved & ~sidewalk
        to_road = cv2.distanceTransform((~paved).astype(np.uint8), cv2.DIST_L2, 5) / self.ppm
        to_sidewalk = cv2.distanceTransform((~sidewalk).astype(np.uint8), cv2.DIST_L2, 5) / self.ppm
        highway_town = sidewalk.sum() < HIGHWAY_SIDEWALK_SHARE * max(paved.sum(), 1)
        urban = free & (to_sidewalk < to_road + 3.0)
        buildings = urban & (to_sidewalk >= SETBACK) & (to_road >= SETBACK + 2.0) & (to_sidewalk <= BLOCK_DEPTH)
        self._buildings(buildings, ground)
        if highway_town:
            self._guard_rails(self._rail_mask() & free & ~urban, ground)
        self._trees(free & ~buildings & (to_road >= TREE_CLEARANCE) & (to_sidewalk >= TREE_CLEARANCE), ground)
        self._poles(ground)
        self._walls(ground)
        return StaticWorld(self.objects, self.index, sidewalk.astype(np.uint8), self.origin_x, self.origin_y, self.ppm)

    def _ground_at(self, ground, x: float, y: float) -> float:
        return float(ground.height(np.array([x]), np.array([y]))[0])

    def _buildings(self, mask: np.ndarray, ground) -> None:
        for crop, corner, key in self._pieces(mask, LOT, int(4 * self.ppm * self.ppm)):  # not under 4 m²
            height = 6.0 + 24.0 * _stable_random(float(key))
            flat = self._box_of(crop, corner, 0.0, height)
            z0 = self._ground_at(ground, flat[0], flat[1])
            self._add(_LABEL.Buildings, carla.MapLayer.Buildings, (flat[0], flat[1], z0 + height / 2.0) + flat[3:],
                      crop, corner)

    def _rail_mask(self) -> np.ndarray:
        """Lines 1.5 m outside the outer edges of the carriageways (the right edge of the outermost
        paved lane; the left edge of a lane whose left has no lane of the other direction), outside
        away from junctions (ramps merge there): where guard rails stand."""
        paved = (carla.LaneType.Driving, carla.LaneType.Shoulder, carla.LaneType.Parking, carla.LaneType.Biking)
        lines: dict[tuple, list[tuple[float, float, float]]] = {}
        junctions = np.zeros(self.index.shape, np.uint8)
        for waypoint in self.map.generate_waypoints(1.0):
            if waypoint.is_junction:
                at = waypoint.transform.location
                centre = (int((at.x - self.origin_x) * self.ppm), int((at.y - self.origin_y) * self.ppm))
                cv2.circle(junctions, centre, int(RAIL_JUNCTION_GAP * self.ppm), 1, -1)
                continue
            edges = []
            outer, lane = waypoint, waypoint.get_right_lane()
            while lane is not None and lane.lane_type in paved and lane.lane_id * waypoint.lane_id > 0:
                outer, lane = lane, lane.get_right_lane()
            if lane is None or lane.lane_type != carla.LaneType.Sidewalk:
                edges.append((outer, 1.0))
            left = waypoint.get_left_lane()
            if abs(waypoint.lane_id) == 1 and (left is None or left.lane_type not in paved):
                edges.append((waypoint, -1.0))
            for edge, side in edges:
                t = edge.transform
                right = t.get_right_vector()
                offset = side * (edge.lane_width / 2.0 + 1.5)  # a shoulder: a bus (3.9 m) fits a 3.3 m lane
                key = (edge.road_id, edge.section_id, edge.lane_id, side)
                lines.setdefault(key, []).append((edge.s, t.location.x + right.x * offset, t.location.y + right.y * offset))
        mask = np.zeros(self.index.shape, np.uint8)
        thickness = max(1, int(round(RAIL_FOOTPRINT * self.ppm)))
        for points in lines.values():
            points.sort()
            pixels = np.array([((x - self.origin_x) * self.ppm * 16, (y - self.origin_y) * self.ppm * 16)
                               for _, x, y in points], dtype=np.int32)
            cv2.polylines(mask, [pixels], False, 1, thickness, cv2.LINE_8, shift=4)
        return (mask > 0) & (junctions == 0)

    def _guard_rails(self, mask: np.ndarray, ground) -> None:
        for crop, corner, _ in self._pieces(mask, 4.0, 3):
            flat = self._box_of(crop, corner, 0.0, 0.8)
            thin = (flat[4], 0.15) if flat[4] >= flat[5] else (0.15, flat[5])
            z0 = self._ground_at(ground, flat[0], flat[1])
            self._add(_LABEL.GuardRail, carla.MapLayer.Props, (flat[0], flat[1], z0 + 0.4, flat[3], *thin, 0.4),
                      crop, corner)

    def _trees(self, mask: np.ndarray, ground) -> None:
        height, width = mask.shape
        step = TREE_SPACING
        for gy in np.arange(self.origin_y + step / 2, self.origin_y + height / self.ppm, step):
            for gx in np.arange(self.origin_x + step / 2, self.origin_x + width / self.ppm, step):
                x = gx + (_stable_random(gx, gy, 1.0) - 0.5) * step * 0.6
                y = gy + (_stable_random(gx, gy, 2.0) - 0.5) * step * 0.6
                row, col = int((y - self.origin_y) * self.ppm), int((x - self.origin_x) * self.ppm)
                if not (0 <= row < height and 0 <= col < width and mask[row, col]):
                    continue
                tall = 5.0 + 6.0 * _stable_random(gx, gy, 3.0)
                z0 = self._ground_at(ground, x, y)
                radius = max(1, int(THIN_FOOTPRINT / 2.0 * self.ppm))
                trunk = np.zeros((2 * radius + 1, 2 * radius + 1), np.uint8)
                cv2.circle(trunk, (radius, radius), radius, 1, -1)
                self._add(_LABEL.Vegetation, carla.MapLayer.Foliage, (x, y, z0 + tall / 2.0, 0.0, 1.5, 1.5, tall / 2.0),
                          trunk, (row - radius, col - radius))

    def _poles(self, ground) -> None:
        spots = [(signal.transform.location.x, signal.transform.location.y,
                  5.0 if signal.type_id == "traffic.traffic_light" else 3.0) for signal in signal_placements(self.map)]
        lanes = self._lane_samples()
        for x, y, tall in spots:
            x, y = _set_back(lanes, x, y)
            z0 = self._ground_at(ground, x, y)
            radius = max(1, int(THIN_FOOTPRINT / 2.0 * self.ppm))
            footprint = np.zeros((2 * radius + 1, 2 * radius + 1), np.uint8)
            cv2.circle(footprint, (radius, radius), radius, 1, -1)
            row, col = int((y - self.origin_y) * self.ppm), int((x - self.origin_x) * self.ppm)
            self._add(_LABEL.Poles, carla.MapLayer.Props, (x, y, z0 + tall / 2.0, 0.0, 0.15, 0.15, tall / 2.0),
                      footprint, (row - radius, col - radius))

    def _lane_samples(self) -> np.ndarray:
        """(x, y, half width, extra clearance) every 0.5 m along every driving lane, the lanes through
        junctions included (vehicles turning there cut the corner: :data:`TURN_CLEARANCE` more)."""
        rows = [(w.transform.location.x, w.transform.location.y, w.lane_width / 2.0,
                 TURN_CLEARANCE if w.is_junction else 0.0)
                for w in self.map.generate_waypoints(0.5) if w.lane_type == carla.LaneType.Driving]
        return np.array(rows).reshape(-1, 4)

    def _walls(self, ground) -> None:
        height, width = self.index.shape
        x0, y0 = self.origin_x + WALL_INSET, self.origin_y + WALL_INSET
        x1, y1 = self.origin_x + width / self.ppm - WALL_INSET, self.origin_y + height / self.ppm - WALL_INSET
        z = float(np.median(ground.height(np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))))
        for x, y, ex, ey in (((x0 + x1) / 2, y0, (x1 - x0) / 2, 0.5), ((x0 + x1) / 2, y1, (x1 - x0) / 2, 0.5),
                             (x0, (y0 + y1) / 2, 0.5, (y1 - y0) / 2), (x1, (y0 + y1) / 2, 0.5, (y1 - y0) / 2)):
            self._add(_LABEL.Walls, carla.MapLayer.Walls, (x, y, z + 2.0, 0.0, ex, ey, 2.0), None)


def _set_back(lanes: np.ndarray, x: float, y: float) -> tuple[float, float]:
    """A pole's spot moved away from the nearest driving lane until its footprint stands
    :data:`POLE_CLEARANCE` beyond the lane's edge (CARLA's poles stand on the sidewalk, set back from the
    curb; OpenDRIVE signal positions are often at the edge of the road)."""
    if not len(lanes):
        return x, y
    for _ in range(4):
        distance = np.hypot(lanes[:, 0] - x, lanes[:, 1] - y)
        short = distance - lanes[:, 2] - lanes[:, 3] - THIN_FOOTPRINT / 2.0 - POLE_CLEARANCE
        k = int(np.argmin(short))
        if short[k] >= 0.0:
            break
        dx, dy = x - lanes[k, 0], y - lanes[k, 1]
        norm = math.hypot(dx, dy)
        if norm < 1e-6:
            return x, y  # on a lane's centre line: no side to move it to
        x, y = x - dx / norm * short[k], y - dy / norm * short[k]
    return x, y


def _cache_path(town_map: carla.Map) -> str:
    return map_stem(town_map, "static_world", VERSION)


def _load(stem: str) -> StaticWorld | None:
    try:
        with open(stem + ".json", encoding="utf-8") as stream:
            meta = json.load(stream)
        arrays = np.load(stem + ".npz")
        objects = [StaticObject(**record) for record in meta["objects"]]
        return StaticWorld(objects, arrays["object_index"], arrays["sidewalk"], meta["origin_x"], meta["origin_y"],
                           meta["ppm"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(stem: str, world: StaticWorld) -> None:
    """Write the arrays, then the metadata, each atomically (concurrent workers see whole files)."""
    temporary = f"{stem}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        np.savez_compressed(temporary + ".npz", object_index=world.object_index, sidewalk=world.sidewalk)
        with open(temporary + ".json", "w", encoding="utf-8") as stream:
            json.dump({"origin_x": world.origin_x, "origin_y": world.origin_y, "ppm": world.ppm,
                       "objects": [vars(o) for o in world.objects]}, stream)
        os.replace(temporary + ".npz", stem + ".npz")
        os.replace(temporary + ".json", stem + ".json")
    except OSError as error:
        logger.warning("could not cache the static world at %s: %s", stem, error)


_WORLDS: dict[str, StaticWorld] = {}


def static_world(town_map: carla.Map, ground) -> StaticWorld:
    """The static world of a map: from this process's cache, else from the disk cache, else built."""
    stem = _cache_path(town_map)
    if stem not in _WORLDS:
        world = _load(stem)
        if world is None:
            world = _Builder(town_map).build(ground)
            _save(stem, world)
        _WORLDS[stem] = world
    return _WORLDS[stem]
