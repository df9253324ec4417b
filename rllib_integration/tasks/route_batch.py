"""Route following for every hero of a world at once: :class:`~.route_following.RouteFollowing`'s step, and the
evaluator's checks it ends episodes with (:class:`~..evaluation.monitor.RouteMonitor` without scenarios), as arrays
over the heroes (for a :class:`~..batch_experiment.BatchExperiment`).

What is common is computed for all acting heroes together from their kinematics (:mod:`..hero_batch`): the lane
check (:meth:`~..evaluation.criteria.LaneCriterion.outside_many`), the red lights run
(:meth:`~..evaluation.criteria.RedLightCriterion.update_many`), progress, speeds, idling, the soft factors and the
end reasons. What is rare runs hero by hero through the evaluator's own criteria: a collision criterion is updated
only while it has an event or remembers a hit (:attr:`~..evaluation.criteria.CollisionCriterion.idle`), stop signs
only in towns that have them. :class:`RouteSteps` holds what :class:`~.route_following.RouteStep` holds, one array
a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import carla
import numpy as np

from ..evaluation.criteria import CollisionCriterion, LaneCriterion, RedLightCriterion, StopSignCriterion
from ..evaluation.infractions import (BLOCKED, BLOCKED_SPEED, BLOCKED_TIME, COMPLETION_DISTANCE, COMPLETION_SHARE,
                                      DEVIATION_LIMIT, ROUTE_DEVIATION, SHORT_NAMES, TIMEOUT, Infraction, time_limit)
from ..hero_batch import SPEED_LIMIT, VX, VZ, X, YAW, Z, speeds
from ..routes.progress_batch import ProgressBatch
from .route_following import IDLE_SPEED, RouteFollowing

#: Why a route ends, in the evaluator's words (the monitor's messages).
END_MESSAGES = {ROUTE_DEVIATION: "Agent deviated from the route at ", BLOCKED: "Agent got blocked at ",
                TIMEOUT: "Route timeout at "}
#: The end reasons :meth:`RouteFollowingBatch._end_reasons` gives, in the order ``RouteFollowing.step`` checks them.
REASONS_IN_ORDER = np.array(["outside_lanes", "off_route", "overspeed", "idle", "completed", "max_time"], dtype=object)


@dataclass
class RouteSteps:
    """One env step of route following for the acting heroes (rows in their order); see ``RouteStep``."""

    gained: np.ndarray  # route metres completed this step
    offset: np.ndarray  # metres from the route
    speed: np.ndarray  # m/s
    speed_factor: np.ndarray
    offset_factor: np.ndarray
    route_completion: np.ndarray  # 0-100
    infractions: list[list[Infraction]]
    end_reasons: np.ndarray  # object: None while the episode goes on

    @property
    def ended(self) -> np.ndarray:
        return self.end_reasons != None  # noqa: E711 (elementwise over the object array)

    @property
    def failed(self) -> np.ndarray:
        return self.ended & (self.end_reasons != "completed") & (self.end_reasons != "max_time")

    @property
    def truncated(self) -> np.ndarray:
        return self.end_reasons == "max_time"


class RouteFollowingBatch:
    """:class:`~.route_following.RouteFollowing` (its settings: ``task``) for the heroes ``agents`` of one world
    (see the module docstring)."""

    def __init__(self, task: RouteFollowing, agents: Sequence[Any]) -> None:
        self.task, self.agents = task, list(agents)
        count = len(self.agents)
        self.timestep = float(self.agents[0].config["timestep"])
        self.world: Any = None  # the world the checks below are of (a new town is a new world)
        self.collisions: list[CollisionCriterion | None] = [None] * count
        self.stop_signs: list[StopSignCriterion | None] = [None] * count
        self.active = np.zeros(count, dtype=bool)  # on a route, watched
        self.elapsed = np.zeros(count)
        self.completed_metres = np.zeros(count)  # the route metres completed at the last update
        self.outside_metres = np.zeros(count)
        self.still_time = np.zeros(count)
        self.last_speed = np.full(count, np.nan)  # at the last update (the speed a collision of this tick found)
        self.completed = np.zeros(count, dtype=bool)
        self.ended = np.zeros(count, dtype=bool)  # by deviation, blocking or time-out
        self.time_limits = np.zeros(count)
        self.idle_time = np.zeros(count)
        self.extents_x = np.zeros(count)
        self.route_ends = np.zeros((count, 2))
        self.lengths = np.ones(count)
        self.progress = ProgressBatch()  # the acting heroes' routes, measured at once

    def start(self, index: int) -> None:
        """Hero ``index`` starts on its route (its agent's ``route_progress``): its checks start from now."""
        self.stop(index)
        agent = self.agents[index]
        if agent.world is not self.world:  # the first episode, or a new town: the world's checks anew
            self.world, self.map = agent.world, agent.map
            self.lanes = LaneCriterion(self.map)
            self.red_lights = RedLightCriterion(self.world, self.map, heroes=len(self.agents))
            self.with_stop_signs = len(self.world.get_actors().filter("traffic.stop")) > 0
        progress = agent.route_progress
        if progress is None:
            return
        self.collisions[index] = CollisionCriterion(self.world, agent.hero)
        if self.with_stop_signs:
            self.stop_signs[index] = StopSignCriterion(self.world, self.map)
        self.red_lights.restart(index)
        self.active[index] = True
        self.elapsed[index] = self.outside_metres[index] = self.still_time[index] = self.idle_time[index] = 0.0
        self.completed_metres[index] = progress.completed
        self.last_speed[index] = np.nan
        self.completed[index] = self.ended[index] = False
        self.time_limits[index] = time_limit(progress.length)
        self.extents_x[index] = agent.hero.bounding_box.extent.x
        self.route_ends[index] = progress.points[-1, :2]
        self.lengths[index] = progress.length

    def stop(self, index: int) -> None:
        """Hero ``index`` leaves its route (its collision sensor is destroyed)."""
        if self.collisions[index] is not None:
            self.collisions[index].destroy()
        self.collisions[index] = self.stop_signs[index] = None
        self.active[index] = False

    def step(self, indices: np.ndarray, rows: np.ndarray) -> RouteSteps:
        """This env step of heroes ``indices`` (after the tick) from their kinematics ``rows`` (same order)."""
        count, dt, task = len(indices), self.timestep, self.task
        speed = speeds(rows)  # as carla.Vector3D.length(): the task's speed
        velocity = rows[:, VX:VZ + 1]
        monitor_speed = np.sqrt(velocity[:, 0] ** 2 + velocity[:, 1] ** 2 + velocity[:, 2] ** 2)  # the monitor's
        active = self.active[indices]
        found: list[list[Infraction]] = [[] for _ in range(count)]
        gained, offset = np.zeros(count), np.zeros(count)
        completion, fraction = np.zeros(count), np.zeros(count)
        outside = np.zeros(count, dtype=bool)
        live = active.nonzero()[0]
        heroes = indices[live]
        if len(live):
            xyz = rows[live, X:Z + 1]
            self.elapsed[heroes] += dt
            now = self.elapsed[heroes]
            progress = [self.agents[k].route_progress for k in heroes]
            completed_now = self.progress.completed(progress)
            gained[live] = completed_now - self.completed_metres[heroes]
            self.completed_metres[heroes] = completed_now
            outside[live] = self.lanes.outside_many(xyz, rows[live, YAW], np.ones(len(live), dtype=bool))
            self.outside_metres[heroes] += np.where(outside[live], gained[live], 0.0)
            collision_speed = np.where(np.isnan(self.last_speed[heroes]), monitor_speed[live], self.last_speed[heroes])
            self.last_speed[heroes] = monitor_speed[live]
            for j, k in enumerate(heroes):
                criterion = self.collisions[k]
                if not criterion.idle:
                    found[live[j]] += criterion.update(float(now[j]), carla.Location(*map(float, xyz[j])),
                                                       float(collision_speed[j]))
            lights = self.red_lights.update_many(now, xyz, rows[live, YAW], self.extents_x[heroes], heroes)
            for j in [j for j, events in enumerate(lights) if events]:
                found[live[j]] += lights[j]
            if self.with_stop_signs:
                for j, k in enumerate(heroes):
                    found[live[j]] += self.stop_signs[k].update(float(now[j]), carla.Location(*map(float, xyz[j])),
                                                                float(monitor_speed[live[j]]))
            self.still_time[heroes] = np.where(monitor_speed[live] < BLOCKED_SPEED, self.still_time[heroes] + dt, 0.0)
            fraction[live] = completed_now / self.lengths[heroes]
            remaining = np.hypot(xyz[:, 0] - self.route_ends[heroes, 0], xyz[:, 1] - self.route_ends[heroes, 1])
            offset[live] = self.progress.distances(progress, xyz)
            self._end_routes(live, heroes, now, xyz, fraction[live], remaining, offset[live], found)
            completion[live] = np.where(self.completed[heroes], 100.0, 100.0 * fraction[live])
        self.idle_time[heroes] = np.where(speed[live] < IDLE_SPEED, self.idle_time[heroes] + dt, 0.0)
        lane_limit = rows[:, SPEED_LIMIT] / 3.6
        limit = np.where(lane_limit > 0, np.minimum(task.target_speed, lane_limit), task.target_speed)
        speed_factor = np.clip((task.zero_reward_speed - speed / limit) / (task.zero_reward_speed - 1.0), -1.0, 1.0)
        offset_factor = 1.0 - 0.5 * np.minimum(offset / task.max_offset, 1.0)
        speed_factor[~active], offset_factor[~active] = 1.0, 1.0
        reasons = np.full(count, None, dtype=object)
        if len(live):
            reasons[live] = self._end_reasons(heroes, outside[live], offset[live], speed[live], limit[live])
            for j in live[[bool(found[j]) for j in live]]:  # rare: infractions, of which the first hard one ends it
                hard = [infraction.kind for infraction in found[j] if infraction.kind in task.hard_kinds]
                if hard:
                    reasons[j] = SHORT_NAMES[hard[0]]
        return RouteSteps(gained, offset, speed, speed_factor, offset_factor, completion, found, reasons)

    def _end_routes(self, live: np.ndarray, heroes: np.ndarray, now: np.ndarray, xyz: np.ndarray, fraction: np.ndarray,
                    remaining: np.ndarray, distance: np.ndarray, found: list[list[Infraction]]) -> None:
        """The monitor's route ends: completed, or (with its event) deviated, blocked or out of time."""
        completed = (fraction > COMPLETION_SHARE) & (remaining < COMPLETION_DISTANCE)
        deviated = ~completed & (distance > DEVIATION_LIMIT)
        blocked = ~completed & ~deviated & (self.still_time[heroes] >= BLOCKED_TIME)
        late = ~completed & ~deviated & ~blocked & (now >= self.time_limits[heroes])
        self.completed[heroes] |= completed
        for kind, mask in ((ROUTE_DEVIATION, deviated), (BLOCKED, blocked), (TIMEOUT, late)):
            for j in mask.nonzero()[0]:
                self.ended[heroes[j]] = True
                x, y, z = (float(v) for v in xyz[j])
                found[live[j]].append(Infraction(kind, float(now[j]), (x, y, z), f"{END_MESSAGES[kind]}(x={x:.3f}, "
                                                 f"y={y:.3f}, z={z:.3f})"))

    def _end_reasons(self, heroes: np.ndarray, outside: np.ndarray, offset: np.ndarray, speed: np.ndarray,
                     limit: np.ndarray) -> np.ndarray:
        """Why each of ``heroes``' episodes ends this step, short of a hard infraction (object array, None where it
        goes on), in ``RouteFollowing.step``'s order: leaving the lanes, the route, the speed limit, idling, then the
        route's end (completed, or out of time)."""
        task = self.task
        holds = np.array([outside, offset > task.max_offset, speed > task.overspeed_end * limit,
                          self.idle_time[heroes] >= task.max_idle, self.completed[heroes], self.ended[heroes]])
        reasons = REASONS_IN_ORDER[holds.argmax(axis=0)]  # each hero's first condition that holds
        reasons[~holds.any(axis=0)] = None
        return reasons

    def close(self) -> None:
        for index in range(len(self.agents)):
            self.stop(index)

