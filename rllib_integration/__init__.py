"""CARLA driving environments for Ray RLlib, on a real CARLA server or the embedded world."""

from .base_experiment import BaseExperiment
from .carla_core import CarlaCore
from .carla_env import CarlaEnv, load_env_config
from .config import BASE_CORE_CONFIG, BASE_EXPERIMENT_CONFIG, join_dicts
from .errors import ConfigError, EnvUsageError, SimulatorFailure, SimulatorRestartedError, SimulatorUnavailableError

from .vector_env import CarlaVectorEnv

__all__ = ["BASE_CORE_CONFIG", "BASE_EXPERIMENT_CONFIG", "BaseExperiment", "CarlaCore", "CarlaEnv", "CarlaVectorEnv",
           "ConfigError", "EnvUsageError", "MultiAgentCarlaEnv", "SimulatorFailure", "SimulatorRestartedError",
           "SimulatorUnavailableError", "join_dicts", "load_env_config"]


def __getattr__(name: str):
    """``MultiAgentCarlaEnv`` is imported when first asked for: it needs Ray, which the light install for
    running policies leaves out."""
    if name == "MultiAgentCarlaEnv":
        from .multi_agent_env import MultiAgentCarlaEnv
        return MultiAgentCarlaEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
