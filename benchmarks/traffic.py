#!/usr/bin/env python3
"""World ticks per second with 0-200 autopilot vehicles (embedded traffic manager, traffic lights,
physics, collisions) and walkers (``controller.ai.walker``, walking to random places over the sidewalks and
crossings), single process, next to CARLA's published server figures (vehicles alone). Printed per wall-clock
second and per CPU second of the process (steadier on a shared machine).

    python3 benchmarks/traffic.py --towns GridTown ../shared/maps/Town10HD.xodr --vehicles 0 20 50 100 200
    python3 benchmarks/traffic.py --towns GridTown --vehicles 0 10 --walkers 0 10 50
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import carla

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.embedded import Client, EmbeddedServer, command  # noqa: E402

#: CARLA's own table (synchronous server, no sensors, GTX 1080 Ti), ticks/s.
CARLA_FIGURES = {0: 729, 10: 98, 50: 26, 200: 7}


def spawn_walkers(client: Client, world, count: int) -> int:
    """``count`` walkers at random places of the sidewalks, each walked by an AI controller to another (as CARLA's
    ``generate_traffic.py`` spawns them); how many walk."""
    world.set_pedestrians_seed(0)
    library = world.get_blueprint_library()
    people = library.filter("walker.pedestrian.*")
    places = [world.get_random_location_from_navigation() for _ in range(count)]
    batch = [command.SpawnActor(people[i % len(people)], carla.Transform(place + carla.Location(z=1.0)))
             for i, place in enumerate(places) if place is not None]
    walkers = [r.actor_id for r in client.apply_batch_sync(batch, True) if not r.has_error()]
    controller = library.find("controller.ai.walker")
    responses = client.apply_batch_sync([command.SpawnActor(controller, carla.Transform(), w) for w in walkers], True)
    world.tick()
    for response in responses:
        if not response.has_error():
            ai = world.get_actor(response.actor_id)
            ai.start()
            ai.go_to_location(world.get_random_location_from_navigation())
            ai.set_max_speed(1.4)
    return sum(not r.has_error() for r in responses)


def ticks_per_second(town: str, vehicles: int, walkers: int, ticks: int, warmup: int
                     ) -> tuple[float, float, int, int]:
    """(ticks per wall-clock second, ticks per CPU second of this process, vehicles spawned, walkers walking)."""
    server = EmbeddedServer.start("localhost", 52000)
    try:
        client = Client("localhost", server.port)
        world = client.load_world(town)
        settings = world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
        world.apply_settings(settings)
        traffic_manager = client.get_trafficmanager(8000)
        traffic_manager.set_synchronous_mode(True)
        traffic_manager.set_random_device_seed(0)
        cars = [bp for bp in world.get_blueprint_library().filter("vehicle.*")
                if bp.get_attribute("number_of_wheels").as_int() == 4]
        points = world.get_map().get_spawn_points()[:vehicles]
        batch = [command.SpawnActor(cars[i % len(cars)], p).then(command.SetAutopilot(command.FutureActor, True, 8000))
                 for i, p in enumerate(points)]
        spawned = sum(not r.has_error() for r in client.apply_batch_sync(batch, True))
        walking = spawn_walkers(client, world, walkers) if walkers else 0
        for _ in range(warmup):
            world.tick()
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(ticks):
            world.tick()
        return ticks / (time.perf_counter() - started), ticks / (time.process_time() - cpu_started), spawned, walking
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--towns", nargs="+", default=["GridTown", "../shared/maps/Town10HD.xodr"],
                        help="town names or .xodr paths (missing files are skipped)")
    parser.add_argument("--vehicles", nargs="+", type=int, default=[0, 20, 50, 100, 200], help="autopilot vehicles")
    parser.add_argument("--walkers", nargs="+", type=int, default=[0],
                        help="walkers with AI controllers (each row: every vehicle count with every walker count)")
    parser.add_argument("--ticks", type=int, default=1000, help="measured ticks")
    parser.add_argument("--warmup", type=int, default=100, help="ticks before measuring (vehicles start moving)")
    args = parser.parse_args()
    print(f"{'town':<10} {'vehicles':>8} {'walkers':>7} {'ticks/s':>8} {'per CPU s':>9}  CARLA server (published)")
    for town in args.towns:
        if town.endswith(".xodr") and not os.path.isfile(town):
            print(f"{town}: skipped (file not found)")
            continue
        label = os.path.splitext(os.path.basename(town))[0]
        for vehicles in args.vehicles:
            for walkers in args.walkers:
                rate, cpu_rate, spawned, walking = ticks_per_second(town, vehicles, walkers, args.ticks, args.warmup)
                reference = CARLA_FIGURES.get(vehicles) if not walkers else None
                print(f"{label:<10} {spawned:>8} {walking:>7} {rate:>8.0f} {cpu_rate:>9.0f}  {reference or ''}",
                      flush=True)


if __name__ == "__main__":
    main()
