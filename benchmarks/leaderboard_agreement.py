#!/usr/bin/env python3
"""How closely ``evaluate.py`` scores what CARLA's leaderboard scores: one Leaderboard 2.x agent on one route file,
driven by CARLA's ``leaderboard_evaluator.py`` (unchanged, from ``../shared/carla-code``) on the embedded world and
by ``evaluate.py`` through the Leaderboard-agent adapter, the driving scores side by side per route.

    CARLA_ROOT=<a folder with Town01.xodr> python3 benchmarks/leaderboard_agreement.py --out /tmp/agreement

It prints per route the town, the scenario, both driving scores, their difference and the infractions of each
(counts by kind, ``RC`` where a route was not completed), then how many routes agree within 5 and 10 points, the
median and mean difference and the mean DS of each. Routes where ScenarioRunner declined the scenario ("Skipping
scenario" in the leaderboard's output) or where an error stopped the leaderboard's run of the route ("Error during the
simulation") are listed but left out of the figures: the leaderboard did not drive them with their scenario.
Each side's ``results.json`` is kept under ``--out``; ``--run`` runs one side only (or none) and compares with what is
already there. The leaderboard
does not repeat itself exactly (ScenarioRunner builds scenarios in a thread of its own): ``--leaderboard-runs 2``
runs it twice and prints how far its own two runs differ, and how far ``evaluate.py`` is from the nearer of the two.
Both sides draw at random (the background traffic, the scenarios' gaps): ``--evaluate-seeds 5`` runs ``evaluate.py``
with seeds 0-4 and compares each route's median driving score.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rllib_integration.arguments import positive_int  # noqa: E402

CODE = ROOT.parent / "shared" / "carla-code"
ADAPTER = "rllib_integration.leaderboard.leaderboard_agent:LeaderboardAgent"
SHORT = {"collisions_layout": "layout", "collisions_pedestrian": "walker", "collisions_vehicle": "vehicle",
         "red_light": "red", "stop_infraction": "stop", "outside_route_lanes": "lanes", "min_speed_infractions": "speed",
         "yield_emergency_vehicle_infractions": "yield", "scenario_timeouts": "sc-timeout", "route_dev": "deviation",
         "vehicle_blocked": "blocked", "route_timeout": "timeout"}


def routes_of(path: pathlib.Path, ids: list[str] | None) -> list[dict]:
    """``id``, ``town`` and the scenario types of each route of a Leaderboard 2.0 route file."""
    routes = []
    for route in ElementTree.parse(path).getroot().iter("route"):
        if ids and route.get("id") not in ids:
            continue
        scenarios = [scenario.get("type") for scenario in route.iter("scenario")]
        routes.append({"id": route.get("id"), "town": route.get("town"), "scenarios": scenarios})
    return routes


def environment(code: pathlib.Path) -> dict[str, str]:
    """The variables the leaderboard and the adapter need: ScenarioRunner's root and the three packages' paths."""
    env = dict(os.environ)
    env["SCENARIO_RUNNER_ROOT"] = str(code / "scenario_runner")
    paths = [ROOT, code / "leaderboard", code / "scenario_runner", code / "PythonAPI-carla"]
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in paths] + [p for p in [env.get("PYTHONPATH")] if p])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_leaderboard(args: argparse.Namespace, routes: list[dict], out: pathlib.Path) -> None:
    """CARLA's leaderboard on ``routes``, split over ``--workers`` processes (one embedded world each); each
    writes ``out/leaderboard_<k>.json`` and ``out/leaderboard_<k>.log``."""
    out.mkdir(parents=True, exist_ok=True)
    evaluator = args.carla_code / "leaderboard" / "leaderboard" / "leaderboard_evaluator.py"
    chunks = [routes[k::args.workers] for k in range(args.workers)]
    processes = []
    for k, chunk in enumerate(chunk for chunk in chunks if chunk):
        port = args.port + 10 * k
        command = [sys.executable, "-m", "rllib_integration.embedded", "run", str(evaluator), "--town",
                   chunk[0]["town"], "--port", str(port), "--", "--port", str(port), "--traffic-manager-port",
                   str(args.port + 5000 + 10 * k), "--routes", str(args.routes), "--routes-subset",
                   ",".join(route["id"] for route in chunk), "--agent", str(args.agent), "--track", args.track,
                   "--checkpoint", str(out / f"leaderboard_{k}.json")]
        log = open(out / f"leaderboard_{k}.log", "w")
        processes.append((subprocess.Popen(command, cwd=out, env=environment(args.carla_code), stdout=log,
                                           stderr=subprocess.STDOUT), log))
    for process, log in processes:
        process.wait()
        log.close()


def leaderboard_scores(out: pathlib.Path) -> dict[str, dict]:
    """Route id -> the leaderboard's record (with ``skipped``: the scenarios ScenarioRunner declined) from every
    ``leaderboard_<k>.json`` in ``out``."""
    records = {}
    for checkpoint in sorted(out.glob("leaderboard_*.json")):
        log = checkpoint.with_suffix(".log").read_text(errors="replace") if checkpoint.with_suffix(".log").exists() \
            else ""
        skipped = parse_skipped(log)
        for record in json.loads(checkpoint.read_text())["_checkpoint"]["records"]:
            route_id = re.match(r"RouteScenario_(.+)_rep\d+", record["route_id"]).group(1)
            records[route_id] = dict(record, skipped=skipped.get(route_id, []))
    return records


def parse_skipped(log: str) -> dict[str, list[str]]:
    """Route id -> what the leaderboard's log says went wrong with that route's scenarios: those ScenarioRunner
    skipped while preparing it, and the error that stopped it ("Error during the simulation")."""
    skipped: dict[str, list[str]] = {}
    current, in_error = None, False
    for line in log.splitlines():
        preparing = re.search(r"Preparing RouteScenario_(\S+)", line)
        if preparing:
            current, in_error = preparing.group(1), False
        declined = re.search(r"Skipping scenario '([^']+)'", line)
        if declined and current is not None:
            skipped.setdefault(current, []).append(declined.group(1))
        in_error = in_error or "Error during the simulation" in line
        error = re.match(r"(\w+(Error|Exception): .*)", line.strip())
        if in_error and error and current is not None:
            skipped.setdefault(current, []).append(f"the run stopped: {error.group(1)}")
            in_error = False
    return skipped


def evaluate_folder(out: pathlib.Path, seed: int) -> pathlib.Path:
    """Where ``evaluate.py``'s results with ``seed`` go (seed 0: ``out/evaluate``)."""
    return out / ("evaluate" if seed == 0 else f"evaluate_seed{seed}")


def run_evaluate(args: argparse.Namespace, routes: list[dict], out: pathlib.Path, seed: int) -> None:
    """``evaluate.py`` with the Leaderboard-agent adapter on ``routes`` with ``seed``: its ``results.json`` in
    :func:`evaluate_folder`."""
    out.mkdir(parents=True, exist_ok=True)
    folder = evaluate_folder(out, seed)
    command = [sys.executable, str(ROOT / "evaluate.py"), "--routes", str(args.routes), "--route-ids",
               *(route["id"] for route in routes), "--agent", ADAPTER, "--agent-config", f"agent={args.agent}",
               "--workers", str(args.workers), "--seed", str(seed), "--out", str(folder), "--overwrite"]
    with open(folder.with_suffix(".log"), "w") as log:
        subprocess.run(command, cwd=ROOT, env=environment(args.carla_code), stdout=log, stderr=subprocess.STDOUT,
                       check=True)


def evaluate_scores(out: pathlib.Path, seeds: int) -> dict[str, dict]:
    """Route id -> ``evaluate.py``'s record; over several seeds, the record of the seed whose driving score is the
    median's (the lower middle one of an even count), with ``seeds_ds``: every seed's score."""
    runs: dict[str, list[dict]] = {}
    for seed in range(seeds):
        results = json.loads((evaluate_folder(out, seed) / "results.json").read_text())
        for record in results["_checkpoint"]["records"]:
            runs.setdefault(str(record["route_id"]), []).append(record)
    chosen = {}
    for route_id, records in runs.items():
        ranked = sorted(records, key=score)
        chosen[route_id] = dict(ranked[(len(ranked) - 1) // 2], seeds_ds=[score(record) for record in records])
    return chosen


def summary(record: dict | None) -> str:
    """A record's infractions as counts by kind, and its RC where the route was not completed."""
    if record is None:
        return "no record"
    parts = [f"{SHORT.get(kind, kind)} {len(messages)}" for kind, messages in record["infractions"].items()
             if messages]
    if record["scores"]["score_route"] < 100:
        parts.append(f"RC {record['scores']['score_route']:.1f}")
    return ", ".join(parts) or "-"


def score(record: dict | None) -> float | None:
    return None if record is None else float(record["scores"]["score_composed"])


def figures(pairs: list[tuple[float, float]]) -> str:
    """Agreement of score pairs: within 5 and 10 points, median and mean absolute difference, mean DS of each."""
    if not pairs:
        return "no route scored by both"
    differences = [abs(a - b) for a, b in pairs]
    return (f"{sum(d <= 5 for d in differences)} of {len(pairs)} within 5 points, {sum(d <= 10 for d in differences)} "
            f"within 10; difference median {statistics.median(differences):.1f}, mean "
            f"{statistics.mean(differences):.1f}; mean DS {statistics.mean(a for a, _ in pairs):.1f} against "
            f"{statistics.mean(b for _, b in pairs):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--routes", type=pathlib.Path, default=ROOT / "tests" / "routes" / "leaderboard2_scenarios.xml",
                        help="Leaderboard 2.0 route file (its CARLA towns need CARLA_ROOT)")
    parser.add_argument("--route-ids", nargs="+", metavar="ID", help="only these routes (default: all)")
    parser.add_argument("--carla-code", type=pathlib.Path, default=CODE,
                        help="folder holding CARLA's leaderboard, scenario_runner and PythonAPI-carla")
    parser.add_argument("--agent", type=pathlib.Path, default=None,
                        help="Leaderboard agent file (default: the leaderboard's autoagents/npc_agent.py)")
    parser.add_argument("--track", default="SENSORS", help="the leaderboard's --track")
    parser.add_argument("--workers", type=positive_int, default=2, help="routes driven at once, by each side")
    parser.add_argument("--leaderboard-runs", type=int, default=1, choices=(1, 2),
                        help="leaderboard runs (2: also how far its own runs differ)")
    parser.add_argument("--evaluate-seeds", type=positive_int, default=1,
                        help="evaluate.py runs, with seeds 0, 1, ...: each route's median driving score is compared "
                             "(both sides are random: the background traffic, the scenarios' draws)")
    parser.add_argument("--port", type=positive_int, default=2300, help="first port of the leaderboard's embedded worlds")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for both sides' results and logs")
    parser.add_argument("--run", choices=("both", "leaderboard", "evaluate", "none"), default="both",
                        help="which side to run (the other's results.json already in --out; none: compare only)")
    args = parser.parse_args()
    args.carla_code, args.routes, args.out = args.carla_code.resolve(), args.routes.resolve(), args.out.resolve()
    evaluator = args.carla_code / "leaderboard" / "leaderboard" / "leaderboard_evaluator.py"
    if not evaluator.is_file():
        parser.error(f"--carla-code: no {evaluator}. Fix: give the folder holding CARLA's leaderboard, "
                     f"scenario_runner and PythonAPI-carla.")
    args.agent = (args.agent or args.carla_code / "leaderboard" / "leaderboard" / "autoagents" / "npc_agent.py").resolve()
    routes = routes_of(args.routes, args.route_ids)
    if not routes:
        parser.error(f"--route-ids: none of {args.route_ids} is in {args.routes}")
    runs = [args.out / f"leaderboard_run{k}" for k in range(args.leaderboard_runs)]
    if args.run in ("both", "leaderboard"):
        for run in runs:
            started = time.perf_counter()
            print(f"CARLA's leaderboard on {len(routes)} routes ({args.workers} workers) -> {run}", flush=True)
            run_leaderboard(args, routes, run)
            print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    if args.run in ("both", "evaluate"):
        for seed in range(args.evaluate_seeds):
            started = time.perf_counter()
            print(f"evaluate.py on {len(routes)} routes ({args.workers} workers, seed {seed}) -> "
                  f"{evaluate_folder(args.out, seed)}", flush=True)
            run_evaluate(args, routes, args.out, seed)
            print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    boards = [leaderboard_scores(run) for run in runs]
    ours = evaluate_scores(args.out, args.evaluate_seeds)
    print(f"\n{'route':<6} {'town':<11} {'scenario':<30} {'leaderboard':>11} {'evaluate':>9} {'diff':>6}  "
          f"leaderboard's infractions | evaluate.py's")
    pairs, own, nearest = [], [], []
    for route in routes:
        board, mine = boards[0].get(route["id"]), ours.get(route["id"])
        a, b = score(board), score(mine)
        second = score(boards[1].get(route["id"])) if len(boards) == 2 else None
        difference = f"{abs(a - b):6.1f}" if a is not None and b is not None else f"{'':>6}"
        skipped = board is not None and board["skipped"]
        note = f"  (left out, the leaderboard's run: {'; '.join(board['skipped'])})" if skipped else ""
        others = "" if second is None or a is None or abs(second - a) < 0.05 else f" (2nd run {second:.1f})"
        if mine is not None and len(mine["seeds_ds"]) > 1:
            others += f" (evaluate.py's seeds: {', '.join(f'{value:.1f}' for value in mine['seeds_ds'])})"
        print(f"{route['id']:<6} {route['town']:<11} {','.join(route['scenarios'])[:30]:<30} "
              f"{'-' if a is None else f'{a:.1f}':>11} {'-' if b is None else f'{b:.1f}':>9} {difference}  "
              f"{summary(board)} | {summary(mine)}{note}{others}")
        if a is not None and b is not None and not skipped:
            pairs.append((a, b))
            if second is not None:  # the leaderboard's run nearer to evaluate.py's score
                nearest.append((min((a, second), key=lambda board_score: abs(board_score - b)), b))
        if a is not None and second is not None:
            own.append((a, second))
    print(f"\nleaderboard against evaluate.py: {figures(pairs)}")
    if own:
        print(f"leaderboard's first run against its second: {figures(own)}")
    if nearest:
        print(f"evaluate.py against the nearer of the leaderboard's two runs: {figures(nearest)}")


if __name__ == "__main__":
    main()
