#!/usr/bin/env python3
"""Learning curve of the default DQN config: train for a fixed number of env steps and, every
evaluation, print the greedy policy's mean distance per episode and collision rate next to a random
policy's. Writes a table (Markdown + CSV) and a PNG plot.

    python3 benchmarks/learning_curve.py --env-steps 100000 --eval-every 10000 --out docs/learning_curve
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ray  # noqa: E402

from dqn_example.dqn_callbacks import DQNCallbacks  # noqa: E402
from dqn_example.dqn_experiment import DQNExperiment  # noqa: E402
from rllib_integration import CarlaEnv, load_env_config  # noqa: E402
from rllib_integration.training import build_algorithm_config, greedy_action  # noqa: E402


def evaluate(env: CarlaEnv, policy, episodes: int, seed: int) -> tuple[float, float, float, float]:
    """Mean distance per episode (m), collision rate (episodes with a collision), mean return and
    mean distance driven on a lane in the right direction (m)."""
    distances, collided, returns, on_lane = [], [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += reward
            done = terminated or truncated
        distances.append(info["episode_distance"])
        collided.append(info["episode_collisions"] > 0)
        returns.append(total)
        on_lane.append(info["episode_distance_on_lane"])
    return float(np.mean(distances)), float(np.mean(collided)), float(np.mean(returns)), float(np.mean(on_lane))


def plot(steps: list[int], series: list[tuple[str, list[float], tuple[int, int, int]]]) -> np.ndarray:
    """A line chart (OpenCV, BGR colours) of several series against env steps, with a legend."""
    width, height, left, bottom, top, right = 860, 480, 80, 60, 70, 30
    image = np.full((height, width, 3), 255, np.uint8)
    x_max = max(max(steps), 1)
    y_max = max(max(max(values) for _, values, _ in series), 1.0) * 1.1

    def point(x: float, y: float) -> tuple[int, int]:
        return (int(left + (width - left - right) * x / x_max),
                int(height - bottom - (height - top - bottom) * y / y_max))

    cv2.rectangle(image, point(0, 0), point(x_max, y_max), (0, 0, 0), 1)
    for k in range(6):
        cv2.putText(image, f"{y_max * k / 5:.0f}", (10, point(0, y_max * k / 5)[1] + 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, (0, 0, 0), 1)
        cv2.putText(image, f"{x_max * k / 5 / 1000:.0f}k", (point(x_max * k / 5, 0)[0] - 12, height - bottom + 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(image, "env steps", (width // 2 - 30, height - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    for index, (label, values, colour) in enumerate(series):
        points = np.array([point(x, y) for x, y in zip(steps, values)], np.int32)
        cv2.polylines(image, [points], False, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(image, tuple(int(v) for v in p), 3, colour, -1, cv2.LINE_AA)
        cv2.line(image, (left + 10 + 200 * (index % 4), 20 + 22 * (index // 4)),
                 (left + 35 + 200 * (index % 4), 20 + 22 * (index // 4)), colour, 2)
        cv2.putText(image, label, (left + 40 + 200 * (index % 4), 25 + 22 * (index // 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "metres per episode", (10, height - bottom + 45), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    return image


def write_outputs(out: str, rows: list[tuple]) -> None:
    """The table (.md, .csv) and the plot (.png) of the evaluations."""
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out + ".csv", "w", newline="") as stream:
        csv.writer(stream).writerows([HEADER, *rows])
    with open(out + ".md", "w") as stream:
        stream.write("| env steps | wall s | greedy distance (m) | greedy on-lane distance (m) | greedy collision "
                     "rate | greedy return | random distance (m) | random on-lane distance (m) | random return |\n"
                     "|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            stream.write(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[5]:.1f} | {r[3]:.2f} | {r[4]:.1f} | {r[6]:.1f} | "
                         f"{r[9]:.1f} | {r[8]:.1f} |\n")
    steps = [r[0] for r in rows]
    cv2.imwrite(out + ".png", plot(steps, [
        ("greedy distance", [r[2] for r in rows], (180, 90, 30)),
        ("greedy on lane", [r[5] for r in rows], (40, 160, 40)),
        ("random distance", [r[6] for r in rows], (150, 150, 150)),
        ("random on lane", [r[9] for r in rows], (90, 200, 230))]))
    print(f"wrote {out}.md, .csv and .png")


HEADER = ["env_steps", "wall_s", "greedy_distance_m", "greedy_collision_rate", "greedy_return",
          "greedy_distance_on_lane_m", "random_distance_m", "random_collision_rate", "random_return",
          "random_distance_on_lane_m"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="dqn_example/dqn_config.yaml", help="training YAML")
    parser.add_argument("--env-steps", type=int, default=100_000, help="env steps to train for")
    parser.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations")
    parser.add_argument("--episodes", type=int, default=5, help="evaluation episodes per point")
    parser.add_argument("--out", default="docs/learning_curve", help="output prefix (.md, .csv, .png)")
    parser.add_argument("--from-csv", metavar="CSV", help="only redraw the table and plot from an earlier CSV")
    args = parser.parse_args()
    if args.from_csv:
        with open(args.from_csv) as stream:
            rows = [tuple(float(v) if "." in v else int(v) for v in row) for row in list(csv.reader(stream))[1:]]
        write_outputs(args.out, rows)
        return

    # The learner runs in this (driver) process; Ray's env runner runs at a lower priority (nice 15).
    # One torch thread leaves it the other core, as under dqn_train.py where both are Ray workers.
    torch.set_num_threads(1)
    data = load_env_config(args.config, default_experiment=DQNExperiment)
    config = build_algorithm_config(data, args.config, callbacks=DQNCallbacks)
    ray.init(include_dashboard=False)
    algo = config.build_algo()
    env = CarlaEnv(data["env_config"])
    rng = np.random.default_rng(0)
    random_point = evaluate(env, lambda obs: int(rng.integers(env.action_space.n)), args.episodes, 1000)
    print(f"random policy: distance {random_point[0]:.1f} m (on lane {random_point[3]:.1f} m), collision "
          f"rate {random_point[1]:.2f}, return {random_point[2]:.1f}", flush=True)

    def greedy(obs):
        return greedy_action(algo.get_module(), obs)

    rows, next_eval, steps, started = [], 0, 0, time.time()
    while True:
        if steps >= next_eval:
            point = evaluate(env, greedy, args.episodes, 1000)
            rows.append((steps, round(time.time() - started), *point, *random_point))
            print(f"env steps {steps:7d} | {rows[-1][1]:5d} s | greedy distance {point[0]:7.1f} m (on lane "
                  f"{point[3]:7.1f} m), collision rate {point[1]:.2f}, return {point[2]:7.1f} | random "
                  f"{random_point[0]:6.1f} m (on lane {random_point[3]:6.1f} m)", flush=True)
            next_eval += args.eval_every
        if steps >= args.env_steps:
            break
        steps = int(algo.train()["num_env_steps_sampled_lifetime"])
    env.close()
    algo.stop()
    ray.shutdown()

    write_outputs(args.out, rows)


if __name__ == "__main__":
    main()
