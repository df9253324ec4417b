"""How scenario actors drive, through the carla API only: a pure-pursuit steering towards a path (or the
lane ahead) and a proportional throttle and brake towards a target speed."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import carla
import numpy as np


def yaw_difference(a: float, b: float) -> float:
    """``a - b`` in degrees, in (-180, 180]."""
    return (a - b + 180.0) % 360.0 - 180.0


def steer_towards(vehicle: carla.Actor, target: carla.Location, full_lock: float = 30.0) -> float:
    """The steering that turns ``vehicle`` towards ``target`` (full lock at ``full_lock`` degrees off)."""
    transform = vehicle.get_transform()
    angle = math.degrees(math.atan2(target.y - transform.location.y, target.x - transform.location.x))
    return max(-1.0, min(1.0, yaw_difference(angle, transform.rotation.yaw) / full_lock))


class Path:
    """A path of points to drive along, kept as an array too (a flow's path is hundreds of metres long,
    and every vehicle on it looks for its target on it every tick)."""

    def __init__(self, points: Sequence[carla.Location]) -> None:
        self.points = list(points)
        self.xyz = np.array([[p.x, p.y, p.z] for p in self.points], dtype=np.float64).reshape(-1, 3)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> carla.Location:
        return self.points[index]


def path_target(vehicle: carla.Actor, path: Path, look_ahead: float) -> carla.Location:
    """The first point of ``path`` ahead of ``vehicle`` at least ``look_ahead`` metres from it, and not before the
    point nearest to it (else the last: a vehicle a collision turned round turns back rather than ride the path
    backwards)."""
    transform = vehicle.get_transform()
    location, forward = transform.location, transform.get_forward_vector()
    d = path.xyz - (location.x, location.y, location.z)
    squared = np.einsum("ij,ij->i", d, d)
    ahead = (d[:, 0] * forward.x + d[:, 1] * forward.y > 0) & (squared >= look_ahead ** 2)
    ahead[:int(np.argmin(squared))] = False
    index = int(np.argmax(ahead)) if ahead.any() else len(path) - 1
    return path[index]


def speed_control(vehicle: carla.Actor, speed: float, steer: float = 0.0) -> carla.VehicleControl:
    """Throttle and brake in proportion to the error against ``speed`` (m/s), with ``steer``."""
    error = speed - vehicle.get_velocity().length()
    return carla.VehicleControl(throttle=max(0.0, min(1.0, 0.5 * error + 0.4)) if error > 0 else 0.0,
                                brake=max(0.0, min(1.0, -0.5 * error)) if error < -0.3 else 0.0, steer=steer)


def drive_path(vehicle: carla.Actor, path: Path, speed: float) -> carla.VehicleControl:
    """Follow ``path`` at ``speed`` m/s (looking further ahead the faster it goes)."""
    target = path_target(vehicle, path, max(6.0, 0.8 * vehicle.get_velocity().length()))
    return speed_control(vehicle, speed, steer_towards(vehicle, target))


def follow_lane(town_map: carla.Map, vehicle: carla.Actor, speed: float, look_ahead: float = 6.0) -> carla.VehicleControl:
    """Keep ``vehicle`` on its lane (the lane's point ``look_ahead`` metres on) at ``speed`` m/s."""
    waypoint = town_map.get_waypoint(vehicle.get_location())
    following = waypoint.next(look_ahead) if waypoint is not None else []
    steer = steer_towards(vehicle, following[0].transform.location, 45.0) if following else 0.0
    return speed_control(vehicle, speed, steer)


class Footprints:
    """The corners of vehicles' bounding boxes on the ground, taken once a tick: what a scenario's drivers check
    their way against."""

    def __init__(self, actors: Iterable[carla.Actor]) -> None:
        ids, centres, corners = [], [], []
        for actor in actors:
            transform, extent = actor.get_transform(), actor.bounding_box.extent
            yaw = math.radians(transform.rotation.yaw)
            c, s = math.cos(yaw), math.sin(yaw)
            local = np.array([(extent.x, extent.y), (extent.x, -extent.y), (-extent.x, extent.y), (-extent.x, -extent.y)])
            corners.append(local @ np.array([[c, s], [-s, c]]) + (transform.location.x, transform.location.y))
            ids.append(actor.id)
            centres.append((transform.location.x, transform.location.y, transform.location.z))
        self.ids = np.array(ids, dtype=np.int64)
        self.centres = np.array(centres, dtype=np.float64).reshape(-1, 3)
        self.corners = np.array(corners, dtype=np.float64).reshape(-1, 4, 2)

    def blocked_ahead(self, vehicle: carla.Actor, gap: float, side: float) -> bool:
        """Whether a corner of one of them (``vehicle`` aside) stands in ``vehicle``'s way: less than ``gap``
        metres ahead and ``side`` metres past its side."""
        if not len(self.ids):
            return False
        transform = vehicle.get_transform()
        forward = transform.get_forward_vector()
        reach = vehicle.bounding_box.extent.y + side
        d = self.corners - (transform.location.x, transform.location.y)
        along = d[..., 0] * forward.x + d[..., 1] * forward.y
        across = -d[..., 0] * forward.y + d[..., 1] * forward.x
        hit = ((along > 0.0) & (along < gap) & (np.abs(across) < reach)).any(axis=1)
        location = transform.location
        centres = self.centres - (location.x, location.y, location.z)
        near = np.einsum("ij,ij->i", centres, centres) <= (gap + 6.0) ** 2
        return bool((hit & near & (self.ids != vehicle.id)).any())
