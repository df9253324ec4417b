#!/usr/bin/env python3
"""Time of the virtual LiDAR's compiled ray march (``sensors/ray_march.py``) alone: one call measures the rays of
every hero of a world, here heroes placed on the town's lanes at random (a little off their centre and heading).

    python3 benchmarks/rays.py --towns GridTown $CARLA_ROOT/.../Town10HD.xodr --heroes 32 --rays 32

Prints, per town, the median time of a call and of a ray over ``--calls`` calls (after one to compile), and the
share of rays that meet no road edge within the range (the longest marches). Run it several times on a shared
machine and report the range.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from rllib_integration.arguments import positive_int  # noqa: E402
from rllib_integration.common.map_raster import MARKING_LABELS, ROAD_LABELS, map_layer  # noqa: E402
from rllib_integration.embedded.maps.towns import load_map, resolve_town  # noqa: E402
from rllib_integration.sensors.ray_march import clearances, march_cells, march_rays  # noqa: E402
from rllib_integration.sensors.virtual_lidar import MARCH_STEP, RASTER_PPM, ray_angles  # noqa: E402


def measure(town: str, heroes: int, rays: int, max_range: float, calls: int, seed: int) -> tuple[float, float]:
    """(median seconds a call, share of rays with no road edge in range) on ``town``."""
    town_map = load_map(*resolve_town(town))
    layer = map_layer(town_map, RASTER_PPM)
    road, marking = ROAD_LABELS[layer.labels], MARKING_LABELS[layer.labels]
    cells = march_cells(road, marking, *clearances(road, marking, layer.pixels_per_meter, MARCH_STEP))
    lanes = np.array([(w.transform.location.x, w.transform.location.y, np.radians(w.transform.rotation.yaw))
                      for w in town_map.generate_waypoints(2.0)])
    rng = np.random.default_rng(seed)
    picked = lanes[rng.integers(len(lanes), size=heroes * (calls + 1))]
    origins = picked[:, :2] + rng.normal(0.0, 0.5, (len(picked), 2))
    yaws = picked[:, 2] + rng.normal(0.0, 0.1, len(picked))
    angles, no_boxes, no_ids = ray_angles(rays, 360.0), np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    times, open_road = [], 0
    for call in range(calls + 1):
        rows = slice(call * heroes, (call + 1) * heroes)
        out = np.empty((heroes, rays, 3), dtype=np.float32)
        started = time.perf_counter()
        march_rays(origins[rows], yaws[rows], np.arange(heroes), angles, MARCH_STEP, max_range, cells,
                   layer.origin_x, layer.origin_y, layer.pixels_per_meter, no_boxes, np.zeros(0), no_boxes, no_ids,
                   out)
        if call:  # the first call compiles (or loads numba's cache)
            times.append(time.perf_counter() - started)
            open_road += int(np.count_nonzero(out[:, :, 0] >= max_range))
    return float(np.median(times)), open_road / (calls * heroes * rays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--towns", nargs="+", default=["GridTown", "RingTown"],
                        help="town names or OpenDRIVE files")
    parser.add_argument("--heroes", type=positive_int, default=32, help="heroes measured in one call")
    parser.add_argument("--rays", type=positive_int, default=32, help="rays of each hero (360 degrees)")
    parser.add_argument("--range", type=float, default=40.0, help="the rays' range, metres")
    parser.add_argument("--calls", type=positive_int, default=50, help="calls timed per town")
    parser.add_argument("--seed", type=int, default=0, help="seed of the heroes' places")
    args = parser.parse_args()
    print(f"{'town':<40} {'us a call':>10} {'ns a ray':>9} {'no edge in range':>17}", flush=True)
    for town in args.towns:
        seconds, open_road = measure(town, args.heroes, args.rays, args.range, args.calls, args.seed)
        print(f"{os.path.basename(town):<40} {seconds * 1e6:>10.0f} {seconds * 1e9 / (args.heroes * args.rays):>9.0f}"
              f" {100 * open_road:>16.1f}%", flush=True)


if __name__ == "__main__":
    main()
