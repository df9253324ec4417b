"""``carla.TrafficManager`` of the embedded world: a facade over an :class:`~.autopilot.AutopilotPlanner`.

``client.get_trafficmanager(port)`` returns the traffic manager on ``port`` of the current world
(created on first use); ``vehicle.set_autopilot(True, port)`` or a batched ``SetAutopilot`` hands
a vehicle to it (:class:`TrafficManagers` routes those calls). Every method of CARLA 0.9.16's
``TrafficManager`` exists with CARLA's arguments and units (percentages 0-100, metres, km/h).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import carla

from ..sim.clock import serialised
from .autopilot import AutopilotPlanner

if TYPE_CHECKING:
    from ..sim.kernel import Simulation


@serialised
class TrafficManager:
    """Autopilot for the vehicles handed to it with ``vehicle.set_autopilot(True, port)``."""

    def __init__(self, planner: AutopilotPlanner, managers: "TrafficManagers") -> None:
        self._planner = planner
        self._managers = managers

    @property
    def simulation_lock(self) -> Any:
        return self._planner.sim.lock

    def _state(self, actor: Any):
        return self._planner.state(actor)

    # -- the manager ---------------------------------------------------------------------------
    def get_port(self) -> int:
        return self._planner.port

    def set_synchronous_mode(self, mode: bool = True) -> None:
        self._planner.synchronous = bool(mode)

    def set_random_device_seed(self, value: int) -> None:
        self._planner.seed(value)

    def set_osm_mode(self, mode_switch: bool = True) -> None:
        """OSM mode (on by default, as CARLA's): a vehicle stopped at a dead end is destroyed."""
        self._planner.osm_mode = bool(mode_switch)

    def shut_down(self) -> None:
        """Release every vehicle (they keep their last control) and stop; ``get_trafficmanager``
        on this port starts a new manager."""
        self._managers.shut_down(self._planner.port)

    # -- hybrid physics and dormant vehicles ---------------------------------------------------
    def set_hybrid_physics_mode(self, enabled: bool = True) -> None:
        self._planner.hybrid.enabled = bool(enabled)

    def set_hybrid_physics_radius(self, r: float = 50.0) -> None:
        self._planner.hybrid.radius = float(r)

    def set_respawn_dormant_vehicles(self, mode_switch: bool = True) -> None:
        self._planner.hybrid.respawn = bool(mode_switch)

    def set_boundaries_respawn_dormant_vehicles(self, lower_bound: float = 25.0, upper_bound: float = 100.0) -> None:
        self._planner.hybrid.bounds = (float(lower_bound), float(upper_bound))

    # -- speed and distance --------------------------------------------------------------------
    def global_percentage_speed_difference(self, percentage: float) -> None:
        """Drive ``percentage`` % below the speed limit (negative: above)."""
        self._planner.speed_difference = float(percentage)
        self._planner.replan_speeds()

    def vehicle_percentage_speed_difference(self, actor: Any, percentage: float) -> None:
        """Drive ``percentage`` % below the speed limit (at most 100); replaces a desired speed, as CARLA's does."""
        state = self._state(actor)
        state.speed_difference, state.desired_speed, state.cruise = min(float(percentage), 100.0), None, None

    def set_desired_speed(self, actor: Any, speed: float) -> None:
        """Cruise at ``speed`` km/h (at least 0), whatever the speed limit; replaces a speed difference, as CARLA's
        does."""
        state = self._state(actor)
        state.desired_speed, state.speed_difference, state.cruise = max(float(speed), 0.0), None, None

    def set_global_distance_to_leading_vehicle(self, distance: float) -> None:
        self._planner.distance = float(distance)

    def distance_to_leading_vehicle(self, actor: Any, distance: float) -> None:
        self._state(actor).distance = float(distance)

    # -- lanes -----------------------------------------------------------------------------------
    def auto_lane_change(self, actor: Any, enable: bool) -> None:
        self._state(actor).auto_lane_change = bool(enable)

    def force_lane_change(self, actor: Any, direction: bool) -> None:
        """Change lane now, whatever the traffic: to the right lane if ``direction`` is True, the left if False."""
        self._state(actor).forced_change = bool(direction)

    def random_left_lanechange_percentage(self, actor: Any, percentage: float) -> None:
        self._state(actor).random_left = float(percentage)

    def random_right_lanechange_percentage(self, actor: Any, percentage: float) -> None:
        self._state(actor).random_right = float(percentage)

    def keep_right_rule_percentage(self, actor: Any, perc: float) -> None:
        self._state(actor).keep_right = float(perc)

    def vehicle_lane_offset(self, actor: Any, offset: float) -> None:
        """Drive ``offset`` metres right (negative: left) of the lane centre."""
        self._state(actor).lane_offset = float(offset)

    def global_lane_offset(self, offset: float) -> None:
        self._planner.lane_offset = float(offset)

    # -- rules and other road users ------------------------------------------------------------
    def ignore_lights_percentage(self, actor: Any, perc: float) -> None:
        state = self._state(actor)
        state.ignore_lights = float(perc)
        state.ignoring.clear()

    def ignore_signs_percentage(self, actor: Any, perc: float) -> None:
        state = self._state(actor)
        state.ignore_signs = float(perc)
        state.ignoring.clear()

    def ignore_vehicles_percentage(self, actor: Any, perc: float) -> None:
        self._state(actor).ignore_vehicles = float(perc)

    def ignore_walkers_percentage(self, actor: Any, perc: float) -> None:
        self._state(actor).ignore_walkers = float(perc)

    def collision_detection(self, reference_actor: Any, other_actor: Any, detect_collision: bool) -> None:
        """Whether ``reference_actor`` keeps its distance to ``other_actor`` (False: drives as if it
        were not there)."""
        ignored = self._state(reference_actor).ignored_actors
        if detect_collision:
            ignored.discard(other_actor.id)
        else:
            ignored.add(other_actor.id)

    def update_vehicle_lights(self, actor: Any, do_update: bool) -> None:
        """Let the manager switch the vehicle's lights (weather, braking, turns)."""
        self._state(actor).update_lights = bool(do_update)

    # -- routes ------------------------------------------------------------------------------------
    def set_path(self, actor: Any, path: list[carla.Location]) -> None:
        """Follow the lanes through these locations, in order, choosing branches towards them."""
        state = self._state(actor)
        state.route.path = list(path)
        state.route.clear()

    def set_route(self, actor: Any, path: list[str]) -> None:
        """Take these turns at the next forks, in order: ``Left``, ``Right``, ``Straight``."""
        unknown = [option for option in path if option not in ("Left", "Right", "Straight")]
        if unknown:
            raise ValueError(f"set_route: unknown instructions {unknown}; use 'Left', 'Right' or 'Straight'")
        state = self._state(actor)
        state.route.options = list(path)
        state.route.clear()

    def get_next_action(self, actor: Any) -> list:
        """``[road option, waypoint]`` of what the vehicle does next."""
        actions = self.get_all_actions(actor)
        return list(actions[0]) if actions else ["Void", None]

    def get_all_actions(self, actor: Any) -> list[list]:
        """``[road option, waypoint]`` along the vehicle's planned route."""
        state = self._state(actor)
        return [list(action) for action in self._planner.actions(state)]


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
            self._managers[port] = TrafficManager(self._planners[port], self)
        return self._planners[port]

    def shut_down(self, port: int) -> None:
        planner = self._planners.pop(port, None)
        self._managers.pop(port, None)
        if planner is not None:
            planner.shut_down()

    def set_autopilot(self, vehicle: Any, enabled: bool, port: int) -> None:
        """Hand ``vehicle`` to the traffic manager on ``port`` (or take it back)."""
        if vehicle.autopilot_port is not None and vehicle.autopilot_port in self._planners:
            self._planners[vehicle.autopilot_port].unregister(vehicle)
        vehicle.autopilot_port = None
        if enabled:
            self._planner(port).register(vehicle)
            vehicle.autopilot_port = port
