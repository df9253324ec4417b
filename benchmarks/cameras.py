#!/usr/bin/env python3
"""Frames per second of the embedded world's cameras, LiDAR and radar (measurement only, the world
tick excluded), with 50 vehicles parked around the hero.

    python3 benchmarks/cameras.py --frames 100
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import carla

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.birdview import populate  # noqa: E402
from rllib_integration.embedded import Client, EmbeddedServer  # noqa: E402

SENSORS = [
    (f"{name} camera {w}x{h}", f"sensor.camera.{kind}", {"image_size_x": w, "image_size_y": h})
    for name, kind in (("RGB", "rgb"), ("depth", "depth"), ("semantic", "semantic_segmentation"))
    for w, h in ((84, 84), (400, 300))
] + [
    ("LiDAR 32 channels, 56,000 points/s", "sensor.lidar.ray_cast",
     {"channels": 32, "points_per_second": 56000, "range": 50, "rotation_frequency": 20}),
    ("radar 1,500 points/s", "sensor.other.radar", {"points_per_second": 1500}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--town", default="GridTown", help="town name or .xodr path")
    parser.add_argument("--vehicles", type=int, default=50, help="vehicles parked around the hero")
    parser.add_argument("--frames", type=int, default=100, help="measurements per sensor")
    args = parser.parse_args()
    server = EmbeddedServer.start("localhost", 53000)
    try:
        world = Client("localhost", server.port).load_world(args.town)
        library = world.get_blueprint_library()
        hero = world.spawn_actor(library.find("vehicle.lincoln.mkz_2017"), world.get_map().get_spawn_points()[0])
        spawned = populate(world, hero, args.vehicles)
        world.tick()
        print(f"{spawned} vehicles around the hero")
        for label, blueprint_id, attributes in SENSORS:
            blueprint = library.find(blueprint_id)
            for key, value in attributes.items():
                blueprint.set_attribute(key, str(value))
            sensor = world.spawn_actor(blueprint, carla.Transform(carla.Location(x=1.5, z=1.7)), attach_to=hero)
            sensor.on_tick(0, 0.0)  # warm the caches (ground texture)
            transform = sensor.get_transform()
            started = time.perf_counter()
            for frame in range(args.frames):
                list(sensor.measure(frame, frame * 0.05, transform))
            rate = args.frames / (time.perf_counter() - started)
            print(f"{label:<36} {rate:8.1f} measurements/s")
            sensor.destroy()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
