"""``DQNExperimentBatch``: :class:`~.dqn_experiment.DQNExperiment` for every hero of a world at once (a
:class:`~rllib_integration.batch_experiment.BatchExperiment`), which ``CarlaVectorEnv`` steps a world through.

It gives what the heroes' own ``DQNExperiment`` hooks would (the same observations, rewards, ends and infos; a test
holds it to them step for step) with the route-following reward (``reward: route``: the quickstart's
``dqn_config.yaml`` and the traffic recipe's ``dqn_traffic_config.yaml``, with the state vector, the next light,
excused waits and red lights ending episodes); the original's ``faithful`` reward runs hero by hero
(:meth:`DQNExperimentBatch.unsupported`). The heroes' kinematics are read in one call
(:mod:`rllib_integration.hero_batch`), the route task stepped for all of them
(:class:`~rllib_integration.tasks.route_batch.RouteFollowingBatch`), the frame stacks kept in one array (each
hero's last observation, shifted a frame on each step), and the rewards, ends and episode totals computed as
arrays. Each hero's BirdView is rendered by the renderer its sensor
would use, all of them at once (:meth:`~rllib_integration.sensors.birdview.BirdviewRenderer.draw`: the batch's
renderers share one configuration; the map warped for every hero in one call, the world's actors read once a frame),
straight from here rather than through a sensor;
the original's lane check (every hero's waypoint in one query of the map's waypoint index, then hero by hero) and the
waits a light or a car ahead excuse run through the functions ``DQNExperiment`` uses.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, Sequence

import cv2
import numpy as np
from numba import njit

from rllib_integration.batch_experiment import BatchExperiment, BatchOutcome, WorldStep, every_row, joined
from rllib_integration.hero_batch import X, YAW, Z, speeds
from rllib_integration.sensors.birdview import BirdviewRenderer, configured_renderer
from rllib_integration.tasks.route_batch import RouteFollowingBatch
from rllib_integration.tasks.route_lights import RouteLights, no_light

from .dqn_experiment import (ACTIONS, BIRDVIEW, LANE_STATES, SPEED_SCALE, DQNExperiment, lane_check_codes,
                             waiting_for_a_reason)

#: ``ACTIONS`` as ``carla.VehicleControl`` holds them (32-bit floats): (throttle, steer, brake) a row.
CONTROLS = np.array(ACTIONS, dtype=np.float32)
#: Lane states of the lane check that count as driving on a lane (``episode_distance_on_lane``).
ON_LANE = ("on_lane", "junction")
#: Whether each lane state's code (its index in ``LANE_STATES``) is one of ``ON_LANE``.
ON_LANE_CODES = np.isin(LANE_STATES, ON_LANE)


def shift_frames(stacks: np.ndarray, rows: np.ndarray, channels: int, out: np.ndarray,
                 into: np.ndarray | None = None) -> None:
    """Write into ``out[into[r]]`` (``into``: default ``r``) the older frames of hero ``rows[r]``'s next frame
    stack, and zeros into its newest frame's channels (to be drawn or written next): its stack in ``stacks`` (heroes,
    S, S, framestack * channels: each hero's last observation, oldest frame first, as ``np.concatenate(history,
    axis=2)`` joins them) without its oldest frame. A stack's frames interleave pixel by pixel, so they are the old
    stack's bytes one frame (``channels`` bytes) on: one pass a hero, eight bytes at a time where its stack's bytes
    allow it (as fast as a plain copy, where zeroing the newest channels byte by byte after a copy cost more than the
    copy: 0.37 against 0.21 ms for 32 heroes' 9-channel masks, frame stacks of two)."""
    if not out.flags.c_contiguous:
        raise ValueError("shift_frames writes into a C-contiguous array of frame stacks; fix: np.empty(...) one")
    count, depth = len(stacks), stacks.shape[3]
    units = stacks[0].size
    word = 8 if units % 8 == 0 and sys.byteorder == "little" else 1
    old = np.ascontiguousarray(stacks).reshape(count, -1).view(np.uint64 if word == 8 else np.uint8)
    new = out.reshape(len(out), -1).view(old.dtype)
    rows = np.asarray(rows, dtype=np.int64)
    into = np.arange(len(rows), dtype=np.int64) if into is None else np.asarray(into, dtype=np.int64)
    _shift_units(old, rows, into, channels // word, channels % word, _older_frames(units, depth, channels, word), new)


@functools.lru_cache(maxsize=8)
def _older_frames(units: int, depth: int, channels: int, word: int) -> np.ndarray:
    """The mask of a stack's older frames' bytes (all ones) and its newest frame's (zeros), as ``word``-byte units
    (a stack of ``units`` bytes, ``depth`` a pixel, the newest frame's ``channels`` last)."""
    keep = np.where(np.arange(units) % depth < depth - channels, 255, 0).astype(np.uint8)
    keep.flags.writeable = False
    return keep.view(np.uint64) if word == 8 else keep


@njit(cache=True)
def _shift_units(old: np.ndarray, rows: np.ndarray, into: np.ndarray, whole: int, part: int, keep: np.ndarray,
                 out: np.ndarray) -> None:
    """``out[into[r]]``: ``old[rows[r]]`` (a stack's bytes, as 8-byte little-endian words or bytes) moved ``whole``
    units and ``part`` bytes towards its start, masked by ``keep`` (the end filled with zeros)."""
    units = old.shape[1]
    if part == 0:
        for r in range(rows.shape[0]):
            source, target = old[rows[r]], out[into[r]]
            for i in range(units - whole):
                target[i] = source[i + whole] & keep[i]
            for i in range(units - whole, units):
                target[i] = 0
        return
    right, left, n = np.uint64(8 * part), np.uint64(64 - 8 * part), units - whole - 1
    for r in range(rows.shape[0]):
        source, target = old[rows[r]], out[into[r]]
        low, high = source[whole:whole + n], source[whole + 1:whole + 1 + n]
        for i in range(n):
            target[i] = ((low[i] >> right) | (high[i] << left)) & keep[i]
        target[n] = (source[units - 1] >> right) & keep[n]
        for i in range(n + 1, units):
            target[i] = 0


@njit(cache=True)
def _repeat_newest(stacks: np.ndarray, rows: np.ndarray, channels: int) -> None:
    """Copy the newest frame's ``channels`` of frame stacks ``stacks[rows]`` (H, S, S, framestack * channels) into
    every older frame's (an episode's first picture in every frame; twice as fast as a strided OpenCV copy a hero: 48
    against 101 µs for two heroes' 9-channel masks, measured)."""
    depth = stacks.shape[3]
    newest = depth - channels
    for r in range(rows.shape[0]):
        stack = stacks[rows[r]]
        for v in range(stack.shape[0]):
            for u in range(stack.shape[1]):
                for frame in range(0, newest, channels):
                    for c in range(channels):
                        stack[v, u, frame + c] = stack[v, u, newest + c]


def place_frames(pictures: np.ndarray, first: bool | np.ndarray, out: np.ndarray) -> None:
    """Write ``pictures`` (H, S, S, C) into the newest frame's channels of frame stacks ``out`` (H, S, S,
    framestack * C), or into every frame's where they are their episodes' ``first`` (one for all, or one a row), by
    ``cv2.mixChannels`` (measured against NumPy's strided copy: 0.3 against 1.3 ms for 32 heroes' 3-channel
    pictures, 0.9 against 1.2 for 9 channels)."""
    depth, channels = out.shape[3], pictures.shape[3]
    pairs = [[value for place in places for value in (place % channels, place)]
             for places in (range(depth - channels, depth), range(0, depth))]  # a later frame's, a first one's
    firsts = np.broadcast_to(np.asarray(first, dtype=bool), len(pictures))
    for row in range(len(pictures)):
        cv2.mixChannels([pictures[row]], [out[row]], pairs[int(firsts[row])])


@njit(cache=True)
def _count_ticks(indices: np.ndarray, moving: np.ndarray, time_idle: np.ndarray, time_episode: np.ndarray,
                 max_time_idle: float, max_time_episode: float, done_idle: np.ndarray,
                 done_episode: np.ndarray) -> None:
    """``DQNExperiment.get_done_status``'s clocks of heroes ``indices`` (``moving``: each one's, a row each): idle
    too long before this step (``done_idle``), the idle and episode ticks counted, the episode too long now."""
    for j in range(indices.shape[0]):
        k = indices[j]
        done_idle[j] = max_time_idle < time_idle[k]
        time_idle[k] = 0 if moving[j] else time_idle[k] + 1
        time_episode[k] += 1
        done_episode[j] = max_time_episode < time_episode[k]


@njit(cache=True)
def _record(indices: np.ndarray, falling: np.ndarray, done_idle: np.ndarray, done_episode: np.ndarray,
            route_ended: np.ndarray, route_truncated: np.ndarray, failed: np.ndarray, gained: np.ndarray,
            speed_factor: np.ndarray, offset_factor: np.ndarray, idle_penalty: float, terminal_penalty: float,
            distance: np.ndarray, on_lane: np.ndarray, speed: np.ndarray, deviation: np.ndarray,
            total_distance: np.ndarray, total_on_lane: np.ndarray, speed_sum: np.ndarray, heading_sum: np.ndarray,
            steps: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, rewards: np.ndarray,
            episode: np.ndarray) -> bool:
    """The rest of ``get_done_status``, ``compute_reward`` (the route variant) and the episode's record of heroes
    ``indices`` (``falling``: each one's, a row each): each one's ends, reward, and totals (``episode``: its
    distance, distance on a lane, mean speed and mean heading deviation so far, a row each). Returns whether any
    episode ended."""
    ending = False
    for j in range(indices.shape[0]):
        k = indices[j]
        terminated[j] = done_idle[j] or falling[j] or (route_ended[j] and not route_truncated[j])
        truncated[j] = done_episode[j] and not terminated[j]
        if done_idle[j]:
            rewards[j] = -idle_penalty
        elif failed[j] or falling[j]:
            rewards[j] = -terminal_penalty
        else:
            rewards[j] = gained[j] * speed_factor[j] * offset_factor[j]
        total_distance[k] += distance[j]
        total_on_lane[k] += distance[j] if on_lane[j] else 0.0
        speed_sum[k] += speed[j]
        heading_sum[k] += deviation[j]
        steps[k] += 1
        episode[0, j], episode[1, j] = total_distance[k], total_on_lane[k]
        episode[2, j], episode[3, j] = speed_sum[k] / steps[k], heading_sum[k] / steps[k]
        ending = ending or terminated[j] or truncated[j]
    return ending


@njit(cache=True)
def _moved(indices: np.ndarray, rows: np.ndarray, last_xy: np.ndarray, moved: np.ndarray) -> None:
    """``moved[j]``: how far hero ``indices[j]`` moved in x and y since its last step (``last_xy``, NaN before its
    first: none), its place (kinematics ``rows[j]``) kept as its last."""
    for j in range(indices.shape[0]):
        k = indices[j]
        for axis in range(2):
            now = rows[j, X + axis]
            moved[j, axis] = now - (now if np.isnan(last_xy[k, axis]) else last_xy[k, axis])
            last_xy[k, axis] = now


def _first_infos(facts: dict[str, np.ndarray], rows: np.ndarray) -> list[dict[str, int]]:
    """The infos of first observations: each of ``rows``' facts (collisions and lane invasions this frame)."""
    return [{key: int(values[row]) for key, values in facts.items()} for row in rows.tolist()]


class DQNExperimentBatch(BatchExperiment):
    """``DQNExperiment`` for the heroes of one world (see the module docstring)."""

    EXPERIMENT = DQNExperiment

    @classmethod
    def unsupported(cls, experiments: Sequence[DQNExperiment]) -> str | None:
        first = experiments[0]
        if first.reward_kind != "route":
            return f"reward {first.reward_kind}"
        birdview = first.config["hero"]["sensors"][BIRDVIEW]
        if any(experiment.config["hero"]["sensors"][BIRDVIEW] != birdview for experiment in experiments):
            return "heroes with different BirdViews"
        return None

    def __init__(self, experiments: Sequence[DQNExperiment], agents: Sequence[Any]) -> None:
        super().__init__(experiments, agents)
        first = experiments[0]
        count = len(experiments)
        self.task = RouteFollowingBatch(first.task, agents)
        self.birdview = first.config["hero"]["sensors"][BIRDVIEW]
        self.framestack, self.channels = first.framestack, first.channels
        self.max_time_idle, self.max_time_episode = first.max_time_idle, first.max_time_episode
        self.idle_penalty, self.terminal_penalty = first.idle_penalty, first.terminal_penalty
        self.state_input, self.light_ahead, self.excused_waits = first.state_input, first.light_ahead, first.excused_waits
        self.renderers: list[BirdviewRenderer | None] = [None] * count
        self._lights: tuple[Any, list] = (None, [])  # (world, its traffic lights): the renderers draw them
        self.route_lights: list[RouteLights | None] = [None] * count
        self.stacks = np.zeros((count, first.size, first.size, self.framestack * self.channels), dtype=np.uint8)
        self._stacks_handed_out = False  # whether self.stacks is an observation handed out (never to be written)
        self.controls_now = np.zeros((count, 3), dtype=np.float32)  # each hero's last (throttle, steer, brake)
        self.time_idle = np.zeros(count, dtype=np.int64)
        self.time_episode = np.zeros(count, dtype=np.int64)
        self.last_xy = np.full((count, 2), np.nan)  # the location at the last reward (NaN before the first)
        self.totals = {key: np.zeros(count) for key in ("distance", "distance_on_lane", "speed_sum", "heading_sum")}
        self.counts = {key: np.zeros(count, dtype=np.int64) for key in ("collisions", "lane_invasions", "steps")}

    def sensors(self, hero_config: dict[str, Any]) -> dict[str, Any]:
        return {name: sensor for name, sensor in hero_config["sensors"].items() if name != BIRDVIEW}  # rendered here

    def start(self, index: int) -> None:
        agent = self.agents[index]
        renderer = self.renderers[index]  # the last episode's: it draws the new one where the world is the same
        self.stop(index)
        self.task.start(index)
        if self._lights[0] is not agent.world:  # a new town: its lights
            self._lights = (agent.world, list(agent.world.get_actors().filter("traffic.traffic_light*")))
        if renderer is not None and renderer.world is agent.world:
            renderer.follow(agent.hero)
        else:
            renderer = configured_renderer(self.birdview, agent.world, agent.hero, self._lights[1])
        renderer.set_route(agent.route_progress)
        self.renderers[index] = renderer
        progress = agent.route_progress
        self.route_lights[index] = RouteLights(agent.world, progress) \
            if (self.excused_waits or self.light_ahead) and progress else None
        self.controls_now[index] = 0.0
        self.time_idle[index] = self.time_episode[index] = 0
        self.last_xy[index] = np.nan
        for values in (*self.totals.values(), *self.counts.values()):
            values[index] = 0

    def stop(self, index: int) -> None:
        self.task.stop(index)
        self.renderers[index] = None

    def controls(self, indices: np.ndarray, actions: Any) -> np.ndarray:
        """``DQNExperiment.compute_action`` of every acting hero: throttle, steer, brake a row."""
        controls = CONTROLS[np.asarray(actions, dtype=np.int64).reshape(len(indices))]
        self.controls_now[indices] = controls
        return controls

    def observe(self, indices: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]]) -> tuple[Any, list]:
        rows = self.kinematics(indices)
        observations, facts = self._observations(indices, rows, frame, sensor_data, np.ones(len(indices), dtype=bool))
        return observations, _first_infos(facts, np.arange(len(indices)))

    def step(self, indices: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]]) -> BatchOutcome:
        rows = self.kinematics(indices)
        observations, facts = self._observations(indices, rows, frame, sensor_data, np.zeros(len(indices), dtype=bool))
        return self._outcome(indices, rows, facts, observations)

    def step_and_observe(self, acting: np.ndarray, starting: np.ndarray, frame: int,
                         acting_data: Sequence[dict[str, Any]], starting_data: Sequence[dict[str, Any]]) -> WorldStep:
        """:meth:`step` and :meth:`observe` in one pass: the acting and the starting heroes' BirdViews drawn in one
        call into one batch of frame stacks (a row a hero, ascending), which is also what their stacks are kept as
        (no stack copied where every hero of the world is in it, as in ``CarlaVectorEnv``)."""
        if not len(acting) or not len(starting):
            return super().step_and_observe(acting, starting, frame, acting_data, starting_data)
        heroes, order, rank = joined(acting, starting)  # (rank: each hero's row of the batch, acting then starting)
        data = [*acting_data, *starting_data]
        rows = self.kinematics(heroes)
        observations, facts = self._observations(heroes, rows, frame, [data[k] for k in order.tolist()],
                                                 order >= len(acting))
        acted = rank[:len(acting)]
        outcome = self._outcome(acting, rows[acted], {key: values[acted] for key, values in facts.items()}, None)
        return WorldStep(outcome, _first_infos(facts, rank[len(acting):]), observations, heroes)

    def _outcome(self, indices: np.ndarray, rows: np.ndarray, infos: dict[str, np.ndarray],
                 observations: Any) -> BatchOutcome:
        """The outcome of the step heroes ``indices`` (kinematics ``rows``, this frame's ``infos``: collisions and
        lane invasions) acted in, with their ``observations``."""
        count = len(indices)
        # DQNExperiment.get_done_status
        speed = 3.6 * speeds(rows)  # km/h
        moving = speed > 1.0
        if self.excused_waits:
            for row in (~moving).nonzero()[0]:
                k = int(indices[row])
                moving[row] = waiting_for_a_reason(self.route_lights[k], self.agents[k])
        done_idle, done_episode = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
        _count_ticks(indices, moving, self.time_idle, self.time_episode, self.max_time_idle, self.max_time_episode,
                     done_idle, done_episode)
        lane_codes, _, deviation = lane_check_codes(self.agents[0].map, rows[:, X:Z + 1], rows[:, YAW],
                                                    self.controls_now[indices, 1])
        steps = self.task.step(indices, rows)
        # DQNExperiment.compute_reward (the route variant) and its record of the step
        moved = np.empty((count, 2))
        _moved(indices, rows, self.last_xy, moved)
        distance = np.array([math.hypot(dx, dy) for dx, dy in moved.tolist()])  # (as DQNExperiment's)
        totals, counts = self.totals, self.counts
        terminated, truncated, rewards = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_), \
            np.empty(count)
        episode = np.empty((4, count))  # distance, distance on a lane, mean speed, mean heading deviation
        falling = rows[:, Z] < -0.5
        ending = _record(indices, falling, done_idle, done_episode, steps.ended, steps.truncated, steps.failed,
                         steps.gained, steps.speed_factor, steps.offset_factor, float(self.idle_penalty),
                         float(self.terminal_penalty), distance, ON_LANE_CODES[lane_codes], speed, deviation,
                         totals["distance"], totals["distance_on_lane"], totals["speed_sum"], totals["heading_sum"],
                         counts["steps"], terminated, truncated, rewards, episode)
        infos.update(speed=speed, distance=distance, heading_deviation=deviation, lane_state=LANE_STATES[lane_codes],
                     episode_distance=episode[0], episode_distance_on_lane=episode[1], episode_mean_speed=episode[2],
                     episode_heading_deviation=episode[3],
                     episode_collisions=counts["collisions"][indices],
                     episode_lane_invasions=counts["lane_invasions"][indices],
                     route_completion=steps.route_completion, route_offset=steps.offset,
                     episode_route_completion=steps.route_completion.copy())  # (an array a key)
        route_end = steps.ended & ~steps.truncated
        reasons = np.empty(count, dtype=object)  # (None each) the first that holds, in DQNExperiment._record's order
        if ending:  # (else no reason holds)
            for holds, reason in ((done_episode, "max_time"), (route_end, steps.end_reasons), (done_idle, "idle"),
                                  (falling, "falling")):
                reasons = np.where(holds, reason, reasons)
        return BatchOutcome(observations, rewards, terminated, truncated, infos, reasons)

    def _keep_stacks(self, indices: np.ndarray, images: np.ndarray) -> None:
        """Keep ``images`` (the new frame stacks of heroes ``indices``) as those heroes' stacks. Where every hero
        stepped, in order, they are the stacks, no copy made: an observation handed out is never written again (the
        next step's frames are new arrays), so the stacks are copied before rows of them are written."""
        if every_row(indices, len(self.stacks)):
            self.stacks, self._stacks_handed_out = images, True
            return
        if self._stacks_handed_out:
            self.stacks, self._stacks_handed_out = self.stacks.copy(), False
        self.stacks[indices] = images

    def _observations(self, indices: np.ndarray, rows: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]],
                      first: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
        """``DQNExperiment.get_observation`` of heroes ``indices`` (kinematics ``rows``) at ``frame``, each an
        episode's ``first`` (its picture in every frame) or the next of its stack: the observations and their facts
        (collisions and lane invasions this frame, a column each)."""
        renderers, poses = [self.renderers[k] for k in indices.tolist()], rows[:, X:YAW + 1]
        masks = renderers[0].output == "masks"
        images = np.empty((len(indices),) + self.stacks.shape[1:], dtype=np.uint8)
        stepped, started = (~first).nonzero()[0], first.nonzero()[0]
        newest = images[..., images.shape[3] - self.channels:]
        if len(stepped):  # (the newest frame's channels zeroed)
            shift_frames(self.stacks, indices[stepped], self.channels, images, stepped)
        if masks:  # the masks are drawn straight into the newest frame's channels, which hold zeros
            if len(started):
                newest[started] = 0
            renderers[0].draw(renderers, poses, frame, newest, True)
            if len(started):
                _repeat_newest(images, started, self.channels)  # a first picture in every frame
        else:  # (OpenCV's colours, then their channels placed by one OpenCV call a hero: faster than drawn in place)
            place_frames(renderers[0].draw(renderers, poses, frame), first, images)
        self._keep_stacks(indices, images)
        sensing = any(sensor_data)  # (else no hero has a sensor: no collision, no lane invasion)
        facts = {name: np.array([len(data.get(sensor, (0, []))[1]) for data in sensor_data], dtype=np.int64)
                 if sensing else np.zeros(len(sensor_data), dtype=np.int64)
                 for name, sensor in (("collisions", "collision"), ("lane_invasions", "lane_invasion"))}
        self.counts["collisions"][indices] += facts["collisions"]
        self.counts["lane_invasions"][indices] += facts["lane_invasions"]
        if not self.state_input:
            return images, facts
        state = np.zeros((len(indices), 4), dtype=np.float32)
        state[:, 0] = speeds(rows) / SPEED_SCALE
        state[:, 1:] = self.controls_now[indices]
        if self.light_ahead:
            light = np.stack([self.route_lights[k].features() if self.route_lights[k] is not None else no_light()
                              for k in indices.tolist()])
            state = np.concatenate([state, light], axis=1)
        return {"image": images, "state": state}, facts
