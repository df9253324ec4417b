"""The virtual LiDAR's rays of many heroes in one compiled call (numba).

Each ray marches the map raster every ``step`` metres until it leaves the road (road edge) and until it
meets a lane marking (stopping as soon as both are found), then meets the obstacles' oriented boxes by the
slab method. Distances are capped at the range. One call measures every hero of a world: the per-hero
Python work is reading its row of the result.

The raster a ray reads is one array of two bytes a pixel (:func:`march_cells`): whether the pixel is road and
how many samples a ray can skip from it without meeting an edge, whether it is a marking and how many without
meeting one. A sample reads one cache line, where four masks of a town's size (megabytes each) cost a cache miss
each. Where a sample lies depends on the clearance the last one read, so a ray's reads wait on each other: a hero's
rays march :data:`INTERLEAVED` at a time, a sample of each in turn, so that the reads of several rays overlap.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numba import njit

ON, CLEAR = 128, 127  # a march cell's bit for "road" / "marking", and the mask of its clearance (in samples)
INTERLEAVED = 4  # rays of a hero marched side by side (4 or 8 beat 16 on the 2-core AMD and the 16-core Xeon)


@njit(cache=True)
def box_distance(ox: float, oy: float, dx: float, dy: float, cx: float, cy: float, yaw: float, ex: float,
                 ey: float) -> float:
    """Distance along the ray from ``(ox, oy)`` in unit direction ``(dx, dy)`` to the oriented box (centre
    ``(cx, cy)``, ``yaw`` radians, half extents ``(ex, ey)``): 0 from inside, ``inf`` where it misses."""
    c, s = math.cos(yaw), math.sin(yaw)
    rx, ry = ox - cx, oy - cy
    local_o = (c * rx + s * ry, -s * rx + c * ry)
    local_d = (dx * c + dy * s, -dx * s + dy * c)
    half = (ex, ey)
    near, far = -np.inf, np.inf
    for i in range(2):
        d = local_d[i]
        if abs(d) < 1e-12:
            d = 1e-12
        t1, t2 = (-half[i] - local_o[i]) / d, (half[i] - local_o[i]) / d
        near, far = max(near, min(t1, t2)), min(far, max(t1, t2))
    if far >= max(near, 0.0):
        return max(near, 0.0)
    return np.inf


@njit(cache=True)
def march_rays(origins: np.ndarray, yaws: np.ndarray, self_ids: np.ndarray, angles: np.ndarray, step: float,
               max_range: float, cells: np.ndarray, origin_x: float, origin_y: float, ppm: float,
               box_centres: np.ndarray, box_yaws: np.ndarray, box_extents: np.ndarray, box_ids: np.ndarray,
               out: np.ndarray) -> None:
    """Fill ``out`` (H, R, 3) with road edge, marking and obstacle distances of the R rays (``angles`` from the
    heading, radians, positive to the right) of H heroes at ``origins`` (H, 2) with ``yaws`` (H,) radians.

    ``cells`` (rows, columns, 2) uint8 (:func:`march_cells`; row = (y - origin_y) * ppm, column = (x - origin_x) *
    ppm): the road and marking bits and clearances; off the raster counts as off the road and as no marking. A
    road edge or marking met at march step k (k = 1, 2, ...) reads ``(k - 1) * step``; none met reads
    ``max_range``. The march steps over the samples a pixel's clearance rules out (the same first hit as sampling
    every step). Boxes (centres (B, 2), yaws (B,), half extents (B, 2)) farther than ``max_range + 10`` m from a
    hero, or whose id is the hero's ``self_ids``, are skipped.
    """
    rows, cols = cells.shape[0], cells.shape[1]
    steps = int(max_range / step + 1e-6)
    reach = (max_range + 10.0) ** 2
    near = np.empty(box_ids.shape[0], dtype=np.int64)  # the boxes within reach of the hero, found once per hero
    # a hero's rays march INTERLEAVED at a time, a sample of each in turn: each sample's read waits on the last
    # (its clearance says where the next one is), so the reads of several rays overlap in the processor
    dxs, dys = np.empty(INTERLEAVED), np.empty(INTERLEAVED)
    ks = np.empty(INTERLEAVED, dtype=np.int64)
    edges, lines = np.empty(INTERLEAVED), np.empty(INTERLEAVED)
    found_edges, found_lines = np.empty(INTERLEAVED, dtype=np.bool_), np.empty(INTERLEAVED, dtype=np.bool_)
    marching = np.empty(INTERLEAVED, dtype=np.bool_)
    for h in range(origins.shape[0]):
        x, y = origins[h, 0], origins[h, 1]
        count = 0
        for b in range(box_ids.shape[0]):
            if box_ids[b] != self_ids[h] and (box_centres[b, 0] - x) ** 2 + (box_centres[b, 1] - y) ** 2 <= reach:
                near[count] = b
                count += 1
        for first in range(0, angles.shape[0], INTERLEAVED):
            group = min(INTERLEAVED, angles.shape[0] - first)
            for i in range(group):
                heading = yaws[h] + angles[first + i]
                dxs[i], dys[i] = math.cos(heading), math.sin(heading)
                ks[i] = 1
                edges[i], lines[i] = max_range, max_range
                found_edges[i], found_lines[i] = False, False
                marching[i] = steps >= 1
            left = group if steps >= 1 else 0  # rays still marching
            while left > 0:
                for i in range(group):
                    if not marching[i]:
                        continue
                    k = ks[i]
                    distance = k * step
                    px = int((x + dxs[i] * distance - origin_x) * ppm)
                    py = int((y + dys[i] * distance - origin_y) * ppm)
                    inside = 0 <= px < cols and 0 <= py < rows
                    road_cell = cells[py, px, 0] if inside else np.uint8(0)
                    marking_cell = cells[py, px, 1] if inside else np.uint8(0)
                    if not found_edges[i] and road_cell < ON:
                        edges[i], found_edges[i] = distance - step, True
                    if not found_lines[i] and marking_cell >= ON:
                        lines[i], found_lines[i] = distance - step, True
                    if found_edges[i] and found_lines[i]:
                        marching[i] = False
                        left -= 1
                        continue
                    skip = CLEAR  # the samples after this one that cannot meet what is still looked for, plus one
                    if 1 <= px < cols - 1 and 1 <= py < rows - 1:
                        if not found_edges[i]:
                            skip = road_cell & CLEAR
                        if not found_lines[i]:
                            skip = min(skip, marking_cell & CLEAR)
                        k += max(1, skip)
                    else:
                        k += 1
                    ks[i] = k
                    if k > steps:
                        marching[i] = False
                        left -= 1
            for i in range(group):
                nearest = np.inf
                for n in range(count):
                    b = near[n]
                    nearest = min(nearest, box_distance(x, y, dxs[i], dys[i], box_centres[b, 0], box_centres[b, 1],
                                                        box_yaws[b], box_extents[b, 0], box_extents[b, 1]))
                out[h, first + i, 0], out[h, first + i, 1] = edges[i], lines[i]
                out[h, first + i, 2] = min(nearest, max_range)


def march_cells(road: np.ndarray, marking: np.ndarray, road_clear: np.ndarray,
                marking_clear: np.ndarray) -> np.ndarray:
    """The raster :func:`march_rays` reads: (rows, columns, 2) uint8, the road bit (:data:`ON`) and the road
    clearance (at most :data:`CLEAR` samples), then the marking bit and the marking clearance."""
    cells = np.empty(road.shape + (2,), dtype=np.uint8)
    cells[..., 0] = np.minimum(road_clear, CLEAR) | (road.astype(np.uint8) << 7)
    cells[..., 1] = np.minimum(marking_clear, CLEAR) | (marking.astype(np.uint8) << 7)
    return cells


def clearances(road: np.ndarray, marking: np.ndarray, ppm: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`march_rays`: how many samples ``step`` metres apart a ray sampled anywhere in each pixel can go on
    without meeting a road edge (a pixel off the road or off the raster) / a lane marking (uint8, at most 255): the
    distance between pixel centres to the nearest such pixel (exact Euclidean), less one pixel's diagonal (half of
    it for the sample, anywhere in its pixel, half for the pixel met), in whole steps. The march reads these only
    away from the raster's border. A sample just below the raster's
    first row or column reads that row or column (the march truncates towards zero), so it is padded with a copy
    of them."""
    margin = math.sqrt(2.0) / ppm

    def clear(free: np.ndarray, outside: int) -> np.ndarray:
        padded = np.pad(free.astype(np.uint8), ((1, 0), (1, 0)), mode="edge")  # truncation's row and column -1
        padded = np.pad(padded, ((1, 1), (1, 1)), constant_values=outside)  # then off the raster
        distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[2:-1, 2:-1]
        return np.clip(np.floor((distance / ppm - margin) / step), 0, 255).astype(np.uint8)

    return clear(road, 0), clear(~marking, 1)
