"""Event detectors of the embedded world: ``sensor.other.collision`` (actors and the static world),
``.lane_invasion`` and ``.obstacle``."""

from __future__ import annotations

import carla
import numpy as np

from ...common.waypoint_index import get_waypoints
from ..sim.static_scene import StaticActor
from .base import Sensor
from .measurements import CollisionEvent, LaneInvasionEvent, ObstacleDetectionEvent


class CollisionSensor(Sensor):
    """``sensor.other.collision``: one event per actor the parent hit during the tick."""

    def measures_collisions_only(self) -> bool:
        return True  # (CARLA's collision sensor has no sensor_tick to keep)

    def on_tick(self, frame: int, elapsed: float) -> None:
        collisions = self._sim.collisions
        if collisions and any(record.actor is self.parent for record in collisions):
            super().on_tick(frame, elapsed)
        else:  # nothing to measure: only the interval is kept (the sensor's pose is not worked out)
            self._due(elapsed)

    def measure(self, frame, elapsed, transform):
        for record in self._sim.collisions:
            if record.actor is self.parent:
                yield CollisionEvent(frame, elapsed, transform, self.parent, record.other_actor,
                                     record.normal_impulse)


class LaneInvasionSensor(Sensor):
    """``sensor.other.lane_invasion``: an event when a corner of the parent's box crosses a lane
    marking sideways; ``crossed_lane_markings`` are the map's ``carla.LaneMarking`` objects."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._corners: list[carla.Waypoint | None] = []

    def _corner_waypoints(self) -> list[carla.Waypoint | None]:
        town_map = self._sim.map
        t = self.parent.get_transform()
        extent = self.parent.bounding_box.extent
        forward, right = t.get_forward_vector(), t.get_right_vector()
        lane_types = carla.LaneType.Driving | carla.LaneType.Parking | carla.LaneType.Shoulder
        locations = [carla.Location(t.location.x + sx * extent.x * forward.x + sy * extent.y * right.x,
                                    t.location.y + sx * extent.x * forward.y + sy * extent.y * right.y,
                                    t.location.z) for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
        return list(zip(locations, get_waypoints(town_map, locations, project_to_road=False, lane_type=lane_types)))

    def measure(self, frame, elapsed, transform):
        current = self._corner_waypoints()
        previous, self._corners = self._corners, current
        crossed: dict[tuple, carla.LaneMarking] = {}
        for (location, now), (_, before) in zip(current, previous):
            if before is None or before.is_junction or (now is not None and now.is_junction):
                continue
            if now is not None and (now.road_id, now.lane_id) == (before.road_id, before.lane_id):
                continue
            centre, right = before.transform.location, before.transform.get_right_vector()
            lateral = (location.x - centre.x) * right.x + (location.y - centre.y) * right.y
            if abs(lateral) <= before.lane_width / 2.0:
                continue  # moved along the road (next road or section), not across a marking
            marking = before.right_lane_marking if lateral > 0 else before.left_lane_marking
            if marking is not None and marking.type != carla.LaneMarkingType.NONE:
                crossed[(before.road_id, before.lane_id, lateral > 0)] = marking
        if crossed:
            yield LaneInvasionEvent(frame, elapsed, transform, self.parent, list(crossed.values()))


class ObstacleSensor(Sensor):
    """``sensor.other.obstacle``: the nearest actor or static object (CARLA's ``static.<tag>`` actor)
    within ``distance`` metres ahead of the sensor along a sweep of radius ``hit_radius``
    (``only_dynamics``: moving actors only)."""

    def measure(self, frame, elapsed, transform):
        reach = float(self.attributes["distance"])
        radius = float(self.attributes["hit_radius"])
        actors, boxes = self._sim.boxes()
        static = self._sim.static.near(transform.location.x, transform.location.y, reach + radius)
        world = self._sim.static.world
        actors = list(actors) + [StaticActor(world.labels[i]) for i in static]
        if not actors:
            return
        centre, extent = world.centre[static], world.extent[static]
        x, y, yaw, ex, ey, z0, z1 = (np.concatenate([column, extra]) for column, extra in zip(boxes.T, (
            centre[:, 0], centre[:, 1], world.yaw[static], extent[:, 0], extent[:, 1], centre[:, 2] - extent[:, 2],
            centre[:, 2] + extent[:, 2])))
        forward = transform.get_forward_vector()
        origin = transform.location
        cos, sin = np.cos(yaw), np.sin(yaw)
        ox, oy = origin.x - x, origin.y - y
        local_ox, local_oy = ox * cos + oy * sin, -ox * sin + oy * cos
        dx = forward.x * cos + forward.y * sin
        dy = -forward.x * sin + forward.y * cos
        dx = np.where(np.abs(dx) < 1e-9, 1e-9, dx)
        dy = np.where(np.abs(dy) < 1e-9, 1e-9, dy)
        tx1, tx2 = (-(ex + radius) - local_ox) / dx, ((ex + radius) - local_ox) / dx
        ty1, ty2 = (-(ey + radius) - local_oy) / dy, ((ey + radius) - local_oy) / dy
        enter = np.maximum(np.minimum(tx1, tx2), np.minimum(ty1, ty2))
        leave = np.minimum(np.maximum(tx1, tx2), np.maximum(ty1, ty2))
        hit = (leave >= np.maximum(enter, 0.0)) & (enter <= reach)
        hit &= (origin.z >= z0 - radius) & (origin.z <= z1 + radius)
        only_dynamics = self.attributes.get("only_dynamics", "false").lower() == "true"
        candidates = [(max(float(enter[i]), 0.0), actors[i]) for i in np.flatnonzero(hit)
                      if actors[i] is not self.parent and (not only_dynamics or (
                          actors[i].id != 0 and actors[i].get_velocity().length() > 0.01))]
        if candidates:
            distance, other = min(candidates, key=lambda item: item[0])
            yield ObstacleDetectionEvent(frame, elapsed, transform, self.parent, other, distance)
