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

from ..sim.dynamics import COLUMN

if TYPE_CHECKING:
    from ..sim.kernel import Simulation
    from .autopilot_state import AutopilotState

HERO_ROLES = ("hero", "ego_vehicle")
X, Y, Z, YAW, SPEED, FROZEN = (COLUMN[name] for name in ("x", "y", "z", "yaw", "speed", "frozen"))
CLEARANCE = 15.0  # metres kept free ahead of and behind a moved vehicle


def hero_location(sim: Any) -> tuple[float, float] | None:
    for actor in sim.vehicles.owners:
        if actor.attributes.get("role_name") in HERO_ROLES:
            row = sim.vehicles.data[actor.slot]
            return float(row[COLUMN["x"]]), float(row[COLUMN["y"]])
    return None


class HybridPhysics:
    """Settings and per-tick work of hybrid mode and respawning for one traffic manager."""

    def __init__(self) -> None:
        self.enabled = False
        self.radius = 50.0
        self.respawn = False
        self.bounds: tuple[float, float] | None = None  # (lower, upper) metres; None: 25, actor_active_distance
        self.dormant: set[int] = set()

    def step(self, sim: "Simulation", states: list["AutopilotState"], rng: np.random.Generator,
             release: Callable[["AutopilotState"], None], dt: float) -> None:
        """Move far vehicles kinematically and respawn those beyond the upper bound near the hero;
        ``release`` frees a respawned vehicle's junction reservations."""
        hero = hero_location(sim)
        if hero is None:
            for state in states:
                self.wake(sim, state)
            return
        data = sim.vehicles.data
        for state in states:
            vehicle = state.vehicle
            if not vehicle.is_alive or vehicle.slot < 0:
                continue
            row = data[vehicle.slot]
            distance = math.hypot(row[COLUMN["x"]] - hero[0], row[COLUMN["y"]] - hero[1])
            if self.respawn:
                lower, upper = self.bounds or (25.0, float(sim.settings.actor_active_distance or 2000.0))
                if distance > upper and relocate(sim, rng, state, hero, lower, upper):
                    release(state)
                    continue
            if self.enabled and distance > self.radius:
                self._move(sim, state, row, dt)
            else:
                self.wake(sim, state)

    def wake(self, sim: Any, state: "AutopilotState") -> None:
        """Give a vehicle its physics back."""
        vehicle = state.vehicle
        if vehicle.id in self.dormant:
            self.dormant.discard(vehicle.id)
            if vehicle.is_alive and vehicle.slot >= 0:
                sim.vehicles.data[vehicle.slot, COLUMN["frozen"]] = 0.0

    def _move(self, sim: "Simulation", state: "AutopilotState", row: np.ndarray, dt: float) -> None:
        """Advance a far vehicle along its route without physics."""
        self.dormant.add(state.vehicle.id)
        row[FROZEN] = 1.0
        cruise = state.cruise if state.cruise is not None else 0.0
        speed = min(max(float(row[SPEED]) + state.accel * dt, 0.0), max(cruise, 0.0) + 0.5)
        row[SPEED] = speed
        points = state.route.points
        if len(points) < 2 or speed <= 0.0:
            return
        x, y = float(row[X]), float(row[Y])
        left = speed * dt
        for (x0, y0, _, _), (x1, y1, yaw1, _) in zip(points[:-1], points[1:]):
            along = (x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)
            length = math.hypot(x1 - x0, y1 - y0)
            if length < 1e-6 or along >= length * length:
                continue
            t = max(along / (length * length), 0.0)
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
        height = sim.ground.height_at(x, y)
        if not math.isnan(height):
            row[Z] = height


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
