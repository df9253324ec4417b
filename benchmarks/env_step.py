#!/usr/bin/env python3
"""``CarlaEnv.step`` throughput on the embedded world: the lane-keeping demo experiment (map queries,
no sensors) and the DQN example's experiment (64 px BirdView, frame stack of 2), single process.
World ticks with traffic are measured by benchmarks/traffic.py.

    python3 benchmarks/env_step.py --towns GridTown --steps 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from demo_drive import LaneKeepingExperiment, steer_towards_lane  # noqa: E402
from dqn_example.dqn_experiment import DQNExperiment  # noqa: E402
from rllib_integration import CarlaEnv  # noqa: E402

SETUPS = {
    "lane keeping (map queries)": (LaneKeepingExperiment, {}, steer_towards_lane),
    "DQN example (BirdView 64 px)": (DQNExperiment, {
        "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 64, "radius": 16}}},
        "others": {"framestack": 2}}, lambda observation: 15),
}


def steps_per_second(town: str, experiment: type, extra: dict, policy, steps: int) -> float:
    others = dict(extra.get("others", {}), max_time_episode=steps + 10) if experiment is DQNExperiment else {
        "max_steps": steps + 1}
    env = CarlaEnv({"carla": {"simulator": "embedded", "enable_rendering": False},
                    "experiment": {"type": experiment, "town": town, **extra, "others": others}})
    try:
        return timed_steps(env, policy, steps)
    finally:
        env.close()


def timed_steps(env: CarlaEnv, policy, steps: int, warmup: int = 0) -> float:
    """Env steps per second of ``env`` driven by ``policy(observation)`` over ``steps`` steps (resetting at
    every episode end), after ``warmup`` untimed steps."""
    observation, _ = env.reset(seed=0)
    for _ in range(warmup):
        observation, _, terminated, truncated, _ = env.step(policy(observation))
        if terminated or truncated:
            observation, _ = env.reset()
    started = time.perf_counter()
    for _ in range(steps):
        observation, _, terminated, truncated, _ = env.step(policy(observation))
        if terminated or truncated:
            observation, _ = env.reset()
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--towns", nargs="+", default=["GridTown"], help="town names or .xodr paths")
    parser.add_argument("--steps", type=int, default=1000, help="env steps per measurement")
    args = parser.parse_args()
    for town in args.towns:
        for label, (experiment, extra, policy) in SETUPS.items():
            rate = steps_per_second(town, experiment, extra, policy, args.steps)
            print(f"{os.path.basename(town):<12} {label:<32} {rate:8.0f} env steps/s", flush=True)


if __name__ == "__main__":
    main()
