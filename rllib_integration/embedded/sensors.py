"""Sensors of the embedded world: collision, lane invasion, obstacle, GNSS and IMU here; cameras
(:mod:`.cameras`), LiDAR and radar (:mod:`.ranging`); and the blueprints of them all.

Each is a sensor actor (``carla.Sensor``): spawned attached to a parent with CARLA's blueprint id
and attributes, ``listen(callback)`` / ``stop()`` / ``destroy()``, and it measures right after every
world tick (or every ``sensor_tick`` seconds), calling the callback synchronously with a measurement
carrying ``frame``, ``timestamp`` and ``transform``.
"""

from __future__ import annotations

import math

import carla
import numpy as np

from .blueprints import ActorAttribute, ActorBlueprint, Bool, Float, Int, String
from .cameras import CAMERAS
from .ranging import Lidar, Radar, SemanticLidar
from .sensor_base import Sensor
from .sensor_data import CollisionEvent, GnssMeasurement, IMUMeasurement, LaneInvasionEvent, ObstacleDetectionEvent
from .world import SPAWN_HANDLERS

GRAVITY = 9.81


class CollisionSensor(Sensor):
    """``sensor.other.collision``: one event per actor the parent hit during the tick."""

    def _measure(self, frame, elapsed, transform):
        for record in self._world.collisions:
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
        town_map = self._world.get_map()
        t = self.parent.get_transform()
        extent = self.parent.bounding_box.extent
        forward, right = t.get_forward_vector(), t.get_right_vector()
        lane_types = carla.LaneType.Driving | carla.LaneType.Parking | carla.LaneType.Shoulder
        corners = []
        for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            location = carla.Location(t.location.x + sx * extent.x * forward.x + sy * extent.y * right.x,
                                      t.location.y + sx * extent.x * forward.y + sy * extent.y * right.y,
                                      t.location.z)
            corners.append((location, town_map.get_waypoint(location, project_to_road=False,
                                                            lane_type=lane_types)))
        return corners

    def _measure(self, frame, elapsed, transform):
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
    """``sensor.other.obstacle``: the nearest actor within ``distance`` metres ahead of the sensor
    along a sweep of radius ``hit_radius`` (``only_dynamics``: moving actors only)."""

    def _measure(self, frame, elapsed, transform):
        actors, boxes = self._world._boxes()
        if not actors:
            return
        x, y, yaw, ex, ey, z0, z1 = boxes
        reach = float(self.attributes["distance"])
        radius = float(self.attributes["hit_radius"])
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
                      if actors[i] is not self.parent
                      and (not only_dynamics or actors[i].get_velocity().length() > 0.01)]
        if candidates:
            distance, other = min(candidates, key=lambda item: item[0])
            yield ObstacleDetectionEvent(frame, elapsed, transform, self.parent, other, distance)


class GnssSensor(Sensor):
    """``sensor.other.gnss``: the sensor's position through the map's geo-reference, plus noise."""

    def _measure(self, frame, elapsed, transform):
        geo = self._world.get_map().transform_to_geolocation(transform.location)
        yield GnssMeasurement(frame, elapsed, transform,
                              geo.latitude + self._noise("noise_lat_stddev", "noise_lat_bias"),
                              geo.longitude + self._noise("noise_lon_stddev", "noise_lon_bias"),
                              geo.altitude + self._noise("noise_alt_stddev", "noise_alt_bias"))


class ImuSensor(Sensor):
    """``sensor.other.imu``: proper acceleration (gravity included, +9.81 z at rest) and angular
    velocity in the sensor frame, compass in radians from north (-y), plus noise."""

    def _measure(self, frame, elapsed, transform):
        body = self.parent if self.parent is not None else self
        a = body.get_acceleration()
        world_accel = np.array([a.x, a.y, a.z + GRAVITY])
        inverse = np.array(transform.get_inverse_matrix())[:3, :3]
        local = inverse @ world_accel
        w = body.get_angular_velocity()
        gyro = inverse @ np.radians([w.x, w.y, w.z])
        accelerometer = carla.Vector3D(*(local[i] + self._noise(f"noise_accel_stddev_{axis}")
                                         for i, axis in enumerate("xyz")))
        gyroscope = carla.Vector3D(*(gyro[i] + self._noise(f"noise_gyro_stddev_{axis}", f"noise_gyro_bias_{axis}")
                                     for i, axis in enumerate("xyz")))
        compass = math.radians(transform.rotation.yaw + 90.0) % (2.0 * math.pi)
        yield IMUMeasurement(frame, elapsed, transform, accelerometer, gyroscope, compass)


def _attrs(*specs: tuple) -> list[ActorAttribute]:
    return [ActorAttribute(*spec) for spec in specs]


_COMMON = (("role_name", String, "front"), ("sensor_tick", Float, "0.0"))
_NOISE_SEED = (("noise_seed", Int, "0"),)

SENSORS: dict[str, tuple[type[Sensor], list[tuple]]] = {
    "sensor.other.collision": (CollisionSensor, [("role_name", String, "front")]),
    "sensor.other.lane_invasion": (LaneInvasionSensor, [("role_name", String, "front")]),
    "sensor.other.obstacle": (ObstacleSensor, [*_COMMON, ("distance", Float, "5"), ("hit_radius", Float, "0.5"),
                                               ("only_dynamics", Bool, "false"), ("debug_linetrace", Bool, "false")]),
    "sensor.other.gnss": (GnssSensor, [*_COMMON, *_NOISE_SEED] + [
        (f"noise_{axis}_{kind}", Float, "0.0") for axis in ("alt", "lat", "lon") for kind in ("bias", "stddev")]),
    "sensor.other.imu": (ImuSensor, [*_COMMON, *_NOISE_SEED] + [
        (f"noise_accel_stddev_{axis}", Float, "0.0") for axis in "xyz"] + [
        (f"noise_gyro_{kind}_{axis}", Float, "0.0") for kind in ("bias", "stddev") for axis in "xyz"]),
}
_CAMERA = [*_COMMON, ("image_size_x", Int, "800"), ("image_size_y", Int, "600"), ("fov", Float, "90.0")]
for _name, _camera in CAMERAS.items():
    _extra = [("positive_threshold", Float, "0.3"), ("negative_threshold", Float, "0.3")] if _name == "dvs" else []
    SENSORS[f"sensor.camera.{_name}"] = (_camera, _CAMERA + _extra)
_LIDAR = [*_COMMON, *_NOISE_SEED, ("channels", Int, "32"), ("range", Float, "10.0"),
          ("points_per_second", Int, "56000"), ("rotation_frequency", Float, "10.0"), ("upper_fov", Float, "10.0"),
          ("lower_fov", Float, "-30.0"), ("horizontal_fov", Float, "360.0")]
SENSORS["sensor.lidar.ray_cast"] = (Lidar, _LIDAR + [
    ("atmosphere_attenuation_rate", Float, "0.004"), ("dropoff_general_rate", Float, "0.45"),
    ("dropoff_intensity_limit", Float, "0.8"), ("dropoff_zero_intensity", Float, "0.4"),
    ("noise_stddev", Float, "0.0")])
SENSORS["sensor.lidar.ray_cast_semantic"] = (SemanticLidar, _LIDAR)
SENSORS["sensor.other.radar"] = (Radar, [*_COMMON, *_NOISE_SEED, ("horizontal_fov", Float, "30.0"),
                                         ("vertical_fov", Float, "30.0"), ("range", Float, "100.0"),
                                         ("points_per_second", Int, "1500")])


def sensor_blueprints() -> list[ActorBlueprint]:
    """Blueprints of every CARLA sensor type (registered with the spawn handlers on import)."""
    return [ActorBlueprint(blueprint_id, _attrs(*specs)) for blueprint_id, (_, specs) in SENSORS.items()]


for _blueprint_id, (_cls, _) in SENSORS.items():
    SPAWN_HANDLERS[_blueprint_id] = _cls
