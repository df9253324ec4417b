"""``CarlaEnv``: the gymnasium environment RLlib runs, gluing an experiment to a ``CarlaCore``."""

from __future__ import annotations

import atexit
from typing import Any, Iterable, Mapping

import gymnasium as gym
import numpy as np

from .base_experiment import BaseExperiment
from .carla_core import CarlaCore
from .common.import_path import import_object
from .config import apply_settings, load_yaml, validate_env_config
from .errors import ConfigError, EnvUsageError, SimulatorRestartedError
from .live import LivePublisher, LiveReporter
from .sensors import check_sensors
from .spawn_points import parse_spawn_points


def resolve_experiment_class(spec: Any) -> type[BaseExperiment]:
    """The experiment class named by ``env_config.experiment.type``: a class, or an import path
    such as ``"dqn_example.dqn_experiment:DQNExperiment"`` (``module.Class`` works too)."""
    where = "env_config.experiment.type"
    if spec is None:
        raise ConfigError(f"{where}: missing. Fix: set it to a BaseExperiment subclass or its "
                          f"import path, e.g. 'dqn_example.dqn_experiment:DQNExperiment'.")
    if isinstance(spec, str):
        try:
            spec = import_object(spec, dotted=True)
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigError(f"{where}: cannot import '{spec}' ({error}). Fix: give "
                              f"'package.module:ClassName' importable from the working "
                              f"directory.") from None
    if not (isinstance(spec, type) and issubclass(spec, BaseExperiment)):
        raise ConfigError(f"{where}: {spec!r} is not a BaseExperiment subclass. Fix: subclass "
                          f"rllib_integration.base_experiment.BaseExperiment.")
    return spec


def make_experiment(config: Mapping[str, Any], hero: Mapping[str, Any] | None = None) -> BaseExperiment:
    """The experiment of an ``env_config`` (validated; its sensors and spawn points checked before anything
    starts). ``hero`` replaces ``experiment.hero`` (one hero of several in a world)."""
    experiment_config = dict(config.get("experiment") or {})
    experiment_class = resolve_experiment_class(experiment_config.get("type"))
    validate_env_config(config, "env_config", experiment_class.default_config(),
                        experiment_ranges=experiment_class.CONFIG_RANGES)
    if hero is not None:
        experiment_config["hero"] = hero
    experiment = experiment_class(experiment_config)
    check_sensors(experiment.config["hero"]["sensors"])  # before the spaces, which the sensors size
    parse_spawn_points(experiment.config["hero"]["spawn_points"])
    return experiment


def load_env_config(path: str, default_experiment: type[BaseExperiment] | None = None,
                    settings: Iterable[tuple[tuple[str, ...], Any]] = ()) -> dict[str, Any]:
    """Read a YAML file (an RLlib config with an ``env_config`` section), with ``settings`` (a dotted key's parts
    and a value each: the training scripts' ``--set``) replacing its values, and validate its ``env_config``
    against the experiment's keys; errors name the file and the key path.

    The experiment is ``env_config.experiment.type`` (an import path) or ``default_experiment``.
    Returns the whole file as a dict, with ``env_config.experiment.type`` set to the class.
    """
    data = load_yaml(path)
    apply_settings(data, settings, path)
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
    experiment_class = experiment["type"]
    validate_env_config(env_config, path, experiment_class.default_config(),
                        experiment_ranges=experiment_class.CONFIG_RANGES)
    return data


#: Cores whose simulator was restarted after a failure, kept for the env RLlib creates next in this
#: process (RLlib recreates an env whose step failed), so the server is not launched twice.
_PARKED: dict[str, CarlaCore] = {}


def _close_parked() -> None:
    for core in _PARKED.values():
        core.close()
    _PARKED.clear()


def broken_episode_error(error: SimulatorRestartedError) -> Exception:
    """The exception that tells RLlib to drop the episode and recreate the env (Ray's
    ``StepFailedRecreateEnvError``); the error itself where Ray is not installed."""
    try:
        from ray.rllib.env.env_errors import StepFailedRecreateEnvError
    except ImportError:
        return error
    return StepFailedRecreateEnvError(str(error))


def checked_action(space: gym.Space, action: Any) -> Any:
    """``action`` if it belongs to ``space`` (a ``Box`` action of another float type is cast), else
    :class:`~.errors.EnvUsageError` naming the space."""
    if isinstance(space, gym.spaces.Discrete):
        valid = isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)) \
            or isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer)
        if valid and space.contains(np.int64(action)):
            return int(action)
    elif isinstance(space, gym.spaces.Box):
        try:
            array = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.shape == space.shape and np.isfinite(array).all() \
                and (array >= space.low - 1e-6).all() and (array <= space.high + 1e-6).all():
            return array.astype(space.dtype)
    elif space.contains(action):
        return action
    raise EnvUsageError(f"CarlaEnv.step: {action!r} is not an action of {space}. Fix: pass an action of the "
                        f"env's action_space (action_space.sample() gives one).")


def shown_live(config: Any) -> bool:
    """Whether the env made with ``config`` is the one the live view shows: RLlib's ``EnvContext`` says which env
    it is, and only the first env of the first env runner is shown (any env outside RLlib)."""
    return (getattr(config, "worker_index", 0) or 0) <= 1 and (getattr(config, "vector_index", 0) or 0) == 0


class CarlaEnv(gym.Env):
    """A CARLA driving environment whose spaces, actions, observations, rewards and episode ends
    come from an experiment (``env_config.experiment.type``).

    ``config`` is RLlib's ``env_config``: ``{"carla": {...}, "experiment": {"type": ..., ...}}``.
    Spaces are the experiment's ``get_action_space()`` and ``get_observation_space()``.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        first = shown_live(config)
        config = dict(config or {})
        experiment_config = dict(config.get("experiment") or {})
        self.experiment = make_experiment(config)
        experiment_class = type(self.experiment)
        if self.experiment.config["heroes"] != 1:
            raise ConfigError(f"env_config.experiment.heroes: {self.experiment.config['heroes']!r}: CarlaEnv drives "
                              f"one hero. Fix: use MultiAgentCarlaEnv or CarlaVectorEnv for several, or set heroes: 1.")
        self.action_space = self.experiment.get_action_space()
        self.observation_space = self.experiment.get_observation_space()
        self._episode_started = False
        self._key = repr((sorted((config.get("carla") or {}).items()), experiment_class.__qualname__,
                          sorted((k, repr(v)) for k, v in experiment_config.items() if k != "type")))
        self._broken = False
        parked = _PARKED.pop(self._key, None)
        if parked is not None:  # the simulator a failed env restarted: already set up
            self.core = parked
        else:
            self.core = CarlaCore(config.get("carla") or {})
            try:
                self.core.setup_experiment(self.experiment.config)
            except Exception:
                self.core.close()
                raise
        self.experiment.core = self.core
        publisher = LivePublisher.from_environment() if first else None
        self.live = LiveReporter(publisher) if publisher is not None else None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode: the town (where the experiment lists several), the experiment's route if it
        plans one, and the hero respawned at the route's start or at a spawn point, all drawn from the
        env's seeded RNG."""
        super().reset(seed=seed)
        if self.core is None:
            raise EnvUsageError("CarlaEnv.reset: the env is closed. Fix: create a new CarlaEnv.")
        self._episode_started = False
        try:
            with self.core.recovering():  # a failure while the episode starts is recovered as one in a step
                self.core.choose_town(self.np_random)
                route = self.experiment.plan_route(self.core, self.np_random)
                self.core.reset_hero(self.experiment.config["hero"], self.np_random, route=route)
                self.experiment.reset()
                sensor_data = self.core.tick(None)
        except SimulatorRestartedError as error:
            self._broken = True
            raise broken_episode_error(error) from error
        self._broken = False
        self._episode_started = True
        if self.live is not None:
            self.live.start_episode()
        observation, info = self.experiment.get_observation(sensor_data)
        return observation, self._info(info)

    def step(self, action: Any):
        """Apply the action, tick, and return ``(obs, reward, terminated, truncated, info)``. An action
        outside the action space, or a step before ``reset()`` or after ``close()``, raises
        :class:`~.errors.EnvUsageError`."""
        if self.core is None:
            raise EnvUsageError("CarlaEnv.step: the env is closed. Fix: create a new CarlaEnv and reset() it.")
        if not self._episode_started:
            raise EnvUsageError("CarlaEnv.step: no episode started. Fix: call reset() first (and again after a "
                                "simulator failure).")
        control = self.experiment.compute_action(checked_action(self.action_space, action))
        try:
            sensor_data = self.core.tick(control)
        except SimulatorRestartedError as error:  # the simulator was restarted: drop this episode
            self._broken = True
            raise broken_episode_error(error) from error
        outcome = self.experiment.step_outcome(sensor_data)
        outcome.info["simulator_restarts"] = self.core.restarts
        if self.live is not None:
            self.live.step(self.core, outcome.observation, outcome.reward, outcome.info)
        return outcome.as_tuple()

    @property
    def simulator_restarts(self) -> int:
        """How often this env's simulator was restarted after a failure (0 once closed)."""
        return self.core.restarts if self.core is not None else 0

    def _info(self, info: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new info dict: the observation's facts and the simulator restarts so far."""
        result = dict(info or {})
        result["simulator_restarts"] = self.core.restarts
        return result

    def close(self) -> None:
        """Release the hero, the sensors and the simulator this env created. After a simulator failure
        (RLlib then recreates the env) the restarted simulator is kept for the next env instead."""
        core, self.core = getattr(self, "core", None), None
        if core is None:
            return
        if getattr(self, "live", None) is not None:
            self.live.close()
        if getattr(self, "_broken", False):
            previous = _PARKED.pop(self._key, None)
            if previous is not None:
                previous.close()
            _PARKED[self._key] = core
            atexit.unregister(_close_parked)  # registered once, however many cores are parked
            atexit.register(_close_parked)
            return
        core.close()
