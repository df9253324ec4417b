"""The BirdView's pictures of many heroes, finished in compiled calls (numba): where each hero's route, traffic
lights and actors lie in its picture, the masks of the map already warped into each picture, then those shapes drawn
over it.

One call draws a kind of shape into every hero's picture of a world, so a picture costs no Python work of its own.
A pixel (its centre at integer coordinates, as OpenCV's) is covered by ``clamp(0.5 - d, 0, 1)`` of a shape whose edge
is ``d`` pixels away (negative inside). A shape's *paint* is a value a channel: in an ``rgb`` picture (3 channels)
its colour, blended as ``p + (paint - p) * coverage`` (anti-aliased edges); in a ``masks`` picture (``binary``) the
channels where the paint is above 0 are set to 255 on the pixels whose centre the shape covers (coverage 0.5 and up).

Drawing order (each layer over the last, the callers' order): the route (a band of ``half`` pixels each side of its
polyline, the union of its segments' bands, the points thinned to those that bend it by more than a tolerance), each
traffic light (a disc in its state's paint, then a one-pixel ring on its edge), the actors (convex polygons, in the
order given: walkers, vehicles, two-wheelers, the hero on top).

Why not OpenCV's drawing (``cv2.fillPoly``, ``cv2.circle``, ``cv2.polylines``), as before: it draws one shape list
into one picture a call, so 32 heroes cost 32 x 4 Python calls a frame, and its anti-aliased and 8-connected shapes
come out about a pixel wider than their geometry, a lot at 2 pixels a metre.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ..common.tiles import tile_columns, tile_offset, tiled


@njit(cache=True, inline="always")
def _view_pixel(view: np.ndarray, x: float, y: float) -> tuple[float, float]:
    """World ``(x, y)`` in the view's pixels (``view``: 2x3), rounded to sixteenths of a pixel (OpenCV's drawing
    precision with ``shift=4``: a picture does not change with rounding errors far below a pixel)."""
    u = x * view[0, 0] + y * view[0, 1] + view[0, 2]
    v = x * view[1, 0] + y * view[1, 1] + view[1, 2]
    return np.rint(u * 16.0) / 16.0, np.rint(v * 16.0) / 16.0


@njit(cache=True)
def gather_routes(points: np.ndarray, lengths: np.ndarray, rows: np.ndarray, starts: np.ndarray, heroes: np.ndarray,
                  ahead: np.ndarray, counts: np.ndarray) -> None:
    """For each route ``j`` (row ``rows[j]`` of ``points`` (R, L, >= 2), of ``lengths[rows[j]]`` points): its points
    from ``starts[j]`` on, as many as ``ahead`` (H, K, 2) holds, written (x, y) into ``ahead[heroes[j]]``, and how
    many into ``counts[heroes[j]]``."""
    for j in range(rows.shape[0]):
        row, start, h = rows[j], starts[j], heroes[j]
        count = max(0, min(ahead.shape[1], lengths[row] - start))
        for k in range(count):
            ahead[h, k, 0], ahead[h, k, 1] = points[row, start + k, 0], points[row, start + k, 1]
        counts[h] = count


@njit(cache=True)
def place_route(ahead: np.ndarray, counts: np.ndarray, views: np.ndarray, reach: float, pixels: np.ndarray,
                ends: np.ndarray) -> None:
    """For each hero ``h``, the route points to draw: those of its first ``counts[h]`` ``ahead[h]`` (world x, y)
    up to the first past the last one within ``reach`` metres of the first (at least 2, at most ``counts[h]``:
    ``ends[h]``), placed in its ``views[h]`` pixels (``pixels[h]``)."""
    for h in range(len(counts)):
        last = -1
        for k in range(counts[h]):
            dx, dy = ahead[h, k, 0] - ahead[h, 0, 0], ahead[h, k, 1] - ahead[h, 0, 1]
            if dx * dx + dy * dy <= reach * reach:
                last = k
        ends[h] = min(last + 2 if last >= 0 else 2, counts[h])
        for k in range(ends[h]):
            pixels[h, k, 0], pixels[h, k, 1] = _view_pixel(views[h], ahead[h, k, 0], ahead[h, k, 1])


@njit(cache=True)
def place_points(xyz: np.ndarray, poses: np.ndarray, views: np.ndarray,
                 reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points ``xyz`` (N, 3) within ``reach`` metres (3-D) of each hero at ``poses`` (H, >= 3), hero by hero, each
    hero's in order: the hero's row, the point's index and its place in the hero's ``views`` pixels."""
    near = np.zeros((len(poses), len(xyz)), dtype=np.bool_)
    for h in range(len(poses)):
        for n in range(len(xyz)):
            dx, dy, dz = xyz[n, 0] - poses[h, 0], xyz[n, 1] - poses[h, 1], xyz[n, 2] - poses[h, 2]
            near[h, n] = dx * dx + dy * dy + dz * dz <= reach * reach
    total = near.sum()
    heroes, which, pixels = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64), np.empty((total, 2))
    row = 0
    for h in range(len(poses)):
        for n in range(len(xyz)):
            if near[h, n]:
                heroes[row], which[row] = h, n
                pixels[row, 0], pixels[row, 1] = _view_pixel(views[h], xyz[n, 0], xyz[n, 1])
                row += 1
    return heroes, which, pixels


@njit(cache=True)
def place_polygons(positions: np.ndarray, polygons: np.ndarray, ranks: np.ndarray, ids: np.ndarray,
                   poses: np.ndarray, hero_ids: np.ndarray, views: np.ndarray, reach: float,
                   hero_rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The actors at ``positions`` (A, 2) within ``reach`` metres (2-D) of each hero at ``poses`` (H, >= 2), hero by
    hero in drawing order (their ``ranks``; the hero itself, ``ids[a] == hero_ids[h]``, at ``hero_rank``; actors of
    one rank in order): the hero's row, the actor's ``polygons[a]`` (world x, y) in its ``views`` pixels, its rank."""
    near = np.zeros((len(poses), len(positions)), dtype=np.bool_)
    for h in range(len(poses)):
        for a in range(len(positions)):
            dx, dy = positions[a, 0] - poses[h, 0], positions[a, 1] - poses[h, 1]
            near[h, a] = dx * dx + dy * dy < reach * reach
    total, corners = near.sum(), polygons.shape[1]
    heroes, pixels, drawn = np.empty(total, dtype=np.int64), np.empty((total, corners, 2)), np.empty(total, np.int64)
    row = 0
    for h in range(len(poses)):
        for rank in range(hero_rank + 1):
            for a in range(len(positions)):
                if near[h, a] and (hero_rank if ids[a] == hero_ids[h] else ranks[a]) == rank:
                    heroes[row], drawn[row] = h, rank
                    for c in range(corners):
                        pixels[row, c, 0], pixels[row, c, 1] = _view_pixel(views[h], polygons[a, c, 0],
                                                                           polygons[a, c, 1])
                    row += 1
    return heroes, pixels, drawn


@njit(cache=True)
def world_polygons(poses: np.ndarray, rows: np.ndarray, cos: np.ndarray, sin: np.ndarray, local: np.ndarray,
                   positions: np.ndarray, polygons: np.ndarray) -> None:
    """For each actor ``k`` drawn, at ``poses[rows[k]]`` (x, y, yaw radians; ``cos`` and ``sin`` of its yaw): its
    place (``positions[k]``: x, y) and its polygon ``local[k]`` (corners in its frame) in world x, y
    (``polygons[k]``)."""
    for k in range(rows.shape[0]):
        x, y, c, s = poses[rows[k], 0], poses[rows[k], 1], cos[k], sin[k]
        positions[k, 0], positions[k, 1] = x, y
        for corner in range(local.shape[1]):
            u, v = local[k, corner, 0], local[k, corner, 1]
            polygons[k, corner, 0] = x + c * u - s * v
            polygons[k, corner, 1] = y + s * u + c * v


@njit(cache=True)
def inverse_maps(forwards: np.ndarray) -> np.ndarray:
    """(H, 6) float32: for each of ``forwards`` (H, 2, 3), affine maps from a source's pixels to a picture's, the map
    from the picture's pixels back to the source's (m0 m1 m2 / m3 m4 m5), inverted in double as OpenCV's
    ``warpAffine`` inverts its matrix, then rounded to float32 as OpenCV 5 reads it (:func:`warp_masks`)."""
    inverses = np.empty((forwards.shape[0], 6), dtype=np.float32)
    for h in range(forwards.shape[0]):
        a, b, c = forwards[h, 0, 0], forwards[h, 0, 1], forwards[h, 0, 2]
        d, e, f = forwards[h, 1, 0], forwards[h, 1, 1], forwards[h, 1, 2]
        determinant = a * e - b * d
        scale = 1.0 / determinant if determinant != 0.0 else 0.0
        m0, m1, m3, m4 = e * scale, b * -scale, d * -scale, a * scale
        for k, value in enumerate((m0, m1, -m0 * c - m1 * f, m3, m4, -m3 * c - m4 * f)):
            inverses[h, k] = np.float32(value)
    return inverses


@njit(cache=True)
def hero_views(poses: np.ndarray, cos: np.ndarray, sin: np.ndarray, ppm: float, cx: float, cy: float) -> np.ndarray:
    """(H, 2, 3) affine matrices from world (x, y) to the pixels of pictures ``ppm`` pixels a metre, each hero of
    ``poses`` (H, >= 2: x, y, ...; heading cosines ``cos`` and sines ``sin``) at pixel (``cx``, ``cy``) facing up:
    column = cx + ppm * (rel . right), row = cy - ppm * (rel . forward), right = (-sin, cos)."""
    views = np.empty((poses.shape[0], 2, 3))
    for h in range(poses.shape[0]):
        ex, ey, c, s = poses[h, 0], poses[h, 1], cos[h], sin[h]
        views[h, 0, 0], views[h, 0, 1], views[h, 0, 2] = -s * ppm, c * ppm, cx - ppm * (-s * ex + c * ey)
        views[h, 1, 0], views[h, 1, 1], views[h, 1, 2] = -c * ppm, -s * ppm, cy + ppm * (c * ex + s * ey)
    return views


@njit(cache=True, inline="always")
def _source_pixel(m: np.float32, x: int, base: np.float32) -> np.int32:
    """``rint(m * x + base)``, the product and sum fused (rounded once, to float32; exact in double first)."""
    return np.int32(np.rint(np.float32(np.float64(m) * np.float64(x) + np.float64(base))))


class MaskSource(NamedTuple):
    """What :func:`warp_masks` reads (:func:`mask_source`): a raster's values (uint8 map labels or mask bits) in
    ``tiles`` (:func:`~..common.tiles.tiled`) with a 0 after the last tile, read off the raster; its ``rows`` and
    ``columns``."""

    tiles: np.ndarray
    rows: int
    columns: int


def mask_source(raster: np.ndarray) -> MaskSource:
    """``raster`` (2-D, uint8) as :func:`warp_masks` reads it."""
    return MaskSource(tiled(raster, tail=1), *raster.shape)


@njit(cache=True)
def warp_masks(pictures: np.ndarray, source: MaskSource, inverses: np.ndarray, tables: np.ndarray, targets: np.ndarray,
               clear: bool) -> None:
    """Set channel ``targets[k]`` of ``pictures`` (H, S, S, C) to 255 where ``tables[k]`` (256 values each) holds
    for the value of ``source`` (:func:`mask_source`) at the pixel, and to 0 elsewhere, reading picture ``h``'s
    pixels through ``inverses[h]`` (:func:`inverse_maps`); with ``clear`` the other channels are set to 0 too (else
    they hold zeros already: ``pictures`` may be a view of any strides, such as the newest frame's channels of frame
    stacks). Two or three masks.

    The source is sampled as ``cv2.warpAffine(..., INTER_NEAREST, BORDER_CONSTANT, 0)`` samples it in OpenCV 5 on
    an x86 core with FMA (the same pixels, compared on 16 million): a row's base ``m1 * y + m2`` in float32, then
    each pixel's ``m0 * x + base`` fused, rounded half to even; off the source reads 0. One call for every hero's
    picture, each pixel's masks written as its source pixel is read (1.5 times as fast as 32 OpenCV warps and a
    pass a mask over their labels, measured; a value's masks read as one word, not a table a mask: 186-197 against
    220-232 µs for 32 heroes' two masks replayed; the source in tiles, not row after row: a picture's row, a line
    across the source's rows, reads fewer cache lines)."""
    heroes, size, depth = pictures.shape[0], pictures.shape[1], pictures.shape[3]
    values, rows, columns = source
    outside = values.shape[0] - 1  # the 0 past the last tile
    across_tiles = tile_columns(columns)
    count = targets.shape[0]
    packed = np.zeros(256, dtype=np.uint32)  # a value's masks, a byte each (one read a pixel, not one a mask)
    for k in range(count):
        for value in range(256):
            if tables[k, value]:
                packed[value] |= np.uint32(255) << np.uint32(8 * k)
    first, second, third = targets[0], targets[1], targets[count - 1]
    across, down = np.empty(size, dtype=np.int32), np.empty(size, dtype=np.int32)
    offsets = np.empty(size, dtype=np.uint64)  # (unsigned: no negative index wrapped at every read)
    for h in range(heroes):
        m0, m1, m2, m3, m4, m5 = (inverses[h, 0], inverses[h, 1], inverses[h, 2], inverses[h, 3], inverses[h, 4],
                                  inverses[h, 5])
        picture = pictures[h]
        if clear:
            for v in range(size):
                for u in range(size):
                    for c in range(depth):
                        picture[v, u, c] = 0
        for v in range(size):
            base_x, base_y = m1 * np.float32(v) + m2, m4 * np.float32(v) + m5
            for u in range(size):  # (the row's coordinates first: a loop the compiler vectorises)
                across[u], down[u] = _source_pixel(m0, u, base_x), _source_pixel(m3, u, base_y)
            # a row's source pixels lie on a line: inside at both ends, inside all along
            if (0 <= across[0] < columns and 0 <= down[0] < rows and 0 <= across[size - 1] < columns
                    and 0 <= down[size - 1] < rows):
                for u in range(size):
                    offsets[u] = np.uint64(tile_offset(down[u], across[u], across_tiles))
            else:
                for u in range(size):
                    inside = 0 <= across[u] < columns and 0 <= down[u] < rows
                    offsets[u] = np.uint64(tile_offset(down[u], across[u], across_tiles) if inside else outside)
            row = picture[v]
            if count == 2:  # (kept apart from three: a third write of the second mask cost 20 %)
                for u in range(size):
                    masks = packed[values[offsets[u]]]
                    row[u, first], row[u, second] = np.uint8(masks & 255), np.uint8(masks >> 8)
            else:
                for u in range(size):
                    masks = packed[values[offsets[u]]]
                    row[u, first], row[u, second] = np.uint8(masks & 255), np.uint8((masks >> 8) & 255)
                    row[u, third] = np.uint8(masks >> 16)


@njit(cache=True, inline="always")
def _clamp01(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


@njit(cache=True, inline="always")
def _brush(paint: np.ndarray, binary: bool, value: np.ndarray, on: np.ndarray) -> None:
    """Into ``value`` and ``on`` (a value a channel): what a pixel a shape covers whole takes, and in which channels."""
    for channel in range(paint.shape[0]):
        on[channel] = paint[channel] > 0.0 or not binary
        value[channel] = 255 if binary else np.uint8(math.floor(paint[channel] + 0.5))


@njit(cache=True, inline="always")
def _touches(coverage: float, binary: bool) -> bool:
    """Whether a shape covering ``coverage`` of a pixel changes it (see the module docstring)."""
    return coverage >= 0.5 if binary else coverage > 0.0


@njit(cache=True, inline="always")
def _mixed(level: np.uint8, paint: float, value: np.uint8, on: bool, coverage: float, binary: bool) -> np.uint8:
    """A channel's new value where a shape covers ``coverage`` of a pixel whose value is ``level``, with ``paint``
    (its :func:`_brush` ``value`` and ``on``; see the module docstring). Scalars only: the helper it replaced, which
    took the picture and the paint as arrays, cost three times the painting a pixel (inlined by numba or not)."""
    if coverage >= 1.0 or (binary and coverage >= 0.5):
        return value if on else level
    if coverage > 0.0 and not binary:
        return np.uint8(math.floor(level + (paint - level) * coverage + 0.5))
    return level


@njit(cache=True, inline="always")
def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    ex, ey = px - ax - t * dx, py - ay - t * dy
    return math.sqrt(ex * ex + ey * ey)


@njit(cache=True, inline="always")
def _band_coverage(coverage: np.ndarray, ax: float, ay: float, bx: float, by: float, half: float,
                   spans: np.ndarray, picture: np.ndarray, single: int) -> None:
    """``coverage`` (S, S) raised to the band of ``half`` pixels around segment a-b where it covers more (row by row
    over the columns the band can reach), each row's span of ``spans`` (S, 2: first and last column) widened to the
    pixels reached; or, where ``single`` is a channel (masks that a band sets to 255 in one channel), that channel of
    ``picture`` (S, S, C) set to 255 where the band covers half a pixel or more, with no coverage kept (a pixel is
    set where any band covers half of it, as where the most covering one does)."""
    size = coverage.shape[0]
    reach = half + 1.0
    inner, outer = max(0.0, half - 0.5) ** 2, (half + 0.5) ** 2  # squared distances covered fully, not at all
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    scale = 0.0 if length2 == 0.0 else 1.0 / length2
    top, bottom = max(0, int(math.floor(min(ay, by) - reach))), min(size - 1, int(math.ceil(max(ay, by) + reach)))
    for v in range(top, bottom + 1):
        # the segment's points within `reach` rows of v, then `reach` columns either side of them
        if dy == 0.0:
            t0, t1 = 0.0, 1.0
        else:
            ta, tb = (v - reach - ay) / dy, (v + reach - ay) / dy
            t0, t1 = max(0.0, min(ta, tb)), min(1.0, max(ta, tb))
            if t0 > t1:
                continue
        xa, xb = ax + t0 * dx, ax + t1 * dx
        left, right = max(0, int(math.floor(min(xa, xb) - reach))), min(size - 1, int(math.ceil(max(xa, xb) + reach)))
        if left > right:
            continue
        if single < 0:
            spans[v, 0], spans[v, 1] = min(spans[v, 0], left), max(spans[v, 1], right)
        py = v - ay
        for u in range(left, right + 1):
            px = u - ax
            t = min(1.0, max(0.0, (px * dx + py * dy) * scale))
            ex, ey = px - t * dx, py - t * dy
            d2 = ex * ex + ey * ey
            if d2 >= outer:
                continue
            cover = 1.0 if d2 <= inner else _clamp01(half + 0.5 - math.sqrt(d2))
            if single >= 0:
                if cover >= 0.5:
                    picture[v, u, single] = 255
            elif cover > coverage[v, u]:
                coverage[v, u] = cover


@njit(cache=True, inline="always")
def _thinned(points: np.ndarray, count: int, tolerance: float, keep: np.ndarray, stack: np.ndarray) -> None:
    """Mark in ``keep`` the first ``count`` ``points`` that bend their polyline by more than ``tolerance`` pixels,
    and its ends (Douglas-Peucker: a segment is split at its farthest point until every point lies within
    ``tolerance`` of its segment; ``stack``: room for ``count`` pairs of the segments still to split)."""
    keep[:count] = False
    keep[0] = keep[count - 1] = True
    stack[0, 0], stack[0, 1] = 0, count - 1
    top = 1
    while top:
        top -= 1
        first, last = stack[top, 0], stack[top, 1]
        farthest, distance = -1, tolerance
        for k in range(first + 1, last):
            d = _segment_distance(points[k, 0], points[k, 1], points[first, 0], points[first, 1], points[last, 0],
                                  points[last, 1])
            if d > distance:
                farthest, distance = k, d
        if farthest >= 0:
            keep[farthest] = True
            stack[top, 0], stack[top, 1] = first, farthest
            stack[top + 1, 0], stack[top + 1, 1] = farthest, last
            top += 2


@njit(cache=True)
def draw_routes(pictures: np.ndarray, points: np.ndarray, counts: np.ndarray, half: float, tolerance: float,
                paint: np.ndarray, binary: bool) -> None:
    """Paint into each of ``pictures`` (H, S, S, C) the band of ``half`` pixels around the polyline of its first
    ``counts[h]`` ``points[h]`` (pixels), thinned to the points that bend it by more than ``tolerance`` pixels."""
    size = pictures.shape[1]
    coverage = np.zeros((size, size))
    keep = np.zeros(points.shape[1], dtype=np.bool_)
    stack = np.empty((points.shape[1] + 1, 2), dtype=np.int64)
    spans = np.empty((size, 2), dtype=np.int64)  # each row's first and last column the bands reached
    value, on = np.empty(paint.shape[0], dtype=np.uint8), np.empty(paint.shape[0], dtype=np.bool_)
    _brush(paint, binary, value, on)
    painted = np.flatnonzero(on)
    single = painted[0] if binary and painted.shape[0] == 1 else -1  # masks: the one channel a band sets to 255
    for h in range(pictures.shape[0]):
        count = counts[h]
        if count < 2:
            continue
        _thinned(points[h], count, tolerance, keep, stack)
        spans[:, 0], spans[:, 1] = size, -1
        start = 0
        picture = pictures[h]
        for k in range(1, count):
            if keep[k]:
                _band_coverage(coverage, points[h, start, 0], points[h, start, 1], points[h, k, 0], points[h, k, 1],
                               half, spans, picture, single)
                start = k
        if single >= 0:  # (set as the bands were walked)
            continue
        for v in range(size):
            for u in range(spans[v, 0], spans[v, 1] + 1):
                cover = coverage[v, u]
                if _touches(cover, binary):
                    for channel in range(value.shape[0]):
                        picture[v, u, channel] = _mixed(picture[v, u, channel], paint[channel], value[channel],
                                                        on[channel], cover, binary)
                coverage[v, u] = 0.0


@njit(cache=True)
def draw_discs(pictures: np.ndarray, heroes: np.ndarray, centres: np.ndarray, paints: np.ndarray, radius: float,
               ring: np.ndarray, binary: bool) -> None:
    """Paint into ``pictures[heroes[k]]`` a disc of ``radius`` pixels at ``centres[k]`` in ``paints[k]``, then a
    ring one pixel wide on its edge in ``ring``, in order."""
    size, channels = pictures.shape[1], paints.shape[1]
    value, on = np.empty(channels, dtype=np.uint8), np.empty(channels, dtype=np.bool_)
    ring_value, ring_on = np.empty(channels, dtype=np.uint8), np.empty(channels, dtype=np.bool_)
    _brush(ring, binary, ring_value, ring_on)
    for k in range(len(heroes)):
        _brush(paints[k], binary, value, on)
        cx, cy = centres[k, 0], centres[k, 1]
        reach = radius + 1.0
        top, bottom = max(0, int(math.floor(cy - reach))), min(size - 1, int(math.ceil(cy + reach)))
        left, right = max(0, int(math.floor(cx - reach))), min(size - 1, int(math.ceil(cx + reach)))
        picture, paint = pictures[heroes[k]], paints[k]
        for v in range(top, bottom + 1):
            for u in range(left, right + 1):
                d = math.sqrt((u - cx) ** 2 + (v - cy) ** 2)
                disc, rim = _clamp01(radius + 0.5 - d), _clamp01(1.0 - abs(d - radius))
                if not (_touches(disc, binary) or _touches(rim, binary)):
                    continue
                for channel in range(channels):
                    level = _mixed(picture[v, u, channel], paint[channel], value[channel], on[channel], disc, binary)
                    picture[v, u, channel] = _mixed(level, ring[channel], ring_value[channel], ring_on[channel], rim,
                                                    binary)


@njit(cache=True, inline="always")
def _row_spans(normals: np.ndarray, edges: int, v: float) -> tuple[float, float, float, float]:
    """Along row ``v``, the columns where a convex polygon's largest distance beyond its edges' lines (``normals``:
    unit normal and offset an edge) is below 0.5 (touched) and at most -0.5 (covered): ``(low, high, inner_low,
    inner_high)`` (a line's distance grows linearly along the row, so each is one interval, maybe empty)."""
    low, high, inner_low, inner_high = -np.inf, np.inf, -np.inf, np.inf
    for e in range(edges):
        slope, offset = normals[e, 0], normals[e, 1] * v - normals[e, 2]  # distance = slope * u + offset
        if slope > 1e-12:
            high, inner_high = min(high, (0.5 - offset) / slope), min(inner_high, (-0.5 - offset) / slope)
        elif slope < -1e-12:
            low, inner_low = max(low, (0.5 - offset) / slope), max(inner_low, (-0.5 - offset) / slope)
        else:
            if offset >= 0.5:
                low = np.inf
            if offset > -0.5:
                inner_low = np.inf
    return low, high, inner_low, inner_high


@njit(cache=True)
def draw_polygons(pictures: np.ndarray, heroes: np.ndarray, polygons: np.ndarray, paints: np.ndarray,
                  binary: bool) -> None:
    """Paint into ``pictures[heroes[k]]`` the convex polygon ``polygons[k]`` (corners in pixels, either turn) in
    ``paints[k]``, in order (a pixel's distance to the polygon is its largest distance beyond an edge's line; a row's
    pixels covered whole are painted without it)."""
    size, corners = pictures.shape[1], polygons.shape[1]
    normals = np.empty((corners, 3))
    value, on = np.empty(paints.shape[1], dtype=np.uint8), np.empty(paints.shape[1], dtype=np.bool_)
    for k in range(len(heroes)):
        polygon, paint, picture = polygons[k], paints[k], pictures[heroes[k]]
        _brush(paint, binary, value, on)
        area = 0.0
        for i in range(corners):
            j = (i + 1) % corners
            area += polygon[i, 0] * polygon[j, 1] - polygon[j, 0] * polygon[i, 1]
        turn = 1.0 if area > 0.0 else -1.0
        edges = 0
        for i in range(corners):  # outward unit normals and offsets of the edges of non-zero length
            j = (i + 1) % corners
            ex, ey = polygon[j, 0] - polygon[i, 0], polygon[j, 1] - polygon[i, 1]
            length = math.sqrt(ex * ex + ey * ey)
            if length > 1e-9:
                nx, ny = turn * ey / length, -turn * ex / length
                normals[edges, 0], normals[edges, 1] = nx, ny
                normals[edges, 2] = nx * polygon[i, 0] + ny * polygon[i, 1]
                edges += 1
        if edges < 3:
            continue
        top = max(0, int(math.floor(polygon[:, 1].min() - 1.0)))
        bottom = min(size - 1, int(math.ceil(polygon[:, 1].max() + 1.0)))
        for v in range(top, bottom + 1):
            low, high, inner_low, inner_high = _row_spans(normals, edges, v)
            if low >= high:
                continue
            left, right = max(0, int(math.floor(low))), min(size - 1, int(math.ceil(high)))
            # whole pixels strictly inside the covered interval (a hair's margin for rounding), filled as a run
            inner_left, inner_right = right + 1, right
            if inner_low < inner_high:
                inner_left = max(left, int(math.ceil(inner_low + 1e-9)))
                inner_right = min(right, int(math.floor(inner_high - 1e-9)))
            if inner_left <= inner_right:
                for channel in range(value.shape[0]):
                    if on[channel]:
                        picture[v, inner_left:inner_right + 1, channel] = value[channel]
            else:
                inner_left = inner_right = right + 1
            for side in range(2):  # the pixels either side of the run: each one's distance beyond the edges
                for u in range(left, inner_left) if side == 0 else range(inner_right + 1, right + 1):
                    beyond = -np.inf
                    for e in range(edges):
                        beyond = max(beyond, normals[e, 0] * u + normals[e, 1] * v - normals[e, 2])
                    cover = min(1.0, 0.5 - beyond)
                    if _touches(cover, binary):
                        for channel in range(value.shape[0]):
                            picture[v, u, channel] = _mixed(picture[v, u, channel], paint[channel], value[channel],
                                                            on[channel], cover, binary)
