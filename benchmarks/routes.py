#!/usr/bin/env python3
"""Time of an episode's route: what a route-following experiment plans at every reset and respawn (a random
route drawn from the town's spawn points, densified every metre, and the hero's progress along it set up).

    python3 benchmarks/routes.py --towns GridTown $CARLA_ROOT/.../Town10HD.xodr --length 300 800

Prints, per town, the median milliseconds of a route and of its three parts over ``--routes`` routes (after one
that builds the town's planner): drawing it (``generate_routes``), densifying it (``dense_route``) and the
progress (``RouteProgress``); then what an episode pays (``draw_route``, the route as drawn, not densified again,
and its progress) and the share of routes where the two agree point for point. Run it several times on a shared
machine and report the range.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from rllib_integration.arguments import positive_int  # noqa: E402
from rllib_integration.embedded.maps.towns import load_map, resolve_town  # noqa: E402
from rllib_integration.routes.planner import shared_planner  # noqa: E402
from rllib_integration.routes.progress import RouteProgress  # noqa: E402
from rllib_integration.routes.route_sets import dense_route, draw_route, generate_routes  # noqa: E402


def measure(town: str, routes: int, length: tuple[float, float], seed: int) -> tuple[np.ndarray, float, float]:
    """(median seconds of drawing, densifying, the progress and an episode's route; mean route length in metres;
    share of routes drawn as densified) on ``town``."""
    town_map = load_map(*resolve_town(town))
    planner = shared_planner(town_map)
    times, metres, same = [], [], []
    for k in range(routes + 1):
        started = time.perf_counter()
        spec = generate_routes(planner, town_map.name, 1, seed=seed + k, min_length=length[0], max_length=length[1])[0]
        drawn = time.perf_counter()
        route = dense_route(planner, spec)
        dense = time.perf_counter()
        progress = RouteProgress(route)
        done = time.perf_counter()
        episode = draw_route(planner, town_map.name, seed + k, *length)
        RouteProgress(episode)
        if k:  # the first route builds the planner's caches
            times.append((drawn - started, dense - drawn, done - dense, time.perf_counter() - done))
            metres.append(progress.length)
            same.append([id(w) for w, _ in episode] == [id(w) for w, _ in route])
    return np.median(np.array(times), axis=0), float(np.mean(metres)), float(np.mean(same))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--towns", nargs="+", default=["GridTown", "RingTown"], help="town names or OpenDRIVE files")
    parser.add_argument("--routes", type=positive_int, default=50, help="routes timed per town")
    parser.add_argument("--length", type=float, nargs=2, default=(300.0, 800.0), metavar=("LOW", "HIGH"),
                        help="route lengths in metres (the DQN quickstart's route_length)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first route")
    args = parser.parse_args()
    print(f"{'town':<32} {'ms a route':>10} {'drawn':>7} {'dense':>7} {'progress':>9} {'mean m':>7} "
          f"{'ms an episode':>13} {'same route':>10}", flush=True)
    for town in args.towns:
        parts, metres, same = measure(town, args.routes, tuple(args.length), args.seed)
        print(f"{os.path.basename(town):<32} {parts[:3].sum() * 1e3:>10.2f} {parts[0] * 1e3:>7.2f} "
              f"{parts[1] * 1e3:>7.2f} {parts[2] * 1e3:>9.2f} {metres:>7.0f} {parts[3] * 1e3:>13.2f} "
              f"{100.0 * same:>9.0f}%", flush=True)


if __name__ == "__main__":
    main()
