#!/usr/bin/env python3
"""Learning curve of a training run as evaluator figures: every kept checkpoint of RESULTS driven on
held-out routes (RC, DS, infraction penalty, on-lane share, infractions per km) against the samples and
training time it was taken at (samples: env steps sampled; for an offline run such as behaviour cloning, the
demonstration samples trained on), next to the autopilot's and the experiment's random policy's figures on
the same routes; plus the run's own route evaluations during training (from its result.json).

    python3 benchmarks/learning_curve.py ~/ray_results/carla_rllib/ppo_example \\
        --config ppo_example/ppo_vlidar_config.yaml --routes ../shared/maps/Town01.xodr ../shared/maps/Town02.xodr \\
        --traffic 30 --walkers 10 --out docs/learning_curve_ppo_vlidar

Writes OUT.md (tables), OUT.csv and OUT.png (RC and DS against samples, baselines as flat lines). From the
routes' state logs it adds the metres driven in each route's first 50 s, the routes where the car fell and
the routes with a static collision.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.arguments import non_negative_int, positive_float, positive_int  # noqa: E402
from rllib_integration.carla_env import load_env_config  # noqa: E402
from rllib_integration.config import load_yaml  # noqa: E402
from rllib_integration.embedded.maps.towns import load_map, resolve_town  # noqa: E402
from rllib_integration.evaluation.evaluator import EvaluationSettings, evaluate  # noqa: E402
from rllib_integration.evaluation.infractions import KINDS, SHORT_NAMES  # noqa: E402
from rllib_integration.routes.planner import RoutePlanner  # noqa: E402
from rllib_integration.routes.route_sets import generate_routes  # noqa: E402
from rllib_integration.inference.checkpoints import PROGRESS_FILE  # noqa: E402
from rllib_integration.inference.policy import policy_file  # noqa: E402

COLUMNS = ["agent", "samples", "time_s", "RC", "DS", "penalty", "on_lane_pct", "m_per_50s", "falls",
           "static_collision_routes"] + [SHORT_NAMES[k] + "_per_km" for k in KINDS]
EPISODE_S = 50.0  # the DQN example's training episode: metres driven in the first 50 s of each route
FALL_Z = -0.5  # metres: below this the car has fallen off the world (the DQN experiment's falling end)


def state_log_figures(folder: str) -> dict:
    """From an evaluation's state logs: mean metres driven in the first :data:`EPISODE_S` seconds of a route,
    routes where the car fell, routes with a static collision."""
    metres, falls, static = [], 0, 0
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name)) as stream:
            rows = list(csv.DictReader(stream))
        xy = np.array([[float(r["x"]), float(r["y"])] for r in rows if float(r["time"]) <= EPISODE_S])
        metres.append(float(np.sum(np.linalg.norm(np.diff(xy, axis=0), axis=1))) if len(xy) > 1 else 0.0)
        falls += any(float(r["z"]) < FALL_Z for r in rows)
        static += any("collisions_layout" in r["infractions"] for r in rows)
    return {"m_per_50s": float(np.mean(metres)) if metres else 0.0, "falls": falls,
            "static_collision_routes": static}


def samples(row: dict) -> int:
    """The experience behind an iteration's result: env steps sampled, or for an offline run (no env runners,
    e.g. MARWIL on demonstrations) the samples its learner trained on."""
    if row.get("env_runners") or "learners" not in row:
        return int(row.get("num_env_steps_sampled_lifetime", 0))
    return int(row["learners"].get("__all_modules__", {}).get("num_module_steps_trained_lifetime", 0))


def training_rows(results: str) -> list[dict]:
    """Every iteration's result of every trial under ``results`` (result.json lines)."""
    rows = []
    for root, _, files in os.walk(results):
        if "result.json" in files:
            with open(os.path.join(root, "result.json")) as stream:
                rows += [json.loads(line) for line in stream if line.strip()]
    return sorted(rows, key=lambda r: r.get("training_iteration", 0))


def checkpoints(results: str, rows: list[dict]) -> list[tuple[int, float, str]]:
    """(samples, training seconds, path) of every checkpoint, oldest first: from its training_progress.json,
    else the iteration whose result was written last before the checkpoint."""
    found = []
    for root, folders, _ in os.walk(results):
        for folder in folders:
            path = os.path.join(root, folder)
            if not re.fullmatch(r"checkpoint_\d+", folder) or not os.path.isfile(os.path.join(path, "rllib_checkpoint.json")):
                continue
            progress_file = os.path.join(path, PROGRESS_FILE)
            if os.path.isfile(progress_file):
                steps = json.load(open(progress_file)).get("num_env_steps_sampled_lifetime", 0)
                row = min(rows, key=lambda r: abs(r.get("num_env_steps_sampled_lifetime", 0) - steps), default={})
                steps = samples(row) if row else steps
            else:
                written = os.path.getmtime(os.path.join(path, "rllib_checkpoint.json"))
                before = [r for r in rows if r.get("timestamp", 0) <= written + 1] or rows[:1]
                row = before[-1] if before else {}
                steps = samples(row)
            found.append((int(steps), float(row.get("time_total_s", 0.0)), path))
    return sorted(found)


def score(document: dict, agent: str, steps: int, seconds: float, logs: str) -> dict:
    """A table row from an evaluation's results.json document and its state logs (folder ``logs``)."""
    records = document["_checkpoint"]["records"]
    scores = document["_checkpoint"]["global_record"]["scores"]
    completed = sum(r["scores"]["score_route"] / 100.0 * r["meta"]["route_length"] for r in records)
    outside = sum(r["meta"].get("outside_route_lanes_percentage", 0.0) / 100.0 * r["meta"]["route_length"]
                  for r in records)
    per_km = document["_checkpoint"]["global_record"]["infractions"]
    return {"agent": agent, "samples": steps, "time_s": round(seconds), "RC": scores["score_route"],
            "DS": scores["score_composed"], "penalty": scores["score_penalty"],
            "on_lane_pct": 100.0 * (1.0 - outside / completed) if completed > 0 else 0.0, **state_log_figures(logs),
            **{SHORT_NAMES[k] + "_per_km": per_km[k] for k in KINDS}}


def plot(rows: list[dict], baselines: list[dict]) -> np.ndarray:
    """RC and DS of the checkpoints against samples, baselines as dashed flat lines (OpenCV, BGR)."""
    width, height, left, bottom, top, right = 860, 480, 60, 60, 60, 30
    image = np.full((height, width, 3), 255, np.uint8)
    x_max = max([r["samples"] for r in rows] + [1])

    def point(x: float, y: float) -> tuple[int, int]:
        return (int(left + (width - left - right) * x / x_max), int(height - bottom - (height - top - bottom) * y / 100))

    cv2.rectangle(image, point(0, 0), point(x_max, 100), (0, 0, 0), 1)
    for k in range(6):
        cv2.putText(image, f"{20 * k}", (15, point(0, 20 * k)[1] + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        cv2.putText(image, f"{x_max * k / 5 / 1000:.0f}k", (point(x_max * k / 5, 0)[0] - 12, height - bottom + 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(image, "samples", (width // 2 - 30, height - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    series = [("policy RC", "RC", (180, 90, 30)), ("policy DS", "DS", (40, 160, 40))]
    legend = [(label, colour, False) for label, _, colour in series]
    for label, key, colour in series:
        points = np.array([point(r["samples"], r[key]) for r in rows], np.int32)
        cv2.polylines(image, [points], False, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(image, (int(p[0]), int(p[1])), 3, colour, -1, cv2.LINE_AA)
    for base, colour in zip(baselines, ((120, 120, 120), (60, 170, 230))):
        for key, thickness in (("RC", 1), ("DS", 2)):
            y = point(0, base[key])[1]
            for x in range(left, width - right, 14):
                cv2.line(image, (x, y), (min(x + 7, width - right), y), colour, thickness)
        legend.append((f"{base['agent']} RC/DS {base['RC']:.0f}/{base['DS']:.0f}", colour, True))
    for index, (label, colour, _) in enumerate(legend):
        x = left + 10 + 200 * (index % 4)
        cv2.line(image, (x, 22 + 20 * (index // 4)), (x + 25, 22 + 20 * (index // 4)), colour, 2)
        cv2.putText(image, label, (x + 30, 27 + 20 * (index // 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return image


def write_outputs(out: str, rows: list[dict], baselines: list[dict], during: list[dict]) -> None:
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out + ".csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS)
        writer.writeheader()
        writer.writerows(baselines + rows)
    shown = [c for c in COLUMNS if c in ("agent", "samples", "time_s", "RC", "DS", "penalty", "on_lane_pct",
                                         "m_per_50s", "falls", "static_collision_routes")
             or any(r[c] for r in baselines + rows)]
    with open(out + ".md", "w") as stream:
        stream.write("| " + " | ".join(shown) + " |\n|" + "---|" * len(shown) + "\n")
        for row in baselines + rows:
            stream.write("| " + " | ".join(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c])
                                           for c in shown) + " |\n")
        if during:
            stream.write("\nRoute evaluation during training (the run's `route_evaluation` routes):\n\n"
                         "| iteration | samples | time s | RC | DS |\n|---|---|---|---|---|\n")
            for r in during:
                stream.write(f"| {r['training_iteration']} | {samples(r)} | "
                             f"{r['time_total_s']:.0f} | {r['evaluation']['route_completion']:.1f} | "
                             f"{r['evaluation']['driving_score']:.1f} |\n")
    cv2.imwrite(out + ".png", plot(rows, baselines))
    print(f"wrote {out}.md, .csv and .png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("results", help="the training run's experiment folder (DIRECTORY/NAME)")
    parser.add_argument("--config", required=True, help="the training YAML (the experiment the policy acts through)")
    parser.add_argument("--routes", nargs="+", required=True, help="held-out towns (names or .xodr paths)")
    parser.add_argument("--route-count", type=positive_int, default=3, help="routes drawn per town")
    parser.add_argument("--route-seed", type=non_negative_int, default=1000, help="seed of the routes (keep it apart from training's)")
    parser.add_argument("--route-length", type=positive_float, nargs=2, default=(300.0, 600.0), metavar=("MIN", "MAX"),
                        help="length range of the routes in metres")
    parser.add_argument("--traffic", type=non_negative_int, default=0, help="background vehicles per route")
    parser.add_argument("--walkers", type=non_negative_int, default=0, help="walkers per route")
    parser.add_argument("--workers", type=positive_int, default=1, help="routes driven in parallel")
    parser.add_argument("--max-checkpoints", type=positive_int, default=8, help="evaluate at most this many checkpoints, "
                                                                        "spread over the run")
    parser.add_argument("--no-baselines", action="store_true", help="skip the autopilot and random rows")
    parser.add_argument("--out", required=True, help="output prefix (.md, .csv, .png)")
    args = parser.parse_args()

    load_env_config(args.config)  # checked as training checks it
    env_config = load_yaml(args.config)["env_config"]
    routes = []
    for town in args.routes:
        planner = RoutePlanner(load_map(*resolve_town(town)))
        routes += generate_routes(planner, town, args.route_count, seed=args.route_seed, min_length=args.route_length[0],
                                  max_length=args.route_length[1], first_id=len(routes))

    logs = tempfile.mkdtemp(prefix="learning_curve_logs_")

    def run(agent: str, steps: int = 0, seconds: float = 0.0, label: str | None = None) -> dict:
        folder = os.path.join(logs, label or agent)
        settings = EvaluationSettings(agent=agent, env_config=env_config, traffic=args.traffic, walkers=args.walkers,
                                      state_log_dir=folder)
        return score(evaluate(routes, settings, args.workers), label or agent, steps, seconds, folder)

    baselines = [] if args.no_baselines else [run(agent) for agent in ("autopilot", "random")]
    for base in baselines:
        print(f"{base['agent']:>9}: RC {base['RC']:5.1f} DS {base['DS']:5.1f} on lane {base['on_lane_pct']:5.1f} %")
    during = [r for r in training_rows(args.results) if "driving_score" in (r.get("evaluation") or {})]
    found = checkpoints(args.results, training_rows(args.results))
    if len(found) > args.max_checkpoints:
        found = [found[round(i * (len(found) - 1) / (args.max_checkpoints - 1))] for i in range(args.max_checkpoints)]
    rows = []
    for steps, seconds, path in found:
        rows.append(run(policy_file(path), steps, seconds, os.path.basename(path)))
        print(f"{steps:9d} samples {seconds:6.0f} s: RC {rows[-1]['RC']:5.1f} DS {rows[-1]['DS']:5.1f} "
              f"on lane {rows[-1]['on_lane_pct']:5.1f} % {rows[-1]['m_per_50s']:5.0f} m/50 s", flush=True)
    write_outputs(args.out, rows, baselines, during)


if __name__ == "__main__":
    main()
