"""``controller.ai.walker``: walks its parent walker to a destination over the sidewalk graph.

A walker whose next step would take it into a standing vehicle (one stopped on a crosswalk, say) walks around it,
along the vehicle's side to its nearer end, as CARLA's crowd agents steer around obstacles; otherwise a walker
crossing in front of a car that waits for it would push against the car's side for ever. A walker whose next step
would take it into a moving vehicle waits where it is (one that had edged round a car that then drove on walked
into the car's side).
"""

from __future__ import annotations

import math

import carla
import numpy as np

from ..sim.actors import Actor, Walker
from ..sim.vehicle_kernel import COLUMN
from .navigation import navigation_for

PROBE = 1.0  # metres ahead a walker looks for a standing vehicle in its way
CLEARANCE = 0.5  # metres kept between a walker's centre and a vehicle's side when walking around it
DETOUR_MEMORY = 3.0  # seconds a walker keeps its way round a vehicle after the vehicle was last in its way
STANDING = 0.5  # m/s: vehicles slower than this are obstacles to walk around (a moving one is waited for)


class WalkerAIController(Actor, carla.WalkerAIController):
    """``controller.ai.walker``: walks its parent walker along the sidewalks and crossings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._route: list[np.ndarray] = []
        self._speed = 1.4
        self._active = False
        self._detour: tuple[int, float, float] | None = None  # (vehicle, way round it, last time it was in the way)

    def start(self) -> None:
        """Walk from the next tick on (the controller plans before physics, every tick)."""
        if not self._active:
            self._active = True
            self._sim.add_pre_tick_hook(self._step)

    def stop(self) -> None:
        self._active = False
        self._route = []
        self._sim.remove_pre_tick_hook(self._step)
        if isinstance(self.parent, Walker) and self.parent.is_alive:
            self.parent.apply_control(carla.WalkerControl())

    def set_max_speed(self, speed: float = 1.4) -> None:
        self._speed = float(speed)

    def go_to_location(self, destination: carla.Location) -> None:
        navigation = navigation_for(self._sim.map)
        if len(navigation.points) == 0 or self.parent is None:
            return
        nodes = navigation.path(navigation.nearest(self.parent.get_location()), navigation.nearest(destination))
        self._route = [navigation.points[n] for n in nodes]

    def _step(self, dt: float) -> None:
        walker = self.parent
        if not self._active or walker is None or not walker.is_alive:
            return
        location = walker.get_location()
        while self._route and math.hypot(self._route[0][0] - location.x, self._route[0][1] - location.y) < 0.5:
            self._route.pop(0)
        if not self._route:
            walker.apply_control(carla.WalkerControl())
            return
        target = self._route[0]
        dx, dy = target[0] - location.x, target[1] - location.y
        norm = math.hypot(dx, dy)
        dx, dy, wait = self._around_vehicles(location.x, location.y, dx / norm, dy / norm, self._sim.elapsed)
        walker.apply_control(carla.WalkerControl(carla.Vector3D(dx, dy, 0.0), 0.0 if wait else self._speed))

    def _around_vehicles(self, x: float, y: float, dx: float, dy: float, now: float) -> tuple[float, float, bool]:
        """The walking direction (unit) and whether to wait: (dx, dy), along the side of a standing vehicle in
        the way, or waiting for a moving one in the way."""
        table = self._sim.vehicles
        if table.count == 0:
            return dx, dy, False
        rows = table.data[:table.count]
        vx, vy, yaw = rows[:, COLUMN["x"]], rows[:, COLUMN["y"]], rows[:, COLUMN["yaw"]]
        half_length, half_width = rows[:, COLUMN["half_length"]] + CLEARANCE, rows[:, COLUMN["half_width"]] + CLEARANCE
        fx, fy = np.cos(yaw), np.sin(yaw)
        px, py = x + PROBE * dx - vx, y + PROBE * dy - vy  # the probe ahead, relative to each vehicle
        in_way = (np.abs(px * fx + py * fy) < half_length) & (np.abs(-px * fy + py * fx) < half_width)
        if not in_way.any():
            return dx, dy, False
        k = int(np.flatnonzero(in_way)[0])
        if abs(rows[k, COLUMN["speed"]]) >= STANDING:
            return dx, dy, True
        forward, right = np.array([fx[k], fy[k]]), np.array([-fy[k], fx[k]])
        offset = np.array([x - vx[k], y - vy[k]])
        along, across = float(offset @ forward), float(offset @ right)
        # the face the walker stands before, and its outward normal
        if abs(along) - half_length[k] > abs(across) - half_width[k]:
            normal, outside, reach = forward * math.copysign(1.0, along), abs(along), half_length[k]
        else:
            normal, outside, reach = right * math.copysign(1.0, across), abs(across), half_width[k]
        tangent = np.array([-normal[1], normal[0]])  # one way round the vehicle; -tangent the other
        owner = id(table.owners[k])
        if self._detour is None or self._detour[0] != owner or now - self._detour[2] > DETOUR_MEMORY:
            heading = dx * tangent[0] + dy * tangent[1]  # choose a way round, and keep to it
            if abs(heading) < 0.2:  # walking straight at the face: round its nearer end
                heading = float(offset @ tangent)
            self._detour = (owner, 1.0 if heading >= 0.0 else -1.0, now)
        self._detour = (owner, self._detour[1], now)
        direction = self._detour[1] * tangent + (0.5 * normal if outside < reach else 0.0)  # edging away if close
        norm = float(np.hypot(*direction))
        return float(direction[0]) / norm, float(direction[1]) / norm, False

    def destroy(self) -> bool:
        self.stop()
        return super().destroy()
