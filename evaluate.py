#!/usr/bin/env python3
"""Score a driving agent on routes with the CARLA Leaderboard's metrics (RC, infraction penalty, DS,
infractions per km), on the embedded world or a CARLA server.

    python3 evaluate.py --routes GridTown --agent autopilot --out results/autopilot
    python3 evaluate.py --routes routes.xml --route-ids 0 3 --agent constant --agent-config throttle=1 --out out
    python3 evaluate.py --routes ../shared/maps/Town01.xodr --agent results/dqn --config dqn_example/dqn_config.yaml \\
        --traffic 30 --record videos --state-log csv --out results/dqn_town01

--routes is a Leaderboard route file (1.0 or 2.0), or a town (a name, a CARLA town under CARLA_ROOT,
an .xodr path) for which --route-count routes of --route-length metres are drawn from --route-seed
(different seeds give different routes: use one seed to train on and others to test on). Writes
OUT/results.json (the Leaderboard's layout) and OUT/routes.xml (the routes driven), and prints a
table per route and overall.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from rllib_integration import ConfigError, SimulatorUnavailableError
from rllib_integration.arguments import non_negative_int, port, positive_float, positive_int
from rllib_integration.config import load_yaml
from rllib_integration.embedded import UnknownTownError
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.evaluation import EvaluationSettings, evaluate, format_table, write_results
from rllib_integration.live import DEFAULT_PORT, start_live
from rllib_integration.routes.planner import RoutePlanner
from rllib_integration.routes.route_files import RouteFileError, read_routes, write_routes
from rllib_integration.routes.route_sets import generate_routes

logger = logging.getLogger("evaluate")


def parse_agent_config(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs (numbers parsed) for the agent's ``setup(config)``."""
    config: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--agent-config {item!r}: expected KEY=VALUE. Fix: write for example throttle=0.5.")
        try:
            config[key] = float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            config[key] = value
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
        if route.scenarios:
            logger.warning("route %s: its %d scenarios (%s) are not simulated; the route is driven without them",
                           route.route_id, len(route.scenarios), ", ".join(sorted({t for _, t in route.scenarios})))
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
    parser.add_argument("--workers", type=positive_int, default=1, help="routes driven in parallel, one simulator each")
    parser.add_argument("--record", metavar="DIR", help="write an MP4 per route (BirdView, route, infractions)")
    parser.add_argument("--state-log", nargs="?", const="csv", choices=("csv", "parquet"),
                        help="write a per-step log per route into OUT/state_logs (csv or parquet)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for results.json and routes.xml")
    parser.add_argument("--live", type=port, nargs="?", const=DEFAULT_PORT, metavar="PORT",
                        help=f"serve a live view of the routes being driven and their scores on http://127.0.0.1:PORT "
                             f"(default {DEFAULT_PORT})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every route as it ends, and debug output")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    for noisy in ("rllib_integration.simulators", "rllib_integration.embedded"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.workers < 1 or args.traffic < 0 or args.walkers < 0 or args.route_count < 1:
            raise ConfigError("--workers and --route-count must be at least 1, --traffic and --walkers at least 0.")
        env_config = load_yaml(args.config).get("env_config") if args.config else None
        if args.simulator:
            env_config = dict(env_config or {})
            env_config["carla"] = {**(env_config.get("carla") or {}), "simulator": args.simulator}
        routes = load_routes(args)
        settings = EvaluationSettings(
            agent=args.agent, agent_config=parse_agent_config(args.agent_config), env_config=env_config,
            traffic=args.traffic, walkers=args.walkers, traffic_blueprints=args.traffic_blueprints, seed=args.seed,
            weather=args.weather, record_dir=args.record,
            state_log_dir=os.path.join(args.out, "state_logs") if args.state_log else None,
            state_log_format=args.state_log or "csv")
        os.makedirs(args.out, exist_ok=True)
        write_routes(os.path.join(args.out, "routes.xml"), routes)
        live = start_live(args.live, f"evaluation of {args.agent}") if args.live else None
        if live is not None:
            logger.info("live view: %s", live.url)
        logger.info("driving %d routes with %s (%d worker%s)", len(routes), args.agent, args.workers,
                    "s" if args.workers > 1 else "")

        def on_record(r: dict) -> None:
            logger.info("route %s: RC %.1f  penalty %.3f  DS %.1f  %s", r["route_id"], r["scores"]["score_route"],
                        r["scores"]["score_penalty"], r["scores"]["score_composed"], r["status"])
            if live is not None:
                live.add_point({"x": r["index"], "x_label": "route", "RC": r["scores"]["score_route"],
                                "DS": r["scores"]["score_composed"]})

        document = evaluate(routes, settings, args.workers, on_record=on_record)
    except (ConfigError, RouteFileError, UnknownTownError, SimulatorUnavailableError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = os.path.join(args.out, "results.json")
    write_results(path, document)
    print(format_table(document["_checkpoint"]["records"]))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
