"""``SharedWorld``: several heroes in one synchronous world, each driven through its own instance of the
user's experiment.

It is what :class:`~.multi_agent_env.MultiAgentCarlaEnv` and :class:`~.vector_env.CarlaVectorEnv` share:
the world is set up once (town, weather, background traffic), every hero gets an
:class:`~.hero_state.AgentCore` (its own actor, sensors and route; the rest is the shared core's) and an
experiment whose ``self.core`` is that agent core, so an experiment written for ``CarlaEnv`` runs unchanged.
One :meth:`SharedWorld.step` applies every acting hero's control, ticks the world once, and computes each
hero's outcome with :meth:`~.base_experiment.BaseExperiment.step_outcome`; heroes to respawn are placed
before that tick and get their first observation from it. The live view (``--live``) follows the first hero
(its episodes one after the other; the other heroes are the vehicles around it).

``env_config.experiment.heroes`` is a number of heroes configured as ``hero``, or a list of hero
configurations (blueprint, sensors, spawn points), each merged onto ``hero``.

``env_config.experiment.town_change_steps`` draws the world's town again while it runs (its heroes respawn rather
than the env resetting, so a world would otherwise keep the town drawn at its reset): once a world has stepped
that many times since its town was drawn, at the first step where no hero starts an episode, every hero still
driving is truncated (end reason ``town_change``); at the next step, where every hero respawns, the town is drawn
(:meth:`~.carla_core.CarlaCore.choose_town`: the background spawned anew where it changed, the light times drawn
again) before they are placed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Iterable, Mapping

import gymnasium as gym
import numpy as np

from .base_experiment import BaseExperiment, StepOutcome
from .batch_experiment import BatchExperiment, BatchOutcome, WorldStep, batch_row, every_row, make_batch
from .carla_core import CarlaCore
from .carla_env import checked_action, make_experiment
from .config import BASE_EXPERIMENT_CONFIG, join_dicts, validate
from .errors import ConfigError
from .hero_state import AgentCore
from .live import LivePublisher, LiveReporter
from .routes.progress import Route

logger = logging.getLogger(__name__)

#: Routes (or spawn points) drawn for a hero before its placement is given up as impossible.
MAX_PLACEMENT_TRIES = 20
TOWN_CHANGE = "town_change"  # the end reason of the episodes a town change truncates


def hero_count(experiment_config: Mapping[str, Any]) -> int:
    """How many heroes ``experiment_config['heroes']`` asks for (1 where it is left out)."""
    heroes = experiment_config.get("heroes", 1)
    return len(heroes) if isinstance(heroes, list) else int(heroes)


def hero_configs(experiment_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One hero configuration per hero of ``experiment_config['heroes']`` (a number, or a list of
    configurations merged onto ``experiment_config['hero']``)."""
    heroes, base = experiment_config["heroes"], experiment_config["hero"]
    where = "env_config.experiment.heroes"
    if isinstance(heroes, int):
        return [join_dicts(base, {}) for _ in range(heroes)]
    if not heroes:
        raise ConfigError(f"{where}: an empty list. Fix: give a number of heroes or at least one hero configuration.")
    configs = []
    for index, item in enumerate(heroes):
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}[{index}]: expected a hero configuration (blueprint, sensors, spawn_points), "
                              f"got {type(item).__name__}. Fix: write '- {{blueprint: vehicle.audi.a2}}' or '- {{}}'.")
        validate(item, BASE_EXPERIMENT_CONFIG["hero"], "env_config", f"{where}[{index}].")
        configs.append(join_dicts(base, item))
    return configs


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value an experiment's hook gives (arrays and other values as they are)."""
    return value.item() if isinstance(value, np.generic) else value


class SharedWorld:
    """Several heroes of one world and their experiments (see the module docstring).

    ``config`` is an ``env_config`` (``{"carla": {...}, "experiment": {...}}``); ``count`` asks for that many
    heroes (configured as ``experiment.hero`` where ``experiment.heroes`` is a number); ``live``: this world is
    the one the live view shows (where a live view runs). Where the experiment has a batched twin that takes the
    configuration, the heroes step through it (:meth:`step_batch` with arrays, for ``CarlaVectorEnv``; :meth:`step`
    with a hero's row each, for the multi-agent views).
    """

    def __init__(self, config: Mapping[str, Any], count: int | None = None, live: bool = False) -> None:
        config = dict(config or {})
        first = make_experiment(config)
        self.hero_configs = hero_configs(first.config)
        if count is not None and count != len(self.hero_configs):
            if isinstance(first.config["heroes"], list):
                raise ConfigError(f"env_config.experiment.heroes: {len(self.hero_configs)} hero configurations for "
                                  f"{count} heroes. Fix: give {count} configurations, or a number.")
            self.hero_configs = [join_dicts(first.config["hero"], {}) for _ in range(count)]
        self.experiments: list[BaseExperiment] = [make_experiment(config, hero) for hero in self.hero_configs]
        self.action_spaces: list[gym.Space] = [e.get_action_space() for e in self.experiments]
        self.observation_spaces: list[gym.Space] = [e.get_observation_space() for e in self.experiments]
        self.core = CarlaCore(config.get("carla") or {})
        try:
            self.core.setup_experiment(self.experiments[0].config)
        except Exception:
            self.core.close()
            raise
        self.agents = [AgentCore(self.core, f"hero_{index}") for index in range(len(self.experiments))]
        for experiment, agent in zip(self.experiments, self.agents):
            experiment.core = agent
        #: the experiment's batched twin stepping every hero at once (CarlaVectorEnv), or None: hero by hero
        self.batch: BatchExperiment | None = make_batch(self.experiments, self.agents)
        publisher = LivePublisher.from_environment() if live else None  # once the world is up
        self.live = LiveReporter(publisher) if publisher is not None else None
        #: heroes respawned within steps so far, and the seconds their placing and equipping took (route planned,
        #: hero placed, sensors and experiment started: what a respawn costs beyond a step)
        self.respawns, self.respawn_seconds = 0, 0.0
        self.town_change_steps = int(first.config["town_change_steps"])
        self._steps_in_town = 0  # steps since the town was drawn
        self._change_due = False  # every hero's episode ended for a town change: the next step draws the town
        self.town_changes = 0  # towns drawn by town_change_steps so far

    def __len__(self) -> int:
        return len(self.experiments)

    def reset(self, rng: np.random.Generator) -> list[tuple[Any, dict[str, Any]]]:
        """Start an episode for every hero: the town drawn (where the experiment lists several), each hero's
        route planned by its experiment and the hero placed at its start (or at a spawn point), all heroes
        settled together, one tick; returns each hero's ``(observation, info)``."""
        self._steps_in_town, self._change_due = 0, False
        with self.core.recovering(self.agents):  # a failure while the episode starts is recovered as in a step
            self.core.choose_town(rng)
            self.core.begin_episode(self.agents)
            for agent in self.agents:  # the last episode's heroes must not block this one's places
                agent.release_hero()
            routes = [self._place(index, rng, make_room=True) for index in range(len(self))]
            self.core.settle_hero()
            for index, route in enumerate(routes):
                self._equip(index, route)
            sensor_data = self.core.tick_heroes(self.agents)
        if self.live is not None:
            self.live.start_episode()
        if self.batch is not None:
            observations, infos = self.batch.observe(np.arange(len(self)), self.core.frame, sensor_data)
            return [(batch_row(observations, index), info) for index, info in enumerate(self._first_infos(infos))]
        return [self._first_observation(index, data) for index, data in enumerate(sensor_data)]

    def step(self, actions: Mapping[int, Any], respawn: Iterable[int] = (),
             rng: np.random.Generator | None = None) -> tuple[dict[int, StepOutcome], dict[int, tuple[Any, dict]]]:
        """One tick for every hero: the heroes in ``actions`` (index -> action of its action space) act; the
        heroes in ``respawn`` are placed anew before the tick (with ``rng``) and start a new episode of their
        experiment. Returns the acting heroes' outcomes and the respawned heroes' first
        ``(observation, info)``."""
        respawn = list(respawn)
        if self.batch is not None:
            return self._step_through_batch(actions, respawn, rng)
        controls = [self.experiments[index].compute_action(checked_action(self.action_spaces[index], action))
                    for index, action in actions.items()]
        with self.core.recovering(self.agents):
            self._change_town(respawn, rng)
            self._respawn(respawn, rng)
            sensor_data = self.core.tick_heroes([self.agents[index] for index in [*actions, *respawn]], controls)
        outcomes = {index: self.experiments[index].step_outcome(data) for index, data in zip(actions, sensor_data)}
        if self._town_ends(respawn):
            outcomes = {index: outcome if outcome.terminated or outcome.truncated else dataclasses.replace(
                outcome, truncated=True, info={**outcome.info, "end_reason": TOWN_CHANGE})
                for index, outcome in outcomes.items()}
        firsts = {index: self._first_observation(index, data)
                  for index, data in zip(respawn, sensor_data[len(controls):])}
        if self.live is not None:
            self._show(outcomes.get(0), 0 in firsts)
        return outcomes, firsts

    def step_batch(self, acting: np.ndarray, actions: Any, respawn: Iterable[int] = (),
                   rng: np.random.Generator | None = None) -> WorldStep:
        """:meth:`step` through :attr:`batch`: heroes ``acting`` act with ``actions`` (a batch, a row each), heroes
        ``respawn`` start anew. Returns the world's step: the acting heroes' outcome (None where none acted), the
        respawned heroes' infos (in the order given) and every one's observation in one batch."""
        respawn = np.asarray(list(respawn), dtype=np.int64)
        heroes = self.batch.roster if every_row(acting, len(self.agents)) else \
            [self.agents[k] for k in acting.tolist()] + [self.agents[k] for k in respawn.tolist()]
        controls = self.batch.controls(acting, actions) if len(acting) else []
        rows = None
        if isinstance(controls, np.ndarray):  # throttle, steer and brake a row, applied in one call
            rows, controls = controls, ()
        with self.core.recovering(self.agents):
            self._change_town(respawn, rng)
            self._respawn(respawn, rng)
            sensor_data = self.core.tick_heroes(heroes, controls, control_rows=rows)
        world_step = self.batch.step_and_observe(np.asarray(acting, dtype=np.int64), respawn, self.core.frame,
                                                 sensor_data[:len(acting)], sensor_data[len(acting):])
        if self._town_ends(respawn) and world_step.outcome is not None:
            world_step.outcome = truncated_for_town(world_step.outcome)
        world_step.first_infos = self._first_infos(world_step.first_infos)
        if self.live is not None:
            outcome, row_of = world_step.outcome, world_step.row_of()
            first = np.flatnonzero(acting == 0)
            row = first[0] if len(first) else None
            self._show(StepOutcome(batch_row(world_step.observations, row_of[0]), float(outcome.rewards[row]), False,
                                   False, {key: values[row] for key, values in outcome.infos.items()})
                       if row is not None else None, 0 in respawn)  # (hero 0 acting: an outcome)
        return world_step

    def _step_through_batch(self, actions: Mapping[int, Any], respawn: list[int], rng: np.random.Generator | None
                            ) -> tuple[dict[int, StepOutcome], dict[int, tuple[Any, dict]]]:
        """:meth:`step` through :attr:`batch` (the multi-agent views): the same outcomes, each hero's row of the
        batch's arrays (its infos as Python values, ``end_reason`` where its episode ended)."""
        acting = np.array(list(actions), dtype=np.int64)
        checked = np.array([checked_action(self.action_spaces[index], action) for index, action in actions.items()])
        world_step = self.step_batch(acting, checked, respawn, rng)
        outcome, row_of, observations = world_step.outcome, world_step.row_of(), world_step.observations
        outcomes = {}
        for row, index in enumerate(acting.tolist() if outcome is not None else []):
            info = {key: plain(values[row]) for key, values in outcome.infos.items()}
            if outcome.end_reasons[row] is not None:
                info["end_reason"] = outcome.end_reasons[row]
            outcomes[index] = StepOutcome(batch_row(observations, row_of[index]), float(outcome.rewards[row]),
                                          bool(outcome.terminated[row]), bool(outcome.truncated[row]), info)
        return outcomes, {int(index): (batch_row(observations, row_of[int(index)]), info)
                          for index, info in zip(respawn, world_step.first_infos)}

    def _first_infos(self, infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The batch's infos of first observations, with the simulator's restarts (as a hero's first info has them)."""
        return [{**info, "simulator_restarts": self.core.restarts} for info in infos]

    def _show(self, outcome: StepOutcome | None, respawned: bool) -> None:
        """The first hero's step (or its new episode) in the live view."""
        if respawned:
            self.live.start_episode()
        elif outcome is not None:
            self.live.step(self.agents[0], outcome.observation, outcome.reward,
                           {**outcome.info, "heroes": float(len(self))}, who=f"hero 1 of {len(self)}")

    def retire(self, index: int) -> None:
        """Take a hero whose episode ended out of the world (it stands in no one's way until it respawns)."""
        if self.batch is not None:
            self.batch.stop(index)
        self.agents[index].release_hero()

    def _town_ends(self, respawn: list[int] | np.ndarray) -> bool:
        """Count a step; whether it is the one whose driving heroes a town change truncates (see the module
        docstring)."""
        self._steps_in_town += 1
        if not self.town_change_steps or self._change_due or len(respawn) or \
                self._steps_in_town < self.town_change_steps:
            return False
        self._change_due = True
        return True

    def _change_town(self, respawn: list[int] | np.ndarray, rng: np.random.Generator) -> None:
        """Draw the town where a town change is due and every hero respawns in this step."""
        if not self._change_due or len(respawn) != len(self):
            return
        self.core.choose_town(rng)
        self._steps_in_town, self._change_due = 0, False
        self.town_changes += 1

    def _respawn(self, indices: list[int] | np.ndarray, rng: np.random.Generator | None) -> None:
        """Place heroes ``indices`` anew (their ended heroes and sensors released first) and equip them."""
        if len(indices) == 0:
            return
        started = time.perf_counter()
        for index in indices:
            self.agents[index].release_hero()  # the ended hero and its sensors
            self._equip(index, self._place(index, rng, make_room=False))
            self.respawns += 1
        self.respawn_seconds += time.perf_counter() - started

    def _place(self, index: int, rng: np.random.Generator, make_room: bool) -> Route | None:
        experiment, agent, hero_config = self.experiments[index], self.agents[index], self.hero_configs[index]
        for _ in range(MAX_PLACEMENT_TRIES):
            route = experiment.plan_route(agent, rng)
            if self.core.place_hero(agent, hero_config, rng, route, required=False, make_room=make_room) is not None:
                return route
            if route is None:  # every spawn point was tried
                break
        raise RuntimeError(f"could not place hero {index} of {len(self)}: every place drawn was taken by another "
                           f"vehicle. Fix: fewer heroes or background vehicles, or more hero.spawn_points.")

    def _equip(self, index: int, route: Route | None) -> None:
        if self.batch is None:
            self.agents[index].equip(self.hero_configs[index]["sensors"], route)
            self.experiments[index].reset()
        else:
            self.agents[index].equip(self.batch.sensors(self.hero_configs[index]), route)
            self.batch.start(index)

    def _first_observation(self, index: int, sensor_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        observation, info = self.experiments[index].get_observation(sensor_data)
        return observation, {**(info or {}), "simulator_restarts": self.core.restarts}

    def close(self) -> None:
        """Destroy every hero and what the core created, and stop its simulator; safe to call twice."""
        if self.core is None:
            return
        if self.live is not None:
            self.live.close()
        for index, agent in enumerate(self.agents):
            if self.batch is not None:
                self.batch.stop(index)
            agent.release_hero()
        self.core.close()
        self.core = None


def truncated_for_town(outcome: BatchOutcome) -> BatchOutcome:
    """``outcome`` with every episode still going truncated by a town change (end reason ``town_change``)."""
    going = ~(outcome.terminated | outcome.truncated)
    reasons = np.array(outcome.end_reasons, dtype=object)  # (a copy)
    reasons[going] = TOWN_CHANGE
    return dataclasses.replace(outcome, truncated=outcome.truncated | going, end_reasons=reasons)
