#!/usr/bin/env python3
"""World ticks per second and CarlaEnv steps per second of the embedded world.

Prints one line per (town, vehicle count): ticks/s of ``world.tick()`` with N vehicles driving at
a light constant throttle (physics, ground, collisions), and env steps/s of a ``CarlaEnv`` with
the lane-keeping demo experiment. Single process, single thread.

    python3 benchmarks/world_tick.py --vehicles 0 20 50 100 200 --ticks 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import carla

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from demo_drive import LaneKeepingExperiment, steer_towards_lane  # noqa: E402
from rllib_integration import CarlaEnv  # noqa: E402
from rllib_integration.embedded import EmbeddedServer, Client  # noqa: E402


def world_ticks_per_second(town: str, vehicles: int, ticks: int) -> tuple[float, int]:
    server = EmbeddedServer.start("localhost", 50000)
    try:
        world = Client("localhost", server.port).load_world(town)
        settings = world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
        world.apply_settings(settings)
        library = world.get_blueprint_library().filter("vehicle.*")
        spawned = 0
        for index, point in enumerate(world.get_map().get_spawn_points()):
            if spawned == vehicles:
                break
            actor = world.try_spawn_actor(library[index % len(library)], point)
            if actor is not None:
                actor.apply_control(carla.VehicleControl(throttle=0.2))
                spawned += 1
        world.tick()
        start = time.perf_counter()
        for _ in range(ticks):
            world.tick()
        return ticks / (time.perf_counter() - start), spawned
    finally:
        server.stop()


def env_steps_per_second(town: str, steps: int) -> float:
    env = CarlaEnv({"carla": {"simulator": "embedded"},
                    "experiment": {"type": LaneKeepingExperiment, "town": town,
                                   "others": {"max_steps": steps + 1}}})
    try:
        observation, _ = env.reset(seed=0)
        start = time.perf_counter()
        for _ in range(steps):
            observation, *_ = env.step(steer_towards_lane(observation))
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--towns", nargs="+", default=["GridTown", "../shared/maps/Town10HD.xodr"],
                        help="towns to measure (names or .xodr paths; missing files are skipped)")
    parser.add_argument("--vehicles", nargs="+", type=int, default=[0, 20, 50, 100, 200],
                        help="vehicle counts to measure")
    parser.add_argument("--ticks", type=int, default=1000, help="ticks per measurement")
    args = parser.parse_args()
    print(f"{'town':<12} {'vehicles':>8} {'ticks/s':>9}")
    for town in args.towns:
        if town.endswith(".xodr") and not os.path.isfile(town):
            print(f"{town}: skipped (file not found)")
            continue
        label = os.path.splitext(os.path.basename(town))[0]
        for vehicles in args.vehicles:
            rate, spawned = world_ticks_per_second(town, vehicles, args.ticks)
            print(f"{label:<12} {spawned:>8} {rate:>9.0f}")
        print(f"{label:<12} env.step with the lane-keeping experiment: "
              f"{env_steps_per_second(town, args.ticks):.0f} steps/s")


if __name__ == "__main__":
    main()
