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


class Poses:
    """Where some vehicles stand, which way they face and how fast they go, read once a tick through the carla API
    (one ``get_transform`` and one ``get_velocity`` each) for the vectorised drivers below."""

    def __init__(self, vehicles: Iterable[carla.Actor]) -> None:
        self.vehicles = list(vehicles)
        rows = []
        for vehicle in self.vehicles:
            transform, extent = vehicle.get_transform(), vehicle.bounding_box.extent
            location, rotation = transform.location, transform.rotation
            rows.append((location.x, location.y, location.z, rotation.yaw, rotation.pitch,
                         vehicle.get_velocity().length(), extent.x, extent.y))
        table = np.array(rows, dtype=np.float64).reshape(-1, 8)
        self.xyz, self.speed, self.extents = table[:, :3], table[:, 5], table[:, 6:8]
        self.yaw = table[:, 3]
        yaw, pitch = np.radians(table[:, 3]), np.radians(table[:, 4])
        #: (x, y) of ``Transform.get_forward_vector()``
        self.forward = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw)], axis=1)
        self.ids = np.array([vehicle.id for vehicle in self.vehicles], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.vehicles)


def path_targets(poses: Poses, path: Path, look_ahead: np.ndarray | float) -> np.ndarray:
    """For each vehicle, the index of the first point of ``path`` ahead of it at least ``look_ahead`` metres from
    it, and not before the point nearest to it (else the last: a vehicle a collision turned round turns back
    rather than ride the path backwards)."""
    d = path.xyz[None, :, :] - poses.xyz[:, None, :]
    squared = np.einsum("vpk,vpk->vp", d, d)
    reach = np.broadcast_to(np.asarray(look_ahead, dtype=np.float64), (len(poses),))
    ahead = (d[..., 0] * poses.forward[:, :1] + d[..., 1] * poses.forward[:, 1:] > 0) & (squared >= reach[:, None] ** 2)
    ahead &= np.arange(len(path))[None, :] >= np.argmin(squared, axis=1)[:, None]
    return np.where(ahead.any(axis=1), np.argmax(ahead, axis=1), len(path) - 1)


def path_target(vehicle: carla.Actor, path: Path, look_ahead: float) -> carla.Location:
    """:func:`path_targets` for one vehicle, as a point of ``path``."""
    return path[int(path_targets(Poses([vehicle]), path, look_ahead)[0])]


def speed_control(vehicle: carla.Actor, speed: float, steer: float = 0.0) -> carla.VehicleControl:
    """Throttle and brake in proportion to the error against ``speed`` (m/s), with ``steer``."""
    return _speed_control(vehicle.get_velocity().length(), speed, steer)


def _speed_control(current: float, speed: float, steer: float) -> carla.VehicleControl:
    error = speed - current
    return carla.VehicleControl(throttle=max(0.0, min(1.0, 0.5 * error + 0.4)) if error > 0 else 0.0,
                                brake=max(0.0, min(1.0, -0.5 * error)) if error < -0.3 else 0.0, steer=steer)


def drive_paths(poses: Poses, path: Path, speeds: np.ndarray | float) -> list[carla.VehicleControl]:
    """Each vehicle's control to follow ``path`` at its speed of ``speeds`` (m/s), looking further ahead the
    faster it goes: a pure pursuit with full lock 30 degrees off (as :func:`steer_towards`)."""
    targets = path.xyz[path_targets(poses, path, np.maximum(6.0, 0.8 * poses.speed))]
    angles = np.degrees(np.arctan2(targets[:, 1] - poses.xyz[:, 1], targets[:, 0] - poses.xyz[:, 0]))
    steers = np.clip(yaw_difference(angles, poses.yaw) / 30.0, -1.0, 1.0)
    wanted = np.broadcast_to(np.asarray(speeds, dtype=np.float64), (len(poses),))
    return [_speed_control(float(current), float(speed), float(steer))
            for current, speed, steer in zip(poses.speed, wanted, steers)]


def drive_path(vehicle: carla.Actor, path: Path, speed: float) -> carla.VehicleControl:
    """:func:`drive_paths` for one vehicle."""
    return drive_paths(Poses([vehicle]), path, speed)[0]


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
        poses = Poses(actors)
        self.ids, self.centres = poses.ids, poses.xyz
        self.velocities = poses.forward * poses.speed[:, None]
        signs = np.array([(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)])
        local = signs[None, :, :] * poses.extents[:, None, :]  # the four corners in each box's frame
        yaw = np.radians(poses.yaw)[:, None]
        c, s = np.cos(yaw), np.sin(yaw)
        self.corners = np.stack([local[..., 0] * c - local[..., 1] * s,
                                 local[..., 0] * s + local[..., 1] * c], axis=-1) + poses.xyz[:, None, :2]

    def blocked_ahead(self, vehicle: carla.Actor, gap: float, side: float) -> bool:
        """Whether a corner of one of them (``vehicle`` aside) stands in ``vehicle``'s way: less than ``gap``
        metres ahead and ``side`` metres past its side."""
        return bool(self.blocked(Poses([vehicle]), gap, side)[0])

    def blocked(self, poses: Poses, gap: np.ndarray | float, side: float,
                slower_than: np.ndarray | float = math.inf) -> np.ndarray:
        """:meth:`blocked_ahead` for each of ``poses``' vehicles (``gap``: one for all, or one each), counting only
        what goes its way slower than ``slower_than`` m/s (one for all, or one each; default: everything)."""
        if not len(self.ids) or not len(poses):
            return np.zeros(len(poses), dtype=bool)
        gaps = np.broadcast_to(np.asarray(gap, dtype=np.float64), (len(poses),))[:, None]
        d = self.corners[None, :, :, :] - poses.xyz[:, None, None, :2]
        fx, fy = poses.forward[:, 0, None, None], poses.forward[:, 1, None, None]
        along = d[..., 0] * fx + d[..., 1] * fy
        across = -d[..., 0] * fy + d[..., 1] * fx
        reach = (poses.extents[:, 1] + side)[:, None, None]
        hit = ((along > 0.0) & (along < gaps[..., None]) & (np.abs(across) < reach)).any(axis=2)
        centres = self.centres[None, :, :] - poses.xyz[:, None, :]
        near = np.einsum("vak,vak->va", centres, centres) <= (gaps + 6.0) ** 2
        slow = poses.forward @ self.velocities.T < np.broadcast_to(np.asarray(slower_than, dtype=np.float64),
                                                                   (len(poses),))[:, None]
        return (hit & near & slow & (self.ids[None, :] != poses.ids[:, None])).any(axis=1)
