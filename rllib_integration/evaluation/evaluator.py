"""Drive an agent over routes and score it as the CARLA Leaderboard does.

:func:`evaluate` runs every route from its start, in order, through a :class:`~..carla_core.CarlaCore`
(so ``simulator: embedded | launch | connect`` take the same path), each with a fresh world of its
town (the background traffic seeded from the route's id, so a route scores the same alone, in a
set or on another worker), and returns the ``results.json`` document (:mod:`.results`). With
``workers > 1`` the routes are shared among that many processes, one simulator each.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import carla
import numpy as np

from ..background_traffic import LEADERBOARD_VEHICLES
from ..carla_core import CarlaCore
from ..errors import SimulatorRestartedError
from ..live import LivePublisher, LiveReporter
from ..routes.planner import RoutePlanner
from ..routes.route_files import RouteSpec
from ..routes.route_sets import dense_route
from .agents import load_agent, sensor_config
from .monitor import RouteMonitor
from .recording import RouteVideo, StateLog
from .results import failed_record, results_document, route_record

logger = logging.getLogger(__name__)

DEFAULT_HERO = "vehicle.lincoln.mkz_2017"


@dataclass
class EvaluationSettings:
    """What :func:`evaluate` needs besides the routes (the evaluate.py flags)."""

    agent: str = "autopilot"
    agent_config: dict[str, Any] = field(default_factory=dict)  # setup(config) of the agent
    env_config: dict[str, Any] | None = None  # the --config YAML's env_config (policies, experiments)
    traffic: int = 0
    walkers: int = 0
    traffic_blueprints: str = "leaderboard"  # leaderboard: the Leaderboard 2.0's background cars | all: vehicle.*
    seed: int = 0
    weather: str = "ClearNoon"
    record_dir: str | None = None  # an MP4 per route
    state_log_dir: str | None = None
    state_log_format: str = "csv"  # csv | parquet

    def carla_config(self) -> dict[str, Any]:
        carla_config = dict((self.env_config or {}).get("carla") or {})
        carla_config.setdefault("simulator", "embedded")
        carla_config["enable_rendering"] = False  # no spectator following (the evaluator draws its own video)
        carla_config.pop("fault_injection", None)  # a training run's injected faults are not the evaluation's
        return carla_config


def _file_name(route_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(route_id))


class RouteRunner:
    """One simulator and one agent driving routes one after another."""

    def __init__(self, settings: EvaluationSettings, agent: Any = None, live: bool = False) -> None:
        """``live``: show the routes in the live view named by the environment (see :mod:`..live`)."""
        self.settings = settings
        publisher = LivePublisher.from_environment() if live else None
        self.live = LiveReporter(publisher) if publisher is not None else None
        self.agent = agent if agent is not None else load_agent(
            settings.agent, settings.env_config, {"seed": settings.seed, **settings.agent_config})
        self.core = CarlaCore(settings.carla_config())
        self._planners: dict[str, RoutePlanner] = {}
        experiment = getattr(self.agent, "experiment", None)
        self.hero_blueprint = experiment.config["hero"]["blueprint"] if experiment is not None else DEFAULT_HERO

    def load_town(self, town: str, route_id: str) -> RoutePlanner:
        """A fresh world of ``town`` with the background traffic seeded for route ``route_id``; its planner."""
        s = self.settings
        self.core.setup_experiment({"town": town, "weather": s.weather, "background_activity": {
            "n_vehicles": s.traffic, "n_walkers": s.walkers, "tm_hybrid_mode": True,
            "vehicle_attributes": LEADERBOARD_VEHICLES if s.traffic_blueprints == "leaderboard" else {},
            "seed": (s.seed * 100003 + zlib.crc32(str(route_id).encode())) % 2 ** 31, "respawn_per_episode": False}})
        name = self.core.map.name
        if name not in self._planners:
            self._planners[name] = RoutePlanner(self.core.map)
        return self._planners[name]

    def run(self, index: int, spec: RouteSpec) -> dict[str, Any]:
        """Drive route ``spec`` (the ``index``-th of its set); its results.json record."""
        started = time.perf_counter()
        planner = self.load_town(spec.town, spec.route_id)
        route = dense_route(planner, spec)
        hero_config = {"blueprint": self.hero_blueprint, "spawn_points": [],
                       "sensors": sensor_config(self.agent.sensors() if hasattr(self.agent, "sensors") else [])}
        core = self.core
        core.reset_hero(hero_config, np.random.default_rng(zlib.crc32(str(spec.route_id).encode())), route=route)
        if hasattr(self.agent, "set_global_plan"):
            self.agent.set_global_plan(route)
        if hasattr(self.agent, "start"):
            self.agent.start(core)
        monitor = RouteMonitor(core.world, core.map, core.hero, core.route_progress)
        s, name = self.settings, _file_name(spec.route_id)
        dt = core.config["timestep"]
        video = RouteVideo(os.path.join(s.record_dir, f"route_{name}.mp4"), core.world, core.hero,
                           core.route_progress, 1.0 / dt) if s.record_dir else None
        log = StateLog(os.path.join(s.state_log_dir, f"route_{name}.{s.state_log_format}")) \
            if s.state_log_dir else None
        if self.live is not None:
            self.live.start_episode()
        try:
            data = core.tick(None)
            while not monitor.done:
                control = self.agent.run_step(data, monitor.elapsed)
                data = core.tick(control)
                new = monitor.update(dt)
                if self.live is not None:
                    terms = getattr(self.agent, "terms", {})
                    self.live.step(core, getattr(self.agent, "observation", None), terms.get("reward", 0.0), terms,
                                   [i.kind for i in monitor.infractions], monitor.route_completion)
                if video is not None:
                    video.add(self._header(spec, monitor), new)
                if log is not None:
                    log.add(monitor.elapsed, core.hero, monitor.route_completion, monitor.outside_now, new,
                            getattr(self.agent, "terms", {}))
        finally:
            monitor.destroy()
            if hasattr(self.agent, "destroy"):
                self.agent.destroy()
            if video is not None:
                video.close()
            if log is not None:
                log.close()
            core.release_hero()
        score = monitor.record()
        logger.info("route %s: RC %.1f, penalty %.3f, DS %.1f (%s)", spec.route_id, score.route_completion,
                    score.infraction_penalty, score.driving_score, score.status)
        return route_record(index, spec.route_id, spec.town, score, time.perf_counter() - started)

    def run_or_fail(self, index: int, spec: RouteSpec) -> dict[str, Any]:
        """:meth:`run`, or a failed record when the simulator fails during the route (it is restarted)."""
        try:
            return self.run(index, spec)
        except SimulatorRestartedError as error:
            logger.warning("route %s: the simulator failed (%s)", spec.route_id, error)
            return failed_record(index, spec.route_id, spec.town, "Simulation crashed")

    @staticmethod
    def _header(spec: RouteSpec, monitor: RouteMonitor) -> str:
        v = monitor.hero.get_velocity()
        control = monitor.hero.get_control()
        speed = 3.6 * (v.x ** 2 + v.y ** 2) ** 0.5
        score = monitor.record()
        return (f"route {spec.route_id}  {spec.town}  t {monitor.elapsed:5.1f} s\n"
                f"RC {score.route_completion:5.1f}  penalty {score.infraction_penalty:.2f}  "
                f"DS {score.driving_score:5.1f}\n"
                f"{speed:5.1f} km/h  thr {control.throttle:.2f} str {control.steer:+.2f} brk {control.brake:.2f}")

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
        self.core.close()


def _portable(spec: RouteSpec) -> tuple:
    """A route spec as plain values (carla types do not pickle to worker processes)."""
    return (spec.route_id, spec.town, [(p.x, p.y, p.z) for p in spec.waypoints], list(spec.yaws))


def _run_share(settings: EvaluationSettings, share: list[tuple[int, tuple]], live: bool = False) -> list[dict[str, Any]]:
    """Drive ``share`` of the routes (portable specs) with one simulator and one agent (a worker's part);
    ``live``: this worker's routes are the live view's."""
    runner = RouteRunner(settings, live=live)
    records = []
    try:
        for index, (route_id, town, points, yaws) in share:
            spec = RouteSpec(route_id, town, [carla.Location(*p) for p in points], yaws)
            records.append(runner.run_or_fail(index, spec))
    finally:
        runner.close()
    return records


def evaluate(routes: list[RouteSpec], settings: EvaluationSettings, workers: int = 1,
             on_record: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Drive ``routes`` and return the results.json document; ``on_record`` sees each route's record
    as it finishes."""
    indexed = [(index, _portable(spec)) for index, spec in enumerate(routes)]
    records: list[dict[str, Any]] = []
    workers = max(1, min(workers, len(routes)))
    if workers == 1:
        for record in _run_share(settings, indexed, live=True):
            records.append(record)
            if on_record:
                on_record(record)
    else:
        shares = [indexed[w::workers] for w in range(workers)]
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_run_share, settings, share, n == 0) for n, share in enumerate(shares)]
            for future in concurrent.futures.as_completed(futures):
                for record in future.result():
                    records.append(record)
                    if on_record:
                        on_record(record)
    return results_document(records, len(routes), sensors=_sensor_types(settings),
                            meta={"agent": settings.agent, "traffic": settings.traffic, "walkers": settings.walkers,
                                  "traffic_blueprints": settings.traffic_blueprints,
                                  "seed": settings.seed, "weather": settings.weather})


def _sensor_types(settings: EvaluationSettings) -> list[str]:
    sensors = ((settings.env_config or {}).get("experiment") or {}).get("hero", {}).get("sensors", {})
    return sorted({str(s.get("type")) for s in sensors.values() if isinstance(s, Mapping)})



