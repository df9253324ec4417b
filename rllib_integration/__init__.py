"""CARLA driving environments for Ray RLlib, on a real CARLA server or the embedded world."""

from .base_experiment import BaseExperiment
from .carla_core import CarlaCore, SimulatorUnavailableError
from .carla_env import CarlaEnv, load_env_config
from .config import BASE_CORE_CONFIG, BASE_EXPERIMENT_CONFIG, ConfigError, join_dicts

__all__ = ["BASE_CORE_CONFIG", "BASE_EXPERIMENT_CONFIG", "BaseExperiment", "CarlaCore", "CarlaEnv",
           "ConfigError", "SimulatorUnavailableError", "join_dicts", "load_env_config"]
