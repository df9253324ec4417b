"""``BaseExperiment``: what a user subclasses to define actions, observations, rewards and ends.

The hooks and their names are the original project's. Every env (``CarlaEnv``, ``MultiAgentCarlaEnv``,
``CarlaVectorEnv``) and the evaluator's agent call them in this order every step: ``compute_action``,
(simulator tick), then :meth:`BaseExperiment.step_outcome`, the one place a step's outcome is computed:
``get_observation``, ``get_done_status``, ``compute_reward``, then ``get_info``.

The step's ``info`` is a new dict: a copy of what ``get_observation`` returned, updated with what
``get_info`` returns. Facts known only once the reward is computed (reward terms, running totals,
why the episode ended) go through ``get_info``; the env never keeps a reference to a dict an
experiment might change later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import carla
import gymnasium as gym
import numpy as np

from .config import BASE_EXPERIMENT_CONFIG, join_dicts, validate
from .routes.progress import Route

#: What ``get_done_status`` returns: one ``done`` flag (original style, a termination) or
#: gymnasium's ``(terminated, truncated)`` pair.
DoneStatus = bool | tuple[bool, bool]


def split_done(done: Any) -> tuple[bool, bool]:
    """``(terminated, truncated)`` from what ``get_done_status`` returned."""
    if isinstance(done, tuple):
        terminated, truncated = done
        return bool(terminated), bool(truncated)
    return bool(done), False


@dataclass
class StepOutcome:
    """What one step gives its agent: gymnasium's ``(obs, reward, terminated, truncated, info)``."""

    observation: Any
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]

    def as_tuple(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self.observation, self.reward, self.terminated, self.truncated, self.info


class BaseExperiment:
    """Base class of every experiment.

    ``config`` is ``env_config.experiment``; it is merged onto :data:`BASE_EXPERIMENT_CONFIG` and
    the subclass's :attr:`CONFIG_DEFAULTS` (experiment-specific keys, e.g. ``others``), after a
    check that every key is known and of the right type.
    """

    #: Experiment-specific configuration keys and their defaults, merged onto the base ones.
    CONFIG_DEFAULTS: dict[str, Any] = {}
    #: Ranges ``(lowest, highest)`` of experiment-specific numbers by key path (``"others.framestack"``),
    #: checked with the configuration (the base keys' ranges are :data:`~.config.RANGES`).
    CONFIG_RANGES: dict[str, tuple[float, float]] = {}
    #: The experiment's batched twin (``"module:Class"``, a :class:`~.batch_experiment.BatchExperiment` of exactly this
    #: class), which ``CarlaVectorEnv`` steps every hero of a world through at once; None: hero by hero.
    BATCH: str | None = None
    #: ``others`` keys that change what an action means (the same action space, another control): demonstrations
    #: recorded under one value do not train a configuration of another (``demonstrations.json`` keeps them).
    ACTION_OPTIONS: tuple[str, ...] = ()

    def __init__(self, config: Mapping[str, Any]) -> None:
        validate(config, self.default_config(), "env_config.experiment", ranges=self.CONFIG_RANGES)
        self.config = join_dicts(self.default_config(), config)
        #: The env's ``CarlaCore`` (``core.hero``, ``core.world``, ``core.map``), set by ``CarlaEnv``
        #: before the first reset, so every hook can read the simulator.
        self.core: Any = None

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """Every valid key of this experiment's configuration with its default."""
        return join_dicts(join_dicts(BASE_EXPERIMENT_CONFIG, cls.CONFIG_DEFAULTS), {"type": cls})

    def plan_route(self, core: Any, rng: np.random.Generator) -> Route | None:
        """The route of the next episode, planned on ``core.map`` (see :mod:`.routes`), or None (the
        default: the hero spawns at a spawn point). With a route the hero spawns at its start and the core
        follows it (``core.route_progress``, ``core.next_waypoints``). Called by ``CarlaEnv.reset`` before
        the hero is respawned; the evaluator gives its own routes instead."""
        return None

    def reset(self) -> None:
        """Called at every episode start, after the hero is respawned, before the first tick."""

    def get_action_space(self) -> gym.Space:
        """The action space."""
        raise NotImplementedError

    def get_observation_space(self) -> gym.Space:
        """The observation space."""
        raise NotImplementedError

    def get_actions(self) -> Any:
        """The table of actions (for discrete action spaces)."""
        raise NotImplementedError

    def compute_action(self, action: Any) -> carla.VehicleControl | None:
        """Turn an action into the hero's control (None applies nothing this step)."""
        raise NotImplementedError

    def action_from_control(self, control: carla.VehicleControl) -> Any:
        """The action of this experiment's action space that comes closest to ``control``: how another
        driver's controls (the autopilot's, for demonstrations) are recorded as this experiment's actions.
        Optional: only ``collect_demonstrations.py`` needs it."""
        raise NotImplementedError(f"{type(self).__name__}.action_from_control is not implemented: demonstrations "
                                  f"need the experiment's action for a carla.VehicleControl. Fix: implement "
                                  f"action_from_control(control) in {type(self).__name__}.")

    def get_observation(self, sensor_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``(observation, info)`` from ``sensor_data`` (``{sensor name: (frame, data)}``)."""
        raise NotImplementedError

    def get_done_status(self, observation: Any, core: Any) -> DoneStatus:
        """Whether the episode ended: a bool (a termination), or ``(terminated, truncated)``."""
        raise NotImplementedError

    def compute_reward(self, observation: Any, core: Any) -> float:
        """The reward of this step (called after :meth:`get_done_status`)."""
        raise NotImplementedError

    def step_outcome(self, sensor_data: dict[str, Any]) -> StepOutcome:
        """The step's outcome from the new frame's sensor data, through the hooks in the original's order
        (``get_observation``, ``get_done_status``, ``compute_reward``, ``get_info``). The ``info`` is a new
        dict: the observation's facts updated with ``get_info``'s."""
        observation, info = self.get_observation(sensor_data)
        info = dict(info or {})  # a copy taken now: later changes to the experiment's dict are not this step's
        terminated, truncated = split_done(self.get_done_status(observation, self.core))
        reward = float(self.compute_reward(observation, self.core))
        info.update(self.get_info(observation, self.core))
        return StepOutcome(observation, reward, terminated, truncated, info)

    def get_info(self, observation: Any, core: Any) -> Mapping[str, Any]:
        """Facts of this step computed in :meth:`get_done_status` or :meth:`compute_reward`, added to
        the step's ``info`` over those of :meth:`get_observation` (called last; default: none)."""
        return {}
