"""Hybrid physics and dormant-vehicle respawning of the traffic manager.

- **Hybrid mode** (``set_hybrid_physics_mode``, ``set_hybrid_physics_radius``): vehicles farther than
  the radius from the hero (the vehicle whose ``role_name`` is ``hero`` or ``ego_vehicle``) drop their
  physics and are moved along their routes at the speed the car-following model gives them, on
  the ground; closer ones drive with full physics. Without a hero every vehicle keeps its physics.
- **Respawning** (``set_respawn_dormant_vehicles``, ``set_boundaries_respawn_dormant_vehicles``):
  a vehicle farther than the upper bound from the hero (default: the world's
  ``actor_active_distance``) is moved to a free spawn point between the bounds, as CARLA does with
  the dormant vehicles of large maps.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import carla
import numpy as np
from numba import njit

from ..sim.dynamics import COLUMN

if TYPE_CHECKING:
    from ..sim.kernel import Simulation
    from .autopilot_state import AutopilotState

HERO_ROLES = ("hero", "ego_vehicle")
X, Y, Z, YAW, SPEED, FROZEN = (COLUMN[name] for name in ("x", "y", "z", "yaw", "speed", "frozen"))
CLEARANCE = 15.0  # metres kept free ahead of and behind a moved vehicle


def hero_vehicle(sim: Any) -> Any:
    """The first vehicle whose ``role_name`` is a hero's, or None."""
    return next((actor for actor in sim.vehicles.owners if actor.attributes.get("role_name") in HERO_ROLES), None)


def hero_location(sim: Any, hero: Any = None) -> tuple[float, float] | None:
    """(x, y) of ``hero`` (default: :func:`hero_vehicle`), or None without one."""
    hero = hero if hero is not None else hero_vehicle(sim)
    if hero is None:
        return None
    row = sim.vehicles.data[hero.slot]
    return float(row[COLUMN["x"]]), float(row[COLUMN["y"]])


class HybridPhysics:
    """Settings and per-tick work of hybrid mode and respawning for one traffic manager."""

    def __init__(self) -> None:
        self.enabled = False
        self.radius = 50.0
        self.respawn = False
        self.bounds: tuple[float, float] | None = None  # (lower, upper) metres; None: 25, actor_active_distance
        self.dormant: set[int] = set()
        self._hero: Any = None  # the hero found last tick (looked for again once it is gone)

    def step(self, sim: "Simulation", states: list["AutopilotState"], routes: np.ndarray, accel_cruise: np.ndarray,
             rng: np.random.Generator, release: Callable[["AutopilotState"], None], dt: float) -> None:
        """Move far vehicles kinematically and respawn those beyond the upper bound near the hero;
        ``routes[i]`` holds the route points of ``states[i]`` (x, y), ``accel_cruise[i]`` its planned acceleration
        (m/s²) and cruise speed (m/s); ``release`` frees a respawned vehicle's junction reservations."""
        if self._hero is None or not self._hero.is_alive or self._hero.slot < 0:
            self._hero = hero_vehicle(sim)
        hero = hero_location(sim, self._hero)
        if hero is None:
            for state in states:
                self.wake(sim, state)
            return
        if not states:
            return
        # (a vehicle relocated since the last plan has no route yet: it is planned afresh first)
        slots = np.array([state.vehicle.slot if state.vehicle.is_alive and state.route.points else -1
                          for state in states])
        rows = sim.vehicles.data[np.maximum(slots, 0)]
        distance = np.hypot(rows[:, X] - hero[0], rows[:, Y] - hero[1])
        live = slots >= 0
        if self.respawn:
            lower, upper = self.bounds or (25.0, float(sim.settings.actor_active_distance or 2000.0))
            for i in np.flatnonzero(live & (distance > upper)):
                if relocate(sim, rng, states[i], hero, lower, upper):
                    release(states[i])
                    live[i] = False  # moved near the hero: planned afresh next tick
        far = live & (distance > self.radius) if self.enabled else np.zeros(len(states), dtype=bool)
        for i in np.flatnonzero(live & ~far):
            self.wake(sim, states[i])
        if far.any():
            self.dormant.update(states[i].vehicle.id for i in np.flatnonzero(far))
            self._move(sim, slots[far], routes[far], accel_cruise[far], dt)

    def wake(self, sim: Any, state: "AutopilotState") -> None:
        """Give a vehicle its physics back."""
        vehicle = state.vehicle
        if vehicle.id in self.dormant:
            self.dormant.discard(vehicle.id)
            if vehicle.is_alive and vehicle.slot >= 0:
                sim.vehicles.data[vehicle.slot, COLUMN["frozen"]] = 0.0

    @staticmethod
    def _move(sim: "Simulation", slots: np.ndarray, routes: np.ndarray, accel_cruise: np.ndarray,
              dt: float) -> None:
        """Advance far vehicles along their routes without physics: each at the speed its car-following
        acceleration gives (capped just above its cruise speed), on the ground, facing along the route
        segment it ends on."""
        data = sim.vehicles.data
        data[slots, FROZEN] = 1.0
        speed = np.minimum(np.maximum(data[slots, SPEED] + accel_cruise[:, 0] * dt, 0.0), accel_cruise[:, 1] + 0.5)
        data[slots, SPEED] = speed
        along_routes(data, slots, np.ascontiguousarray(routes), speed * dt)
        x, y = data[slots, X], data[slots, Y]
        height = sim.ground.height(x, y)
        data[slots, Z] = np.where(np.isnan(height), data[slots, Z], height)


@njit(cache=True)
def along_routes(data: np.ndarray, slots: np.ndarray, routes: np.ndarray, distances: np.ndarray) -> None:
    """Move the vehicles of rows ``slots`` ``distances`` metres along their routes (``routes[k]``: points
    (x, y)) from where they project onto them, heading along the segment each ends on; past the
    last point they stop at it."""
    for k in range(len(slots)):
        row = data[slots[k]]
        left = distances[k]
        if left <= 0.0:
            continue
        x, y = row[X], row[Y]
        points = routes[k]
        for s in range(len(points) - 1):
            x0, y0, x1, y1 = points[s, 0], points[s, 1], points[s + 1, 0], points[s + 1, 1]
            length_sq = (x1 - x0) ** 2 + (y1 - y0) ** 2
            along = (x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)
            if length_sq < 1e-12 or along >= length_sq:
                continue  # passed (or a repeated point)
            length = math.sqrt(length_sq)
            t = max(along / length_sq, 0.0)
            remaining = (1.0 - t) * length
            if left <= remaining:
                t += left / length
                x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                row[YAW] = math.atan2(y1 - y0, x1 - x0)
                left = 0.0
                break
            left -= remaining
            x, y = x1, y1
        row[X], row[Y] = x, y


def relocate(sim: "Simulation", rng: np.random.Generator, state: "AutopilotState",
             hero: tuple[float, float] | None, lower: float, upper: float) -> bool:
    """Move a vehicle to a free spawn point between ``lower`` and ``upper`` metres from the hero
    (anywhere free without one), at rest with a new route; the spot is free 15 m ahead and behind,
    so that no vehicle runs into it."""
    points = sim.map.get_spawn_points()
    extent = state.vehicle.bounding_box.extent
    size = carla.Vector3D(extent.x + CLEARANCE, extent.y, extent.z)
    for k in rng.permutation(len(points)):
        spot = points[int(k)]
        if hero is not None and not lower <= math.hypot(spot.location.x - hero[0], spot.location.y - hero[1]) <= upper:
            continue
        if sim.occupied(spot, size):
            continue
        state.vehicle.set_transform(spot)
        state.vehicle.set_target_velocity(carla.Vector3D())
        state.route.clear()
        return True
    return False
