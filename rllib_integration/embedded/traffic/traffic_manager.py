"""``carla.TrafficManager`` of the embedded world: a facade over an :class:`~.autopilot.AutopilotPlanner`.

``client.get_trafficmanager(port)`` returns the traffic manager on ``port`` of the current world
(created on first use); ``vehicle.set_autopilot(True, port)`` or a batched ``SetAutopilot`` hands
a vehicle to it (:class:`TrafficManagers` routes those calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import carla
import numpy as np

from .autopilot import AutopilotPlanner

if TYPE_CHECKING:
    from ..sim.kernel import Simulation


class TrafficManager:
    """Autopilot for the vehicles handed to it with ``vehicle.set_autopilot(True, port)``."""

    def __init__(self, planner: AutopilotPlanner) -> None:
        self._planner = planner

    def get_port(self) -> int:
        return self._planner.port

    def set_synchronous_mode(self, mode: bool = True) -> None:
        self._planner.synchronous = bool(mode)

    def set_hybrid_physics_mode(self, enabled: bool = True) -> None:
        self._planner.hybrid = bool(enabled)

    def set_hybrid_physics_radius(self, radius: float = 50.0) -> None:
        """Accepted for compatibility; every vehicle is simulated in full."""

    def set_random_device_seed(self, seed: int) -> None:
        self._planner.rng = np.random.default_rng(int(seed))

    def set_global_distance_to_leading_vehicle(self, distance: float) -> None:
        self._planner.distance = float(distance)

    def global_percentage_speed_difference(self, percentage: float) -> None:
        self._planner.speed_difference = float(percentage)
        self._planner.replan_speeds()

    def vehicle_percentage_speed_difference(self, actor: Any, percentage: float) -> None:
        state = self._planner.state(actor)
        state.speed_difference, state.cruise = float(percentage), None

    def distance_to_leading_vehicle(self, actor: Any, distance: float) -> None:
        self._planner.state(actor).distance = float(distance)

    def auto_lane_change(self, actor: Any, enable: bool) -> None:
        self._planner.state(actor).auto_lane_change = bool(enable)

    def ignore_lights_percentage(self, actor: Any, percentage: float) -> None:
        self._planner.state(actor).ignore_lights = float(percentage)

    def set_desired_speed(self, actor: Any, speed: float) -> None:
        """Cruise at ``speed`` km/h, whatever the speed limit."""
        state = self._planner.state(actor)
        state.desired_speed, state.cruise = float(speed), None

    def set_path(self, actor: Any, path: list[carla.Location]) -> None:
        """Follow the lanes through these locations, in order, choosing branches towards them."""
        state = self._planner.state(actor)
        state.path = list(path)
        state.route = []


class TrafficManagers:
    """The traffic managers of one world by port: what ``vehicle.set_autopilot`` talks to."""

    def __init__(self, sim: "Simulation") -> None:
        self.sim = sim
        self._planners: dict[int, AutopilotPlanner] = {}
        self._managers: dict[int, TrafficManager] = {}

    def get(self, port: int) -> TrafficManager:
        """The traffic manager on ``port``, created on first use."""
        self._planner(port)
        return self._managers[port]

    def _planner(self, port: int) -> AutopilotPlanner:
        if port not in self._planners:
            self._planners[port] = AutopilotPlanner(self.sim, port)
            self._managers[port] = TrafficManager(self._planners[port])
        return self._planners[port]

    def set_autopilot(self, vehicle: Any, enabled: bool, port: int) -> None:
        """Hand ``vehicle`` to the traffic manager on ``port`` (or take it back)."""
        if vehicle.autopilot_port is not None:
            self._planners[vehicle.autopilot_port].unregister(vehicle)
            vehicle.autopilot_port = None
        if enabled:
            self._planner(port).register(vehicle)
            vehicle.autopilot_port = port
