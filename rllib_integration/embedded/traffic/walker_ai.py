"""``controller.ai.walker``: walks its parent walker to a destination over the sidewalk graph.

A walker whose next step would take it into a standing vehicle (one stopped on a crosswalk, say) walks around it,
along the vehicle's side to its nearer end, as CARLA's crowd agents steer around obstacles; otherwise a walker
crossing in front of a car that waits for it would push against the car's side for ever. A walker whose next step
would take it into a moving vehicle waits where it is (one that had edged round a car that then drove on walked
into the car's side).

The started controllers of one simulation step together, once a tick before physics (:class:`WalkerCrowd`, where
the first of them was started among the simulation's hooks): whether a vehicle is in each walker's way is one
array test of every walker against every vehicle. A walker's step reads only its own walker and the vehicle table,
which the other hooks do not move, so its control is the one it would compute in a hook of its own.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import carla
import numpy as np

from ..sim.actors import Actor, Walker
from ..sim.clock import unlocked
from ..sim.vehicle_kernel import COLUMN
from .navigation import navigation_for

PROBE = 1.0  # metres ahead a walker looks for a standing vehicle in its way
CLEARANCE = 0.5  # metres kept between a walker's centre and a vehicle's side when walking around it
DETOUR_MEMORY = 3.0  # seconds a walker keeps its way round a vehicle after the vehicle was last in its way
STANDING = 0.5  # m/s: vehicles slower than this are obstacles to walk around (a moving one is waited for)


class WalkerCrowd:
    """The started walker AI controllers of one simulation, stepped by one pre-tick hook (see the module
    docstring). It holds its simulation weakly: the simulation holds it, through its hook."""

    def __init__(self, sim: Any) -> None:
        self._sim = weakref.ref(sim)
        self.members: dict[int, "WalkerAIController"] = {}  # in start order

    def add(self, controller: "WalkerAIController") -> None:
        sim = self._sim()
        if not self.members and sim is not None:
            sim.add_pre_tick_hook(self.step)
        self.members[controller.id] = controller

    def remove(self, controller: "WalkerAIController") -> None:
        if self.members.pop(controller.id, None) is not None and not self.members:
            sim = self._sim()
            if sim is not None:
                sim.remove_pre_tick_hook(self.step)

    def step(self, dt: float) -> None:
        """Every member's walker: on towards its next route point, around or waiting for a vehicle in its way."""
        sim = self._sim()
        if sim is None:
            return
        walking = []  # (controller, (x, y, dx, dy)) of the walkers with somewhere to walk
        for controller in list(self.members.values()):
            heading = controller.heading()
            if heading is not None:
                walking.append((controller, heading))
        if not walking:
            return
        table = sim.vehicles
        rows = table.data[:table.count]
        ways = np.array([heading for _, heading in walking]).reshape(-1, 4)  # x, y, dx, dy a walker
        blocking = np.full(len(walking), -1, dtype=np.int64)  # the first vehicle in each walker's way
        if table.count:
            vx, vy, yaw = rows[:, COLUMN["x"]], rows[:, COLUMN["y"]], rows[:, COLUMN["yaw"]]
            half_length = rows[:, COLUMN["half_length"]] + CLEARANCE
            half_width = rows[:, COLUMN["half_width"]] + CLEARANCE
            fx, fy = np.cos(yaw), np.sin(yaw)
            # the probe ahead of each walker, relative to each vehicle
            px = (ways[:, 0] + PROBE * ways[:, 2])[:, None] - vx
            py = (ways[:, 1] + PROBE * ways[:, 3])[:, None] - vy
            in_way = (np.abs(px * fx + py * fy) < half_length) & (np.abs(-px * fy + py * fx) < half_width)
            blocking = np.where(in_way.any(axis=1), in_way.argmax(axis=1), -1)
        for (controller, (x, y, dx, dy)), k in zip(walking, blocking.tolist()):
            wait = False
            if k >= 0:
                dx, dy, wait = controller.way_round(table, rows, k, (fx[k], fy[k]), x, y, dx, dy, sim.elapsed)
            controller.walk(dx, dy, wait)


_CROWDS: "weakref.WeakKeyDictionary[Any, WalkerCrowd]" = weakref.WeakKeyDictionary()


def crowd_of(sim: Any) -> WalkerCrowd:
    """The walker crowd of ``sim`` (made at its first use)."""
    crowd = _CROWDS.get(sim)
    if crowd is None:
        crowd = _CROWDS[sim] = WalkerCrowd(sim)
    return crowd


class WalkerAIController(Actor, carla.WalkerAIController):
    """``controller.ai.walker``: walks its parent walker along the sidewalks and crossings (:meth:`heading`,
    :meth:`walk` and :meth:`way_round` are its crowd's, called within the simulation's tick)."""

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
            crowd_of(self._sim).add(self)

    def stop(self) -> None:
        self._active = False
        self._route = []
        crowd_of(self._sim).remove(self)
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

    @unlocked
    def heading(self) -> tuple[float, float, float, float] | None:
        """Where the walker is and the unit direction to its next route point (the points reached dropped):
        ``(x, y, dx, dy)``; None where it has nowhere to walk (standing still from now on)."""
        walker = self.parent
        if not self._active or walker is None or not walker.is_alive:
            return None
        x, y, _, _ = walker.pose()
        while self._route and math.hypot(self._route[0][0] - x, self._route[0][1] - y) < 0.5:
            self._route.pop(0)
        if not self._route:
            walker.apply_control(carla.WalkerControl())
            return None
        target = self._route[0]
        dx, dy = target[0] - x, target[1] - y
        norm = math.hypot(dx, dy)
        return x, y, dx / norm, dy / norm

    @unlocked
    def walk(self, dx: float, dy: float, wait: bool) -> None:
        """The walker's control: along the unit ``(dx, dy)`` at its speed, or standing (``wait``)."""
        self.parent.steer(dx, dy, 0.0 if wait else self._speed)

    @unlocked
    def way_round(self, table: Any, rows: np.ndarray, k: int, facing: tuple[float, float], x: float, y: float,
                  dx: float, dy: float, now: float) -> tuple[float, float, bool]:
        """The walking direction (unit) and whether to wait, the vehicle of ``rows[k]`` (the vehicle table's, its
        heading's unit vector ``facing``) in the walker's way: waiting for it where it moves, else along the side of
        it, the same way round while it stays in the way (and :data:`DETOUR_MEMORY` after)."""
        if abs(rows[k, COLUMN["speed"]]) >= STANDING:
            return dx, dy, True
        half_length, half_width = rows[k, COLUMN["half_length"]] + CLEARANCE, rows[k, COLUMN["half_width"]] + CLEARANCE
        forward = np.array(facing)
        right = np.array([-forward[1], forward[0]])
        offset = np.array([x - rows[k, COLUMN["x"]], y - rows[k, COLUMN["y"]]])
        along, across = float(offset @ forward), float(offset @ right)
        # the face the walker stands before, and its outward normal
        if abs(along) - half_length > abs(across) - half_width:
            normal, outside, reach = forward * math.copysign(1.0, along), abs(along), half_length
        else:
            normal, outside, reach = right * math.copysign(1.0, across), abs(across), half_width
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
