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
from numba import njit

from ..evaluation.criteria import CollisionCriterion, LaneCriterion, RedLightCriterion, StopSignCriterion
from ..evaluation.infractions import (BLOCKED, BLOCKED_SPEED, BLOCKED_TIME, COMPLETION_DISTANCE, COMPLETION_SHARE,
                                      DEVIATION_LIMIT, ROUTE_DEVIATION, SHORT_NAMES, TIMEOUT, Infraction, time_limit)
from ..batch_experiment import every_row
from ..hero_batch import SPEED_LIMIT, VX, VY, VZ, X, Y, YAW, Z, speeds
from ..hero_state import Roster
from ..routes.progress_batch import ProgressBatch, route_rows
from .route_following import IDLE_SPEED, RouteFollowing

#: Why a route ends, in the evaluator's words (the monitor's messages).
END_MESSAGES = {ROUTE_DEVIATION: "Agent deviated from the route at ", BLOCKED: "Agent got blocked at ",
                TIMEOUT: "Route timeout at "}
#: The end reasons a step gives, short of a hard infraction, in the order ``RouteFollowing.step`` checks them.
REASONS_IN_ORDER = np.array(["outside_lanes", "off_route", "overspeed", "idle", "completed", "max_time"], dtype=object)
#: Reason codes: :func:`_finish`'s places in ``REASONS_IN_ORDER``, and a hard infraction's past them.
COMPLETED, MAX_TIME = (int(np.flatnonzero(REASONS_IN_ORDER == name)[0]) for name in ("completed", "max_time"))
HARD = len(REASONS_IN_ORDER)
#: The monitor's route ends with an event, as :func:`_finish` numbers them (from 1).
END_KINDS = (ROUTE_DEVIATION, BLOCKED, TIMEOUT)


@dataclass
class RouteSteps:
    """One env step of route following for the acting heroes (rows in their order); see ``RouteStep``."""

    gained: np.ndarray  # route metres completed this step
    offset: np.ndarray  # metres from the route
    speed: np.ndarray  # m/s
    speed_factor: np.ndarray
    offset_factor: np.ndarray
    route_completion: np.ndarray  # 0-100
    infractions: dict[int, list[Infraction]]  # the infractions of each row that has some
    infracted: np.ndarray  # the rows with infractions (ascending)
    end_reasons: np.ndarray  # object: None while the episode goes on
    ended: np.ndarray  # whether the episode ended (an end reason)
    failed: np.ndarray  # ended, neither completed nor out of time
    truncated: np.ndarray  # ended out of time (``max_time``)


class RouteFollowingBatch:
    """:class:`~.route_following.RouteFollowing` (its settings: ``task``) for the heroes ``agents`` of one world
    (see the module docstring)."""

    def __init__(self, task: RouteFollowing, agents: Sequence[Any]) -> None:
        self.task, self.agents = task, list(agents)
        self.roster = Roster(self.agents)  # their routes, read again only once one changed (a respawn)
        count = len(self.agents)
        self.timestep = float(self.agents[0].config["timestep"])
        self.world: Any = None  # the world the checks below are of (a new town is a new world)
        self.collisions: list[CollisionCriterion | None] = [None] * count
        #: the collision criteria that are not idle (an event came, or they remember a hit): those a step updates
        self.busy: set[CollisionCriterion] = set()
        self.hero_of: dict[CollisionCriterion, int] = {}  # each collision criterion's hero
        self.stop_signs: list[StopSignCriterion | None] = [None] * count
        self.active = np.zeros(count, dtype=bool)  # on a route, watched
        self._everyone = np.ones(count, dtype=bool)  # (the lane check's wrong-way flags: it counts for every hero)
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
        self.progress: ProgressBatch | None = None  # the world's routes (route_rows), measured at once

    def start(self, index: int) -> None:
        """Hero ``index`` starts on its route (its agent's ``route_progress``): its checks start from now."""
        self.stop(index)
        agent = self.agents[index]
        if agent.world is not self.world:  # the first episode, or a new town: the world's checks anew
            self.world, self.map = agent.world, agent.map
            self.lanes = LaneCriterion(self.map)
            self.red_lights = RedLightCriterion(self.world, self.map, heroes=len(self.agents))
            self.with_stop_signs = len(self.world.get_actors().filter("traffic.stop")) > 0
            self.progress = route_rows(self.world)
        progress = agent.route_progress
        if progress is None:
            return
        self.collisions[index] = CollisionCriterion(self.world, agent.hero, self.busy)
        self.hero_of[self.collisions[index]] = index
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
            self.busy.discard(self.collisions[index])
            del self.hero_of[self.collisions[index]]
            self.collisions[index].destroy()
        self.collisions[index] = self.stop_signs[index] = None
        self.active[index] = False

    def step(self, indices: np.ndarray, rows: np.ndarray) -> RouteSteps:
        """This env step of heroes ``indices`` (after the tick) from their kinematics ``rows`` (same order)."""
        count, dt, task = len(indices), self.timestep, self.task
        speed = speeds(rows)  # as carla.Vector3D.length(): the task's speed
        gained, offset, outside = np.zeros(count), np.zeros(count), np.zeros(count, dtype=bool)
        found: dict[int, list[Infraction]] = {}  # rare: the infractions, of the rows that have some
        live = self.active[indices].nonzero()[0]
        everyone = len(live) == count  # (most steps: every acting hero is on a route, rows as they are)
        heroes = indices if everyone else indices[live]
        xyz = np.ascontiguousarray(rows[:, X:Z + 1]) if everyone else rows[live, X:Z + 1]
        yaws = rows[:, YAW] if everyone else rows[live, YAW]
        monitor_speed, now, collision_speed = np.empty(count), np.empty(len(live)), np.empty(len(live))
        agents = self.agents
        progress = self.roster.read().progresses if every_row(heroes, len(agents)) else \
            [agents[k].route_progress for k in heroes.tolist()]
        completed_now, distances = self.progress.measure(progress, xyz) if len(live) else (np.zeros(0), np.zeros(0))
        _advance(rows, live, heroes, dt, completed_now, self.elapsed, self.completed_metres, self.last_speed,
                 monitor_speed, now, gained, collision_speed)
        if len(live):
            outside[live] = self.lanes.outside_many(xyz, yaws, self._everyone[:len(live)])
            if self.busy:  # rare: collisions, or a hit remembered (those heroes' criteria, in the heroes' order)
                row_of = np.full(len(self.agents), -1, dtype=np.int64)
                row_of[heroes] = np.arange(len(heroes))
                for k in sorted(self.hero_of[criterion] for criterion in self.busy):
                    j = row_of[k]
                    if j < 0:  # (not acting this step)
                        continue
                    criterion = self.collisions[k]
                    events = criterion.update(float(now[j]), carla.Location(*map(float, xyz[j])),
                                              float(collision_speed[j]))
                    if events:
                        found.setdefault(int(live[j]), []).extend(events)
                    if criterion.idle:
                        self.busy.discard(criterion)
            for j, events in self.red_lights.update_many(now, xyz, yaws, self.extents_x[heroes], heroes).items():
                found.setdefault(int(live[j]), []).extend(events)
            if self.with_stop_signs:
                for j, k in enumerate(heroes):
                    events = self.stop_signs[k].update(float(now[j]), carla.Location(*map(float, xyz[j])),
                                                       float(monitor_speed[live[j]]))
                    if events:
                        found.setdefault(int(live[j]), []).extend(events)
            offset[live] = distances
        speed_factor, offset_factor, completion = np.empty(count), np.empty(count), np.empty(count)
        ends, reason_codes = np.empty(len(live), dtype=np.int64), np.empty(count, dtype=np.int64)  # (set by _finish)
        ending = _finish(rows, live, heroes, dt, completed_now, speed, monitor_speed, outside, offset, gained, now,
                         self.outside_metres, self.still_time, self.lengths, self.route_ends, self.completed,
                         self.ended, self.time_limits, self.idle_time, task.target_speed, task.zero_reward_speed,
                         task.max_offset, task.overspeed_end, task.max_idle, speed_factor, offset_factor, completion,
                         ends, reason_codes)
        if not ending and not found:  # (most steps: no end, no infraction)
            going = np.zeros((3, count), dtype=np.bool_)
            return RouteSteps(gained, offset, speed, speed_factor, offset_factor, completion, found,
                              np.zeros(0, dtype=np.int64), np.empty(count, dtype=object), *going)  # (None each)
        for j in ends.nonzero()[0]:  # rare: the monitor's events of a route's end (deviated, blocked, timed out)
            kind = END_KINDS[ends[j] - 1]
            x, y, z = (float(v) for v in xyz[j])
            message = f"{END_MESSAGES[kind]}(x={x:.3f}, y={y:.3f}, z={z:.3f})"
            found.setdefault(int(live[j]), []).append(Infraction(kind, float(now[j]), (x, y, z), message))
        reasons = np.empty(count, dtype=object)  # (None each)
        ending = reason_codes >= 0
        reasons[ending] = REASONS_IN_ORDER[reason_codes[ending]]
        infracted = np.array(sorted(found), dtype=np.int64)
        for j in infracted.tolist():  # rare: infractions, of which the first hard one ends it
            hard = [infraction.kind for infraction in found[j] if infraction.kind in task.hard_kinds]
            if hard:
                reasons[j], reason_codes[j] = SHORT_NAMES[hard[0]], HARD
        ended, truncated = reason_codes >= 0, reason_codes == MAX_TIME
        return RouteSteps(gained, offset, speed, speed_factor, offset_factor, completion, found, infracted, reasons,
                          ended, ended & (reason_codes != COMPLETED) & ~truncated, truncated)

    def close(self) -> None:
        for index in range(len(self.agents)):
            self.stop(index)


@njit(cache=True)
def _advance(rows: np.ndarray, live: np.ndarray, heroes: np.ndarray, dt: float, completed_now: np.ndarray,
             elapsed: np.ndarray, completed_metres: np.ndarray, last_speed: np.ndarray, monitor_speed: np.ndarray,
             now: np.ndarray, gained: np.ndarray, collision_speed: np.ndarray) -> None:
    """The step's start, before the checks: every row's speed as the monitor reads it (``monitor_speed``); for each
    watched hero ``heroes[j]`` (row ``live[j]``): its time on the route (``now[j]``), the route metres ``gained``
    since the last step (``completed_now[j]`` completed now) and the speed a collision of this tick found
    (``collision_speed[j]``: the last step's)."""
    for r in range(rows.shape[0]):
        vx, vy, vz = rows[r, VX], rows[r, VY], rows[r, VZ]
        monitor_speed[r] = np.sqrt(vx * vx + vy * vy + vz * vz)
    for j in range(live.shape[0]):
        k, r = heroes[j], live[j]
        elapsed[k] += dt
        now[j] = elapsed[k]
        gained[r] = completed_now[j] - completed_metres[k]
        completed_metres[k] = completed_now[j]
        collision_speed[j] = monitor_speed[r] if np.isnan(last_speed[k]) else last_speed[k]
        last_speed[k] = monitor_speed[r]


@njit(cache=True)
def _finish(rows: np.ndarray, live: np.ndarray, heroes: np.ndarray, dt: float, completed_now: np.ndarray,
            speed: np.ndarray, monitor_speed: np.ndarray, outside: np.ndarray, offset: np.ndarray, gained: np.ndarray,
            now: np.ndarray, outside_metres: np.ndarray, still_time: np.ndarray, lengths: np.ndarray,
            route_ends: np.ndarray, completed: np.ndarray, ended: np.ndarray, time_limits: np.ndarray,
            idle_time: np.ndarray, target_speed: float, zero_reward_speed: float, max_offset: float,
            overspeed_end: float, max_idle: float, speed_factor: np.ndarray, offset_factor: np.ndarray,
            completion: np.ndarray, ends: np.ndarray, reason_codes: np.ndarray) -> int:
    """The step's end, after the checks: for each watched hero, the metres driven outside the lanes, the time
    standing, the monitor's route ends (completed, or ``ends[j]``: 1 deviated, 2 blocked, 3 timed out), the
    completion, the idle time; for every row, the soft factors (1 where not watched); for each watched hero, the
    first of ``REASONS_IN_ORDER`` that holds (``reason_codes``, -1: none). Returns how many rows have one (a
    monitor's end, ``ends``, is one of them)."""
    for r in range(rows.shape[0]):  # (rows not watched keep these)
        speed_factor[r], offset_factor[r], completion[r], reason_codes[r] = 1.0, 1.0, 0.0, -1
    ending = 0
    for j in range(live.shape[0]):
        ends[j] = 0
        k, r = heroes[j], live[j]
        if outside[r]:
            outside_metres[k] += gained[r]
        still_time[k] = still_time[k] + dt if monitor_speed[r] < BLOCKED_SPEED else 0.0
        fraction = completed_now[j] / lengths[k]
        remaining = np.hypot(rows[r, X] - route_ends[k, 0], rows[r, Y] - route_ends[k, 1])
        done = fraction > COMPLETION_SHARE and remaining < COMPLETION_DISTANCE
        if done:
            completed[k] = True
        elif offset[r] > DEVIATION_LIMIT:
            ends[j] = 1
        elif still_time[k] >= BLOCKED_TIME:
            ends[j] = 2
        elif now[j] >= time_limits[k]:
            ends[j] = 3
        if ends[j]:
            ended[k] = True
        completion[r] = 100.0 if completed[k] else 100.0 * fraction
        idle_time[k] = idle_time[k] + dt if speed[r] < IDLE_SPEED else 0.0
        lane_limit = rows[r, SPEED_LIMIT] / 3.6
        limit = min(target_speed, lane_limit) if lane_limit > 0 else target_speed
        speed_factor[r] = min(max((zero_reward_speed - speed[r] / limit) / (zero_reward_speed - 1.0), -1.0), 1.0)
        offset_factor[r] = 1.0 - 0.5 * min(offset[r] / max_offset, 1.0)
        if outside[r]:
            reason_codes[r] = 0
        elif offset[r] > max_offset:
            reason_codes[r] = 1
        elif speed[r] > overspeed_end * limit:
            reason_codes[r] = 2
        elif idle_time[k] >= max_idle:
            reason_codes[r] = 3
        elif completed[k]:
            reason_codes[r] = 4
        elif ended[k]:
            reason_codes[r] = 5
        if reason_codes[r] >= 0:
            ending += 1
    return ending
