"""CARLA driving environments for Ray RLlib, on a real CARLA server or the embedded world."""

from .base_experiment import BaseExperiment
from .carla_core import CarlaCore
from .carla_env import CarlaEnv, load_env_config
from .config import BASE_CORE_CONFIG, BASE_EXPERIMENT_CONFIG, join_dicts
from .errors import ConfigError, EnvUsageError, SimulatorFailure, SimulatorRestartedError, SimulatorUnavailableError

__all__ = ["BASE_CORE_CONFIG", "BASE_EXPERIMENT_CONFIG", "BaseExperiment", "CarlaCore", "CarlaEnv",
           "ConfigError", "EnvUsageError", "SimulatorFailure", "SimulatorRestartedError", "SimulatorUnavailableError",
           "join_dicts", "load_env_config"]
