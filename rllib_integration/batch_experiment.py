"""``BatchExperiment``: one experiment computed for every hero of a world at once, arrays in and arrays out.

A :class:`~.base_experiment.BaseExperiment` acts hero by hero: one Python call per hook, per hero, per step.
With 32 heroes in a world those calls are most of a step. An experiment class may name a batched twin
(``BaseExperiment.BATCH``, ``"module:Class"``): a subclass of :class:`BatchExperiment` that computes what the
experiment's hooks would give every hero (the same spaces, actions, observations, rewards, ends and infos), a
step at a time for all of them, from arrays read once a frame (:mod:`.hero_batch`, the virtual LiDAR of every
hero in one compiled call, the lane check of every hero in one). :class:`~.vector_env.CarlaVectorEnv` steps a
world through it where ``experiment.batched`` is true (the default) and the batch takes the experiment's
configuration (:meth:`BatchExperiment.unsupported`); otherwise, and for a subclass of the experiment (its
hooks may differ), hero by hero as before. The hero-by-hero experiment stays the reference: ``CarlaEnv``,
the evaluator and trained policies use it, and a test holds the twin to it step for step.

The batch keeps the experiments (one per hero) for their configuration, their spaces and ``plan_route``;
:class:`~.shared_world.SharedWorld` places and equips the heroes as before and calls, instead of the hooks:

- :meth:`~BatchExperiment.start` when hero ``k`` starts an episode (instead of its experiment's ``reset``);
- :meth:`~BatchExperiment.controls` with the acting heroes' actions (instead of ``compute_action``): their
  controls, or their throttle, steer and brake as one array;
- :meth:`~BatchExperiment.step_and_observe` after the tick, for those that acted (instead of ``step_outcome``) and
  those whose episode just started (instead of ``get_observation``): by default :meth:`~BatchExperiment.step`, then
  :meth:`~BatchExperiment.observe`, their observations joined in one batch (:class:`WorldStep`); a batch may make
  that batch in one pass (``DQNExperimentBatch`` draws every hero's BirdView in one call, no frame stack copied);
- :meth:`~BatchExperiment.observe` alone when every hero starts (a world's reset).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import carla
import numpy as np
from numba import njit

from .base_experiment import BaseExperiment
from .common.import_path import import_object
from .hero_batch import read_kinematics
from .hero_state import Roster

logger = logging.getLogger(__name__)

#: Heroes a world needs before its batch pays: a batch's fixed costs a tick are a lone hero's whole step.
MIN_HEROES = 2


@dataclass
class BatchOutcome:
    """What one step gives the acting heroes ``indices`` (their rows, in that order): gymnasium's vector
    ``(obs, rewards, terminated, truncated)`` and the infos as one array a key (``end_reasons`` apart: the reason
    of each hero whose episode ended, None for the others). The observations are arrays the batch makes anew each
    step and never writes again (``CarlaVectorEnv`` hands a whole batch of them out as they are), or None where the
    step's :class:`WorldStep` holds them; so are the rewards and the ends, and the infos' arrays, one a key (no array
    under two keys)."""

    observations: Any
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: dict[str, np.ndarray]
    end_reasons: np.ndarray


class BatchExperiment:
    """The heroes of one world, stepped at once for one experiment class (see the module docstring)."""

    #: The experiment class this batches: only an instance of exactly this class (a subclass runs hero by hero).
    EXPERIMENT: type[BaseExperiment] = BaseExperiment

    @classmethod
    def unsupported(cls, experiments: Sequence[BaseExperiment]) -> str | None:
        """Why this batch cannot compute what ``experiments`` (the heroes' instances of :attr:`EXPERIMENT`) would,
        or None where it can (default: it can)."""
        return None

    def __init__(self, experiments: Sequence[BaseExperiment], agents: Sequence[Any]) -> None:
        """``experiments[k]`` is hero ``k``'s experiment and ``agents[k]`` its :class:`~.hero_state.AgentCore`."""
        self.experiments = list(experiments)
        self.agents = list(agents)
        self.roster = Roster(self.agents)  # the heroes' lists, read again only once one changed (a respawn)

    def __len__(self) -> int:
        return len(self.experiments)

    def kinematics(self, indices: np.ndarray) -> np.ndarray:
        """:func:`~.hero_batch.read_kinematics` of heroes ``indices`` at the current frame (every hero, in order: from
        the roster's lists)."""
        if every_row(indices, len(self.agents)):
            view = self.roster.read()
            return read_kinematics(self.agents[0].world, view.heroes, view.ids)
        return read_kinematics(self.agents[0].world, [self.agents[k].hero for k in indices.tolist()])

    def sensors(self, hero_config: dict[str, Any]) -> dict[str, Any]:
        """The sensors of ``hero_config`` to spawn on a hero (default all; a batch measuring one itself leaves it
        out)."""
        return hero_config["sensors"]

    def start(self, index: int) -> None:
        """Hero ``index`` starts an episode: placed, equipped, on its route (before the tick that gives its first
        observation)."""
        raise NotImplementedError

    def stop(self, index: int) -> None:
        """Hero ``index`` leaves the world (its episode ended and it is not respawned)."""

    def controls(self, indices: np.ndarray, actions: Any) -> list[carla.VehicleControl | None] | np.ndarray:
        """The controls of heroes ``indices`` for ``actions`` (a batch of the single action space, one row each): a
        ``carla.VehicleControl`` (or None) a hero, or an (N, 3) array of throttle, steer and brake (the other fields
        at their defaults), applied in one call."""
        raise NotImplementedError

    def observe(self, indices: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]]) -> tuple[Any, list]:
        """The first observations of heroes ``indices`` at ``frame`` (a batch, one row each) and their infos."""
        raise NotImplementedError

    def step(self, indices: np.ndarray, frame: int, sensor_data: Sequence[dict[str, Any]]) -> BatchOutcome:
        """The outcome of the step that heroes ``indices`` acted in, at the new ``frame``."""
        raise NotImplementedError

    def step_and_observe(self, acting: np.ndarray, starting: np.ndarray, frame: int,
                         acting_data: Sequence[dict[str, Any]], starting_data: Sequence[dict[str, Any]]) -> WorldStep:
        """The step at the new ``frame`` of heroes ``acting`` (:meth:`step`) and the first observations of heroes
        ``starting`` (:meth:`observe`), their sensor data in the same orders, with every observation in one batch
        (default: the two joined, a copy where heroes started)."""
        outcome = self.step(acting, frame, acting_data) if len(acting) else None
        if not len(starting):
            return WorldStep(outcome, [], outcome.observations if outcome is not None else None, acting)
        firsts, infos = self.observe(starting, frame, starting_data)
        if outcome is None:
            return WorldStep(None, infos, firsts, starting)
        heroes, _, rows = joined(acting, starting)
        observations = empty_batch(outcome.observations, len(heroes))
        set_batch_rows(observations, rows[:len(acting)], outcome.observations)
        set_batch_rows(observations, rows[len(acting):], firsts)
        return WorldStep(outcome, infos, observations, heroes)


def joined(acting: np.ndarray, starting: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heroes ``acting`` and ``starting`` (distinct) as one batch, a row a hero, ascending: the heroes in that order,
    the order itself (indices into ``acting`` then ``starting``) and each one's row, acting then starting."""
    heroes = np.concatenate([acting, starting])
    order = np.argsort(heroes, kind="stable")
    rows = np.empty(len(heroes), dtype=np.int64)
    rows[order] = np.arange(len(heroes))
    return heroes[order], order, rows


@dataclass
class WorldStep:
    """One step of a world's batch (:meth:`BatchExperiment.step_and_observe`): the outcome of the acting heroes (None
    where none acted) and the infos of those starting (in the order given), and every one of their observations as
    one batch: row ``r`` is hero ``heroes[r]``'s (in the order given where only acting or only starting heroes are,
    otherwise ascending). ``outcome.observations`` is not read: a batch may leave it None."""

    outcome: BatchOutcome | None
    first_infos: list[dict[str, Any]]
    observations: Any
    heroes: np.ndarray

    def row_of(self) -> dict[int, int]:
        """Each hero's row of :attr:`observations`."""
        return {int(hero): row for row, hero in enumerate(self.heroes.tolist())}


def batch_row(batch: Any, row: int) -> Any:
    """Row ``row`` of ``batch`` (a batch of a space: an array, or a dict of them for a ``Dict`` space)."""
    if isinstance(batch, dict):
        return {key: batch_row(part, row) for key, part in batch.items()}
    return batch[row]


def every_row(rows: np.ndarray, count: int) -> bool:
    """Whether ``rows`` are ``0, 1, ..., count - 1`` in order (every hero of a world, as a batch's rows)."""
    return rows is _EVERYONE.get(count) or (len(rows) == count and _in_order(rows))


def everyone(count: int) -> np.ndarray:
    """``0, 1, ..., count - 1`` (int64, read-only): the rows of every hero of a world, the same array each time, which
    :func:`every_row` knows without reading it (a step asks it of its rows half a dozen times)."""
    rows = _EVERYONE.get(count)
    if rows is None:
        if len(_EVERYONE) >= 64:
            _EVERYONE.clear()
        rows = _EVERYONE[count] = np.arange(count, dtype=np.int64)
        rows.flags.writeable = False
    return rows


_EVERYONE: dict[int, np.ndarray] = {}  # everyone(count)'s arrays, by count


@njit(cache=True)
def _in_order(rows: np.ndarray) -> bool:
    for i in range(rows.shape[0]):
        if rows[i] != i:
            return False
    return True


def set_batch_rows(batch: Any, rows: np.ndarray, values: Any) -> None:
    """Write ``values`` (a batch of the same space, a row each) into rows ``rows`` of ``batch``."""
    if isinstance(batch, dict):
        for key, part in batch.items():
            set_batch_rows(part, rows, values[key])
    else:
        batch[rows] = values


def empty_batch(like: Any, rows: int) -> Any:
    """A new batch of ``rows`` rows of the arrays of ``like`` (a batch: an array, or a dict of them), not filled."""
    if isinstance(like, dict):
        return {key: empty_batch(part, rows) for key, part in like.items()}
    return np.empty((rows, *like.shape[1:]), dtype=like.dtype)


def make_batch(experiments: Sequence[BaseExperiment], agents: Sequence[Any]) -> BatchExperiment | None:
    """The batched twin of ``experiments`` (the heroes of one world, instances of one class) over ``agents``, or None
    where they run hero by hero: ``experiment.batched`` is false, their class names no ``BATCH`` of its own (a
    subclass does not inherit its parent's: its hooks may differ), the world has one hero (:data:`MIN_HEROES`), or
    the batch does not take their configuration (logged with the reason)."""
    first = experiments[0]
    kind = type(first)
    spec = vars(kind).get("BATCH")
    if not first.config["batched"] or not spec or len(experiments) < MIN_HEROES:
        return None
    batch_type = import_object(spec)
    if not (isinstance(batch_type, type) and issubclass(batch_type, BatchExperiment) and batch_type.EXPERIMENT is kind):
        raise TypeError(f"{kind.__qualname__}.BATCH names {spec}, which is no BatchExperiment of {kind.__qualname__}")
    reason = batch_type.unsupported(experiments)
    if reason is not None:
        logger.info("%s runs hero by hero (%s has no batch for %s)", kind.__qualname__, batch_type.__qualname__, reason)
        return None
    return batch_type(experiments, agents)
