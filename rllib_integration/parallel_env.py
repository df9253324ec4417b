"""A PettingZoo ``ParallelEnv`` view of several heroes in one world, for users outside RLlib (configuration,
agent ids and episode ends: :mod:`.hero_agents`; needs ``pip install pettingzoo``).

    env = pettingzoo_env({"carla": {"simulator": "embedded"}, "experiment": {"type": MyExperiment, "heroes": 4}})
    observations, infos = env.reset(seed=0)
    while env.agents:
        observations, rewards, terminations, truncations, infos = env.step(
            {agent: env.action_space(agent).sample() for agent in env.agents})

Agents respawned with ``agents_respawn`` get new ids (``hero_<i>_<n>``), which ``possible_agents`` (the first
lives) does not list.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
from pettingzoo import ParallelEnv

from .hero_agents import HeroAgents


class CarlaParallelEnv(ParallelEnv):
    """N heroes in one world, one PettingZoo agent each (see the module docstring)."""

    metadata = {"name": "carla_parallel_v0", "render_modes": []}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.heroes = HeroAgents(config, "CarlaParallelEnv")
        self.possible_agents = list(self.heroes.possible_agents)
        self.agents: list[str] = []
        self.observation_spaces, self.action_spaces = self.heroes.observation_spaces, self.heroes.action_spaces

    def observation_space(self, agent: str) -> gym.Space:
        return self.heroes.observation_space(agent)

    def action_space(self, agent: str) -> gym.Space:
        return self.heroes.action_space(agent)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        observations, infos = self.heroes.reset(seed)
        self.agents = list(self.heroes.agents)
        return observations, infos

    def step(self, actions: Mapping[str, Any]):
        observations, rewards, terminations, truncations, infos, _, _ = self.heroes.step(actions)
        self.agents = list(self.heroes.agents)
        return observations, rewards, terminations, truncations, infos

    def close(self) -> None:
        self.heroes.close()


def pettingzoo_env(env_config: Mapping[str, Any] | None = None) -> CarlaParallelEnv:
    """The PettingZoo ``ParallelEnv`` of ``env_config`` (see the module docstring)."""
    return CarlaParallelEnv(env_config)
