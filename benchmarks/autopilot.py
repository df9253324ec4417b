#!/usr/bin/env python3
"""The autopilot's quality as a figure: the embedded traffic manager drives routes with traffic on
every town the project can load (the procedural towns and the CARLA towns of a maps folder), scored by
the evaluator (the Leaderboard's metrics). Prints per town the DS, RC, penalty and infractions per km,
then the mean over towns; writes each town's results.json under --out.

    python3 benchmarks/autopilot.py                        # every town, 6 routes of 1-2 km, 40 cars, 20 walkers
    python3 benchmarks/autopilot.py --towns GridTown Town01 --route-length 2000 5000 --workers 2

A town too small for the routes asked for is listed with the longest routes it holds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.embedded.maps.procedural import PROCEDURAL_TOWNS  # noqa: E402
from rllib_integration.embedded.maps.towns import load_map, resolve_town  # noqa: E402
from rllib_integration.evaluation import EvaluationSettings, evaluate, write_results  # noqa: E402
from rllib_integration.evaluation.infractions import KINDS, SHORT_NAMES  # noqa: E402
from rllib_integration.routes.planner import RoutePlanner  # noqa: E402
from rllib_integration.routes.route_sets import generate_routes  # noqa: E402

DEFAULT_MAPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "maps")
SMALL_TOWNS = {"CurveRoad", "BikeTown"}  # one road, one junction: no routes of town lengths


def town_list(names: list[str] | None, maps_dir: str) -> list[str]:
    """The towns to drive: the names given (a bare CARLA town name is looked up in ``maps_dir``), else
    every procedural town but the sanity map and every .xodr file of ``maps_dir``."""
    if names:
        return [os.path.join(maps_dir, f"{n}.xodr") if n.startswith("Town") and not n.endswith(".xodr") else n
                for n in names]
    carla_towns = sorted(os.path.join(maps_dir, f) for f in os.listdir(maps_dir) if f.endswith(".xodr")) \
        if os.path.isdir(maps_dir) else []
    return [t for t in sorted(PROCEDURAL_TOWNS) if t not in SMALL_TOWNS] + carla_towns


def draw_routes(town: str, count: int, seed: int, low: float, high: float) -> list:
    """``count`` routes of ``low``-``high`` m; shorter ones (down to a quarter) where the town is too small."""
    planner = RoutePlanner(load_map(*resolve_town(town)))
    while True:
        try:
            return generate_routes(planner, town, count, seed=seed, min_length=low, max_length=high)
        except ValueError:
            if low < 250.0:
                raise
            low, high = low / 2.0, high / 2.0
            print(f"  {os.path.basename(town)}: routes shortened to {low:.0f}-{high:.0f} m", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--towns", nargs="+", help="town names or .xodr paths (default: every procedural town "
                        "but CurveRoad, and every .xodr file of --maps)")
    parser.add_argument("--maps", default=DEFAULT_MAPS, help="folder of CARLA .xodr files")
    parser.add_argument("--route-count", type=int, default=6, help="routes per town")
    parser.add_argument("--route-length", type=float, nargs=2, default=(1000.0, 2000.0), metavar=("MIN", "MAX"),
                        help="route lengths in metres")
    parser.add_argument("--route-seed", type=int, default=1000, help="seed of the routes")
    parser.add_argument("--traffic", type=int, default=40, help="background autopilot vehicles per route")
    parser.add_argument("--walkers", type=int, default=20, help="walkers per route")
    parser.add_argument("--traffic-blueprints", choices=("leaderboard", "all"), default="leaderboard",
                        help="the background vehicles (as evaluate.py's flag)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the traffic and walkers")
    parser.add_argument("--workers", type=int, default=2, help="routes driven in parallel")
    parser.add_argument("--out", default="results/autopilot_benchmark", help="folder for each town's results.json")
    args = parser.parse_args()
    kinds = [k for k in KINDS if k not in ("route_dev", "vehicle_blocked", "route_timeout")]
    header = f"{'town':<10} {'routes':>6} {'km':>6} {'DS':>6} {'RC':>6} {'min RC':>6} {'penalty':>7} " + \
        " ".join(f"{SHORT_NAMES[k] + '/km':>9}" for k in kinds) + f" {'failed':>6} {'wall s':>7}"
    rows = []
    for town in town_list(args.towns, args.maps):
        name = os.path.splitext(os.path.basename(town))[0]
        print(f"{name}: drawing routes", flush=True)
        routes = draw_routes(town, args.route_count, args.route_seed, *args.route_length)
        settings = EvaluationSettings(traffic=args.traffic, walkers=args.walkers, seed=args.seed,
                                      traffic_blueprints=args.traffic_blueprints)
        started = time.perf_counter()
        document = evaluate(routes, settings, args.workers)
        wall = time.perf_counter() - started
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
        write_results(os.path.join(args.out, name, "results.json"), document)
        records = document["_checkpoint"]["records"]
        overall = document["_checkpoint"]["global_record"]
        km = sum(r["meta"]["route_length"] for r in records) / 1000.0
        rcs = [r["scores"]["score_route"] for r in records]
        per_km = overall["infractions"]
        failed = sum(not r["status"].startswith("Completed") for r in records)
        row = (f"{name:<10} {len(records):>6} {km:>6.1f} {sum(r['scores']['score_composed'] for r in records) / len(records):>6.1f} "
               f"{sum(rcs) / len(rcs):>6.1f} {min(rcs):>6.1f} "
               f"{sum(r['scores']['score_penalty'] for r in records) / len(records):>7.3f} " +
               " ".join(f"{per_km[k]:>9.2f}" for k in kinds) + f" {failed:>6} {wall:>7.0f}")
        rows.append((row, records))
        print(row, flush=True)
    print()
    print(header)
    for row, _ in rows:
        print(row)
    every = [r for _, records in rows for r in records]
    if every:
        print(f"mean over {len(every)} routes: DS {sum(r['scores']['score_composed'] for r in every) / len(every):.1f}, "
              f"RC {sum(r['scores']['score_route'] for r in every) / len(every):.1f}, lowest RC "
              f"{min(r['scores']['score_route'] for r in every):.1f}")
    print(json.dumps({"args": vars(args)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
