#!/usr/bin/env python3
"""How reliably an agent passes the evaluator's Leaderboard 2.0 scenarios over seeds: every route of a 2.0 route
file (by default the fixture file, one route of each scenario type) driven once per seed, each seed drawing other
background cars, gaps in the flows and scenario cars (``evaluate.py --seed``). A route run counts as passed when its
scenario is passed, the route completed and no infraction but the minimum-speed events happened (the scenario test's
rule for the autopilot). Shows a progress bar over the route runs (on a terminal), prints each seed's failures as it
finishes, then per scenario type the runs passed and how the others failed, and the share of all runs passed (of the
seeds finished, where Ctrl-C stopped it).

    CARLA_ROOT=... python3 benchmarks/scenario_seeds.py --seeds 0 1 2 3 --workers 2
    CARLA_ROOT=... python3 benchmarks/scenario_seeds.py --agent constant --agent-config throttle=0.3

The fixture's Town01 routes need a CARLA_ROOT whose OpenDRIVE folder holds Town01.xodr; the procedural towns'
routes need nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from evaluate import parse_agent_config  # noqa: E402
from rllib_integration.arguments import non_negative_int, positive_int  # noqa: E402
from rllib_integration.evaluation import EvaluationSettings, evaluate  # noqa: E402
from rllib_integration.evaluation.infractions import MIN_SPEED  # noqa: E402
from rllib_integration.routes.route_files import read_routes  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "routes", "leaderboard2_scenarios.xml")


def failure(record: dict) -> str | None:
    """Why a route run is not passed (its scenario's status and the infractions besides minimum speed), or None."""
    scenarios = record["meta"].get("scenarios") or [{"type": "-", "status": "no scenario"}]
    others = sorted(kind for kind, events in record["infractions"].items() if events and kind != MIN_SPEED)
    statuses = {s["status"] for s in scenarios}
    if statuses == {"passed"} and record["status"] == "Completed" and not others:
        return None
    reasons = [s["status"] for s in scenarios if s["status"] != "passed"] + others
    if record["status"] != "Completed" and not others:
        reasons.append(record["status"])
    return ", ".join(reasons)


def scenario_type(record: dict) -> str:
    return ",".join(s["type"] for s in record["meta"].get("scenarios", [])) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", default=FIXTURE, help="a Leaderboard 2.0 route file (default: the fixture routes)")
    parser.add_argument("--agent", default="autopilot", help="the agent, as evaluate.py's --agent (default: autopilot)")
    parser.add_argument("--agent-config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="the agent's settings, as evaluate.py's --agent-config")
    parser.add_argument("--background", choices=("auto", "on", "off"), default="auto",
                        help="the background activity, as evaluate.py's --background (default: auto: on for 2.0 "
                             "routes)")
    parser.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2, 3],
                        help="the seeds driven, one evaluation each (default: 0 1 2 3)")
    parser.add_argument("--workers", type=positive_int, default=2, help="routes driven in parallel (default: 2)")
    args = parser.parse_args()
    routes = read_routes(args.routes)
    agent_config = parse_agent_config(args.agent_config)
    outcomes: dict[str, list[str | None]] = collections.defaultdict(list)
    started = time.perf_counter()
    bar = tqdm(total=len(args.seeds) * len(routes), unit="route", disable=not sys.stderr.isatty(), dynamic_ncols=True)
    finished = []
    try:
        for seed in args.seeds:
            settings = EvaluationSettings(agent=args.agent, agent_config=agent_config, background=args.background,
                                          seed=seed)
            result = evaluate(routes, settings, args.workers, on_record=lambda _: bar.update(1))
            records = result["_checkpoint"]["records"]
            failed = []
            for record in sorted(records, key=lambda r: r["index"]):
                why = failure(record)
                outcomes[scenario_type(record)].append(why)
                if why is not None:
                    failed.append(f"route {record['route_id']} {scenario_type(record)} ({why})")
            finished.append(seed)
            bar.write(f"seed {seed}: {len(records) - len(failed)} of {len(records)} passed "
                      f"({time.perf_counter() - started:.0f} s so far)" + "".join(f"\n  {line}" for line in failed))
    except KeyboardInterrupt:
        bar.write("interrupted: the figures below are those of the seeds finished")
    bar.close()
    print(f"\n{'scenario':<36} {'passed':>8}  failures")
    for kind in sorted(outcomes):
        whys = [why for why in outcomes[kind] if why is not None]
        counted = collections.Counter(whys)
        print(f"{kind:<36} {len(outcomes[kind]) - len(whys):>3} of {len(outcomes[kind]):<3} "
              + "; ".join(f"{why} x{n}" for why, n in counted.most_common()))
    runs = sum(len(v) for v in outcomes.values())
    passed = sum(why is None for v in outcomes.values() for why in v)
    print(f"\n{args.agent}: {passed} of {runs} route runs passed ({100.0 * passed / max(runs, 1):.1f} %) over seeds "
          f"{' '.join(map(str, finished)) or '(none finished)'}, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
