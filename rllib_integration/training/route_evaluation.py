"""Route evaluation during training: the algorithm's current policy drives routes every few iterations.

The training YAML's ``route_evaluation`` section (all optional)::

    route_evaluation:
      interval: 10            # training iterations between evaluations (0: never)
      routes: RingTown        # a route file, a town or a list of towns (default: the experiment's town)
      route_count: 3          # routes drawn per town ...
      route_seed: 2000        # ... from this seed (keep it apart from the routes you test on)
      route_length: [300, 600]
      traffic: 0              # background vehicles and walkers per route
      walkers: 0
      seed: 0

Every ``interval`` iterations (:class:`~.trainable.ExportingAlgorithm` runs it after the iteration's training step,
in place of RLlib's evaluation: that one reads its results from its env runners' metrics only, and with its
``evaluation_interval`` set RLlib would build an evaluation env runner, and its simulator, that nothing uses) the
algorithm's current RLModule drives the routes greedily through
the experiment (:class:`~..evaluation.agents.ExperimentAgent`) in the algorithm's process, with a
simulator kept between evaluations; the result's ``evaluation`` holds ``driving_score``,
``route_completion``, ``infraction_penalty`` and ``infractions_per_km/<kind>`` (Tune and TensorBoard
log them). :class:`~.trainable.ExportingAlgorithm` keeps the checkpoint of the best driving score.
"""

from __future__ import annotations

import logging
from typing import Any

from ray.rllib.core import DEFAULT_MODULE_ID

from ..config import quoted
from ..embedded.maps.towns import UnknownTownError, resolve_town
from ..errors import ConfigError
from ..evaluation.agents import ExperimentAgent
from ..evaluation.evaluator import EvaluationSettings, RouteRunner
from ..evaluation.infractions import KINDS
from ..evaluation.results import global_record
from ..evaluation.route_checks import check_routes
from ..routes.route_files import RouteFileError, read_routes
from ..routes.route_sets import generate_routes
from .policy import greedy_action

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"interval": 0, "routes": None, "route_count": 3, "route_seed": 2000,
                            "route_length": [300.0, 600.0], "traffic": 0, "walkers": 0, "seed": 0}
DRIVING_SCORE = "driving_score"


def route_evaluation_settings(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The ``route_evaluation`` section merged onto :data:`DEFAULTS`, validated."""
    section = data.get("route_evaluation") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: route_evaluation: expected a mapping. Fix: see the keys in the README.")
    for key in section:
        if key not in DEFAULTS:
            raise ConfigError(f"{source}: route_evaluation.{key}: unknown key. Fix: use one of {', '.join(DEFAULTS)}.")
    settings = dict(DEFAULTS, **section)
    for key in ("interval", "route_count", "traffic", "walkers", "seed", "route_seed"):
        value = settings[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "route_count" else 0):
            raise ConfigError(f"{source}: route_evaluation.{key}: expected a whole number of at least "
                              f"{1 if key == 'route_count' else 0}, got {quoted(value)}.")
    low, high = settings["route_length"]
    if not 0 < low <= high:
        raise ConfigError(f"{source}: route_evaluation.route_length: expected [min, max] metres with 0 < min <= max.")
    settings["routes"] = settings["routes"] or data["env_config"]["experiment"].get("town")
    routes = settings["routes"]
    if not (isinstance(routes, str) and routes or isinstance(routes, list) and routes
            and all(isinstance(town, str) and town for town in routes)):
        raise ConfigError(f"{source}: route_evaluation.routes: expected a route file, a town or a list of towns, got "
                          f"{quoted(routes)}.")
    if settings["interval"]:
        check_evaluation_routes(routes, f"{source}: route_evaluation.routes")
    return settings


def check_evaluation_routes(routes: str | list[str], where: str) -> None:
    """The evaluation routes checked before anything starts (Ray included): a route file is read and its
    routes checked as ``evaluate.py`` checks them; towns must resolve."""
    if isinstance(routes, str) and routes.endswith(".xml"):
        try:
            specs = read_routes(routes)
        except RouteFileError as error:
            raise ConfigError(f"{where}: {error}") from None
        check_routes(specs, f"{where}: {routes}")
        return
    for town in [routes] if isinstance(routes, str) else routes:
        try:
            resolve_town(town)
        except UnknownTownError as error:
            raise ConfigError(f"{where}: {error}") from None


#: The simulator and routes of each evaluation setting in this process: RLlib copies its config (and
#: so the evaluation function) freely, while one simulator per setting is kept between evaluations.
_RUNNERS: dict[str, tuple[RouteRunner, list]] = {}


class RouteEvaluation:
    """The current policy on the evaluation routes, kept in the config as RLlib's ``custom_evaluation_function``
    (plain settings only, so RLlib can copy and pickle it)."""

    def __init__(self, settings: dict[str, Any], env_config: dict[str, Any]) -> None:
        self.settings, self.env_config = settings, env_config

    def due(self, iteration: int) -> bool:
        """Whether the training iteration ``iteration`` (1 for the first) ends with an evaluation."""
        interval = self.settings["interval"]
        return bool(interval) and iteration % interval == 0

    def _runner(self) -> tuple[RouteRunner, list]:
        key = repr((sorted(self.settings.items()), repr(self.env_config)))
        if key not in _RUNNERS:
            s = self.settings
            agent = ExperimentAgent(None, self.env_config)
            agent.setup({"seed": s["seed"]})
            runner = RouteRunner(EvaluationSettings(env_config=self.env_config, traffic=s["traffic"],
                                                    walkers=s["walkers"], seed=s["seed"]), agent=agent)
            if isinstance(s["routes"], str) and s["routes"].endswith(".xml"):
                routes = read_routes(s["routes"])
            else:
                low, high = s["route_length"]
                routes = []
                for town in [s["routes"]] if isinstance(s["routes"], str) else s["routes"]:
                    routes += generate_routes(runner.load_town(town, "0"), town, s["route_count"], seed=s["route_seed"],
                                              min_length=low, max_length=high, first_id=len(routes))
            _RUNNERS[key] = (runner, routes)
        return _RUNNERS[key]

    def __call__(self, algorithm: Any, eval_workers: Any = None) -> tuple[dict[str, Any], int, int]:
        if algorithm.env_runner_group is not None:
            module = algorithm.get_module()
        else:  # offline algorithms (MARWIL, BC) sample nothing: the learner's module
            results = algorithm.learner_group.foreach_learner(lambda learner: learner.module[DEFAULT_MODULE_ID])
            module = next(iter(results)).get()
        runner, routes = self._runner()
        runner.agent.act = lambda observation: greedy_action(module, observation)
        records = [runner.run_or_fail(index, spec) for index, spec in enumerate(routes)]
        overall = global_record(records)
        steps = int(sum(r["meta"]["duration_game"] for r in records) / runner.core.config["timestep"])
        metrics = {DRIVING_SCORE: overall["scores"]["score_composed"],
                   "route_completion": overall["scores"]["score_route"],
                   "infraction_penalty": overall["scores"]["score_penalty"],
                   **{f"infractions_per_km/{kind}": overall["infractions"][kind] for kind in KINDS}}
        logger.info("route evaluation: DS %.1f, RC %.1f over %d routes", metrics[DRIVING_SCORE],
                    metrics["route_completion"], len(records))
        return metrics, steps, steps


def configure_route_evaluation(config: Any, data: dict[str, Any], source: str) -> dict[str, Any]:
    """Add the route evaluation of ``data``'s ``route_evaluation`` section to the ``AlgorithmConfig``."""
    settings = route_evaluation_settings(data, source)
    if settings["interval"]:
        config.evaluation(custom_evaluation_function=RouteEvaluation(settings, data["env_config"]))
    return settings
