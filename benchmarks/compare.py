#!/usr/bin/env python3
"""Env steps per second of this library's envs and of HighwayEnv, measured in one run, side by side.

    python3 benchmarks/compare.py --towns GridTown ../shared/maps/Town01.xodr --steps 3000

Ours: ``CarlaEnv.step`` of the DQN quickstart's experiment (64 px BirdView and speed, the route task, driven by
the scripted route follower) with no traffic and with ``--vehicles`` autopilot cars, and of demo_drive.py's lane
keeping (4 floats), on each town.
HighwayEnv: ``highway-fast-v0`` with its kinematics observation and with 84x84 grayscale images, installed
by this script into its own virtual environment (``--highway-venv``; pip from PyPI) and run there; where it
cannot be installed, its rows are left out with the reason. Prints a Markdown table with the ratios to
HighwayEnv's kinematics figure (the README's benchmark table comes from it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.arguments import non_negative_int, positive_int  # noqa: E402

HIGHWAY = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    import gymnasium as gym, highway_env  # noqa: F401
    steps = int(sys.argv[1])
    results = {}
    for label, config in (("kinematics", {}), ("84x84 images", {"observation": {
            "type": "GrayscaleObservation", "observation_shape": (84, 84), "stack_size": 4,
            "weights": [0.2989, 0.5870, 0.1140], "scaling": 1.75}})):
        env = gym.make("highway-fast-v0", config=config)
        env.reset(seed=0)
        started, done = time.perf_counter(), 0
        while done < steps:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done += 1
            if terminated or truncated:
                env.reset()
        results[label] = done / (time.perf_counter() - started)
        env.close()
    print(json.dumps(results))
""")


def highway_rates(venv: str, steps: int) -> tuple[dict[str, float], str | None]:
    """HighwayEnv's steps/s by observation, or ({}, why not)."""
    python = os.path.join(venv, "bin", "python")
    try:
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True, capture_output=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "highway-env"], check=True, capture_output=True,
                       timeout=900)
        result = subprocess.run([python, "-c", HIGHWAY, str(steps)], check=True, capture_output=True, text=True,
                                timeout=3600, env=dict(os.environ, SDL_VIDEODRIVER="dummy", OMP_NUM_THREADS="1"))
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else detail
        return {}, f"HighwayEnv could not be installed or run ({error}; {detail.strip()[-300:]})"
    return json.loads(result.stdout.strip().splitlines()[-1]), None


def our_rate(town: str, kind: str, vehicles: int, steps: int) -> float:
    """``CarlaEnv.step`` per second for one experiment on one town."""
    from benchmarks.env_step import timed_steps
    from rllib_integration import CarlaEnv
    if kind == "lane keeping":
        from demo_drive import LaneKeepingExperiment, steer_towards_lane
        config = {"type": LaneKeepingExperiment, "town": town, "others": {"max_steps": 100000}}
        policy = steer_towards_lane
    else:
        from dqn_example.dqn_experiment import DQNExperiment, route_follower_action
        config = {"type": DQNExperiment, "town": town,
                  "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 64, "radius": 16,
                                                    "route": True}}},
                  "others": {"framestack": 2, "reward": "route", "state_input": True, "max_time_episode": 100000,
                             "max_time_idle": 100000, "route_length": [300, 600]}}
        policy = None  # the scripted route follower: the car drives its route through junctions at 20-27 km/h
    config["background_activity"] = {"n_vehicles": vehicles, "seed": 0}
    env = CarlaEnv({"carla": {"simulator": "embedded", "enable_rendering": False}, "experiment": config})
    if policy is None:
        policy = lambda observation: route_follower_action(env.core)  # noqa: E731
    try:
        return timed_steps(env, policy, steps, warmup=100)  # the warm-up compiles and fills the caches
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--towns", nargs="+", default=["GridTown", "RingTown"], help="town names or .xodr paths")
    parser.add_argument("--steps", type=positive_int, default=3000, help="env steps per measurement")
    parser.add_argument("--vehicles", type=non_negative_int, default=50, help="autopilot cars of the traffic rows")
    parser.add_argument("--highway-venv", default=os.path.join(os.path.expanduser("~"), ".cache", "rllib_integration",
                                                                "highway-venv"),
                        help="virtual environment HighwayEnv is installed into")
    parser.add_argument("--no-highway", action="store_true", help="measure ours only")
    args = parser.parse_args()
    highway, why = ({}, "--no-highway") if args.no_highway else highway_rates(args.highway_venv, args.steps)
    reference = highway.get("kinematics")
    rows = [(f"HighwayEnv highway-fast-v0, {label}", rate) for label, rate in highway.items()]
    for town in args.towns:
        name = os.path.splitext(os.path.basename(town))[0]
        rows.append((f"{name}: lane keeping (4 floats), no traffic", our_rate(town, "lane keeping", 0, args.steps)))
        rows.append((f"{name}: DQN quickstart (BirdView 64 px), no traffic", our_rate(town, "dqn", 0, args.steps)))
        rows.append((f"{name}: DQN quickstart, {args.vehicles} autopilot cars",
                     our_rate(town, "dqn", args.vehicles, args.steps)))
        print(f"measured {name}", file=sys.stderr, flush=True)
    print("| env | env steps/s (one process) | x HighwayEnv kinematics |\n|---|---|---|")
    for label, rate in rows:
        ratio = f"{rate / reference:.0f}x" if reference else "-"
        print(f"| {label} | {rate:,.0f} | {ratio} |")
    if why:
        print(f"\n(HighwayEnv left out: {why})")


if __name__ == "__main__":
    main()
