"""``HeroAgents``: several heroes of one synchronous world as agents with ids, what the multi-agent views share
(:class:`~.multi_agent_env.MultiAgentCarlaEnv` for RLlib, :func:`~.parallel_env.pettingzoo_env` for PettingZoo).

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
(:func:`hero_index` gives *i* back, for a policy mapping that gives heroes their own policies). One step ticks
the world once for all agents; each agent's outcome is computed by its experiment's ``step_outcome``. It runs
on the embedded world and on a real CARLA server (``launch``/``connect``): N heroes per server tick multiply a
real server's samples per second by N.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from .carla_env import shown_live
from .errors import EnvUsageError, SimulatorRestartedError
from .shared_world import SharedWorld


def agent_id(index: int, life: int = 0) -> str:
    """The id of hero ``index``'s agent in its ``life``-th life (0: the first)."""
    return f"hero_{index}" if life == 0 else f"hero_{index}_{life}"


def hero_index(agent: str) -> int:
    """The hero an agent id belongs to (``hero_3`` and ``hero_3_2`` give 3)."""
    return int(str(agent).split("_")[1])


class HeroAgents:
    """N heroes in one world as agents with ids (see the module docstring); what the multi-agent views wrap."""

    def __init__(self, config: Mapping[str, Any] | None = None, name: str = "MultiAgentCarlaEnv") -> None:
        self.name = name
        self.world = SharedWorld(dict(config or {}), live=shown_live(config))
        experiment_config = self.world.experiments[0].config
        self.respawn = bool(experiment_config["agents_respawn"])
        self.episode_steps = int(experiment_config["episode_steps"])
        self.possible_agents = [agent_id(index) for index in range(len(self.world))]
        self.observation_spaces = {agent: self.observation_space(agent) for agent in self.possible_agents}
        self.action_spaces = {agent: self.action_space(agent) for agent in self.possible_agents}
        self.agents: list[str] = []
        self._rng = np.random.default_rng()
        self._current: dict[int, str] = {}  # hero index -> its live agent's id
        self._lives = [0] * len(self.world)
        self._pending: list[int] = []  # heroes respawned at the next step
        self._steps = 0
        self._started = False

    def observation_space(self, agent: str) -> gym.Space:
        """The observation space of an agent (its hero's experiment's)."""
        return self.world.observation_spaces[hero_index(agent)]

    def action_space(self, agent: str) -> gym.Space:
        """The action space of an agent (its hero's experiment's)."""
        return self.world.action_spaces[hero_index(agent)]

    def reset(self, seed: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode for every hero (see :meth:`SharedWorld.reset`); ``seed`` reseeds the draws of
        towns, routes and spawn points. A simulator failure raises :class:`SimulatorRestartedError`."""
        if self.world.core is None:
            raise EnvUsageError(f"{self.name}.reset: the env is closed. Fix: create a new one.")
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._started = False
        firsts = self.world.reset(self._rng)
        self._current = {index: agent_id(index) for index in range(len(self.world))}
        self._lives = [0] * len(self.world)
        self._pending, self._steps, self._started = [], 0, True
        self.agents = list(self._current.values())
        return ({self._current[i]: obs for i, (obs, _) in enumerate(firsts)},
                {self._current[i]: info for i, (_, info) in enumerate(firsts)})

    def step(self, action_dict: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict, bool, bool]:
        """Every live agent's action in, one tick, each agent's ``(obs, reward, terminated, truncated, info)``
        out as dicts, then whether the episode ended by termination and by truncation (every agent ended
        and none respawns, or ``episode_steps`` reached). A simulator failure raises
        :class:`SimulatorRestartedError`."""
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
        except SimulatorRestartedError:
            self._started = False
            raise
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
        all_terminated = ended and not truncate_all and any(terminateds.values())
        all_truncated = truncate_all or (ended and not all_terminated)
        if all_terminated or all_truncated:
            self._started = False
        return observations, rewards, terminateds, truncateds, infos, all_terminated, all_truncated

    def _checked(self, action_dict: Mapping[str, Any]) -> dict[int, Any]:
        if self.world.core is None:
            raise EnvUsageError(f"{self.name}.step: the env is closed. Fix: create a new one and reset() it.")
        if not self._started:
            raise EnvUsageError(f"{self.name}.step: no episode running. Fix: call reset() first (and again after "
                                f"the episode ended or the simulator failed).")
        live = {agent: index for index, agent in self._current.items() if index not in self._pending}
        unknown = sorted(set(action_dict) - set(live))
        missing = sorted(set(live) - set(action_dict))
        if unknown or missing:
            raise EnvUsageError(f"{self.name}.step: actions for {unknown or 'no'} agents that are not "
                                f"driving, none for {missing or 'no'} agents that are. Fix: give one action for "
                                f"each agent of the last observations (env.agents).")
        return {live[agent]: action for agent, action in action_dict.items()}

    def close(self) -> None:
        """Destroy the heroes and stop the simulator."""
        self.world.close()
