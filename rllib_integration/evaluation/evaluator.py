"""Drive an agent over routes and score it as the CARLA Leaderboard does.

:func:`evaluate` runs every route from its start, in order, through a :class:`~..carla_core.CarlaCore`
(so ``simulator: embedded | launch | connect`` take the same path), each with a fresh world of its
town (the background traffic seeded from the route's id, so a route scores the same alone, in a
set or on another worker), and returns the ``results.json`` document (:mod:`.results`). With
``workers > 1`` each route is a task for a pool of that many processes, one simulator each, so every
route's record comes back as it finishes. A route that raises is recorded as failed with its error and
the others go on; workers end with the evaluating process. A Leaderboard 2.0 route's scenarios are
simulated (:mod:`..scenarios`) and each one's outcome is in the route's ``meta.scenarios``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import carla
import numpy as np

from ..background_traffic import LEADERBOARD_VEHICLES
from ..carla_core import CarlaCore
from ..common.kernel_cache import COMPILING, compile_notice
from ..console import quiet_ray_internals
from ..errors import SimulatorRestartedError
from ..live import LivePublisher, LiveReporter
from ..routes.planner import RoutePlanner
from ..routes.route_files import RouteSpec
from ..routes.route_sets import dense_route
from ..scenarios import RouteScenarios
from ..scenarios.background import BackgroundActivity
from .agents import load_agent, sensor_config
from .monitor import RouteMonitor
from .recording import RouteVideo, StateLog
from .route_checks import output_name
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
    metrics: str = "auto"  # auto: a Leaderboard 2.0 route file's routes by 2.0's criteria, others by 1.0's | 1.0 | 2.0
    #: the Leaderboard 2.0's background activity around the hero: auto (on the routes of a 2.0 route file) | on | off
    background: str = "auto"
    #: an agent class built from the env_config (instead of ``agent``'s spec), such as the demonstrations' recorder
    agent_class: type | None = None

    def make_agent(self) -> Any:
        """The agent these settings name, set up with ``agent_config`` and the seed."""
        config = {"seed": self.seed, **self.agent_config}
        if self.agent_class is None:
            return load_agent(self.agent, self.env_config, config)
        agent = self.agent_class(self.env_config)
        agent.setup(config)
        return agent

    def leaderboard_2(self, spec: RouteSpec) -> bool:
        """Whether ``spec`` is scored with the Leaderboard 2.0's criteria (minimum speed)."""
        return self.metrics == "2.0" or (self.metrics == "auto" and spec.leaderboard == 2)

    def background_activity(self, spec: RouteSpec) -> bool:
        """Whether ``spec`` is driven among the Leaderboard 2.0's background activity."""
        return self.background == "on" or (self.background == "auto" and spec.leaderboard == 2)

    def carla_config(self) -> dict[str, Any]:
        carla_config = dict((self.env_config or {}).get("carla") or {})
        carla_config.setdefault("simulator", "embedded")
        carla_config["enable_rendering"] = False  # no spectator following (the evaluator draws its own video)
        carla_config.pop("fault_injection", None)  # a training run's injected faults are not the evaluation's
        return carla_config


class RouteRunner:
    """One simulator and one agent driving routes one after another."""

    def __init__(self, settings: EvaluationSettings, agent: Any = None, live: bool = False) -> None:
        """``live``: show the routes in the live view named by the environment (see :mod:`..live`)."""
        self.settings = settings
        publisher = LivePublisher.from_environment() if live else None
        self.live = LiveReporter(publisher) if publisher is not None else None
        self.agent = agent if agent is not None else settings.make_agent()
        self.core = CarlaCore(settings.carla_config())
        self._planners: dict[str, RoutePlanner] = {}
        experiment = getattr(self.agent, "experiment", None)
        blueprint = experiment.config["hero"]["blueprint"] if experiment is not None else DEFAULT_HERO
        #: the agent's vehicle (the first of a list a training configuration draws from: routes compare as one car)
        self.hero_blueprint = blueprint[0] if isinstance(blueprint, (list, tuple)) and blueprint else blueprint

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
        if hasattr(self.agent, "set_route_keypoints"):  # (a Leaderboard agent plans as the leaderboard does)
            self.agent.set_route_keypoints(list(spec.waypoints))
        if hasattr(self.agent, "start"):
            self.agent.start(core)
        background = BackgroundActivity(
            core.world, core.map, core.hero, core.traffic_manager, core.tm_port, core.route_progress,
            np.random.default_rng(zlib.crc32(f"background/{self.settings.seed}/{spec.route_id}".encode()))) \
            if self.settings.background_activity(spec) else None
        scenarios = RouteScenarios(spec.scenarios, core.world, core.map, core.hero, core.route_progress,
                                   seed=zlib.crc32(f"{self.settings.seed}/{spec.route_id}".encode()),
                                   planner=planner, background=background) if spec.scenarios else None
        leaderboard_2 = self.settings.leaderboard_2(spec)
        monitor = RouteMonitor(core.world, core.map, core.hero, core.route_progress, scenarios, leaderboard_2=leaderboard_2,
                               background=background)
        s, name = self.settings, output_name(spec.route_id)
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
                if scenarios is not None:
                    control = scenarios.perturb(control)
                data = core.tick(control)
                if background is not None:
                    background.update()
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
            if background is not None:
                background.destroy()
            if hasattr(self.agent, "destroy"):
                self.agent.destroy()
            if video is not None:
                video.close()
            if log is not None:
                log.close()
            core.release_hero()
        score = monitor.record()
        logger.debug("route %s: RC %.1f, penalty %.3f, DS %.1f (%s)", spec.route_id, score.route_completion,
                    score.infraction_penalty, score.driving_score, score.status)
        score.meta["metrics"] = "2.0" if leaderboard_2 else "1.0"
        score.meta["background_activity"] = background is not None
        return route_record(index, spec.route_id, spec.town, score, time.perf_counter() - started)

    def run_or_fail(self, index: int, spec: RouteSpec) -> dict[str, Any]:
        """:meth:`run`, or a failed record naming the error when the route cannot be driven to its end: the
        simulator failed (it is restarted), the agent raised (``Failed - Agent crashed``) or anything else
        went wrong (``Failed - Simulation crashed``), as the Leaderboard records such routes, and goes on."""
        try:
            return self.run(index, spec)
        except SimulatorRestartedError as error:
            logger.warning("route %s: the simulator failed (%s)", spec.route_id, error)
            return failed_record(index, spec.route_id, spec.town, "Simulation crashed", str(error))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - one route's error must not lose the others
            status = "Agent crashed" if _raised_by_agent(error) else "Simulation crashed"
            logger.error("route %s: %s: %s", spec.route_id, type(error).__name__, error)
            logger.debug("route %s: traceback", spec.route_id, exc_info=True)
            self._recover()
            return failed_record(index, spec.route_id, spec.town, status, f"{type(error).__name__}: {error}")

    def _recover(self) -> None:
        """After a route that raised: let go of its hero (and its sensors) so the next route starts clean."""
        try:
            self.core.release_hero()
        except Exception:  # noqa: BLE001 - best effort: the next route loads a fresh world anyway
            logger.debug("releasing the hero after a failed route", exc_info=True)

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


def _raised_by_agent(error: BaseException) -> bool:
    """Whether an exception came out of the agent's own code (its module is not this library's)."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    library = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return bool(frames) and not os.path.abspath(frames[-1]).startswith(library) and \
        any(os.path.abspath(f).startswith(os.path.join(library, "evaluation")) for f in frames)


def _portable(spec: RouteSpec) -> tuple:
    """A route spec as plain values (carla types do not pickle to worker processes)."""
    return (spec.route_id, spec.town, [(p.x, p.y, p.z) for p in spec.waypoints], list(spec.yaws), spec.scenarios,
            spec.leaderboard)


def _spec(portable: tuple) -> RouteSpec:
    route_id, town, points, yaws, scenarios, leaderboard = portable
    return RouteSpec(route_id, town, [carla.Location(*p) for p in points], yaws, scenarios=scenarios,
                     leaderboard=leaderboard)


#: The worker process's route runner (one simulator and agent per worker, set up once).
_WORKER: RouteRunner | None = None
_COMPILING_SAID: Any = None  # the workers' shared flag: "the kernels compile" was logged


#: The loggers whose levels a worker takes from the evaluating process.
LOGGERS = ("", "rllib_integration", "evaluate", "rllib_integration.simulators", "rllib_integration.embedded")


def _start_worker(settings: EvaluationSettings, live_claimed: Any, compiling_said: Any, levels: dict[str, int]
                  ) -> None:
    """Set up a worker process: it dies with its parent (Linux), leaves Ctrl-C to the parent, logs as the
    parent does (and says once over all the workers that the kernels compile, where they do), and the first worker
    up shows its routes in the live view."""
    global _WORKER, _COMPILING_SAID
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(format="%(message)s")
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    quiet_ray_internals()
    with live_claimed.get_lock():
        live = live_claimed.value == 0
        live_claimed.value = 1
    _COMPILING_SAID = compiling_said
    with compile_notice(_say_compiling):
        _WORKER = RouteRunner(settings, live=live)
    atexit.register(_WORKER.close)


def _say_compiling() -> None:
    """Log that the kernels compile, once over all the workers (they start together, and compile together)."""
    with _COMPILING_SAID.get_lock():
        said, _COMPILING_SAID.value = _COMPILING_SAID.value, 1
    if not said:
        logger.info(COMPILING)


def _drive(index: int, portable: tuple) -> dict[str, Any]:
    """Drive one route in a worker process (its runner set up by :func:`_start_worker`)."""
    assert _WORKER is not None, "the worker was not started"
    with compile_notice(_say_compiling):
        return _WORKER.run_or_fail(index, _spec(portable))


def die_with_parent() -> None:
    """Ask the kernel to end this process when its parent dies (Linux's PR_SET_PDEATHSIG; elsewhere a
    no-op): a killed evaluation leaves no worker driving on."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call: go now
        os.kill(os.getpid(), signal.SIGTERM)


def evaluate(routes: list[RouteSpec], settings: EvaluationSettings, workers: int = 1,
             on_record: Callable[[dict[str, Any]], None] | None = None,
             indices: list[int] | None = None) -> dict[str, Any]:
    """Drive ``routes`` and return the results.json document of their records; ``on_record`` sees each
    route's record as soon as it finishes (with workers too: each route is a task of its own).
    ``indices``: each route's place in the whole set (default 0, 1, ...). A Ctrl-C (or SIGTERM turned into
    ``KeyboardInterrupt``) stops the workers and propagates; the records seen so far went to ``on_record``."""
    indices = list(range(len(routes))) if indices is None else list(indices)
    records: list[dict[str, Any]] = []

    def collect(record: dict[str, Any]) -> None:
        records.append(record)
        if on_record:
            on_record(record)
    workers = max(1, min(workers, len(routes)))
    if workers == 1:
        with compile_notice(lambda: logger.info(COMPILING)):
            runner = RouteRunner(settings, live=True)
            try:
                for index, spec in zip(indices, routes):
                    collect(runner.run_or_fail(index, spec))
            finally:
                runner.close()
    else:
        _in_workers([(index, _portable(spec)) for index, spec in zip(indices, routes)], settings, workers, collect)
    return results_document(records, len(routes), sensors=sensor_types(settings), meta=evaluation_meta(settings))


def _in_workers(tasks: list[tuple[int, tuple]], settings: EvaluationSettings, workers: int,
                collect: Callable[[dict[str, Any]], None]) -> None:
    context = multiprocessing.get_context("spawn")
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(
        settings, context.Value("i", 0), context.Value("i", 0), levels))
    try:
        futures = [pool.submit(_drive, index, portable) for index, portable in tasks]
        for future in concurrent.futures.as_completed(futures):
            collect(future.result())
    except BaseException:
        # the workers stop driving now; the routes not started fail with the broken pool (Python 3.11's pool thread
        # raises InvalidStateError on futures cancelled before it breaks them, so none is cancelled here)
        pool.shutdown(wait=False)
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    pool.shutdown(wait=True)


def evaluation_meta(settings: EvaluationSettings) -> dict[str, Any]:
    """What results.json's ``evaluation`` records of the settings (``--resume`` checks them)."""
    return {"agent": settings.agent, "traffic": settings.traffic, "walkers": settings.walkers,
            "traffic_blueprints": settings.traffic_blueprints, "seed": settings.seed, "weather": settings.weather,
            "metrics": settings.metrics, "background": settings.background}


def sensor_types(settings: EvaluationSettings) -> list[str]:
    """The sensor blueprints of the experiment's hero (results.json's ``sensors``)."""
    sensors = ((settings.env_config or {}).get("experiment") or {}).get("hero", {}).get("sensors", {})
    return sorted({str(s.get("type")) for s in sensors.values() if isinstance(s, Mapping)})



