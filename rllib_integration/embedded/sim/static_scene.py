"""The static world as a running world sees it (:mod:`..maps.static_world`): which objects are loaded
(map layers, ``enable_environment_objects``), the queries of ``carla.World`` on it, and the collisions
of vehicles with it.

Collisions are checked after physics for every vehicle at once, at its poses at the middle and the end
of the tick (at most 0.9 m apart below 108 km/h; thin objects are at least 0.8 m wide on the collision
raster, so none is jumped): the body (16 points of its outline: 5 across the front and the back, 3 more
along each side) against solid objects, the wheels (the bumpers pass over a curb) against the curbs.
How a contact is resolved (pushed out along the surface's normal, the velocity into it lost, sliding
along it; curbs climbed or glanced off) is :mod:`.contacts`'. Each contact is a collision with CARLA's
fake actor (``id`` 0, ``type_id`` ``static.<tag>``) and the impulse the contact gave (N·s). Slower than
:data:`CLIMB_SPEED` a vehicle climbs onto the sidewalk, raised by the curb's height, with no collision.
"""

from __future__ import annotations

import math
from typing import Any

import carla
import numpy as np

from ..maps.static_world import CURB_HEIGHT, StaticWorld
from . import contacts
from .dynamics import VehicleStates

CLIMB_SPEED = 1.5  # m/s
_ALL_LAYERS = int(carla.MapLayer.All)


def tag_name(label: int) -> str:
    """CARLA's fake-actor tag of a semantic label: lower case, singular (``Buildings`` -> ``building``)."""
    name = carla.CityObjectLabel.values[int(label)].name.lower()
    return name[:-1] if name.endswith("s") else name


class StaticActor:
    """The actor CARLA reports for static geometry: ``id`` 0, ``type_id`` ``static.<tag>``."""

    def __init__(self, label: int, transform: carla.Transform | None = None) -> None:
        self.id = 0
        self.type_id = f"static.{tag_name(label)}"
        self.semantic_tags = [int(label)]
        self.attributes: dict[str, str] = {}
        self.parent = None
        self.is_alive = True
        self._transform = transform or carla.Transform()

    def get_transform(self) -> carla.Transform:
        return self._transform

    def get_location(self) -> carla.Location:
        return self._transform.location

    def get_velocity(self) -> carla.Vector3D:
        return carla.Vector3D()

    def __repr__(self) -> str:
        return f"Actor(id=0, type={self.type_id})"


class LabelledPoint:
    """``carla.LabelledPoint``: a location and the semantic label of what is there."""

    def __init__(self, location: carla.Location, label: carla.CityObjectLabel) -> None:
        self.location, self.label = location, label

    def __repr__(self) -> str:
        return f"LabelledPoint({self.location}, {self.label})"


class EnvironmentObject:
    """``carla.EnvironmentObject``: an object of the level with its world transform and bounding box."""

    def __init__(self, transform: carla.Transform, bounding_box: carla.BoundingBox, object_id: int, name: str,
                 object_type: carla.CityObjectLabel) -> None:
        self.transform, self.bounding_box, self.id, self.name, self.type = (
            transform, bounding_box, object_id, name, object_type)

    def __repr__(self) -> str:
        return f"EnvironmentObject(id={self.id}, name={self.name}, type={self.type})"


class StaticScene:
    """The static world of a running world: loaded objects, queries and collisions."""

    def __init__(self, world: StaticWorld, ground: Any, town_map: carla.Map,
                 layers: carla.MapLayer = carla.MapLayer.All) -> None:
        self.world, self.ground, self.map = world, ground, town_map
        self.layers = int(layers)
        self.disabled = np.zeros(len(world.objects), bool)
        self.enabled = np.zeros(len(world.objects), bool)
        self._enabled_lookup = np.zeros(len(world.objects) + 1, bool)
        self._refresh()

    # -- what is loaded -------------------------------------------------------------------------
    def _refresh(self) -> None:
        self.enabled = ((self.world.layers & self.layers) != 0) & ~self.disabled
        self._enabled_lookup = np.r_[False, self.enabled]

    def load_layers(self, layers: carla.MapLayer) -> None:
        self.layers |= int(layers)
        self._refresh()

    def unload_layers(self, layers: carla.MapLayer) -> None:
        self.layers &= ~int(layers) & _ALL_LAYERS
        self._refresh()

    def enable_objects(self, object_ids: list[int], enable: bool) -> None:
        index = np.array([int(i) - 1 for i in object_ids if 1 <= int(i) <= len(self.world.objects)], dtype=int)
        self.disabled[index] = not enable
        self._refresh()

    def selected(self, label: carla.CityObjectLabel) -> np.ndarray:
        """Indices of the loaded objects of ``label`` (``Any``: all)."""
        mask = self.enabled if int(label) == int(carla.CityObjectLabel.Any) else \
            self.enabled & (self.world.labels == int(label))
        return np.flatnonzero(mask)

    def near(self, x: float, y: float, reach: float) -> np.ndarray:
        """Indices of the loaded objects whose box comes within ``reach`` metres of (x, y)."""
        world = self.world
        radius = np.hypot(world.extent[:, 0], world.extent[:, 1])
        close = np.hypot(world.centre[:, 0] - x, world.centre[:, 1] - y) < reach + radius
        return np.flatnonzero(close & self.enabled)

    # -- carla.World queries ----------------------------------------------------------------------
    def _box(self, index: int) -> carla.BoundingBox:
        obj = self.world.objects[index]
        box = carla.BoundingBox(carla.Location(obj.x, obj.y, obj.z), carla.Vector3D(obj.ex, obj.ey, obj.ez))
        box.rotation = carla.Rotation(yaw=math.degrees(obj.yaw))
        return box

    def level_bbs(self, label: carla.CityObjectLabel) -> list[carla.BoundingBox]:
        return [self._box(i) for i in self.selected(label)]

    def environment_objects(self, label: carla.CityObjectLabel) -> list[EnvironmentObject]:
        found = []
        for index in self.selected(label):
            obj = self.world.objects[index]
            transform = carla.Transform(carla.Location(obj.x, obj.y, obj.z - obj.ez),
                                        carla.Rotation(yaw=math.degrees(obj.yaw)))
            found.append(EnvironmentObject(transform, self._box(index), obj.id, obj.name,
                                           carla.CityObjectLabel.values[obj.label]))
        return found

    def ground_label(self, x: float, y: float) -> carla.CityObjectLabel:
        """What the ground is at (x, y): a road, a sidewalk or terrain."""
        row, col = self.world.pixels(np.array([x]), np.array([y]))
        if self.world.sidewalk[row[0], col[0]]:
            return carla.CityObjectLabel.Sidewalks
        lane = self.ground_lane(x, y)
        return carla.CityObjectLabel.Roads if lane else carla.CityObjectLabel.Terrain

    def ground_lane(self, x: float, y: float) -> bool:
        z = float(self.ground.height(np.array([x]), np.array([y]))[0])
        lane_types = carla.LaneType.Driving | carla.LaneType.Shoulder | carla.LaneType.Parking
        return self.map.get_waypoint(carla.Location(x, y, z), project_to_road=False,
                                     lane_type=lane_types) is not None

    def cast_ray(self, start: carla.Location, end: carla.Location) -> list[LabelledPoint]:
        """Every crossing of the segment with a loaded object's box (entry points) and with the ground,
        nearest first."""
        origin = np.array([start.x, start.y, start.z])
        delta = np.array([end.x, end.y, end.z]) - origin
        length = float(np.linalg.norm(delta))
        if length < 1e-9:
            return []
        direction = delta / length
        hits = [(t, carla.CityObjectLabel.values[int(self.world.labels[i])])
                for i, t in self._box_hits(origin, direction, length)]
        ground_t = self._ground_hit(origin, direction, length)
        if ground_t is not None:
            point = origin + direction * ground_t
            hits.append((ground_t, self.ground_label(point[0], point[1])))
        hits.sort(key=lambda hit: hit[0])
        return [LabelledPoint(carla.Location(*(origin + direction * t)), label) for t, label in hits]

    def project_point(self, location: carla.Location, direction: carla.Vector3D,
                      search_distance: float) -> LabelledPoint | None:
        """The first thing a ray from ``location`` along ``direction`` meets within ``search_distance``."""
        unit = np.array([direction.x, direction.y, direction.z])
        unit = unit / max(np.linalg.norm(unit), 1e-12)
        end = np.array([location.x, location.y, location.z]) + unit * search_distance
        hits = self.cast_ray(location, carla.Location(*end))
        return hits[0] if hits else None

    def _box_hits(self, origin: np.ndarray, direction: np.ndarray, length: float) -> list[tuple[int, float]]:
        world = self.world
        candidates = self.near((origin[0] + direction[0] * length / 2), (origin[1] + direction[1] * length / 2),
                               length / 2 + 1.0)
        hits = []
        for i in candidates:
            c, s = math.cos(world.yaw[i]), math.sin(world.yaw[i])
            o = origin - world.centre[i]
            local_o = np.array([c * o[0] + s * o[1], -s * o[0] + c * o[1], o[2]])
            local_d = np.array([c * direction[0] + s * direction[1], -s * direction[0] + c * direction[1], direction[2]])
            safe = np.where(np.abs(local_d) < 1e-12, 1e-12, local_d)
            t1, t2 = (-world.extent[i] - local_o) / safe, (world.extent[i] - local_o) / safe
            enter, leave = np.minimum(t1, t2).max(), np.maximum(t1, t2).min()
            if leave >= max(enter, 0.0) and 0.0 <= enter <= length:
                hits.append((int(i), float(enter)))
        return hits

    def _ground_hit(self, origin: np.ndarray, direction: np.ndarray, length: float) -> float | None:
        steps = np.linspace(0.0, length, max(int(length / 0.25), 2) + 1)
        points = origin + direction[None, :] * steps[:, None]
        above = points[:, 2] - self.ground.height(points[:, 0], points[:, 1])
        crossing = np.flatnonzero((above[:-1] > 0.0) & (above[1:] <= 0.0))
        if len(crossing) == 0:
            return 0.0 if above[0] == 0.0 else None
        k = crossing[0]
        return float(steps[k] + (steps[k + 1] - steps[k]) * above[k] / (above[k] - above[k + 1]))

    # -- vehicles -----------------------------------------------------------------------------
    def collide(self, states: VehicleStates, before: np.ndarray, path: np.ndarray,
                dt: float) -> tuple[list[tuple[Any, StaticActor, carla.Vector3D]], np.ndarray]:
        """Contacts of this tick, resolved in the state table (see the module docstring): (vehicle, static
        actor, impulse) per contact, and how far each vehicle stands raised on a curb. ``path`` holds
        (x, y, yaw) after each sub-step, shape (S, N, 3)."""
        n = states.count
        if n == 0:
            return [], np.zeros(0)
        world = self.world
        kinds, objects, impulses, raised = contacts.static_contacts(
            states.data, n, contacts.tick_poses(before, path), contacts.OUTLINE, world.object_index,
            self._enabled_lookup, world.object_clearance, world.sidewalk, world.sidewalk_clearance, world.origin_x,
            world.origin_y, world.ppm, CLIMB_SPEED, CURB_HEIGHT)
        records = []
        for slot in kinds.nonzero()[0]:
            solid = kinds[slot] == contacts.SOLID_HIT
            label = world.objects[objects[slot] - 1].label if solid else int(carla.CityObjectLabel.Sidewalks)
            records.append((states.owners[slot], StaticActor(label),
                            carla.Vector3D(float(impulses[slot, 0]), float(impulses[slot, 1]), 0.0)))
        return records, raised
