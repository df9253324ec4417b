"""How scenario actors drive, through the carla API only: a pure-pursuit steering towards a path (or the
lane ahead) and a proportional throttle and brake towards a target speed."""

from __future__ import annotations

import math

import carla


def yaw_difference(a: float, b: float) -> float:
    """``a - b`` in degrees, in (-180, 180]."""
    return (a - b + 180.0) % 360.0 - 180.0


def steer_towards(vehicle: carla.Actor, target: carla.Location, full_lock: float = 30.0) -> float:
    """The steering that turns ``vehicle`` towards ``target`` (full lock at ``full_lock`` degrees off)."""
    transform = vehicle.get_transform()
    angle = math.degrees(math.atan2(target.y - transform.location.y, target.x - transform.location.x))
    return max(-1.0, min(1.0, yaw_difference(angle, transform.rotation.yaw) / full_lock))


def path_target(vehicle: carla.Actor, path: list[carla.Location], look_ahead: float) -> carla.Location:
    """The first point of ``path`` ahead of ``vehicle`` at least ``look_ahead`` metres from it (else the last)."""
    transform = vehicle.get_transform()
    location, forward = transform.location, transform.get_forward_vector()
    for point in path:
        along = (point.x - location.x) * forward.x + (point.y - location.y) * forward.y
        if along > 0 and point.distance(location) >= look_ahead:
            return point
    return path[-1]


def speed_control(vehicle: carla.Actor, speed: float, steer: float = 0.0) -> carla.VehicleControl:
    """Throttle and brake in proportion to the error against ``speed`` (m/s), with ``steer``."""
    error = speed - vehicle.get_velocity().length()
    return carla.VehicleControl(throttle=max(0.0, min(1.0, 0.5 * error + 0.4)) if error > 0 else 0.0,
                                brake=max(0.0, min(1.0, -0.5 * error)) if error < -0.3 else 0.0, steer=steer)


def drive_path(vehicle: carla.Actor, path: list[carla.Location], speed: float) -> carla.VehicleControl:
    """Follow ``path`` at ``speed`` m/s (looking further ahead the faster it goes)."""
    target = path_target(vehicle, path, max(6.0, 0.8 * vehicle.get_velocity().length()))
    return speed_control(vehicle, speed, steer_towards(vehicle, target))


def follow_lane(town_map: carla.Map, vehicle: carla.Actor, speed: float, look_ahead: float = 6.0) -> carla.VehicleControl:
    """Keep ``vehicle`` on its lane (the lane's point ``look_ahead`` metres on) at ``speed`` m/s."""
    waypoint = town_map.get_waypoint(vehicle.get_location())
    following = waypoint.next(look_ahead) if waypoint is not None else []
    steer = steer_towards(vehicle, following[0].transform.location, 45.0) if following else 0.0
    return speed_control(vehicle, speed, steer)


def blocked_ahead(vehicle: carla.Actor, others: list[carla.Actor], gap: float, side: float) -> bool:
    """Whether a corner of one of ``others`` stands in ``vehicle``'s way: less than ``gap`` metres ahead and
    ``side`` metres past its side."""
    transform = vehicle.get_transform()
    forward = transform.get_forward_vector()
    reach = vehicle.bounding_box.extent.y + side
    for other in others:
        if other.id == vehicle.id:
            continue
        other_transform = other.get_transform()
        if other_transform.location.distance(transform.location) > gap + 6.0:
            continue
        extent = other.bounding_box.extent
        for corner in ((extent.x, extent.y), (extent.x, -extent.y), (-extent.x, extent.y), (-extent.x, -extent.y)):
            point = other_transform.transform(carla.Location(corner[0], corner[1], 0.0))
            d = point - transform.location
            along = d.x * forward.x + d.y * forward.y
            if 0.0 < along < gap and abs(-d.x * forward.y + d.y * forward.x) < reach:
                return True
    return False
