"""``controller.ai.walker``: walks its parent walker to a destination over the sidewalk graph."""

from __future__ import annotations

import math

import carla
import numpy as np

from ..sim.actors import Actor, Walker
from .navigation import navigation_for


class WalkerAIController(Actor):
    """``controller.ai.walker``: walks its parent walker along the sidewalks and crossings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._route: list[np.ndarray] = []
        self._speed = 1.4
        self._active = False

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
        walker.apply_control(carla.WalkerControl(
            carla.Vector3D(target[0] - location.x, target[1] - location.y, 0.0), self._speed))

    def destroy(self) -> bool:
        self.stop()
        return super().destroy()
