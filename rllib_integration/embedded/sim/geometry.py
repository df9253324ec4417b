"""Oriented bounding boxes in the ground plane (the separating-axis test compiled with numba).

Boxes are given by centre ``(x, y)``, yaw in radians (CARLA's left-handed convention: +yaw turns
from +x towards +y) and half extents ``(ex, ey)``; a vertical interval ``[z0, z1]`` separates boxes
stacked above each other (bridges). Used for spawn checks and actor collisions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _least_overlap(dx: float, dy: float, yaw_a: float, ex_a: float, ey_a: float, yaw_b: float, ex_b: float,
                   ey_b: float) -> tuple[float, float, float]:
    """The separating-axis test of two boxes (``dx, dy``: centre of b minus centre of a): the least overlap
    along the four axes and that axis, pointing from a to b; the boxes are apart when it is below 0."""
    ca, sa, cb, sb = math.cos(yaw_a), math.sin(yaw_a), math.cos(yaw_b), math.sin(yaw_b)
    best, best_x, best_y = math.inf, 1.0, 0.0
    for axis in range(4):
        if axis == 0:
            ux, uy = ca, sa
        elif axis == 1:
            ux, uy = -sa, ca
        elif axis == 2:
            ux, uy = cb, sb
        else:
            ux, uy = -sb, cb
        reach = ex_a * abs(ca * ux + sa * uy) + ey_a * abs(-sa * ux + ca * uy) + \
            ex_b * abs(cb * ux + sb * uy) + ey_b * abs(-sb * ux + cb * uy)
        along = dx * ux + dy * uy
        depth = reach - abs(along)
        if depth < best:
            sign = 1.0 if along >= 0.0 else -1.0
            best, best_x, best_y = depth, sign * ux, sign * uy
    return best, best_x, best_y


def penetration(dx: float, dy: float, yaw_a: float, ex_a: float, ey_a: float, yaw_b: float, ex_b: float,
                ey_b: float) -> tuple[float, float, float]:
    """Least overlap of two boxes (``dx, dy``: centre of b minus centre of a) and the axis it is
    along, pointing from a to b: ``(depth, ux, uy)``; depth <= 0 when they do not overlap."""
    depth, ux, uy = _least_overlap(float(dx), float(dy), float(yaw_a), float(ex_a), float(ey_a), float(yaw_b),
                                   float(ex_b), float(ey_b))
    return float(depth), float(ux), float(uy)


def overlapping_pairs(boxes: np.ndarray) -> np.ndarray:
    """Index pairs ``(i, j)``, ``i < j``, of the rows ``(x, y, yaw, ex, ey, z0, z1)`` of ``boxes`` (N, 7) that
    overlap; shape ``(K, 2)``.

    A bounding-circle test over all pairs selects candidates, the separating-axis test decides
    (compiled with numba: every tick asks it for every pair of actors).
    """
    return _overlapping_pairs(_rows(boxes))


def overlaps_with(box: tuple[float, ...], boxes: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``boxes`` (N, 7) that overlap one ``box = (x, y, yaw, ex, ey, z0, z1)``."""
    return _overlaps_with(*(float(v) for v in box), _rows(boxes))


def first_overlaps(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each row ``(x, y, yaw, ex, ey, z0, z1)`` of ``boxes`` (N, 7), the index of the first row of ``others``
    (M, 7) it overlaps, or -1; shape ``(N,)`` (one compiled call for many boxes)."""
    return _first_overlaps(_rows(boxes), _rows(others))


def _rows(boxes: np.ndarray) -> np.ndarray:
    """``boxes`` as the compiled tests read them: (N, 7) float64, C-contiguous (most come so, uncopied)."""
    if isinstance(boxes, np.ndarray) and boxes.dtype == np.float64 and boxes.ndim == 2 and boxes.flags.c_contiguous:
        return boxes
    return np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 7)


@njit(cache=True)
def _overlapping_pairs(boxes: np.ndarray) -> np.ndarray:
    n = boxes.shape[0]
    radius = np.empty(n)
    for i in range(n):
        radius[i] = math.hypot(boxes[i, 3], boxes[i, 4])
    out = np.empty((16, 2), dtype=np.intp)  # (grown as needed: a typed list of pairs cost 5 µs with 32 boxes)
    count = 0
    for i in range(n):  # (elements read directly: a row's view made in the inner loop cost 5 µs with 32 boxes)
        xi, yi, ri = boxes[i, 0], boxes[i, 1], radius[i]
        for j in range(i + 1, n):
            dx, dy = boxes[j, 0] - xi, boxes[j, 1] - yi
            reach = ri + radius[j]
            if dx * dx + dy * dy >= reach * reach or not (boxes[i, 5] < boxes[j, 6] and boxes[j, 5] < boxes[i, 6]):
                continue
            if _least_overlap(dx, dy, boxes[i, 2], boxes[i, 3], boxes[i, 4], boxes[j, 2], boxes[j, 3],
                              boxes[j, 4])[0] >= 0.0:
                if count == out.shape[0]:
                    grown = np.empty((2 * count, 2), dtype=np.intp)
                    grown[:count] = out
                    out = grown
                out[count, 0], out[count, 1] = i, j
                count += 1
    return out[:count].copy()


@njit(cache=True)
def _overlaps_with(bx, by, byaw, bex, bey, bz0, bz1, boxes) -> np.ndarray:
    out = np.empty(boxes.shape[0], dtype=np.intp)
    count = 0
    box_radius = math.hypot(bex, bey)
    for k in range(boxes.shape[0]):
        dx, dy = boxes[k, 0] - bx, boxes[k, 1] - by
        reach = math.hypot(boxes[k, 3], boxes[k, 4]) + box_radius
        if dx * dx + dy * dy < reach * reach and boxes[k, 5] < bz1 and bz0 < boxes[k, 6] and \
                _least_overlap(dx, dy, byaw, bex, bey, boxes[k, 2], boxes[k, 3], boxes[k, 4])[0] >= 0.0:
            out[count] = k
            count += 1
    return out[:count]


@njit(cache=True)
def _first_overlaps(boxes, others) -> np.ndarray:
    out = np.full(len(boxes), -1, dtype=np.intp)
    for i in range(len(boxes)):
        bx, by, byaw, bex, bey, bz0, bz1 = boxes[i]
        if bex <= 0.0 and bey <= 0.0:  # a destroyed vehicle's row (all zeros)
            continue
        box_radius = math.hypot(bex, bey)
        for k in range(len(others)):
            dx, dy = others[k, 0] - bx, others[k, 1] - by
            reach = math.hypot(others[k, 3], others[k, 4]) + box_radius
            if dx * dx + dy * dy < reach * reach and others[k, 5] < bz1 and bz0 < others[k, 6] and \
                    _least_overlap(dx, dy, byaw, bex, bey, others[k, 2], others[k, 3], others[k, 4])[0] >= 0.0:
                out[i] = k
                break
    return out
