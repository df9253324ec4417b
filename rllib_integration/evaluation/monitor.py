"""``RouteMonitor``: scores one hero on one route as the Leaderboard does, tick by tick.

After every world tick :meth:`RouteMonitor.update` reads the route completion, runs the criteria
(:mod:`.criteria`), adds the route metres completed outside the lanes, and ends the route when it is
completed (past 99 % and within 10 m of its end), when the hero is more than 30 m from the route,
has stood still (< 0.1 m/s) for 180 s, or the time limit has passed (Leaderboard 1.0: 0.8 s per metre + 5 s;
2.0: 300 s, and as much more per metre completed as the metre takes at 10 % of the speed limit). With
the route's Leaderboard 2.0 scenarios (:class:`~..scenarios.RouteScenarios`) it runs them too: their
timeouts are ``scenario_timeouts`` events; with ``leaderboard_2`` the Leaderboard 2.0's minimum-speed criterion
and time limit apply.
:meth:`RouteMonitor.record` gives the route's scores: RC, infraction penalty and DS = RC x penalty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import carla

from ..routes.progress import RouteProgress
from ..scenarios import TIMEOUT_EVENT, YIELD_EVENT, RouteScenarios
from .criteria import CollisionCriterion, LaneCriterion, MinSpeedCriterion, RedLightCriterion, StopSignCriterion
from .infractions import (BLOCKED, BLOCKED_SPEED, BLOCKED_TIME, COMPLETION_DISTANCE, COMPLETION_SHARE,
                          DEVIATION_LIMIT, END_STATUS, OUTSIDE_LANES, ROUTE_DEVIATION, SCENARIO_TIMEOUT,
                          ROUTE_TIMEOUT_2, STATUS_COMPLETED, STATUS_FAILED, TIMEOUT, TIMEOUT_SPEED_SHARE, YIELD_EMERGENCY,
                          Infraction, penalty, time_limit)

#: A scenario's event -> the infraction kind and message the Leaderboard records for it.
SCENARIO_EVENTS = {TIMEOUT_EVENT: (SCENARIO_TIMEOUT, "Agent timed out a scenario"),
                   YIELD_EVENT: (YIELD_EMERGENCY, "Agent failed to yield to an emergency vehicle")}


@dataclass
class RouteScore:
    """What a route scored: completion (0-100), penalty, driving score, events and how it ended."""

    route_completion: float
    infraction_penalty: float
    driving_score: float
    status: str
    infractions: list[Infraction]
    outside_percentage: float
    route_length: float
    duration_game: float
    meta: dict[str, Any] = field(default_factory=dict)


class RouteMonitor:
    """The Leaderboard's criteria for ``hero`` along ``progress`` (its route progress, kept up to date
    by its owner: ``CarlaCore.tick``), from the moment it is created."""

    def __init__(self, world: Any, town_map: carla.Map, hero: Any, progress: RouteProgress,
                 scenarios: RouteScenarios | None = None, leaderboard_2: bool = False, background: Any = None) -> None:
        """``leaderboard_2``: the Leaderboard 2.0's minimum-speed criterion and time limit; ``background``: the
        route's background activity (its vehicles are the traffic the minimum-speed criterion compares with)."""
        self.hero = hero
        self.scenarios = scenarios
        self.min_speed = MinSpeedCriterion(world, hero, progress.length, background) if leaderboard_2 else None
        self.leaderboard_2 = leaderboard_2
        self.progress = progress
        self._completed = progress.completed
        self.collisions = CollisionCriterion(world, hero)
        self.red_lights = RedLightCriterion(world, town_map)
        self.stop_signs = StopSignCriterion(world, town_map)
        self.lanes = LaneCriterion(town_map)
        self.extent_x = hero.bounding_box.extent.x
        self.time_limit = ROUTE_TIMEOUT_2 if leaderboard_2 else time_limit(self.progress.length)
        self.infractions: list[Infraction] = []
        self.outside_metres = 0.0
        self.outside_now = False
        self.still_time = 0.0
        self._speed: float | None = None  # at the last update: the speed a collision of this tick found
        self.elapsed = 0.0
        self.completed = False
        self.ended_by: str | None = None  # the ending kind, or None while running or when completed
        self._finished = False

    @property
    def done(self) -> bool:
        return self.completed or self.ended_by is not None

    @property
    def route_completion(self) -> float:
        return 100.0 if self.completed else 100.0 * self.progress.fraction

    @property
    def outside_percentage(self) -> float:
        return 100.0 * self.outside_metres / self.progress.length if self.progress.length else 0.0

    def update(self, dt: float) -> list[Infraction]:
        """Check the hero after a tick of ``dt`` simulated seconds; the new infractions."""
        self.elapsed += dt
        now = self.elapsed
        transform = self.hero.get_transform()
        location = transform.location
        velocity = self.hero.get_velocity()
        speed = math.sqrt(velocity.x ** 2 + velocity.y ** 2 + velocity.z ** 2)
        gained, self._completed = self.progress.completed - self._completed, self.progress.completed
        if self.leaderboard_2 and gained > 0.0:  # 2.0's RouteTimeoutBehavior: time for each metre gained
            self.time_limit += gained / (self.hero.get_speed_limit() / 3.6 * TIMEOUT_SPEED_SHARE)
        self.outside_now = self.lanes.outside(
            transform, wrong_way_counts=self.scenarios is None or not self.scenarios.wrong_way_allowed)
        if self.outside_now and not (self.scenarios is not None and self.scenarios.outside_lanes_allowed):
            self.outside_metres += gained
        found = self.collisions.update(now, location, speed if self._speed is None else self._speed)
        self._speed = speed
        found += self.red_lights.update(now, transform, self.extent_x)
        found += self.stop_signs.update(now, location, speed)
        self.still_time = self.still_time + dt if speed < BLOCKED_SPEED else 0.0
        if self.progress.fraction > COMPLETION_SHARE and \
                self.progress.remaining_to_end(location) < COMPLETION_DISTANCE:
            self.completed = True
        elif self.progress.distance_to_route(location) > DEVIATION_LIMIT:
            found.append(self._end(ROUTE_DEVIATION, now, location, "Agent deviated from the route at "))
        elif self.still_time >= BLOCKED_TIME:
            found.append(self._end(BLOCKED, now, location, "Agent got blocked at "))
        elif now >= self.time_limit:
            found.append(self._end(TIMEOUT, now, location, "Route timeout at "))
        if self.min_speed is not None:
            found += self.min_speed.update(now, self.progress.completed, speed, location)
        if self.scenarios is not None:
            for scenario, event in self.scenarios.update(now, [i.kind for i in found]):
                kind, message = SCENARIO_EVENTS[event]
                found.append(Infraction(kind, now, (location.x, location.y, location.z), message,
                                        {"scenario": scenario.spec.name}))
        if self.done:
            found += self._finish(now, location)
        self.infractions += found
        return found

    def _finish(self, now: float, location: carla.Location) -> list[Infraction]:
        """The route ended: the last minimum-speed stretch, and every scenario settled."""
        if self._finished:
            return []
        self._finished = True
        if self.scenarios is not None:
            self.scenarios.finish(self.completed)
        if self.min_speed is None:
            return []
        return self.min_speed.finish(now, 1.0 if self.completed else self.progress.fraction, location)

    def _end(self, kind: str, now: float, location: carla.Location, message: str) -> Infraction:
        self.ended_by = kind
        return Infraction(kind, now, (location.x, location.y, location.z),
                          f"{message}(x={location.x:.3f}, y={location.y:.3f}, z={location.z:.3f})")

    def record(self) -> RouteScore:
        """The route's scores so far (final once :attr:`done`)."""
        events = list(self.infractions)
        outside = self.outside_percentage
        if outside > 0.0:
            events.append(Infraction(OUTSIDE_LANES, self.elapsed, (0.0, 0.0, 0.0),
                                     f"Agent went outside its route lanes for about {self.outside_metres:.3f} "
                                     f"meters ({outside:.2f}% of the completed route)",
                                     {"percentage": round(outside, 3)}))
        factor = penalty(self.infractions, outside)
        completion = self.route_completion
        status = STATUS_COMPLETED if self.completed else END_STATUS.get(self.ended_by, STATUS_FAILED)
        meta = {"scenarios": self.scenarios.results()} if self.scenarios is not None and self.scenarios.specs else {}
        return RouteScore(completion, factor, max(0.0, completion * factor), status, events, outside,
                          self.progress.length, self.elapsed, meta)

    def destroy(self) -> None:
        self.collisions.destroy()
        if self.scenarios is not None:
            self.scenarios.finish()  # (again is harmless) a route that raised leaves no scenario actors
