#!/usr/bin/env python3
"""Soak test: a long run of embedded env steps with traffic and resets, the process's memory sampled
along the way. A leak shows as a resident set size (RSS) that keeps growing after the first resets.

    python3 benchmarks/soak.py --steps 1000000 --vehicles 30 --walkers 10 --out soak.csv

The DQN example's experiment (BirdView 64 px, the route-following reward, a new route every episode) drives
on RingTown and GridTown in turn, with ``--driver route`` (steering towards the route 6 m ahead at 20-27 km/h,
a random action one step in ten: long episodes, many steps per second) or ``--driver random`` (random
moving actions: an episode every ~60 steps, resets dominate); episodes end as the experiment ends them (and
at ``--episode-steps``). Prints the RSS every ``--every`` steps and a summary: the RSS after the warm-up, at the
end, the growth per million steps, and the steps per second.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import numpy as np
import psutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dqn_example.dqn_experiment import DQNExperiment, route_follower_action  # noqa: E402
from rllib_integration import CarlaEnv  # noqa: E402
from rllib_integration.arguments import non_negative_int, positive_int  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=positive_int, default=1_000_000, help="env steps in all")
    parser.add_argument("--vehicles", type=non_negative_int, default=30, help="autopilot vehicles")
    parser.add_argument("--walkers", type=non_negative_int, default=10, help="walkers")
    parser.add_argument("--episode-steps", type=positive_int, default=1000, help="longest episode, steps")
    parser.add_argument("--every", type=positive_int, default=50_000, help="steps between memory samples")
    parser.add_argument("--warmup", type=positive_int, default=50_000, help="steps before the baseline sample")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the traffic, routes and actions")
    parser.add_argument("--driver", choices=("route", "random"), default="route",
                        help="route: a route follower with a random action one step in ten; random: random actions")
    parser.add_argument("--out", help="CSV of the samples (steps, seconds, rss_mb, episodes)")
    args = parser.parse_args()

    env = CarlaEnv({"carla": {"simulator": "embedded", "enable_rendering": False},
                    "experiment": {"type": DQNExperiment, "town": ["RingTown", "GridTown"],
                                   "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 64,
                                                                     "radius": 16, "route": True},
                                                        "collision": {"type": "sensor.other.collision"}}},
                                   "background_activity": {"n_vehicles": args.vehicles, "n_walkers": args.walkers,
                                                           "seed": args.seed},
                                   "others": {"framestack": 2, "reward": "route", "max_time_idle": 200,
                                              "max_time_episode": args.episode_steps}}})
    process = psutil.Process()
    rng = np.random.default_rng(args.seed)
    samples: list[tuple[int, float, float, int]] = []
    episodes, steps, started = 0, 0, time.perf_counter()
    env.reset(seed=args.seed)
    try:
        while steps < args.steps:
            random_step = args.driver == "random" or rng.random() < 0.1
            action = int(rng.integers(8, 29)) if random_step else route_follower_action(env.core)  # 8-28 move
            _, _, terminated, truncated, _ = env.step(action)
            steps += 1
            if terminated or truncated:
                env.reset()
                episodes += 1
            if steps % args.every == 0 or steps == args.warmup:
                rss = process.memory_info().rss / 2 ** 20
                samples.append((steps, time.perf_counter() - started, rss, episodes))
                print(f"{steps:9d} steps {samples[-1][1]:8.0f} s  RSS {rss:7.1f} MB  {episodes} episodes", flush=True)
    finally:
        env.close()
    elapsed = time.perf_counter() - started
    base = next((s for s in samples if s[0] >= args.warmup), samples[0])
    end = samples[-1]
    growth = (end[2] - base[2]) / max(end[0] - base[0], 1) * 1_000_000
    print(f"RSS after {base[0]} steps: {base[2]:.1f} MB; after {end[0]} steps: {end[2]:.1f} MB "
          f"({growth:+.1f} MB per million steps); {episodes} episodes; {steps / elapsed:.0f} steps/s")
    if args.out:
        with open(args.out, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["steps", "seconds", "rss_mb", "episodes"])
            writer.writerows(samples)


if __name__ == "__main__":
    main()
