"""``RouteExperimentBatch``: :class:`~.ppo_experiment.RouteExperiment` for every hero of a world at once (a
:class:`~rllib_integration.batch_experiment.BatchExperiment`), which ``CarlaVectorEnv`` steps a world through.

It gives what the heroes' own ``RouteExperiment`` hooks would (the same observations, rewards, ends and infos; a
test holds it to them step for step) for the virtual LiDAR observation, with every action and feature
(``ppo_vlidar_config.yaml``, ``ppo_selfplay_config.yaml``, the traffic recipe's ``ppo_traffic_config.yaml``); the
camera runs hero by hero (:meth:`RouteExperimentBatch.unsupported`). Every hero's rays are measured in one compiled
call, their kinematics read in one (:mod:`rllib_integration.hero_batch`), the route task stepped for all of them
(:class:`~rllib_integration.tasks.route_batch.RouteFollowingBatch`), and the route's points ahead and next command
gathered from arrays kept per hero. What keeps a state of each hero's episode (the speed controller, the route
steering, the lights along its route, its obstacles ahead) runs hero by hero through the same classes
``RouteExperiment`` uses.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numba import njit

from rllib_integration.batch_experiment import BatchExperiment, BatchOutcome, WorldStep, every_row, joined
from rllib_integration.evaluation.infractions import KINDS, SHORT_NAMES
from rllib_integration.hero_batch import RED_LIGHT, VX, VY, X, Y, YAW, speeds
from rllib_integration.routes.planner import RoadOption
from rllib_integration.sensors.virtual_lidar import VirtualLidar, lidar_batch
from rllib_integration.tasks.route_batch import RouteFollowingBatch
from rllib_integration.tasks.route_lights import RouteLights, light_features_many
from rllib_integration.tasks.route_obstacles import RouteObstacles, none_ahead, obstacle_features
from rllib_integration.tasks.route_steering import RouteSteering, steer_many
from rllib_integration.tasks.speed_control import SpeedController, speed_controls, speeds_along
from rllib_integration.tasks.turn_speed import route_turn_speeds

from .ppo_experiment import (COMMAND_LOOKAHEAD, COMMANDS, LIDAR, ROUTE_LOOKAHEAD, ROUTE_SCALE, SPEED_SCALE, STATE,
                             RouteExperiment)

LANE_FOLLOW = COMMANDS.index(RoadOption.LANEFOLLOW)
LOOKAHEAD = np.array(ROUTE_LOOKAHEAD, dtype=np.int64)
INFRACTION_KEYS = tuple(f"infractions_{SHORT_NAMES[kind]}" for kind in KINDS)
#: Each infraction kind's row of ``RouteExperimentBatch.infractions``, and the info key of its episode's count.
INFRACTION_ROWS = {kind: row for row, kind in enumerate(KINDS)}
EPISODE_INFRACTION_KEYS = tuple(f"episode_{key}" for key in INFRACTION_KEYS)


def commands_ahead(options: Sequence[RoadOption]) -> np.ndarray:
    """For each point of a route with road ``options``, the index in :data:`COMMANDS` of the first option other
    than lane following among the next :data:`COMMAND_LOOKAHEAD` points (lane following where there is none)."""
    values = np.array([option._value_ for option in options], dtype=np.int64)  # (IntEnum's plain values: a third
    out = np.empty(len(values), dtype=np.int64)  # of NumPy's time converting the members themselves)
    _commands_ahead(_CODE_OF_VALUE[values - _LOWEST_OPTION], COMMAND_LOOKAHEAD, out)
    return out


@njit(cache=True)
def _commands_ahead(codes: np.ndarray, lookahead: int, out: np.ndarray) -> None:
    """:func:`commands_ahead` of the points whose command codes are ``codes``, in one pass from the route's end."""
    following = codes.shape[0]  # the first point after the one at hand with a command (the end: none)
    for k in range(codes.shape[0] - 1, -1, -1):
        out[k] = codes[following] if following < codes.shape[0] and following - k <= lookahead else LANE_FOLLOW
        if codes[k] != LANE_FOLLOW:
            following = k


_LOWEST_OPTION = min(int(option) for option in RoadOption)
#: :data:`COMMANDS`' index of each road option value (less the lowest), lane following for values not in it
_CODE_OF_VALUE = np.full(max(int(option) for option in RoadOption) - _LOWEST_OPTION + 1, LANE_FOLLOW, dtype=np.int64)
_CODE_OF_VALUE[[int(command) - _LOWEST_OPTION for command in COMMANDS]] = np.arange(len(COMMANDS))


@njit(cache=True)
def _assemble(rays: np.ndarray, lidar_range: np.float32, speed: np.ndarray, last_actions: np.ndarray,
              with_last_action: bool, rows: np.ndarray, indices: np.ndarray, at: np.ndarray, commands: np.ndarray,
              points: np.ndarray, lengths: np.ndarray, lookahead: np.ndarray, out: np.ndarray) -> None:
    """``RouteExperiment.get_observation``'s rays, state and route points of heroes ``indices`` (kinematics
    ``rows``; ``at``: each one's place on its route, -1 for none) into the first columns of ``out``, in one pass,
    with the hero's own arithmetic: the rays over the range in 32-bit floats, the route points turned into the
    hero's frame by ``math.cos`` / ``math.sin`` of its yaw, in double precision, then rounded."""
    count, width = rays.shape
    state = width
    route = state + len(STATE)
    for r in range(count):
        k = indices[r]
        for c in range(width):
            out[r, c] = rays[r, c] / lidar_range
        out[r, state:route] = 0.0
        out[r, state] = speed[r] / SPEED_SCALE
        if with_last_action:
            out[r, state + 1], out[r, state + 2] = last_actions[k, 0], last_actions[k, 1]
        out[r, state + 3] = rows[r, RED_LIGHT]
        command = LANE_FOLLOW if at[r] < 0 else commands[k, at[r]]
        out[r, state + 4 + command] = 1.0
        if at[r] < 0:
            out[r, route:route + 2 * len(lookahead)] = 0.0
            continue
        yaw = math.radians(rows[r, YAW])
        cos, sin = math.cos(yaw), math.sin(yaw)
        last = max(lengths[k] - 1, 0)
        for j in range(len(lookahead)):
            p = min(at[r] + lookahead[j], last)
            dx, dy = points[k, p, 0] - rows[r, X], points[k, p, 1] - rows[r, Y]
            out[r, route + 2 * j] = np.float32(dx * cos + dy * sin) / np.float32(ROUTE_SCALE)
            out[r, route + 2 * j + 1] = np.float32(dx * -sin + dy * cos) / np.float32(ROUTE_SCALE)


@njit(cache=True)
def _tally(indices: np.ndarray, gained: np.ndarray, speed_factor: np.ndarray, offset_factor: np.ndarray,
           speed: np.ndarray, failed: np.ndarray, ended: np.ndarray, truncated: np.ndarray, penalty: float,
           returns: np.ndarray, distances: np.ndarray, speed_sums: np.ndarray, steps: np.ndarray, rewards: np.ndarray,
           episode_distance: np.ndarray, mean_speed: np.ndarray, terminated: np.ndarray) -> None:
    """``RouteExperiment.compute_reward`` and its episode totals for heroes ``indices`` (rows in their order): each
    row's reward (route metres gained, times the speed and offset factors; ``-penalty`` where it ``failed``), the
    heroes' running return, distance, speed sum and steps, each row's episode distance and mean speed (km/h) so far,
    and whether it ``ended`` other than ``truncated``."""
    for r in range(indices.shape[0]):
        k = indices[r]
        rewards[r] = -penalty if failed[r] else gained[r] * speed_factor[r] * offset_factor[r]
        returns[k] += rewards[r]
        distances[k] += gained[r]
        speed_sums[k] += speed[r]
        steps[k] += 1
        episode_distance[r] = distances[k]
        mean_speed[r] = 3.6 * speed_sums[k] / steps[k]
        terminated[r] = ended[r] and not truncated[r]


class RouteExperimentBatch(BatchExperiment):
    """``RouteExperiment`` for the heroes of one world (see the module docstring)."""

    EXPERIMENT = RouteExperiment

    @classmethod
    def unsupported(cls, experiments: Sequence[RouteExperiment]) -> str | None:
        first = experiments[0]
        if first.observation_kind != LIDAR:
            return f"observation {first.observation_kind}"
        if any(experiment.sensor != first.sensor for experiment in experiments):
            return "heroes with different virtual LiDARs"
        return None

    def __init__(self, experiments: Sequence[RouteExperiment], agents: Sequence[Any]) -> None:
        super().__init__(experiments, agents)
        first = experiments[0]
        count = len(experiments)
        self.task = RouteFollowingBatch(first.task, agents)
        self.terminal_penalty, self.state_last_action = first.terminal_penalty, first.state_last_action
        self.control_kind, self.steer_kind, self.speed_levels = first.control_kind, first.steer_kind, first.speed_levels
        self.max_speed, self.light_ahead, self.obstacles_ahead = first.max_speed, first.light_ahead, first.obstacles_ahead
        self.turn_lateral_accel = first.turn_lateral_accel
        # what keeps a state of each hero's (its episode's), hero by hero as RouteExperiment keeps them
        self.speed_gains = SpeedController(dt=self.task.timestep).gains()  # each hero's controller: the same gains,
        # its integral
        self.speed_integrals = np.zeros(count)
        self.route_steering: list[RouteSteering | None] = [None] * count
        self.route_steer = np.zeros(count)  # the route controller's steer for the last observed state
        self.forward_speeds = np.zeros(count)  # m/s along the heading, in the last observed state (the next control's)
        self.route_lights: list[RouteLights | None] = [None] * count
        self.turn_speeds = np.full((count, 1), np.inf)  # each hero's route's curve speeds (inf: no cap, or past it)
        self.route_obstacles: list[RouteObstacles | None] = [None] * count
        self.lidar_range = float(first.sensor.get("range", 40.0))
        self.lidars: list[VirtualLidar | None] = [None] * count
        self.last_actions = np.zeros((count, 2))
        self.totals = {key: np.zeros(count) for key in ("return", "distance", "speed_sum")}
        self.steps = np.zeros(count, dtype=np.int64)
        self.infractions = np.zeros((len(INFRACTION_KEYS), count), dtype=np.int64)  # a kind a row, a hero a column
        self.route_points = np.zeros((count, 1, 2))  # each hero's route (x, y) a metre apart, padded with its end
        self.route_commands = np.zeros((count, 1), dtype=np.int64)  # and the command ahead of each of its points
        self.route_lengths = np.zeros(count, dtype=np.int64)

    def sensors(self, hero_config: dict[str, Any]) -> dict[str, Any]:
        return {name: sensor for name, sensor in hero_config["sensors"].items() if name != LIDAR}  # measured here

    def start(self, index: int) -> None:
        agent, sensor = self.agents[index], self.experiments[index].sensor
        self.stop(index)
        self.task.start(index)
        self.lidars[index] = VirtualLidar(agent.world, agent.hero, sensor.get("rays", 32), self.lidar_range,
                                          float(sensor.get("fov", 360.0)))
        self.last_actions[index] = 0.0
        for values in self.totals.values():
            values[index] = 0.0
        self.steps[index] = 0
        self.infractions[:, index] = 0
        progress = agent.route_progress
        self.speed_integrals[index] = 0.0
        self.route_steering[index] = self.route_obstacles[index] = None  # built at the first observation
        self.route_steer[index] = 0.0
        self.route_lights[index] = RouteLights(agent.world, progress) if self.light_ahead and progress else None
        curves = route_turn_speeds(progress, self.turn_lateral_accel)
        if curves is not None and len(curves) > self.turn_speeds.shape[1]:
            self.turn_speeds = np.pad(self.turn_speeds, ((0, 0), (0, len(curves) - self.turn_speeds.shape[1])),
                                      constant_values=np.inf)
        self.turn_speeds[index] = np.inf
        if curves is not None:
            self.turn_speeds[index, :len(curves)] = curves
        self.route_lengths[index] = 0 if progress is None else len(progress.points)
        if progress is not None:
            self._keep_route(index, progress.points[:, :2], commands_ahead([option for _, option in progress.route]))

    def _keep_route(self, index: int, points: np.ndarray, commands: np.ndarray) -> None:
        length = len(points)
        if length > self.route_points.shape[1]:  # room for the longest route yet
            grown = max(length, 2 * self.route_points.shape[1])
            self.route_points = np.pad(self.route_points, ((0, 0), (0, grown - self.route_points.shape[1]), (0, 0)))
            self.route_commands = np.pad(self.route_commands, ((0, 0), (0, grown - self.route_commands.shape[1])))
        self.route_points[index, :length] = points
        self.route_commands[index, :length] = commands

    def stop(self, index: int) -> None:
        self.task.stop(index)
        if self.lidars[index] is not None:
            self.lidars[index].close()
            self.lidars[index] = None

    def controls(self, indices: np.ndarray, actions: Any) -> np.ndarray:
        """``RouteExperiment.compute_action`` of every acting hero: throttle, steer, brake a row."""
        if self.control_kind == "throttle" and self.steer_kind == "policy":  # (one compiled pass: a quarter of the
            controls = np.empty((len(indices), 3))  # ufuncs' time below inside a tick of 32 heroes, stop 90)
            _throttle_controls(np.asarray(actions, dtype=np.float64).reshape(len(indices), -1), indices,
                               self.last_actions, controls)
            return controls
        if self.control_kind == "levels":
            command = 2.0 * np.asarray(actions, dtype=np.int64).reshape(len(indices)) / (self.speed_levels - 1) - 1.0
            steer = np.zeros(len(indices))
        else:
            values = np.asarray(actions, dtype=np.float64).reshape(len(indices), -1)
            command = _clipped(values[:, 0])
            steer = _clipped(values[:, 1]) if self.steer_kind != "route" else np.zeros(len(indices))
        self.last_actions[indices, 0], self.last_actions[indices, 1] = command, steer
        if self.steer_kind != "policy":  # the route controller's steer, and the policy's correction added
            steer = _clipped(steer + self.route_steer[indices])
        controls = np.empty((len(indices), 3))
        if self.control_kind == "throttle":  # (written column by column: a third of np.stack's time)
            np.maximum(command, 0.0, out=controls[:, 0])
            controls[:, 1] = steer
            np.maximum(-command, 0.0, out=controls[:, 2])
            return controls
        controls[:, 1] = steer
        targets = (command + 1.0) / 2.0 * self.max_speed
        if self.turn_lateral_accel > 0.0:  # no faster than the route's curves allow
            at = [0 if progress is None else progress.index for progress in
                  (self.agents[k].route_progress for k in indices.tolist())]
            caps = self.turn_speeds[indices, at]
            targets = np.where(caps < targets, caps, targets)  # (min(target, cap), as the hero's own experiment)
        throttle_brake = np.empty((len(indices), 2))
        integrals = self.speed_integrals[indices]
        speed_controls(self.speed_gains, targets, self.forward_speeds[indices], integrals, throttle_brake)
        self.speed_integrals[indices] = integrals
        controls[:, 0], controls[:, 2] = throttle_brake[:, 0], throttle_brake[:, 1]
        return controls

    def observe(self, indices: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]]) -> tuple[Any, list]:
        rows = self.kinematics(indices)
        return self._observations(indices, rows, frame), [{} for _ in indices]

    def step(self, indices: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]]) -> BatchOutcome:
        rows = self.kinematics(indices)
        return self._outcome(indices, rows, self._observations(indices, rows, frame))

    def step_and_observe(self, acting: np.ndarray, starting: np.ndarray, frame: int,
                         acting_data: Sequence[dict[str, Any]], starting_data: Sequence[dict[str, Any]]) -> WorldStep:
        """:meth:`step` and :meth:`observe` in one pass where heroes start while others act: every one's kinematics
        read and observation made in one call (a row a hero, ascending; a hero's observation is its own, whoever
        else is in the call), then the acting heroes' outcome."""
        if not len(acting) or not len(starting):
            return super().step_and_observe(acting, starting, frame, acting_data, starting_data)
        heroes, _, rank = joined(acting, starting)
        rows = self.kinematics(heroes)
        observations = self._observations(heroes, rows, frame)
        outcome = self._outcome(acting, rows[rank[:len(acting)]], None)
        return WorldStep(outcome, [{} for _ in starting], observations, heroes)

    def _outcome(self, indices: np.ndarray, rows: np.ndarray, observations: np.ndarray | None) -> BatchOutcome:
        """The outcome of the step heroes ``indices`` (kinematics ``rows``) acted in, with their ``observations``."""
        steps = self.task.step(indices, rows)
        failed, truncated = steps.failed, steps.truncated
        ended = steps.ended
        for row in steps.infracted.tolist():
            for infraction in steps.infractions[row]:
                self.infractions[INFRACTION_ROWS[infraction.kind], indices[row]] += 1
        count = len(indices)
        rewards, episode_distance, mean_speed = np.empty(count), np.empty(count), np.empty(count)
        terminated = np.empty(count, dtype=np.bool_)
        totals = self.totals
        _tally(indices, steps.gained, steps.speed_factor, steps.offset_factor, steps.speed, failed, ended, truncated,
               float(self.terminal_penalty), totals["return"], totals["distance"], totals["speed_sum"], self.steps,
               rewards, episode_distance, mean_speed, terminated)
        # (the infos' arrays are the outcome's own: the counts copied, in one block when every hero acts in order)
        infractions = self.infractions.copy() if every_row(indices, len(self.agents)) else self.infractions[:, indices]
        infos = {"speed": steps.speed, "progress": steps.gained, "speed_factor": steps.speed_factor,
                 "offset_factor": steps.offset_factor, "route_offset": steps.offset,
                 "route_completion": steps.route_completion, "episode_route_completion": steps.route_completion.copy(),
                 "episode_distance": episode_distance, "episode_mean_speed": mean_speed,
                 **dict(zip(EPISODE_INFRACTION_KEYS, infractions))}
        return BatchOutcome(observations, rewards, terminated, truncated, infos, steps.end_reasons)

    def _observations(self, indices: np.ndarray, rows: np.ndarray, frame: int) -> np.ndarray:
        """``RouteExperiment.get_observation`` of heroes ``indices`` (kinematics ``rows``) at ``frame``."""
        count = len(indices)
        speed = speeds(rows)
        if self.control_kind != "throttle":  # the speed the next control's controller reads through the carla API
            along = np.empty(count)
            speeds_along(rows, VX, VY, YAW, along)
            self.forward_speeds[indices] = along
        everyone = every_row(indices, len(self.agents))  # (every hero in order: the roster's lists as they are)
        progresses = self.roster.read().progresses if everyone else \
            [self.agents[k].route_progress for k in indices.tolist()]
        if self.steer_kind != "policy":  # the route controller's steer, every hero on a route in one compiled call
            routed = [row for row, progress in enumerate(progresses) if progress is not None]
            for k in [int(indices[row]) for row in routed if self.route_steering[int(indices[row])] is None]:
                self.route_steering[k] = RouteSteering(self.agents[k].hero)
            self.route_steer[indices] = 0.0
            if routed:
                heroes = indices[routed]
                self.route_steer[heroes] = steer_many([self.route_steering[k] for k in heroes.tolist()],
                                                      rows[np.ix_(routed, [X, Y, YAW])], speed[routed],
                                                      [progresses[row] for row in routed], self.agents[0].world)
        lidars = self.lidars if everyone else [self.lidars[k] for k in indices.tolist()]
        rays = lidar_batch(lidars[0].world).measure_many(lidars, frame, self.roster.read().ids if everyone else None)
        rays = rays.reshape(count, -1)
        lights = self.route_lights if everyone else [self.route_lights[k] for k in indices.tolist()]
        extra = [light_features_many(lights, self.agents[0].world)] if self.light_ahead else []
        if self.obstacles_ahead:
            extra.append(self._obstacles(indices, rows, frame, progresses))
        width = rays.shape[1] + len(STATE) + 2 * len(ROUTE_LOOKAHEAD)
        out = np.empty((count, width + sum(part.shape[1] for part in extra)), dtype=np.float32)
        at = np.array([-1 if progress is None else progress.index for progress in progresses], dtype=np.int64)
        _assemble(rays, np.float32(self.lidar_range), speed, self.last_actions, self.state_last_action, rows, indices,
                  at, self.route_commands, self.route_points, self.route_lengths, LOOKAHEAD, out)
        for part in extra:
            out[:, width:width + part.shape[1]] = part
            width += part.shape[1]
        return out

    def _obstacles(self, indices: np.ndarray, rows: np.ndarray, frame: int, progresses: list[Any]) -> np.ndarray:
        """``RouteExperiment._obstacles`` of heroes ``indices`` (kinematics ``rows``, route ``progresses``), in one
        compiled call for those on a route."""
        features = np.tile(none_ahead(), (len(indices), 1))
        routed = [row for row, progress in enumerate(progresses) if progress is not None]
        for row in routed:
            k = int(indices[row])
            if self.route_obstacles[k] is None:
                agent = self.agents[k]
                self.route_obstacles[k] = RouteObstacles(agent.world, agent.hero, agent.route_progress)
        if routed:
            features[routed] = obstacle_features([self.route_obstacles[int(indices[row])] for row in routed], frame,
                                                 rows[np.ix_(routed, [X, Y, VX, VY])])
        return features


@njit(cache=True)
def _throttle_controls(values: np.ndarray, indices: np.ndarray, last_actions: np.ndarray, controls: np.ndarray
                       ) -> None:
    """:meth:`RouteExperimentBatch.controls` of ``control: throttle`` and ``steer: policy``: each row of ``values``
    (throttle - brake, steer) clipped to [-1, 1] (as :func:`_clipped`), kept as hero ``indices[r]``'s last action, and
    its throttle, steer and brake in row r of ``controls``."""
    for r in range(indices.shape[0]):
        command, steer = _clipped_one(values[r, 0]), _clipped_one(values[r, 1])
        last_actions[indices[r], 0], last_actions[indices[r], 1] = command, steer
        controls[r, 0], controls[r, 1], controls[r, 2] = _maximum(command, 0.0), steer, _maximum(-command, 0.0)


@njit(cache=True, inline="always")
def _maximum(a: float, b: float) -> float:
    """``np.maximum(a, b)`` of two floats (NaN kept)."""
    return a if a >= b or a != a else b


@njit(cache=True, inline="always")
def _clipped_one(value: float) -> float:
    """:func:`_clipped` of one float."""
    value = _maximum(value, -1.0)
    return value if value <= 1.0 or value != value else 1.0


def _clipped(values: np.ndarray) -> np.ndarray:
    """``np.clip(values, -1.0, 1.0)`` (the same values, NaN kept) without its Python wrappers."""
    return np.minimum(np.maximum(values, -1.0), 1.0)
