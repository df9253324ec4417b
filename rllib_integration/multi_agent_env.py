"""``MultiAgentCarlaEnv``: several heroes of one synchronous world as the agents of an RLlib ``MultiAgentEnv``
(configuration, agent ids and episode ends: :mod:`.hero_agents`).

    config.environment(MultiAgentCarlaEnv, env_config={"carla": {...}, "experiment": {..., "heroes": 8}})
          .multi_agent(policies={"shared"}, policy_mapping_fn=lambda agent, episode, **kw: "shared")

Spaces are the experiments': ``get_observation_space(agent_id)`` / ``get_action_space(agent_id)``. The
terminated and truncated dicts carry RLlib's ``__all__``. A simulator failure restarts the simulator and raises
RLlib's ``StepFailedRecreateEnvError`` (the episode is dropped; the next ``reset`` works).
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from .carla_env import broken_episode_error
from .errors import SimulatorRestartedError
from .hero_agents import HeroAgents


class MultiAgentCarlaEnv(MultiAgentEnv):
    """N heroes in one world, one RLlib agent each (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.heroes = HeroAgents(config, "MultiAgentCarlaEnv")
        self.world = self.heroes.world
        self.possible_agents = list(self.heroes.possible_agents)
        self.agents: list[str] = []
        self.observation_spaces, self.action_spaces = self.heroes.observation_spaces, self.heroes.action_spaces

    def get_observation_space(self, agent: str) -> gym.Space:
        return self.heroes.observation_space(agent)

    def get_action_space(self, agent: str) -> gym.Space:
        return self.heroes.action_space(agent)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode for every hero; ``seed`` reseeds the draws of towns, routes and spawn points."""
        try:
            observations, infos = self.heroes.reset(seed)
        except SimulatorRestartedError as error:
            raise broken_episode_error(error) from error
        self.agents = list(self.heroes.agents)
        return observations, infos

    def step(self, action_dict: Mapping[str, Any]):
        """Every live agent's action in, one tick, ``(obs, rewards, terminateds, truncateds, infos)`` out."""
        try:
            observations, rewards, terminateds, truncateds, infos, all_terminated, all_truncated = \
                self.heroes.step(action_dict)
        except SimulatorRestartedError as error:
            raise broken_episode_error(error) from error
        terminateds["__all__"], truncateds["__all__"] = all_terminated, all_truncated
        self.agents = list(self.heroes.agents)
        return observations, rewards, terminateds, truncateds, infos

    @property
    def simulator_restarts(self) -> int:
        """How often this env's simulator was restarted after a failure (0 once closed)."""
        return self.world.core.restarts if self.world.core is not None else 0

    def close(self) -> None:
        """Destroy the heroes and stop the simulator this env started."""
        heroes = getattr(self, "heroes", None)
        if heroes is not None:
            heroes.close()
