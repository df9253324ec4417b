"""Ray casting against the embedded world, for cameras, LiDAR and radar.

The scene is the ground (flat at the ground height under the sensor, textured by the map's label
layer: road, lane markings, sidewalks, shoulders, terrain), every actor's oriented box (vehicles,
walkers, props, the heads of traffic lights in their state's colour) and the boxes of the loaded static objects (buildings, vegetation, poles,
guard rails, walls). Rays are cast in bulk with NumPy: ``t`` is the distance along
each ray direction to the nearest hit (``inf`` for none). Semantic tags are CARLA's (0.9.14+).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import carla
import numpy as np

from ...common.map_raster import Label, map_layer
from . import ray_kernel

if TYPE_CHECKING:
    from ..sim.kernel import Simulation

_TAG = carla.CityObjectLabel
VEHICLE_TAGS = {"car": int(_TAG.Car), "van": int(_TAG.Car), "truck": int(_TAG.Truck), "bus": int(_TAG.Bus),
                "motorcycle": int(_TAG.Motorcycle), "bicycle": int(_TAG.Bicycle)}
GROUND_PPM = 10.0  # resolution of the ground texture, pixels per metre
LIGHT_COLOURS = {carla.TrafficLightState.Red: (230, 30, 30), carla.TrafficLightState.Yellow: (240, 200, 20),
                 carla.TrafficLightState.Green: (40, 210, 70)}


@dataclass
class Boxes:
    """Oriented boxes of the actors: centres (K, 3), yaw (K,), half extents (K, 3), tags, ids,
    velocities (K, 3) and colours (K, 3)."""

    centre: np.ndarray
    yaw: np.ndarray
    extent: np.ndarray
    tag: np.ndarray
    actor_id: np.ndarray
    velocity: np.ndarray
    colour: np.ndarray


_VEHICLE_INFO: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()
_LIGHT_HEADS: "weakref.WeakKeyDictionary[Any, list]" = weakref.WeakKeyDictionary()  # a light's heads never move
_STATIC_COLOURS: "weakref.WeakKeyDictionary[Any, np.ndarray]" = weakref.WeakKeyDictionary()


def _vehicle_info(actor: Any) -> tuple:
    """What does not change about a vehicle: (box offset x, y, z, half extents, tag, colour), cached."""
    info = _VEHICLE_INFO.get(actor)
    if info is None:
        box = actor.bounding_box
        tag = VEHICLE_TAGS.get(actor.attributes.get("base_type", "car"), int(_TAG.Car))
        colour = tuple(int(v) for v in actor.attributes.get("color", "120,120,120").split(","))
        info = _VEHICLE_INFO[actor] = ((box.location.x, box.location.y, box.location.z),
                                       (box.extent.x, box.extent.y, box.extent.z), tag, colour)
    return info


def _vehicle_boxes(sim: "Simulation", exclude: set[int], origin: carla.Location, reach: float) -> list[np.ndarray]:
    """The vehicles' columns of :class:`Boxes`, from the kernel's state table at once."""
    table = sim.vehicles
    x, y, z, yaw = (table.column(name) for name in ("x", "y", "z", "yaw"))
    near = np.hypot(x - origin.x, y - origin.y) <= reach + 15.0
    rows = [slot for slot in np.flatnonzero(near) if table.owners[slot].id not in exclude]
    if not rows:
        return [np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros(0, np.uint8), np.zeros(0, np.uint32),
                np.zeros((0, 3)), np.zeros((0, 3))]
    rows = np.asarray(rows)
    owners = [table.owners[slot] for slot in rows]
    info = [_vehicle_info(actor) for actor in owners]
    offset = np.array([i[0] for i in info])
    c, s = np.cos(yaw[rows]), np.sin(yaw[rows])
    centre = np.stack([x[rows] + c * offset[:, 0] - s * offset[:, 1], y[rows] + s * offset[:, 0] + c * offset[:, 1],
                       z[rows] + offset[:, 2]], axis=1)
    velocity = np.array([table.velocity(slot) for slot in rows])
    return [centre, yaw[rows].copy(), np.array([i[1] for i in info]), np.array([i[2] for i in info], np.uint8),
            np.array([a.id for a in owners], np.uint32), velocity, np.array([i[3] for i in info], float)]


def scene_boxes(sim: "Simulation", exclude: set[int], origin: carla.Location, reach: float,
                static_reach: float) -> Boxes:
    """The boxes of every vehicle (from the kernel's state table), walker, prop and traffic light within
    ``reach`` of ``origin``, and of the loaded static objects within ``static_reach``."""
    rows = []
    for actor in sim.actors():
        kind = actor.type_id.split(".")[0]
        if kind not in ("walker", "traffic", "static") or actor.id in exclude:
            continue
        t = actor.get_transform()
        if t.location.distance(origin) > reach + 15.0:
            continue
        if kind == "traffic":  # signs are their poles (static world); lights add their heads
            if actor not in _LIGHT_HEADS:
                _LIGHT_HEADS[actor] = [((b.location.x, b.location.y, b.location.z), math.radians(b.rotation.yaw),
                                        (b.extent.x, b.extent.y, b.extent.z)) for b in (
                    actor.get_light_boxes() if hasattr(actor, "get_light_boxes") else [])]
            heads = _LIGHT_HEADS[actor]
            colour = LIGHT_COLOURS.get(actor.get_state(), (40, 40, 40)) if heads else None
            rows += [(centre, yaw, extent, int(_TAG.TrafficLight), actor.id, (0.0, 0.0, 0.0), colour)
                     for centre, yaw, extent in heads]
            continue
        box = actor.bounding_box
        c, s = math.cos(math.radians(t.rotation.yaw)), math.sin(math.radians(t.rotation.yaw))
        centre = (t.location.x + c * box.location.x - s * box.location.y,
                  t.location.y + s * box.location.x + c * box.location.y, t.location.z + box.location.z)
        tag, colour = (int(_TAG.Pedestrians), (150, 90, 60)) if kind == "walker" else (int(_TAG.Static), (230, 120, 40))
        v = actor.get_velocity()
        rows.append((centre, math.radians(t.rotation.yaw), (box.extent.x, box.extent.y, box.extent.z), tag, actor.id,
                     (v.x, v.y, v.z), colour))
    static = sim.static.near(origin.x, origin.y, static_reach)
    world = sim.static.world
    others = list(zip(*rows)) if rows else [np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), [], [], np.zeros((0, 3)),
                                              np.zeros((0, 3))]
    vehicles = _vehicle_boxes(sim, exclude, origin, reach)
    return Boxes(np.concatenate([vehicles[0], np.reshape(others[0], (-1, 3)), world.centre[static]]),
                 np.concatenate([vehicles[1], np.asarray(others[1], float), world.yaw[static]]),
                 np.concatenate([vehicles[2], np.reshape(others[2], (-1, 3)), world.extent[static]]),
                 np.concatenate([vehicles[3], np.asarray(others[3], np.uint8), world.labels[static].astype(np.uint8)]),
                 np.concatenate([vehicles[4], np.asarray(others[4], np.uint32), np.zeros(len(static), np.uint32)]),
                 np.concatenate([vehicles[5], np.reshape(others[5], (-1, 3)), np.zeros((len(static), 3))]),
                 np.concatenate([vehicles[6], np.reshape(np.asarray(others[6], float), (-1, 3)),
                                 static_colours(world, static)]))


#: Base colour (RGB) of static objects by semantic label.
STATIC_COLOURS = {int(_TAG.Buildings): (168, 150, 128), int(_TAG.Vegetation): (62, 110, 48),
                  int(_TAG.Poles): (90, 90, 95), int(_TAG.GuardRail): (185, 185, 190), int(_TAG.Walls): (140, 132, 120),
                  int(_TAG.Fences): (150, 130, 100)}


def static_colours(world, index: np.ndarray) -> np.ndarray:
    """Colours of static objects: their label's, varied by up to 15 % per object (façades differ); computed
    once per static world."""
    colours = _STATIC_COLOURS.get(world)
    if colours is None:
        every = np.arange(len(world.labels))
        base = np.array([STATIC_COLOURS.get(int(label), (128, 128, 128)) for label in world.labels], float)
        variation = 0.85 + 0.3 * ((every * 2654435761) % 1000) / 1000.0
        colours = _STATIC_COLOURS[world] = np.reshape(base * variation[:, None], (-1, 3))
    return colours[index]


def cast_boxes(origin: np.ndarray, directions: np.ndarray, boxes: Boxes, index=None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest box hit of each ray: (t, box index or -1, hit normal in world (N, 3)).

    ``origin`` (3,), ``directions`` (N, 3); ``index`` restricts the boxes tried (see :mod:`.ray_kernel`).
    """
    count = len(directions)
    best, which, normal = np.full(count, np.inf), np.full(count, -1), np.zeros((count, 3))
    index = np.arange(len(boxes.yaw)) if index is None else np.asarray(index, dtype=np.int64)
    ray_kernel.cast_all(np.asarray(origin, float), np.ascontiguousarray(directions, dtype=float), boxes.centre,
                        boxes.yaw, boxes.extent, index, best, which, normal)
    return best, which, normal


def cast_ground(origin: np.ndarray, directions: np.ndarray, ground_z: float) -> np.ndarray:
    """Distance along each ray to the plane z = ``ground_z`` (inf where it is not below)."""
    dz = directions[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ground_z - origin[2]) / dz
    return np.where((dz < -1e-9) & (t > 0.0), t, np.inf)


class GroundTexture:
    """The map's label layer sampled at world points."""

    def __init__(self, town_map: carla.Map) -> None:
        self.layer = map_layer(town_map, GROUND_PPM)

    def labels(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        layer = self.layer
        cols = ((x - layer.origin_x) * layer.pixels_per_meter).astype(np.int64)
        rows = ((y - layer.origin_y) * layer.pixels_per_meter).astype(np.int64)
        inside = (rows >= 0) & (rows < layer.labels.shape[0]) & (cols >= 0) & (cols < layer.labels.shape[1])
        out = np.full(x.shape, Label.BACKGROUND, dtype=np.uint8)
        out[inside] = layer.labels[rows[inside], cols[inside]]
        return out


def scene(sim: "Simulation", parent: Any, transform: carla.Transform, reach: float,
          static_reach: float | None = None) -> tuple[np.ndarray, float, Boxes]:
    """The scene of a sensor at ``transform`` (its ``parent`` excluded): (origin (3,), the ground height under
    it, the boxes within ``reach`` (static objects: ``static_reach``, default ``reach``))."""
    origin = np.array([transform.location.x, transform.location.y, transform.location.z])
    ground_z = float(sim.ground.height(origin[:1], origin[1:2])[0])
    exclude = {parent.id} if parent is not None else set()
    boxes = scene_boxes(sim, exclude, transform.location, reach, reach if static_reach is None else static_reach)
    return origin, 0.0 if math.isnan(ground_z) else ground_z, boxes


def cast_scene(sim: "Simulation", parent: Any, transform: carla.Transform, directions: np.ndarray,
               reach: float, static_reach: float | None = None) -> tuple[np.ndarray, np.ndarray, Boxes]:
    """:func:`scene`, with the distance to the ground along each ray instead of its height."""
    origin, ground_z, boxes = scene(sim, parent, transform, reach, static_reach)
    return origin, cast_ground(origin, directions, ground_z), boxes
