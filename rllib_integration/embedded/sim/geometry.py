"""Oriented bounding boxes in the ground plane, vectorised with NumPy.

Boxes are given by centre ``(x, y)``, yaw in radians (CARLA's left-handed convention: +yaw turns
from +x towards +y) and half extents ``(ex, ey)``; a vertical interval ``[z0, z1]`` separates boxes
stacked above each other (bridges). Used for spawn checks and actor collisions.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _separated(dx, dy, yaw_a, ex_a, ey_a, yaw_b, ex_b, ey_b) -> np.ndarray:
    """Separating-axis test for pairs of boxes; True where the pair does not overlap."""
    ca, sa, cb, sb = np.cos(yaw_a), np.sin(yaw_a), np.cos(yaw_b), np.sin(yaw_b)
    separated = np.zeros(np.shape(dx), dtype=bool)
    for ux, uy in ((ca, sa), (-sa, ca), (cb, sb), (-sb, cb)):
        reach_a = ex_a * np.abs(ca * ux + sa * uy) + ey_a * np.abs(-sa * ux + ca * uy)
        reach_b = ex_b * np.abs(cb * ux + sb * uy) + ey_b * np.abs(-sb * ux + cb * uy)
        separated |= np.abs(dx * ux + dy * uy) > reach_a + reach_b
    return separated


def penetration(dx: float, dy: float, yaw_a: float, ex_a: float, ey_a: float, yaw_b: float, ex_b: float,
                ey_b: float) -> tuple[float, float, float]:
    """Least overlap of two boxes (``dx, dy``: centre of b minus centre of a) and the axis it is
    along, pointing from a to b: ``(depth, ux, uy)``; depth <= 0 when they do not overlap."""
    ca, sa, cb, sb = np.cos(yaw_a), np.sin(yaw_a), np.cos(yaw_b), np.sin(yaw_b)
    best = (np.inf, 1.0, 0.0)
    for ux, uy in ((ca, sa), (-sa, ca), (cb, sb), (-sb, cb)):
        reach = ex_a * abs(ca * ux + sa * uy) + ey_a * abs(-sa * ux + ca * uy) + \
            ex_b * abs(cb * ux + sb * uy) + ey_b * abs(-sb * ux + cb * uy)
        along = dx * ux + dy * uy
        depth = reach - abs(along)
        if depth < best[0]:
            sign = 1.0 if along >= 0.0 else -1.0
            best = (float(depth), float(sign * ux), float(sign * uy))
    return best


def overlapping_pairs(x, y, yaw, ex, ey, z0, z1) -> np.ndarray:
    """Index pairs ``(i, j)``, ``i < j``, of boxes that overlap; shape ``(K, 2)``.

    A bounding-circle test over all pairs selects candidates, the separating-axis test decides.
    """
    n = len(x)
    if n < 2:
        return np.empty((0, 2), dtype=np.intp)
    radius = np.hypot(ex, ey)
    i, j = _pairs(n)
    dx, dy = x[j] - x[i], y[j] - y[i]
    near = (dx * dx + dy * dy < (radius[i] + radius[j]) ** 2) & (z0[i] < z1[j]) & (z0[j] < z1[i])
    i, j, dx, dy = i[near], j[near], dx[near], dy[near]
    if len(i) == 0:
        return np.empty((0, 2), dtype=np.intp)
    hit = ~_separated(dx, dy, yaw[i], ex[i], ey[i], yaw[j], ex[j], ey[j])
    return np.stack([i[hit], j[hit]], axis=1)


def overlaps_with(box: tuple[float, ...], x, y, yaw, ex, ey, z0, z1) -> np.ndarray:
    """Indices of the boxes (arrays) that overlap one ``box = (x, y, yaw, ex, ey, z0, z1)``."""
    bx, by, byaw, bex, bey, bz0, bz1 = box
    dx, dy = np.asarray(x) - bx, np.asarray(y) - by
    radius = np.hypot(ex, ey) + np.hypot(bex, bey)
    near = (dx * dx + dy * dy < radius * radius) & (np.asarray(z0) < bz1) & (bz0 < np.asarray(z1))
    index = np.flatnonzero(near)
    if len(index) == 0:
        return index
    hit = ~_separated(dx[index], dy[index], byaw, bex, bey, yaw[index], ex[index], ey[index])
    return index[hit]
