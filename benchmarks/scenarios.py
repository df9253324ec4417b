#!/usr/bin/env python3
"""Wall time of the evaluator's Leaderboard 2.0 scenarios: every route of a 2.0 route file (by default the fixture
file with one route of each scenario type) driven by each agent named, among the background activity. Prints per
route its scenario, town, simulated and wall seconds and how many times faster than real time it ran, then per
agent the total wall time and the slowest routes (the scenarios' flows and drivers are the hot path there).

    CARLA_ROOT=... python3 benchmarks/scenarios.py                   # the autopilot and a constant throttle
    CARLA_ROOT=... python3 benchmarks/scenarios.py --agents autopilot --workers 1

The fixture's Town01 routes need a CARLA_ROOT whose OpenDRIVE folder holds Town01.xodr (else they are recorded as
failed, and said so); the procedural towns' routes need nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.evaluation import EvaluationSettings, evaluate  # noqa: E402
from rllib_integration.routes.route_files import read_routes  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "routes", "leaderboard2_scenarios.xml")
#: the agents' evaluate.py settings: the constant throttle without the background (its cars waiting ahead would be
#: all it meets, as in tests/test_scenarios.py)
AGENTS = {"autopilot": ({}, "auto"), "constant": ({"throttle": 0.3}, "off")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", default=FIXTURE, help="a Leaderboard 2.0 route file (default: the fixture routes)")
    parser.add_argument("--agents", nargs="+", choices=sorted(AGENTS), default=["autopilot", "constant"],
                        help="agents driven, one after the other (constant: throttle 0.3 without the background)")
    parser.add_argument("--workers", type=int, default=2, help="routes driven in parallel (default: 2)")
    parser.add_argument("--slowest", type=int, default=3, help="slowest routes listed per agent (default: 3)")
    args = parser.parse_args()
    routes = read_routes(args.routes)
    for name in args.agents:
        agent_config, background = AGENTS[name]
        settings = EvaluationSettings(agent=name, agent_config=agent_config, background=background)
        print(f"{name}: {len(routes)} routes, {args.workers} workers", flush=True)
        started = time.perf_counter()
        records = evaluate(routes, settings, args.workers)["_checkpoint"]["records"]
        wall = time.perf_counter() - started
        rows = []
        for record in sorted(records, key=lambda r: r["index"]):
            meta = record["meta"]
            kind = ",".join(s["type"] for s in meta.get("scenarios", [])) or "-"
            game, system = meta.get("duration_game", 0.0), meta.get("duration_system", 0.0)
            rows.append((system, f"{record['route_id']:>5} {kind:<36} {meta.get('town', '?'):<11} {game:>7.0f} "
                                 f"{system:>7.1f} {game / system if system else 0.0:>7.1f}  {record['status']}"))
        print(f"{'route':>5} {'scenario':<36} {'town':<11} {'game s':>7} {'wall s':>7} {'x real':>7}  status")
        for _, row in rows:
            print(row)
        game_total = sum(r["meta"].get("duration_game", 0.0) for r in records)
        print(f"{name}: {wall:.1f} s wall for {len(records)} routes ({game_total:.0f} simulated s, "
              f"{game_total / wall:.0f} times real time over {args.workers} workers); slowest:")
        for _, row in sorted(rows, reverse=True)[:args.slowest]:
            print("  " + row.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
