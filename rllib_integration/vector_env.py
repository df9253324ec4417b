"""``CarlaVectorEnv``: N sub-environments that are N heroes of one world, as a ``gymnasium.vector.VectorEnv``.

A single-agent experiment runs in it unchanged: each sub-environment is one hero driven through its own
instance of the experiment (:class:`~.shared_world.SharedWorld`), and one :meth:`CarlaVectorEnv.step` ticks
the world once for all of them. A sub-environment whose episode ended is reset at its next step
(gymnasium's next-step autoreset: that step's action is ignored and its observation is the new episode's
first; its reward is 0): its hero is placed anew on a new route while the others drive on. The town and the
background traffic change only at :meth:`CarlaVectorEnv.reset`.

``env_config.experiment.worlds: K`` spreads the N sub-environments over K worlds of N / K heroes each (stepped
one after the other in this process): more envs for one batched policy pass while each world keeps the traffic
density of a few heroes. K = 1 (the default) is one world of N heroes.

RLlib takes it as is::

    config.environment(CarlaVectorEnv, env_config=env_config).env_runners(
        num_envs_per_env_runner=8, gym_env_vectorize_mode="vector_entry_point")

(RLlib then calls ``CarlaVectorEnv(env_config | {"num_envs": 8})``).

Observation and action spaces are the experiment's, batched (``single_observation_space``,
``single_action_space``). Infos follow gymnasium's vector convention (a dict of arrays, with ``_key`` masks).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate
from numba import njit

from .batch_experiment import every_row, everyone, set_batch_rows
from .carla_env import make_experiment, shown_live
from .errors import ConfigError, EnvUsageError
from .shared_world import SharedWorld, hero_count


class CarlaVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` heroes of one world (or of ``experiment.worlds`` worlds) as sub-environments (see the module
    docstring)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, env_config: Mapping[str, Any] | None = None, num_envs: int | None = None) -> None:
        config = dict(env_config or {})
        given = config.pop("num_envs", None)
        experiment = make_experiment(config).config  # validated
        worlds = experiment["worlds"]
        default = hero_count(experiment) * worlds  # the heroes of every world
        num_envs = int(num_envs if num_envs is not None else given if given is not None else default)
        if num_envs < 1:
            raise EnvUsageError(f"CarlaVectorEnv: num_envs={num_envs}. Fix: give at least 1 sub-environment.")
        if num_envs % worlds:
            raise ConfigError(f"env_config.experiment.worlds: {worlds} worlds cannot share {num_envs} envs evenly. "
                              f"Fix: make the number of envs a multiple of the worlds (heroes x worlds).")
        live = shown_live(env_config)
        self.worlds: list[SharedWorld] = []
        try:
            for index in range(worlds):
                self.worlds.append(SharedWorld(config, count=num_envs // worlds, live=live and index == 0))
        except Exception:
            for world in self.worlds:
                world.close()
            raise
        self.world = self.worlds[0]  # the first (the only one with worlds: 1)
        self.num_envs = num_envs
        self.single_observation_space = self.world.observation_spaces[0]
        self.single_action_space = self.world.action_spaces[0]
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._action_bounds = action_bounds(self.action_space)
        self._batch_layout = batch_layout(self.single_observation_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._rng = np.random.default_rng()
        self._started = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Reset every sub-environment (a new town where the experiment lists several, new routes)."""
        if self.world.core is None:
            raise EnvUsageError("CarlaVectorEnv.reset: the env is closed. Fix: create a new one.")
        if isinstance(seed, (list, tuple)):
            seed = seed[0]
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        firsts = [first for world in self.worlds for first in world.reset(self._rng)]
        self._autoreset[:] = False
        self._started = True
        return self._batch([obs for obs, _ in firsts]), vector_infos(self.num_envs, [info for _, info in firsts])

    def step(self, actions: Any):
        """One tick for every hero; sub-environments that ended at the last step are reset by this one."""
        if self.world.core is None or not self._started:
            raise EnvUsageError("CarlaVectorEnv.step: no episode running. Fix: call reset() first.")
        if self.world.batch is not None:
            return self._step_batches(actions)
        actions = list(iterate(self.action_space, actions))
        outcomes, firsts = {}, {}
        size = self.num_envs // len(self.worlds)
        for number, world in enumerate(self.worlds):  # sub-environment k is hero k - offset of world k // size
            offset = number * size
            acting = {k - offset: actions[k] for k in range(offset, offset + size) if not self._autoreset[k]}
            respawn = [k - offset for k in range(offset, offset + size) if self._autoreset[k]]
            world_outcomes, world_firsts = world.step(acting, respawn, self._rng)
            outcomes.update({offset + k: outcome for k, outcome in world_outcomes.items()})
            firsts.update({offset + k: first for k, first in world_firsts.items()})
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        single: list[Any] = [None] * self.num_envs
        infos: list[tuple[int, dict[str, Any]]] = []
        for index, outcome in outcomes.items():
            single[index] = outcome.observation
            rewards[index], terminated[index], truncated[index] = outcome.reward, outcome.terminated, outcome.truncated
            infos.append((index, outcome.info))
        for index, (observation, info) in firsts.items():
            single[index] = observation
            infos.append((index, info))
        self._autoreset = terminated | truncated
        return self._batch(single), rewards, terminated, truncated, vector_infos(self.num_envs, infos)

    def _step_batches(self, actions: Any):
        """:meth:`step` with every world stepped through its experiment's batched twin (arrays, no hero-by-hero
        calls): the same results."""
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape or not self._holds(actions.astype(self.action_space.dtype,
                                                                                       copy=False)):
            raise EnvUsageError(f"CarlaVectorEnv.step: actions of shape {actions.shape} are not a batch of "
                                f"{self.single_action_space}. Fix: pass an action of the env's action_space.")
        observations = rewards = terminated = truncated = None
        infos: dict[str, Any] = {}
        firsts: list[tuple[int, dict[str, Any]]] = []
        size = self.num_envs // len(self.worlds)
        for number, world in enumerate(self.worlds):
            offset = number * size
            ending = self._autoreset[offset:offset + size]
            respawned = ending.nonzero()[0]
            acting = (~ending).nonzero()[0] if len(respawned) else everyone(size)  # (most steps: every hero acts)
            chosen = actions[offset:offset + size] if every_row(acting, size) else actions[offset + acting]
            world_step = world.step_batch(acting, chosen, respawned, self._rng)
            adopted = self._adopted(world_step.observations) if size == self.num_envs and \
                every_row(world_step.heroes, size) else None  # one world: every hero's row, in order
            if observations is None:
                observations = adopted if adopted is not None else \
                    create_empty_array(self.single_observation_space, self.num_envs)
            if adopted is None:
                set_batch_rows(observations, offset + world_step.heroes, world_step.observations)
            outcome = world_step.outcome
            if outcome is not None and len(acting) == self.num_envs:  # one world, every hero acting: its arrays
                rewards, terminated, truncated = (np.asarray(outcome.rewards, dtype=np.float64),
                                                  np.asarray(outcome.terminated, dtype=bool),
                                                  np.asarray(outcome.truncated, dtype=bool))
            else:
                if rewards is None:
                    rewards = np.zeros(self.num_envs, dtype=np.float64)
                    terminated, truncated = np.zeros(self.num_envs, dtype=bool), np.zeros(self.num_envs, dtype=bool)
                if outcome is not None:
                    rewards[offset + acting] = outcome.rewards
                    terminated[offset + acting], truncated[offset + acting] = outcome.terminated, outcome.truncated
            if outcome is not None:
                merge_infos(infos, self.num_envs, offset + acting, outcome.infos, outcome.end_reasons,
                            outcome.terminated | outcome.truncated)
            firsts += [(offset + int(index), info) for index, info in zip(respawned, world_step.first_infos)]
        if firsts:
            first_infos = vector_infos(self.num_envs, firsts)
            for key in [key for key in first_infos if not key.startswith("_")]:
                mask = first_infos[f"_{key}"]
                if key in infos:  # a key the acting heroes' infos have too: the new episodes' values in their rows
                    infos[key][mask], infos[f"_{key}"] = first_infos[key][mask], infos[f"_{key}"] | mask
                else:
                    infos[key], infos[f"_{key}"] = first_infos[key], mask
        self._autoreset = terminated | truncated
        return observations, rewards, terminated, truncated, infos

    def _holds(self, actions: np.ndarray) -> bool:
        """``self.action_space.contains(actions)`` (a batch of the space's dtype and shape), in one compiled pass where
        the space is a batch of bounds (timers inside a step of 32 heroes: 3.6 µs a tick against ``contains``'s 22)."""
        if self._action_bounds is None:
            return self.action_space.contains(actions)
        low, high = self._action_bounds
        return _within(actions.reshape(-1), low, high)

    @property
    def simulator_restarts(self) -> int:
        """How often this env's simulators were restarted after a failure, all worlds together."""
        return sum(world.core.restarts for world in self.worlds if world.core is not None)

    def _adopted(self, observations: Any) -> Any:
        """A batch's ``observations`` as this step's batch where they are a whole batch of the observation space
        (arrays of its dtypes and shapes, in its key order), or None: a batch's arrays are its own and new each step
        (``BatchOutcome``), so they are handed out without a copy into a new batch."""
        def whole(layout: Any, value: Any) -> Any:
            if layout is None:
                return None
            if layout[0] == "dict":
                _, keys, names, parts = layout
                if not isinstance(value, dict) or value.keys() != names:
                    return None
                adopted = {key: whole(part, value[key]) for key, part in zip(keys, parts)}
                return None if any(part is None for part in adopted.values()) else adopted
            _, dtype, shape = layout
            return value if isinstance(value, np.ndarray) and value.dtype == dtype and value.shape == shape else None
        return whole(self._batch_layout, observations)

    def _batch(self, observations: list[Any]) -> Any:
        """The sub-environments' observations in a new batch (never a buffer reused by the next step: RLlib keeps
        views of it in its episodes)."""
        return concatenate(self.single_observation_space, observations,
                           create_empty_array(self.single_observation_space, self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        """Destroy the heroes and stop the simulators this env started."""
        for world in getattr(self, "worlds", []):
            world.close()


def batch_layout(space: gym.Space, count: int) -> Any:
    """What :meth:`CarlaVectorEnv._adopted` checks a batch of ``count`` observations of ``space`` against, made once:
    ``("dict", keys in order, their set, each key's layout)``, ``("box", dtype, batch shape)``, None for other spaces
    (a batch of them is always copied)."""
    if isinstance(space, gym.spaces.Dict):
        keys = tuple(space.spaces)
        return "dict", keys, frozenset(keys), tuple(batch_layout(space.spaces[key], count) for key in keys)
    if isinstance(space, gym.spaces.Box):
        return "box", space.dtype, (count, *space.shape)
    return None


def action_bounds(space: gym.Space) -> tuple[np.ndarray, np.ndarray] | None:
    """The bounds (lowest, highest: flat, in the space's dtype) that a ``MultiDiscrete`` or ``Box`` action of
    ``space`` holds each value within, as its ``contains`` checks them; None for other spaces."""
    if isinstance(space, gym.spaces.MultiDiscrete):
        return space.start.reshape(-1), (space.start + space.nvec - 1).astype(space.dtype).reshape(-1)
    if isinstance(space, gym.spaces.Box):
        return space.low.reshape(-1), space.high.reshape(-1)
    return None


@njit(cache=True)
def _within(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    """Whether every ``values[i]`` lies within [``low[i]``, ``high[i]``] (NaN does not)."""
    for i in range(values.shape[0]):
        if not (low[i] <= values[i] <= high[i]):
            return False
    return True


def vector_infos(num_envs: int, infos: list[tuple[int, dict[str, Any]]] | list[dict[str, Any]]) -> dict[str, Any]:
    """The sub-environments' infos (``(index, info)`` pairs, or a list of every index's info) in gymnasium's vector
    layout, as ``VectorEnv._add_info`` builds it one info at a time: an array a key (typed as its first value:
    ``int``, ``float``, ``bool``, a NumPy number or array; objects otherwise; nested dicts alike) and a ``_key``
    mask of the sub-environments that gave it. Built a key at a time over all sub-environments."""
    pairs = list(enumerate(infos)) if infos and isinstance(infos[0], dict) else list(infos)
    grouped: dict[str, list[tuple[int, Any]]] = {}
    for index, info in pairs:
        for key, value in info.items():
            grouped.setdefault(key, []).append((index, value))
    result: dict[str, Any] = {}
    for key, values in grouped.items():
        indices = [index for index, _ in values]
        first = values[0][1]
        if key != "final_obs" and isinstance(first, dict):
            result[key] = vector_infos(num_envs, [(i, v) for i, v in values if isinstance(v, dict)])
        else:
            if key == "final_obs" or not (type(first) in (int, float, bool) or isinstance(first, (np.number, np.ndarray))):
                array = np.full(num_envs, fill_value=None, dtype=object)
                for index, value in values:
                    array[index] = value
            elif isinstance(first, np.ndarray):
                array = np.zeros((num_envs, *first.shape), dtype=first.dtype)
                array[indices] = [value for _, value in values]
            else:
                array = np.zeros(num_envs, dtype=type(first))
                array[indices] = [value for _, value in values]
            result[key] = array
        mask = np.zeros(num_envs, dtype=np.bool_)
        mask[indices] = True
        result[f"_{key}"] = mask
    return result


@functools.lru_cache(maxsize=16)
def mask_names(keys: tuple[str, ...]) -> list[str]:
    """gymnasium's mask key of each info key (``_key``), kept for the few key sets a batch gives."""
    return [f"_{key}" for key in keys]


def merge_infos(infos: dict[str, Any], num_envs: int, rows: np.ndarray, values: dict[str, np.ndarray],
                end_reasons: np.ndarray, ended: np.ndarray) -> None:
    """Add a batch's infos of sub-environments ``rows`` (ascending; one array a key, and each row's end reason or None,
    which only the rows whose episode ``ended`` have) to ``infos`` in gymnasium's vector layout (as
    :func:`vector_infos` lays out the same values)."""
    if len(rows) == num_envs:  # rows are ascending and distinct: every sub-environment, in order
        first = not infos  # (the only world's: its rows are every sub-environment)
        new = list(values) if first else [key for key in values if key not in infos]
        infos.update(values if first else {key: values[key] for key in new})  # (as they are: a batch's infos are
        # arrays of its own)
        masks = np.empty((len(new), num_envs), dtype=np.bool_)  # (one block; np.ones is a Python function)
        masks.fill(True)
        infos.update(zip(mask_names(tuple(new)), masks))
        values = {key: column for key, column in values.items() if key not in new} if len(new) < len(values) else {}
    if not infos and values:  # (the only world's, some sub-environments not acting: a block a dtype, one write each)
        _spread(infos, num_envs, rows, values)
        values = {}
    for key, column in values.items():
        if key not in infos:
            infos[key] = np.full(num_envs, None, dtype=object) if column.dtype == object \
                else np.zeros(num_envs, dtype=column.dtype)
            infos[f"_{key}"] = np.zeros(num_envs, dtype=np.bool_)
        infos[key][rows] = column
        infos[f"_{key}"][rows] = True
    if not np.count_nonzero(ended):  # (most steps; a fifth of ended.any()'s time)
        return
    end_reasons = np.asarray(end_reasons, dtype=object)
    ended = [k for k in np.flatnonzero(ended).tolist() if end_reasons[k] is not None]  # (few or none)
    if ended:
        if "end_reason" not in infos:
            infos["end_reason"] = np.full(num_envs, None, dtype=object)
            infos["_end_reason"] = np.zeros(num_envs, dtype=np.bool_)
        infos["end_reason"][rows[ended]] = end_reasons[ended]
        infos["_end_reason"][rows[ended]] = True


def _spread(infos: dict[str, Any], num_envs: int, rows: np.ndarray, values: dict[str, np.ndarray]) -> None:
    """:func:`merge_infos` into empty ``infos``: each key's array ``num_envs`` long with ``values`` at ``rows``, the
    other sub-environments 0 (None for objects) and unmasked; the keys of one dtype written as one block (a row each,
    as the key-by-key writes would give)."""
    by_dtype: dict[np.dtype, list[str]] = {}
    for key, column in values.items():
        by_dtype.setdefault(column.dtype, []).append(key)
    masks = np.zeros((len(values), num_envs), dtype=np.bool_)
    masks[:, rows] = True
    infos.update(zip(mask_names(tuple(values)), masks))
    for dtype, keys in by_dtype.items():
        block = np.full((len(keys), num_envs), None, dtype=object) if dtype == object \
            else np.zeros((len(keys), num_envs), dtype=dtype)
        block[:, rows] = [values[key] for key in keys]
        infos.update(zip(keys, block))
