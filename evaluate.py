#!/usr/bin/env python3
"""Score a driving agent on routes with the CARLA Leaderboard's metrics (RC, infraction penalty, DS,
infractions per km), on the embedded world or a CARLA server.

    python3 evaluate.py --routes GridTown --agent autopilot --out results/autopilot
    python3 evaluate.py --routes routes.xml --route-ids 0 3 --agent constant --agent-config throttle=1 --out out
    python3 evaluate.py --routes ../shared/maps/Town01.xodr --agent results/dqn --config dqn_example/dqn_config.yaml \\
        --traffic 30 --record videos --state-log csv --out results/dqn_town01

--routes is a Leaderboard route file (1.0 or 2.0), or a town (a name, a CARLA town under CARLA_ROOT,
an .xodr path) for which --route-count routes of --route-length metres are drawn from --route-seed
(different seeds give different routes: use one seed to train on and others to test on). Every route is
checked before any is driven; OUT/results.json (the Leaderboard's layout) is written as each route ends,
so a Ctrl-C, a kill or a failing route loses nothing (--resume continues), beside OUT/routes.xml (the
routes driven). Prints a line per route as it ends (a progress bar with an ETA on a terminal), then a
table per route and overall.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys

from rllib_integration import ConfigError, SimulatorUnavailableError
from rllib_integration.arguments import non_negative_int, port, positive_float, positive_int
from rllib_integration.config import load_yaml
from rllib_integration.console import quiet_ray_internals
from rllib_integration.embedded import UnknownTownError
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.evaluation import EvaluationSettings, evaluate, format_table, load_agent
from rllib_integration.evaluation.evaluator import evaluation_meta, sensor_types
from rllib_integration.evaluation.progress import RouteProgressBar
from rllib_integration.evaluation.results_folder import ResultsFolder
from rllib_integration.evaluation.route_checks import check_routes
from rllib_integration.live import DEFAULT_PORT, start_live
from rllib_integration.routes.planner import RoutePlanner
from rllib_integration.routes.route_files import RouteFileError, read_routes
from rllib_integration.routes.route_sets import generate_routes
from rllib_integration.scenarios import unsimulated_types

logger = logging.getLogger("evaluate")


def parse_agent_config(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs (numbers parsed) for the agent's ``setup(config)``."""
    config: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--agent-config {item!r}: expected KEY=VALUE. Fix: write for example throttle=0.5.")
        try:
            number = float(value) if "." in value or "e" in value.lower() or value.lower().lstrip("+-") in (
                "nan", "inf", "infinity") else int(value)
        except ValueError:
            config[key] = value
            continue
        if not math.isfinite(number):
            raise ConfigError(f"--agent-config {item!r}: {value} is not a finite number. Fix: give a number, e.g. "
                              f"{key}=0.5.")
        config[key] = number
    return config


def load_routes(args: argparse.Namespace) -> list:
    """The routes to drive: read from a route file, or drawn for a town."""
    if args.routes.endswith(".xml"):
        routes = read_routes(args.routes)
    else:
        town_map = load_map(*resolve_town(args.routes))
        low, high = args.route_length
        routes = generate_routes(RoutePlanner(town_map), args.routes, args.route_count, seed=args.route_seed,
                                 min_length=low, max_length=high)
    if args.route_ids:
        wanted = {str(i) for i in args.route_ids}
        missing = wanted - {r.route_id for r in routes}
        if missing:
            raise ConfigError(f"--route-ids: no route {', '.join(sorted(missing))} in {args.routes}. Fix: use ids "
                              f"of {', '.join(r.route_id for r in routes)}.")
        routes = [r for r in routes if r.route_id in wanted]
    for route in routes:
        missing = unsimulated_types(route.scenarios)
        if missing:
            logger.warning("route %s: its scenarios of type %s are not simulated yet; the route is driven without "
                           "them", route.route_id, ", ".join(missing))
    return routes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--routes", required=True, help="a route file (.xml, Leaderboard 1.0 or 2.0) or a town "
                        "(name, CARLA town, .xodr path) to draw routes on")
    parser.add_argument("--route-ids", nargs="+", metavar="ID", help="drive only these route ids")
    parser.add_argument("--route-count", type=positive_int, default=5, help="routes drawn for a town")
    parser.add_argument("--route-seed", type=non_negative_int, default=1000, help="seed of the routes drawn for a town")
    parser.add_argument("--route-length", type=positive_float, nargs=2, default=(1000.0, 2000.0), metavar=("MIN", "MAX"),
                        help="length range in metres of the routes drawn for a town")
    parser.add_argument("--agent", default="autopilot", help="autopilot | constant | random | a checkpoint or "
                        "experiment folder | a policy.onnx file | package.module:Class")
    parser.add_argument("--agent-config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="the agent's settings, e.g. throttle=1 steer=0 brake=0 for constant")
    parser.add_argument("--config", help="training YAML whose env_config (simulator, experiment, sensors, "
                        "observation) a trained policy or an experiment's random agent needs")
    parser.add_argument("--simulator", choices=("embedded", "launch", "connect"),
                        help="override env_config.carla.simulator (default: the config's, else embedded)")
    parser.add_argument("--traffic", type=non_negative_int, default=0, help="background autopilot vehicles per route")
    parser.add_argument("--walkers", type=non_negative_int, default=0, help="walkers per route")
    parser.add_argument("--traffic-blueprints", choices=("leaderboard", "all"), default="leaderboard",
                        help="the background vehicles: leaderboard = what the CARLA Leaderboard 2.0 spawns (cars of no "
                             "special type, with lights), all = every vehicle.* blueprint (buses, trucks, bikes too)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the traffic, walkers and random agents")
    parser.add_argument("--weather", default="ClearNoon", help="carla.WeatherParameters preset")
    parser.add_argument("--metrics", choices=("auto", "1.0", "2.0"), default="auto",
                        help="the Leaderboard's criteria: 2.0 adds the minimum-speed penalty (the hero's mean speed "
                             "against the traffic's); auto = 2.0 for a Leaderboard 2.0 route file, 1.0 otherwise")
    parser.add_argument("--background", choices=("auto", "on", "off"), default="auto",
                        help="the Leaderboard 2.0's background activity (ScenarioRunner's BackgroundBehavior: cars ahead "
                             "of and behind the hero on its lanes, oncoming ones, junction traffic; the minimum-speed "
                             "criterion compares the hero with them): auto = on for a Leaderboard 2.0 route file")
    parser.add_argument("--workers", type=positive_int, default=1, help="routes driven in parallel, one simulator each")
    parser.add_argument("--record", metavar="DIR", help="write an MP4 per route (BirdView, route, infractions)")
    parser.add_argument("--state-log", nargs="?", const="csv", choices=("csv", "parquet"),
                        help="write a per-step log per route into OUT/state_logs (csv or parquet)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for results.json (written as each route "
                        "ends) and routes.xml")
    parser.add_argument("--resume", action="store_true", help="continue the evaluation in --out: drive only the routes "
                        "it has no record of (and those that ended in 'Simulation crashed'), same routes and settings")
    parser.add_argument("--overwrite", action="store_true", help="replace the results in --out (only a folder "
                        "evaluate.py made)")
    parser.add_argument("--live", type=port, nargs="?", const=DEFAULT_PORT, metavar="PORT",
                        help=f"serve a live view of the routes being driven and their scores on http://127.0.0.1:PORT "
                             f"(default {DEFAULT_PORT})")
    parser.add_argument("-v", "--verbose", action="store_true", help="the project's debug messages, and a traceback "
                        "for a route that fails")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("rllib_integration", "evaluate"):  # -v: the project's loggers only (not numba's compiler)
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    for noisy in ("rllib_integration.simulators", "rllib_integration.embedded"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_ray_internals()
    try:
        env_config = load_yaml(args.config).get("env_config") if args.config else None
        if args.simulator:
            env_config = dict(env_config or {})
            env_config["carla"] = {**(env_config.get("carla") or {}), "simulator": args.simulator}
        routes = load_routes(args)
        simulator = ((env_config or {}).get("carla") or {}).get("simulator", "embedded")
        check_routes(routes, args.routes, offline_towns=simulator in ("embedded", "auto"))
        settings = EvaluationSettings(
            agent=args.agent, agent_config=parse_agent_config(args.agent_config), env_config=env_config,
            traffic=args.traffic, walkers=args.walkers, traffic_blueprints=args.traffic_blueprints, seed=args.seed,
            weather=args.weather, record_dir=args.record, metrics=args.metrics, background=args.background,
            state_log_dir=os.path.join(args.out, "state_logs") if args.state_log else None,
            state_log_format=args.state_log or "csv")
        check_agent(settings)
        folder = ResultsFolder(args.out, resume=args.resume, overwrite=args.overwrite)
        todo = folder.start(routes, evaluation_meta(settings), sensor_types(settings))
        live = start_live(args.live, f"evaluation of {args.agent}") if args.live else None
    except (ConfigError, RouteFileError, UnknownTownError, SimulatorUnavailableError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if live is not None:
        logger.info("live view: %s", live.url)
    if len(todo) < len(routes):
        logger.info("resuming: %d of %d routes recorded, %d to drive", len(routes) - len(todo), len(routes), len(todo))
    logger.info("driving %d route%s with %s (%d worker%s)", len(todo), "s" if len(todo) != 1 else "", args.agent,
                args.workers, "s" if args.workers > 1 else "")
    progress = RouteProgressBar(len(routes), len(routes) - len(todo))

    def on_record(r: dict) -> None:
        folder.add(r)
        progress.route(r)
        if live is not None:
            live.add_point({"x": r["index"], "x_label": "route", "RC": r["scores"]["score_route"],
                            "DS": r["scores"]["score_composed"]})

    signal.signal(signal.SIGTERM, _interrupt)  # a kill -TERM ends the run as a Ctrl-C does: what is done is kept
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even where the shell started it ignored
    try:
        evaluate([routes[i] for i in todo], settings, args.workers, on_record=on_record, indices=todo)
    except KeyboardInterrupt:
        progress.close()
        folder.write()
        print(f"interrupted: {len(folder.records)} of {len(routes)} routes recorded in {folder.path}; "
              f"--resume continues", file=sys.stderr)
        return 130
    except (ConfigError, SimulatorUnavailableError) as error:  # the agent or the simulator cannot start at all
        progress.close()
        if folder.records:
            folder.write()
        print(f"error: {error}", file=sys.stderr)
        return 2
    progress.close()
    document = folder.write()
    print(format_table(document["_checkpoint"]["records"]))
    print(f"results: {folder.path}")
    return 0


def check_agent(settings: EvaluationSettings) -> None:
    """Build the agent once here, so a wrong --agent or --agent-config is an error before anything is written."""
    load_agent(settings.agent, settings.env_config, {"seed": settings.seed, **settings.agent_config})


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
