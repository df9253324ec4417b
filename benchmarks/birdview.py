#!/usr/bin/env python3
"""BirdView frames per second (rendering only, no world tick) at several sizes, with 0 and 50
vehicles around the hero, for the RGB and the masks outputs.

    python3 benchmarks/birdview.py --sizes 84 192 300 --vehicles 0 50 --frames 500
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import carla

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.embedded import Client, EmbeddedServer  # noqa: E402
from rllib_integration.sensors.birdview import BirdviewRenderer  # noqa: E402
from rllib_integration.common.map_raster import map_layer  # noqa: E402


def populate(world, hero, count: int) -> int:
    """Park ``count`` vehicles on a grid around the hero (within 25 m)."""
    library = world.get_blueprint_library().filter("vehicle.*")
    t = hero.get_transform()
    spawned, ring = 0, 1
    while spawned < count and ring < 10:
        for k in range(8 * ring):
            angle = 2 * math.pi * k / (8 * ring)
            spot = carla.Transform(carla.Location(t.location.x + 6 * ring * math.cos(angle),
                                                  t.location.y + 6 * ring * math.sin(angle), 0.5), t.rotation)
            if spawned < count and world.try_spawn_actor(library[spawned % len(library)], spot):
                spawned += 1
        ring += 1
    return spawned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--town", default="GridTown", help="town name or .xodr path")
    parser.add_argument("--sizes", nargs="+", type=int, default=[84, 192, 300], help="output sizes, pixels")
    parser.add_argument("--radius", type=float, default=15.0, help="BirdView radius, metres")
    parser.add_argument("--vehicles", nargs="+", type=int, default=[0, 50], help="vehicles near the hero")
    parser.add_argument("--frames", type=int, default=500, help="frames per measurement")
    args = parser.parse_args()
    server = EmbeddedServer.start("localhost", 51000)
    try:
        world = Client("localhost", server.port).load_world(args.town)
        points = world.get_map().get_spawn_points()
        print(f"{'size':>5} {'vehicles':>8} {'output':>6} {'frames/s':>9}  (first layer render + cache: "
              f"see 'layer' lines)")
        for vehicles in args.vehicles:
            for actor in world.get_actors().filter("vehicle.*"):
                actor.destroy()
            hero = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2017"), points[0])
            spawned = populate(world, hero, vehicles)
            world.tick()
            for size in args.sizes:
                started = time.perf_counter()
                map_layer(world.get_map(), size / (2 * args.radius))
                layer_s = time.perf_counter() - started
                for output in ("rgb", "masks"):
                    renderer = BirdviewRenderer(world, hero, size, args.radius, output)
                    renderer.render()
                    started = time.perf_counter()
                    for _ in range(args.frames):
                        renderer.render()
                    rate = args.frames / (time.perf_counter() - started)
                    print(f"{size:>5} {spawned:>8} {output:>6} {rate:>9.0f}")
                if vehicles == args.vehicles[0]:
                    print(f"layer {size}px: {layer_s:.2f} s (render or cache load)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
