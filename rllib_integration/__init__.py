"""CARLA driving environments for Ray RLlib, on a real CARLA server or the embedded world."""

from .base_experiment import BaseExperiment
from .carla_core import CarlaCore
from .carla_env import CarlaEnv, load_env_config
from .config import BASE_CORE_CONFIG, BASE_EXPERIMENT_CONFIG, join_dicts
from .errors import ConfigError, EnvUsageError, SimulatorFailure, SimulatorRestartedError, SimulatorUnavailableError

from .vector_env import CarlaVectorEnv

__all__ = ["BASE_CORE_CONFIG", "BASE_EXPERIMENT_CONFIG", "BaseExperiment", "CarlaCore", "CarlaEnv", "CarlaVectorEnv",
           "ConfigError", "EnvUsageError", "MultiAgentCarlaEnv", "SimulatorFailure", "SimulatorRestartedError",
           "SimulatorUnavailableError", "join_dicts", "load_env_config", "pettingzoo_env"]


def __getattr__(name: str):
    """``MultiAgentCarlaEnv`` (needs Ray, which the light install for running policies leaves out) and
    ``pettingzoo_env`` (needs PettingZoo) are imported when first asked for."""
    if name == "MultiAgentCarlaEnv":
        from .multi_agent_env import MultiAgentCarlaEnv
        return MultiAgentCarlaEnv
    if name == "pettingzoo_env":
        from .parallel_env import pettingzoo_env
        return pettingzoo_env
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
