"""``CarlaEnv``: the gymnasium environment RLlib runs, gluing an experiment to a ``CarlaCore``."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

import gymnasium as gym

from .base_experiment import BaseExperiment
from .carla_core import CarlaCore
from .config import ConfigError, load_yaml, validate_env_config


def resolve_experiment_class(spec: Any) -> type[BaseExperiment]:
    """The experiment class named by ``env_config.experiment.type``: a class, or an import path
    such as ``"dqn_example.dqn_experiment:DQNExperiment"`` (``module.Class`` works too)."""
    where = "env_config.experiment.type"
    if spec is None:
        raise ConfigError(f"{where}: missing. Fix: set it to a BaseExperiment subclass or its "
                          f"import path, e.g. 'dqn_example.dqn_experiment:DQNExperiment'.")
    if isinstance(spec, str):
        module_name, _, class_name = spec.partition(":") if ":" in spec else spec.rpartition(".")
        try:
            spec = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigError(f"{where}: cannot import '{spec}' ({error}). Fix: give "
                              f"'package.module:ClassName' importable from the working "
                              f"directory.") from None
    if not (isinstance(spec, type) and issubclass(spec, BaseExperiment)):
        raise ConfigError(f"{where}: {spec!r} is not a BaseExperiment subclass. Fix: subclass "
                          f"rllib_integration.base_experiment.BaseExperiment.")
    return spec


def load_env_config(path: str, default_experiment: type[BaseExperiment] | None = None) -> dict[str, Any]:
    """Read a YAML file (an RLlib config with an ``env_config`` section) and validate its
    ``env_config`` against the experiment's keys; errors name the file and the key path.

    The experiment is ``env_config.experiment.type`` (an import path) or ``default_experiment``.
    Returns the whole file as a dict, with ``env_config.experiment.type`` set to the class.
    """
    data = load_yaml(path)
    env_config = data.setdefault("env_config", {})
    if not isinstance(env_config, dict):
        raise ConfigError(f"{path}: env_config: expected a mapping with 'carla' and 'experiment'. "
                          f"Fix: write them as nested keys.")
    experiment = env_config.setdefault("experiment", {}) or {}
    if not isinstance(experiment, dict):
        raise ConfigError(f"{path}: env_config.experiment: expected a mapping. Fix: write its keys "
                          f"as 'key: value' lines.")
    env_config["experiment"] = experiment
    try:
        experiment["type"] = resolve_experiment_class(experiment.get("type", default_experiment))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    validate_env_config(env_config, path, experiment["type"].default_config())
    return data


def split_done(done: Any) -> tuple[bool, bool]:
    """``(terminated, truncated)`` from what ``get_done_status`` returned."""
    if isinstance(done, tuple):
        terminated, truncated = done
        return bool(terminated), bool(truncated)
    return bool(done), False


class CarlaEnv(gym.Env):
    """A CARLA driving environment whose spaces, actions, observations, rewards and episode ends
    come from an experiment (``env_config.experiment.type``).

    ``config`` is RLlib's ``env_config``: ``{"carla": {...}, "experiment": {"type": ..., ...}}``.
    Spaces are the experiment's ``get_action_space()`` and ``get_observation_space()``.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = dict(config or {})
        experiment_config = dict(config.get("experiment") or {})
        experiment_class = resolve_experiment_class(experiment_config.get("type"))
        validate_env_config(config, "env_config", experiment_class.default_config())
        self.experiment = experiment_class(experiment_config)
        self.action_space = self.experiment.get_action_space()
        self.observation_space = self.experiment.get_observation_space()
        self.core = CarlaCore(config.get("carla") or {})
        self.experiment.core = self.core
        try:
            self.core.setup_experiment(self.experiment.config)
        except Exception:
            self.core.close()
            raise

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Respawn the hero (spawn point drawn from the env's seeded RNG) and start an episode."""
        super().reset(seed=seed)
        self.core.reset_hero(self.experiment.config["hero"], self.np_random)
        self.experiment.reset()
        sensor_data = self.core.tick(None)
        observation, info = self.experiment.get_observation(sensor_data)
        return observation, dict(info or {})

    def step(self, action: Any):
        """Apply the action, tick, and return ``(obs, reward, terminated, truncated, info)``."""
        control = self.experiment.compute_action(action)
        sensor_data = self.core.tick(control)
        observation, info = self.experiment.get_observation(sensor_data)
        terminated, truncated = split_done(self.experiment.get_done_status(observation, self.core))
        reward = self.experiment.compute_reward(observation, self.core)
        return observation, float(reward), terminated, truncated, dict(info or {})

    def close(self) -> None:
        """Release the hero, the sensors and the simulator this env created."""
        core = getattr(self, "core", None)
        if core is not None:
            core.close()
