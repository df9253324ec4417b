#!/usr/bin/env python3
"""``carla.Map.get_waypoint`` point by point against the waypoint index (``common/waypoint_index.py``), which gives
the map's own answers for many points in one call: points scattered around the driving lanes (as heroes' and their
box corners' locations are), asked in groups of ``--batch`` points (1: one hero's lane check; 4: a car's corners;
32: a world of heroes); and the DQN lane check's facts of those waypoints (``common/lane_facts.py``: whether there is
one, its lane type, junction and yaw), which on straight lanes come from the lane chords alone.

    python3 benchmarks/waypoints.py --towns GridTown $CARLA_ROOT/.../Town10HD.xodr --batch 1 4 32

Prints, per town: the index's build time, then per group size and query kind the microseconds a point of each way,
their ratio, the share of points the index asks the map about (for the facts: the share a waypoint is made for), and
how many answers differ from the map's (0 expected). Run it several times on a shared machine and report the range.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import carla  # noqa: E402
import numpy as np  # noqa: E402

from rllib_integration.arguments import positive_int  # noqa: E402
from rllib_integration.common.lane_facts import lane_facts  # noqa: E402
from rllib_integration.common.waypoint_index import ALONG, WaypointIndex, waypoint_index  # noqa: E402
from rllib_integration.embedded.maps.towns import load_map, resolve_town  # noqa: E402

QUERIES = {  # name: (project_to_road, lane types) of the library's callers
    "lane check (off road: None, any lane)": (False, carla.LaneType.Any),
    "lane invasion (driving, parking, shoulder)": (False, carla.LaneType.Driving | carla.LaneType.Parking
                                                   | carla.LaneType.Shoulder),
    "nearest driving lane (projected)": (True, carla.LaneType.Driving),
}


def points_near_lanes(town_map: carla.Map, count: int, spread: float, seed: int) -> np.ndarray:
    """``count`` points (x, y, z) around the driving lanes' centres, ``spread`` metres (standard deviation) off."""
    rng = np.random.default_rng(seed)
    centres = town_map.generate_waypoints(2.0)
    picked = [centres[k].transform.location for k in rng.integers(len(centres), size=count)]
    xyz = np.array([(p.x, p.y, p.z + 0.05) for p in picked])
    xyz[:, :2] += rng.normal(0.0, spread, (count, 2))
    return xyz.astype(np.float32)


def key(waypoint: carla.Waypoint | None) -> tuple | None:
    return None if waypoint is None else (waypoint.road_id, waypoint.section_id, waypoint.lane_id, waypoint.s)


def measure(index: WaypointIndex, points: np.ndarray, batch: int, project: bool,
            lane_type: carla.LaneType) -> tuple[float, float, float, int]:
    """(µs a point by the map, µs a point by the index, share asked of the map, answers that differ)."""
    town_map = index.map
    locations = [carla.Location(*map(float, p)) for p in points]
    started = time.perf_counter()
    by_map = [town_map.get_waypoint(p, project_to_road=project, lane_type=lane_type) for p in locations]
    map_time = time.perf_counter() - started
    index.waypoints(points[:batch], project, lane_type)  # compiles (or loads numba's cache)
    started = time.perf_counter()
    by_index = [w for start in range(0, len(points), batch)
                for w in index.waypoints(points[start:start + batch], project, lane_type)]
    index_time = time.perf_counter() - started
    chords, _, _ = index.nearest_chords(points, lane_type)
    differ = sum(key(a) != key(b) for a, b in zip(by_map, by_index))
    return 1e6 * map_time / len(points), 1e6 * index_time / len(points), float(np.mean(chords < 0)), differ


def measure_facts(town_map: carla.Map, points: np.ndarray, batch: int) -> tuple[float, float, float, int]:
    """(µs a point by the map, µs a point by ``lane_facts``, share a waypoint is made for, facts that differ)."""
    locations = [carla.Location(*map(float, p)) for p in points]
    started = time.perf_counter()
    by_map = []
    for location in locations:
        waypoint = town_map.get_waypoint(location, project_to_road=False, lane_type=carla.LaneType.Any)
        by_map.append((False, 0, False, 0.0) if waypoint is None else
                      (True, int(waypoint.lane_type), waypoint.is_junction, waypoint.transform.rotation.yaw))
    map_time = time.perf_counter() - started
    lane_facts(town_map, points[:batch])  # compiles (or loads numba's cache)
    started = time.perf_counter()
    parts = [lane_facts(town_map, points[start:start + batch]) for start in range(0, len(points), batch)]
    facts_time = time.perf_counter() - started
    facts = [np.concatenate(column) for column in zip(*parts)]
    by_facts = list(zip(*(column.tolist() for column in facts)))
    index = waypoint_index(town_map)
    chord, _, place = index.nearest_chords(points, carla.LaneType.Any)
    settled = (chord >= 0) & ((place != ALONG) | index.uniform[np.maximum(chord, 0)])
    differ = sum(a != b for a, b in zip(by_map, by_facts))
    return 1e6 * map_time / len(points), 1e6 * facts_time / len(points), float(np.mean(~settled)), differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--towns", nargs="+", default=["GridTown", "RingTown"],
                        help="built-in town names or OpenDRIVE files (e.g. CARLA's Town10HD.xodr)")
    parser.add_argument("--batch", nargs="+", type=positive_int, default=[1, 4, 32],
                        help="points asked of the index in one call")
    parser.add_argument("--points", type=positive_int, default=4000, help="points measured per row")
    parser.add_argument("--spread", type=float, default=1.5,
                        help="metres (standard deviation) the points lie off the driving lanes' centres")
    parser.add_argument("--seed", type=int, default=0, help="seed of the points")
    args = parser.parse_args()
    for town in args.towns:
        town_map = load_map(*resolve_town(town))
        started = time.perf_counter()
        index = WaypointIndex(town_map)
        print(f"{town_map.name}: index of {len(index.a):,} chords built in {time.perf_counter() - started:.2f} s")
        points = points_near_lanes(town_map, args.points, args.spread, args.seed)
        for name, (project, lane_type) in QUERIES.items():
            for batch in args.batch:
                by_map, by_index, asked, differ = measure(index, points, batch, project, lane_type)
                print(f"  {name}, {batch:>3} a call: map {by_map:5.1f} µs a point, index {by_index:5.1f} "
                      f"({by_map / by_index:.1f}x); the map asked about {asked:.1%}; {differ} answers differ")
        for batch in args.batch:
            by_map, by_facts, made, differ = measure_facts(town_map, points, batch)
            print(f"  lane check facts (lane_facts), {batch:>3} a call: map {by_map:5.1f} µs a point, chords "
                  f"{by_facts:5.1f} ({by_map / by_facts:.1f}x); a waypoint made for about {made:.1%}; "
                  f"{differ} facts differ")


if __name__ == "__main__":
    main()
