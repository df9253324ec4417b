"""``MultiAgentCarlaEnv``: several heroes of one synchronous world as the agents of an RLlib ``MultiAgentEnv``.

Each hero is driven through its own instance of the user's unchanged experiment (``self.core.hero`` is that
agent's hero; the world is set up once; see :class:`~.shared_world.SharedWorld`). Configuration, in
``env_config.experiment``:

- ``heroes``: the number of heroes (configured as ``hero``), or a list of hero configurations (their own
  blueprints, sensors, spawn points), each merged onto ``hero``;
- ``agents_respawn``: false (an agent whose episode ends leaves the world; the episode ends when every agent
  has ended) or true (it is replaced at the next step by a new agent, with a new id, on a new route);
- ``episode_steps``: every agent still driving is truncated after this many steps (0: no limit; with
  ``agents_respawn`` the episode then never ends by itself).

Agent ids are ``hero_<i>`` for hero *i*'s first life and ``hero_<i>_<n>`` for its *n*-th respawn
(:func:`hero_index` gives *i* back, for a ``policy_mapping_fn`` that gives heroes their own policies).
Spaces are the experiments': ``get_observation_space(agent_id)`` / ``get_action_space(agent_id)``. One step
ticks the world once for all agents; the step's outcome of each agent is computed by its experiment's
``step_outcome``. It runs on the embedded world and on a real CARLA server (``launch``/``connect``): N heroes
per server tick multiply a real server's samples per second by N.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from .carla_env import broken_episode_error
from .errors import EnvUsageError, SimulatorRestartedError
from .shared_world import SharedWorld


def agent_id(index: int, life: int = 0) -> str:
    """The id of hero ``index``'s agent in its ``life``-th life (0: the first)."""
    return f"hero_{index}" if life == 0 else f"hero_{index}_{life}"


def hero_index(agent: str) -> int:
    """The hero an agent id belongs to (``hero_3`` and ``hero_3_2`` give 3)."""
    return int(str(agent).split("_")[1])


class MultiAgentCarlaEnv(MultiAgentEnv):
    """N heroes in one world, one RLlib agent each (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.world = SharedWorld(dict(config or {}))
        experiment_config = self.world.experiments[0].config
        self.respawn = bool(experiment_config["agents_respawn"])
        self.episode_steps = int(experiment_config["episode_steps"])
        self.possible_agents = [agent_id(index) for index in range(len(self.world))]
        self.agents: list[str] = []
        self.observation_spaces = dict(zip(self.possible_agents, self.world.observation_spaces))
        self.action_spaces = dict(zip(self.possible_agents, self.world.action_spaces))
        self._rng = np.random.default_rng()
        self._current: dict[int, str] = {}  # hero index -> its live agent's id
        self._lives = [0] * len(self.world)
        self._pending: list[int] = []  # heroes respawned at the next step
        self._steps = 0
        self._started = False

    def get_observation_space(self, agent: str) -> gym.Space:
        return self.world.observation_spaces[hero_index(agent)]

    def get_action_space(self, agent: str) -> gym.Space:
        return self.world.action_spaces[hero_index(agent)]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode for every hero (see :meth:`SharedWorld.reset`); ``seed`` reseeds the draws of
        towns, routes and spawn points."""
        if self.world.core is None:
            raise EnvUsageError("MultiAgentCarlaEnv.reset: the env is closed. Fix: create a new one.")
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._started = False
        try:
            firsts = self.world.reset(self._rng)
        except SimulatorRestartedError as error:
            raise broken_episode_error(error) from error
        self._current = {index: agent_id(index) for index in range(len(self.world))}
        self._lives = [0] * len(self.world)
        self._pending, self._steps, self._started = [], 0, True
        self.agents = list(self._current.values())
        return ({self._current[i]: obs for i, (obs, _) in enumerate(firsts)},
                {self._current[i]: info for i, (_, info) in enumerate(firsts)})

    def step(self, action_dict: Mapping[str, Any]):
        """Every live agent's action in, one tick, each agent's ``(obs, reward, terminated, truncated, info)``
        out as dicts, with ``__all__`` in the terminated and truncated dicts."""
        actions = self._checked(action_dict)
        truncate_all = bool(self.episode_steps) and self._steps + 1 >= self.episode_steps
        respawn, self._pending = self._pending, []
        if truncate_all:  # no agent is born on the episode's last step
            for index in respawn:
                self.world.retire(index)
                del self._current[index]
            respawn = []
        for index in respawn:
            self._lives[index] += 1
            self._current[index] = agent_id(index, self._lives[index])
        try:
            outcomes, firsts = self.world.step(actions, respawn, self._rng)
        except SimulatorRestartedError as error:
            self._started = False
            raise broken_episode_error(error) from error
        self._steps += 1
        observations, rewards, terminateds, truncateds, infos = {}, {}, {}, {}, {}
        for index, outcome in outcomes.items():
            agent = self._current[index]
            observations[agent], rewards[agent], infos[agent] = outcome.observation, outcome.reward, outcome.info
            outcome.info["simulator_restarts"] = self.world.core.restarts
            terminateds[agent] = outcome.terminated
            truncateds[agent] = outcome.truncated or (truncate_all and not outcome.terminated)
            if terminateds[agent] or truncateds[agent]:
                if self.respawn and not truncate_all:
                    self._pending.append(index)
                else:
                    self.world.retire(index)
                    del self._current[index]
        for index, (observation, info) in firsts.items():
            agent = self._current[index]
            observations[agent], infos[agent] = observation, info
        self.agents = [agent for index, agent in self._current.items() if index not in self._pending]
        ended = not self._current  # every agent ended and none respawns
        terminateds["__all__"] = ended and not truncate_all and any(terminateds.values())
        truncateds["__all__"] = truncate_all or (ended and not terminateds["__all__"])
        if truncate_all or not self._current:
            self._started = False
        return observations, rewards, terminateds, truncateds, infos

    def _checked(self, action_dict: Mapping[str, Any]) -> dict[int, Any]:
        if self.world.core is None:
            raise EnvUsageError("MultiAgentCarlaEnv.step: the env is closed. Fix: create a new one and reset() it.")
        if not self._started:
            raise EnvUsageError("MultiAgentCarlaEnv.step: no episode running. Fix: call reset() first (and again "
                                "after the episode ended or the simulator failed).")
        live = {agent: index for index, agent in self._current.items() if index not in self._pending}
        unknown = sorted(set(action_dict) - set(live))
        missing = sorted(set(live) - set(action_dict))
        if unknown or missing:
            raise EnvUsageError(f"MultiAgentCarlaEnv.step: actions for {unknown or 'no'} agents that are not "
                                f"driving, none for {missing or 'no'} agents that are. Fix: give one action for "
                                f"each agent of the last observations (env.agents).")
        return {live[agent]: action for agent, action in action_dict.items()}

    def close(self) -> None:
        """Destroy the heroes and stop the simulator this env started."""
        world = getattr(self, "world", None)
        if world is not None:
            world.close()
