"""Route following as a task experiments share: a route per episode, progress along it, and the
evaluator's infractions as episode ends, so that training rewards what the evaluator scores.

:class:`RouteFollowing` is held by an experiment (``ppo_example``'s ``RouteExperiment``, the DQN example's
``reward: route``):

- :meth:`~RouteFollowing.plan` draws a route of ``route_length`` metres on the loaded town with the
  evaluator's planner (for ``BaseExperiment.plan_route``; the evaluator hands its own routes instead);
- :meth:`~RouteFollowing.start` starts a :class:`~rllib_integration.evaluation.monitor.RouteMonitor` on
  the episode's route (at ``reset``);
- :meth:`~RouteFollowing.step` (once per env step, after the tick) gives a :class:`RouteStep`: the route
  metres completed this step, the distance from the route, CaRL-style soft factors (speeding above the
  target speed or the lane's limit: down to 0 at ``zero_reward_speed`` times it and on to -1, so that a metre
  driven too fast costs; distance from the route) and why the episode ends, if it does: a hard
  infraction (``hard_kinds``, as the evaluator counts them), leaving the lanes, more than ``max_offset``
  metres from the route, driving faster than ``overspeed_end`` times the speed limit, standing still
  ``max_idle_s`` seconds, the route completed, or the evaluator's time limit (a truncation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..evaluation.infractions import SHORT_NAMES, Infraction
from ..evaluation.monitor import RouteMonitor
from ..routes.planner import shared_planner
from ..routes.progress import Route
from ..routes.route_sets import draw_route

#: Infractions that end an episode by default (as the evaluator names them).
HARD_KINDS = ("collisions_pedestrian", "collisions_vehicle", "collisions_layout", "red_light", "stop_infraction")
#: End reasons that are not failures.
SUCCESS_ENDS = ("completed", "max_time")
#: Every end reason :meth:`RouteFollowing.step` gives with the default hard infractions.
END_REASONS = SUCCESS_ENDS + ("idle", "off_route", "outside_lanes", "overspeed") + tuple(SHORT_NAMES[k] for k in HARD_KINDS)
IDLE_SPEED = 0.1  # m/s: slower counts as standing still


@dataclass
class RouteStep:
    """One env step of route following."""

    gained: float  # route metres completed this step
    offset: float  # metres from the route
    speed: float  # m/s
    speed_factor: float  # 1 up to the speed limit, 0 at ``zero_reward_speed`` times it, down to -1 beyond
    offset_factor: float  # 1 on the route, down to 0.5 at ``max_offset``
    route_completion: float  # 0-100
    infractions: list[Infraction] = field(default_factory=list)
    end_reason: str | None = None  # None while the episode goes on

    @property
    def failed(self) -> bool:
        """The episode ends in a failure (a hard infraction, leaving the lanes or the route, idling)."""
        return self.end_reason is not None and self.end_reason not in SUCCESS_ENDS

    @property
    def truncated(self) -> bool:
        """The episode ends at the evaluator's time limit."""
        return self.end_reason == "max_time"


class RouteFollowing:
    """Routes, progress and ends of a route-following experiment (see the module docstring)."""

    def __init__(self, where: str, route_length: Any = (150.0, 400.0), target_speed_kmh: float = 30.0,
                 max_offset: float = 4.0, max_idle_s: float = 10.0, zero_reward_speed: float = 2.0,
                 hard_kinds: Any = HARD_KINDS, overspeed_end: float = math.inf) -> None:
        """``where`` is the configuration path of these settings, for error messages."""
        try:
            low, high = (float(v) for v in route_length)
        except (TypeError, ValueError):
            low, high = 0.0, -1.0
        if not 20.0 <= low <= high:
            raise ConfigError(f"{where}.route_length: expected [shortest, longest] metres with 20 <= shortest "
                              f"<= longest, got {route_length!r}.")
        for key, value in (("target_speed_kmh", target_speed_kmh), ("max_route_offset", max_offset),
                           ("max_idle_s", max_idle_s)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ConfigError(f"{where}.{key}: expected a positive number, got {value!r}.")
        if not isinstance(overspeed_end, (int, float)) or isinstance(overspeed_end, bool) or not overspeed_end > 1.0:
            raise ConfigError(f"{where}.overspeed_end: expected a number above 1 (a multiple of the speed limit), "
                              f"got {overspeed_end!r}.")
        if not isinstance(zero_reward_speed, (int, float)) or not zero_reward_speed > 1.0:
            raise ConfigError(f"{where}.zero_reward_speed: expected a number above 1 (a multiple of the speed "
                              f"limit), got {zero_reward_speed!r}.")
        unknown = [kind for kind in hard_kinds if kind not in SHORT_NAMES]
        if unknown:
            raise ConfigError(f"{where}.hard_infractions: unknown infraction kinds {unknown}. Fix: use some of "
                              f"{', '.join(HARD_KINDS)}.")
        self.route_length = (low, high)
        self.target_speed = float(target_speed_kmh) / 3.6
        self.max_offset = float(max_offset)
        self.max_idle = float(max_idle_s)
        self.zero_reward_speed = float(zero_reward_speed)
        self.overspeed_end = float(overspeed_end)
        self.hard_kinds = tuple(hard_kinds)
        self.monitor: RouteMonitor | None = None
        self.idle_time = 0.0
        self.last_completed = 0.0

    def plan(self, core: Any, rng: np.random.Generator) -> Route:
        """A route of ``route_length`` metres on the loaded town, drawn with ``rng``."""
        return draw_route(shared_planner(core.map), core.map.name, int(rng.integers(2 ** 31)), *self.route_length)

    def start(self, core: Any) -> None:
        """Follow the episode's route from now (no monitor when the episode has no route)."""
        self.stop()
        self.idle_time = 0.0
        self.last_completed = 0.0
        if core is not None and core.route_progress is not None:
            self.monitor = RouteMonitor(core.world, core.map, core.hero, core.route_progress)
            self.last_completed = core.route_progress.completed

    def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.destroy()
            self.monitor = None

    def step(self, core: Any) -> RouteStep:
        """This env step's progress, factors and end (call once per step, after the tick)."""
        hero = core.hero
        speed = hero.get_velocity().length()
        progress = core.route_progress
        if self.monitor is None or progress is None:
            return RouteStep(0.0, 0.0, speed, 1.0, 1.0, 0.0)
        timestep = float(core.config["timestep"])
        found = self.monitor.update(timestep)
        gained, self.last_completed = progress.completed - self.last_completed, progress.completed
        self.idle_time = self.idle_time + timestep if speed < IDLE_SPEED else 0.0
        offset = progress.distance_to_route(hero.get_location())
        lane_limit = hero.get_speed_limit() / 3.6
        limit = min(self.target_speed, lane_limit) if lane_limit > 0 else self.target_speed
        # metres driven too fast cost: the factor goes on down past 0, to -1 (a metre costs a metre's reward)
        speed_factor = max(-1.0, min(1.0, (self.zero_reward_speed - speed / limit) / (self.zero_reward_speed - 1.0)))
        offset_factor = 1.0 - 0.5 * min(offset / self.max_offset, 1.0)
        hard = [infraction.kind for infraction in found if infraction.kind in self.hard_kinds]
        end = None
        if hard:
            end = SHORT_NAMES[hard[0]]
        elif self.monitor.outside_now:
            end = "outside_lanes"
        elif offset > self.max_offset:
            end = "off_route"
        elif speed > self.overspeed_end * limit:
            end = "overspeed"
        elif self.idle_time >= self.max_idle:
            end = "idle"
        elif self.monitor.completed:
            end = "completed"
        elif self.monitor.done:  # the evaluator's time limit (its other ends are caught above)
            end = "max_time"
        return RouteStep(gained, offset, speed, speed_factor, offset_factor, self.monitor.route_completion, found, end)
