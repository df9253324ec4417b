"""``CarlaVectorEnv``: N sub-environments that are N heroes of one world, as a ``gymnasium.vector.VectorEnv``.

A single-agent experiment runs in it unchanged: each sub-environment is one hero driven through its own
instance of the experiment (:class:`~.shared_world.SharedWorld`), and one :meth:`CarlaVectorEnv.step` ticks
the world once for all of them. A sub-environment whose episode ended is reset at its next step
(gymnasium's next-step autoreset: that step's action is ignored and its observation is the new episode's
first; its reward is 0): its hero is placed anew on a new route while the others drive on. The town and the
background traffic change only at :meth:`CarlaVectorEnv.reset`.

RLlib takes it as is::

    config.environment(CarlaVectorEnv, env_config=env_config).env_runners(
        num_envs_per_env_runner=8, gym_env_vectorize_mode="vector_entry_point")

(RLlib then calls ``CarlaVectorEnv(env_config | {"num_envs": 8})``).

Observation and action spaces are the experiment's, batched (``single_observation_space``,
``single_action_space``). Infos follow gymnasium's vector convention (a dict of arrays, with ``_key`` masks).
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from .errors import EnvUsageError
from .shared_world import SharedWorld


class CarlaVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` heroes of one world as sub-environments (see the module docstring)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, env_config: Mapping[str, Any] | None = None, num_envs: int | None = None) -> None:
        config = dict(env_config or {})
        given = config.pop("num_envs", None)
        num_envs = int(num_envs if num_envs is not None else given if given is not None else 1)
        if num_envs < 1:
            raise EnvUsageError(f"CarlaVectorEnv: num_envs={num_envs}. Fix: give at least 1 sub-environment.")
        self.world = SharedWorld(config, count=num_envs)
        self.num_envs = num_envs
        self.single_observation_space = self.world.observation_spaces[0]
        self.single_action_space = self.world.action_spaces[0]
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
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
        firsts = self.world.reset(self._rng)
        self._autoreset[:] = False
        self._started = True
        infos: dict[str, Any] = {}
        for index, (_, info) in enumerate(firsts):
            infos = self._add_info(infos, info, index)
        return self._batch([obs for obs, _ in firsts]), infos

    def step(self, actions: Any):
        """One tick for every hero; sub-environments that ended at the last step are reset by this one."""
        if self.world.core is None or not self._started:
            raise EnvUsageError("CarlaVectorEnv.step: no episode running. Fix: call reset() first.")
        actions = list(iterate(self.action_space, actions))
        acting = {index: actions[index] for index in range(self.num_envs) if not self._autoreset[index]}
        respawn = [index for index in range(self.num_envs) if self._autoreset[index]]
        outcomes, firsts = self.world.step(acting, respawn, self._rng)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        single: list[Any] = [None] * self.num_envs
        infos: dict[str, Any] = {}
        for index, outcome in outcomes.items():
            single[index] = outcome.observation
            rewards[index], terminated[index], truncated[index] = outcome.reward, outcome.terminated, outcome.truncated
            infos = self._add_info(infos, outcome.info, index)
        for index, (observation, info) in firsts.items():
            single[index] = observation
            infos = self._add_info(infos, info, index)
        self._autoreset = terminated | truncated
        return self._batch(single), rewards, terminated, truncated, infos

    def _batch(self, observations: list[Any]) -> Any:
        """The sub-environments' observations in a new batch (never a buffer reused by the next step: RLlib keeps
        views of it in its episodes)."""
        return concatenate(self.single_observation_space, observations,
                           create_empty_array(self.single_observation_space, self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        """Destroy the heroes and stop the simulator this env started."""
        world = getattr(self, "world", None)
        if world is not None:
            world.close()
