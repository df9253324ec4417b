"""The virtual LiDAR's rays of many heroes in one compiled call (numba).

Each ray marches the map raster every ``step`` metres until it leaves the road (road edge) and until it
meets a lane marking (stopping as soon as both are found), then meets the obstacles' oriented boxes by the
slab method. Distances are capped at the range. One call measures every hero of a world: the per-hero
Python work is reading its row of the result.

The raster a ray reads holds a byte a pixel (:func:`march_cells`): whether the pixel is road and how many samples a
ray can skip from it without meeting an edge, whether it is a marking and how many without meeting one, four bits
each. A sample reads one cache line, where four masks of a town's size (megabytes each) cost a cache miss each. The
pixels are kept in tiles (:mod:`..common.tiles`, a quarter of a kilobyte each, :class:`MarchRaster`), not row after
row: a ray's samples, a few pixels apart in any direction, then fall in fewer cache lines and pages (11-15 % faster
inside the env, where the rest of a tick evicts the raster from the core's cache between two marches; the same rays).
Where a sample lies depends on the clearance the last one read, so a ray's reads wait on each other: a hero's rays
march :data:`SIDE_BY_SIDE` at a time, a sample of each in turn, each ray's state in registers, so that the reads and
the arithmetic of several rays overlap. A sample's place is computed in pixels, in fixed point (an integer multiply
and add where floats' conversions would lengthen that wait; the same pixel as the floats', :func:`_sample`), a ray's
direction from its hero's heading's sine and cosine (no trigonometry a ray).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
from numba import njit

from ..common.tiles import tile_columns, tile_offset, tiled

MOST = 14  # the most samples a cell's clearance says a ray may skip (four bits a clearance, 0 the mask's "met")
SIDE_BY_SIDE = 4  # rays of a hero marched together, a sample of each in turn (:func:`_march_four`)
#: The march's fixed-point pixel coordinates (:func:`_sample`): FIXED_BITS fractional bits; a coordinate within
#: FIXED_MARGIN (in 2**-FIXED_BITS px: 2**-20 px) of a whole pixel is computed again in floats. Fixed point is used
#: for rays of fewer than FIXED_MOST_STEPS samples, from within FIXED_MOST_PIXELS of the raster's origin, at most
#: FIXED_MOST_STEP pixels a sample, where its error stays below the margin (:func:`_march_four`).
FIXED_BITS = 32
FIXED_ONE = float(1 << FIXED_BITS)
FIXED_FRACTION = np.int64((1 << FIXED_BITS) - 1)
FIXED_MARGIN = np.int64(1 << 12)
FIXED_MOST_STEPS, FIXED_MOST_PIXELS, FIXED_MOST_STEP = 1 << 10, float(1 << 20), 4.0


class MarchRaster(NamedTuple):
    """The raster :func:`march_rays` reads (:func:`march_cells`): ``tiles``, a flat uint8 array of pixel tiles
    (:func:`~..common.tiles.tiled`), a byte a pixel: its low four bits 0 off the road, else one more than the road
    clearance; its high four bits 0 on a marking, else one more than the marking clearance; the raster's ``rows`` and
    ``columns`` (the tiles past them pad with zeros: off the road, and read only off the raster, where the march
    counts no marking)."""

    tiles: np.ndarray
    rows: int
    columns: int


@njit(cache=True)
def box_distance(ox: float, oy: float, dx: float, dy: float, cx: float, cy: float, yaw: float, ex: float,
                 ey: float) -> float:
    """Distance along the ray from ``(ox, oy)`` in unit direction ``(dx, dy)`` to the oriented box (centre
    ``(cx, cy)``, ``yaw`` radians, half extents ``(ex, ey)``): 0 from inside, ``inf`` where it misses."""
    return _box_distance(ox, oy, dx, dy, cx, cy, math.cos(yaw), math.sin(yaw), ex, ey)


@njit(cache=True, inline="always")
def _box_distance(ox: float, oy: float, dx: float, dy: float, cx: float, cy: float, c: float, s: float, ex: float,
                  ey: float) -> float:
    """:func:`box_distance` of a box whose yaw has cosine ``c`` and sine ``s``."""
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


@njit(cache=True, inline="always")
def _to_fixed(value: float, fixed: bool) -> int:
    """``value`` pixels in the march's fixed point (times 2**:data:`FIXED_BITS`, truncated; 0 where not ``fixed``)."""
    return np.int64(value * FIXED_ONE) if fixed else np.int64(0)


@njit(cache=True, inline="always")
def _sample(k: int, edge: float, line: float, fixed: bool, column_fixed: int, row_fixed: int, column_step_fixed: int,
            row_step_fixed: int, column0: float, row0: float, column_step: float, row_step: float, step: float,
            steps: int, max_range: float, tiles: np.ndarray, rows: int, cols: int, across: int, inner_rows: np.uint64,
            inner_cols: np.uint64) -> tuple[int, float, float]:
    """Sample ``k`` of the ray from pixel coordinates ``(column0, row0)`` advancing ``(column_step, row_step)`` pixels
    a sample: the ray's ``(k, edge, line)`` after it (``k`` the next sample to read, ``steps + 1`` once the ray is
    done; ``edge`` / ``line`` below ``max_range``: met at that distance).

    The sample's pixel is ``int(column0 + k * column_step)`` (and its row likewise). Where ``fixed``, it is computed
    in fixed point (``*_fixed``: the same coordinates times 2**32, truncated: an integer multiply and add, a shift,
    where the float's conversions lengthen the chain of a ray's samples, each waiting on the last; 12-16 % of the
    march, stop 89). The two coordinates differ by less than :data:`FIXED_MARGIN` (see :func:`_march_four`), so where
    the fixed-point one lies farther than that from a whole pixel both fall in the same pixel; the others (a few
    samples in a million, and every sample of a ray that runs exactly along the pixel grid from a pixel's corner) are
    computed in floats. The border's samples have a branch of their own: the two branches compile to shorter code
    than one with the border's tests in it. ``inner_rows`` and ``inner_cols``: the rows and columns off the border
    (``rows - 2``, ``cols - 2``, at least 0), unsigned: a sample off the border is one whose row and column less one,
    as unsigned, are below them (one test each, not two; a twentieth of the march)."""
    if k > steps:
        return k, edge, line
    column, row = column_fixed + k * column_step_fixed, row_fixed + k * row_step_fixed
    shifted = fixed and ((column + FIXED_MARGIN) & FIXED_FRACTION) >= 2 * FIXED_MARGIN and \
        ((row + FIXED_MARGIN) & FIXED_FRACTION) >= 2 * FIXED_MARGIN
    if shifted:
        px, py = column >> FIXED_BITS, row >> FIXED_BITS  # (the floor: the float's truncation where both are >= 1)
    else:
        px, py = int(column0 + k * column_step), int(row0 + k * row_step)
    found_edge, found_line = edge < max_range, line < max_range
    if np.uint64(px - 1) < inner_cols and np.uint64(py - 1) < inner_rows:  # where the clearances hold (clearances())
        cell = tiles[np.uint64(tile_offset(py, px, across))]  # (unsigned: no wrap-around test of a negative index)
        road, marking = cell & 15, cell >> 4  # (see MarchRaster)
        skip = MOST + 1  # the samples after this one that cannot meet what is still looked for, plus one
        if not found_edge:
            if road == 0:
                edge, found_edge = k * step - step, True
            else:
                skip = road - 1
        if not found_line:
            if marking == 0:
                line, found_line = k * step - step, True
            else:
                skip = min(skip, marking - 1)
        if found_edge and found_line:
            return steps + 1, edge, line
        return k + max(1, skip), edge, line
    if shifted:  # (off the interior: the float's truncation towards zero, which the border's reads follow)
        px, py = int(column0 + k * column_step), int(row0 + k * row_step)
    distance = k * step
    inside = 0 <= px < cols and 0 <= py < rows  # off the raster: off the road, no marking
    cell = tiles[tile_offset(py, px, across)] if inside else np.uint8(15 << 4)
    if not found_edge and (cell & 15) == 0:
        edge, found_edge = distance - step, True
    if not found_line and (cell >> 4) == 0:
        line, found_line = distance - step, True
    if found_edge and found_line:
        return steps + 1, edge, line
    return k + 1, edge, line


@njit(cache=True, inline="always")
def _march_four(x: float, y: float, directions: tuple, step: float, max_range: float, cells: MarchRaster,
                origin_x: float, origin_y: float, ppm: float) -> tuple:
    """The road edge and marking distances of the four rays from ``(x, y)`` in unit ``directions`` (four ``(dx,
    dy)``), marched side by side: ``((edge, line), ...)`` in their order. A sample's read waits on the last one's
    (its clearance says where the next sample is), so the reads of four rays overlap where one ray's would not."""
    steps = int(max_range / step + 1e-6)
    tiles, rows, cols = cells.tiles, cells.rows, cells.columns
    across = tile_columns(cols)
    inner_rows, inner_cols = np.uint64(max(rows - 2, 0)), np.uint64(max(cols - 2, 0))
    column0, row0, scale = (x - origin_x) * ppm, (y - origin_y) * ppm, step * ppm  # the march in pixels
    (a, b), (c, d), (e, f), (g, h) = directions
    a, b, c, d, e, f, g, h = a * scale, b * scale, c * scale, d * scale, e * scale, f * scale, g * scale, h * scale
    # Fixed point where its coordinates stay within FIXED_MARGIN of the floats': truncating the start and a step to
    # 2**-32 px errs by under (steps + 1) * 2**-32 px <= 2**-22, the float's two roundings by under 2**-32.9 px.
    fixed = steps < FIXED_MOST_STEPS and abs(column0) < FIXED_MOST_PIXELS and abs(row0) < FIXED_MOST_PIXELS and \
        abs(scale) <= FIXED_MOST_STEP
    column_fixed, row_fixed = _to_fixed(column0, fixed), _to_fixed(row0, fixed)
    fa, fb, fc, fd = _to_fixed(a, fixed), _to_fixed(b, fixed), _to_fixed(c, fixed), _to_fixed(d, fixed)
    fe, ff, fg, fh = _to_fixed(e, fixed), _to_fixed(f, fixed), _to_fixed(g, fixed), _to_fixed(h, fixed)
    k0 = k1 = k2 = k3 = 1
    e0 = e1 = e2 = e3 = l0 = l1 = l2 = l3 = max_range
    while k0 <= steps or k1 <= steps or k2 <= steps or k3 <= steps:
        k0, e0, l0 = _sample(k0, e0, l0, fixed, column_fixed, row_fixed, fa, fb, column0, row0, a, b, step,
                              steps, max_range, tiles, rows, cols, across, inner_rows, inner_cols)
        k1, e1, l1 = _sample(k1, e1, l1, fixed, column_fixed, row_fixed, fc, fd, column0, row0, c, d, step,
                              steps, max_range, tiles, rows, cols, across, inner_rows, inner_cols)
        k2, e2, l2 = _sample(k2, e2, l2, fixed, column_fixed, row_fixed, fe, ff, column0, row0, e, f, step,
                              steps, max_range, tiles, rows, cols, across, inner_rows, inner_cols)
        k3, e3, l3 = _sample(k3, e3, l3, fixed, column_fixed, row_fixed, fg, fh, column0, row0, g, h, step,
                              steps, max_range, tiles, rows, cols, across, inner_rows, inner_cols)
    return (e0, l0), (e1, l1), (e2, l2), (e3, l3)


@njit(cache=True, inline="always")
def _turned(heading_cos: float, heading_sin: float, turn_cos: float, turn_sin: float) -> tuple[float, float]:
    """The unit direction at a heading turned by an angle, from their cosines and sines (no trigonometry a ray)."""
    return heading_cos * turn_cos - heading_sin * turn_sin, heading_sin * turn_cos + heading_cos * turn_sin


@njit(cache=True)
def ray_directions(yaws: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """``(H, R, 2)``: the unit direction of ray r (``angles`` (R,) radians from the heading) of hero h (``yaws`` (H,)
    radians), as :func:`march_rays` computes it."""
    out = np.empty((yaws.shape[0], angles.shape[0], 2))
    turn_cos, turn_sin = np.cos(angles), np.sin(angles)
    for h in range(yaws.shape[0]):
        heading_cos, heading_sin = math.cos(yaws[h]), math.sin(yaws[h])
        for r in range(angles.shape[0]):
            out[h, r, 0], out[h, r, 1] = _turned(heading_cos, heading_sin, turn_cos[r], turn_sin[r])
    return out


@njit(cache=True)
def march_rays(origins: np.ndarray, yaws: np.ndarray, self_ids: np.ndarray, angles: np.ndarray, step: float,
               max_range: float, cells: MarchRaster, origin_x: float, origin_y: float, ppm: float,
               box_centres: np.ndarray, box_yaws: np.ndarray, box_extents: np.ndarray, box_ids: np.ndarray,
               out: np.ndarray) -> None:
    """Fill ``out`` (H, R, 3) with road edge, marking and obstacle distances of the R rays (``angles`` from the
    heading, radians, positive to the right) of H heroes at ``origins`` (H, 2) with ``yaws`` (H,) radians.

    ``cells`` (:func:`march_cells`; row = (y - origin_y) * ppm, column = (x - origin_x) * ppm): the road and
    marking bits and clearances; off the raster counts as off the road and as no marking. Sample k (k = 1, 2, ...)
    of a ray in unit direction (dx, dy) (:func:`ray_directions`) from a hero at pixel coordinates (column0, row0)
    reads column ``int(column0 + k * dx * (step * ppm))`` and row ``int(row0 + k * dy * (step * ppm))``. A road edge
    or marking met at sample k reads ``(k - 1) * step``; none met reads ``max_range``. The march steps over the
    samples a pixel's clearance rules out (the same first hit as sampling every step). Boxes (centres (B, 2), yaws
    (B,), half extents (B, 2)) farther than ``max_range + 10`` m from a hero, or whose id is the hero's ``self_ids``,
    are skipped.
    """
    rays = angles.shape[0]
    reach = (max_range + 10.0) ** 2
    near = np.empty(box_ids.shape[0], dtype=np.int64)  # the boxes within reach of the hero, found once per hero
    cos, sin = np.empty(box_ids.shape[0]), np.empty(box_ids.shape[0])  # once a box, not a ray (a quarter of the
    for b in range(box_ids.shape[0]):  # call with 256 heroes); math's, as box_distance's
        cos[b], sin[b] = math.cos(box_yaws[b]), math.sin(box_yaws[b])
    turn_cos, turn_sin = np.cos(angles), np.sin(angles)  # a ray's direction: its hero's heading turned by its angle
    for h in range(origins.shape[0]):
        x, y = origins[h, 0], origins[h, 1]
        heading_cos, heading_sin = math.cos(yaws[h]), math.sin(yaws[h])
        count = 0
        for b in range(box_ids.shape[0]):
            if box_ids[b] != self_ids[h] and (box_centres[b, 0] - x) ** 2 + (box_centres[b, 1] - y) ** 2 <= reach:
                near[count] = b
                count += 1
        for first in range(0, rays, SIDE_BY_SIDE):  # a last group short of four repeats its last ray
            i0, i1, i2, i3 = first, min(first + 1, rays - 1), min(first + 2, rays - 1), min(first + 3, rays - 1)
            directions = (_turned(heading_cos, heading_sin, turn_cos[i0], turn_sin[i0]),
                          _turned(heading_cos, heading_sin, turn_cos[i1], turn_sin[i1]),
                          _turned(heading_cos, heading_sin, turn_cos[i2], turn_sin[i2]),
                          _turned(heading_cos, heading_sin, turn_cos[i3], turn_sin[i3]))
            marched = _march_four(x, y, directions, step, max_range, cells, origin_x, origin_y, ppm)
            indices = (i0, i1, i2, i3)
            for j in range(min(SIDE_BY_SIDE, rays - first)):  # (a repeated ray's result is its own, once)
                i, (dx, dy) = indices[j], directions[j]
                nearest = np.inf
                for n in range(count):
                    b = near[n]
                    nearest = min(nearest, _box_distance(x, y, dx, dy, box_centres[b, 0], box_centres[b, 1], cos[b],
                                                         sin[b], box_extents[b, 0], box_extents[b, 1]))
                out[h, i, 0], out[h, i, 1] = marched[j]
                out[h, i, 2] = min(nearest, max_range)


def march_cells(road: np.ndarray, marking: np.ndarray, road_clear: np.ndarray,
                marking_clear: np.ndarray) -> MarchRaster:
    """The raster :func:`march_rays` reads, in tiles (:class:`MarchRaster`): a byte a pixel, the road clearance
    (at most :data:`MOST` samples) plus one on the road, else 0, then (the high four bits) the marking clearance plus
    one off the markings, else 0. Four bits a clearance keep a town's raster at a byte a pixel, half the cache lines a
    march reads: a clearance of :data:`MOST` samples (3.5 m) took 2 % more samples than one of 127 (stop 84, 300
    frames of 32 heroes on GridTown)."""
    rows, cols = road.shape
    low = np.where(road, np.minimum(road_clear, MOST) + 1, 0).astype(np.uint8)
    high = np.where(marking, 0, np.minimum(marking_clear, MOST) + 1).astype(np.uint8)
    return MarchRaster(tiled(low | (high << 4)), rows, cols)


def clearances(road: np.ndarray, marking: np.ndarray, ppm: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`march_rays`: how many samples ``step`` metres apart a ray sampled anywhere in each pixel can go on
    without meeting a road edge (a pixel off the road or off the raster) / a lane marking (uint8, at most 255).

    Two bounds, the larger taken (each alone is safe). Euclidean: the distance between pixel centres to the nearest
    such pixel, less one pixel's diagonal (half of it for the sample, anywhere in its pixel, half for the pixel met).
    Chessboard: the largest coordinate difference of the two centres, less one pixel (half a pixel for the sample,
    half for the pixel met), since a ray moves no farther along either axis than along itself; this one gains where
    the edge or marking runs along the pixel grid (a straight road of a grid town: 17 % fewer samples over 300 frames
    of 32 heroes on GridTown, stop 85). Both in whole steps. The march reads these only away from the raster's border.
    A sample just below the raster's first row or column reads that row or column (the march truncates towards zero),
    so it is padded with a copy of them."""
    margin = math.sqrt(2.0) / ppm

    def clear(free: np.ndarray, outside: int) -> np.ndarray:
        padded = np.pad(free.astype(np.uint8), ((1, 0), (1, 0)), mode="edge")  # truncation's row and column -1
        padded = np.pad(padded, ((1, 1), (1, 1)), constant_values=outside)  # then off the raster
        euclidean = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[2:-1, 2:-1]
        chessboard = cv2.distanceTransform(padded, cv2.DIST_C, 3)[2:-1, 2:-1]
        steps = np.maximum(np.floor((euclidean / ppm - margin) / step), np.floor((chessboard - 1.0) / ppm / step))
        return np.clip(steps, 0, 255).astype(np.uint8)

    return clear(road, 0), clear(~marking, 1)
