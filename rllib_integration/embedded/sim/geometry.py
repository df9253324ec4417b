"""Oriented bounding boxes in the ground plane, vectorised with NumPy.

Boxes are given by centre ``(x, y)``, yaw in radians (CARLA's left-handed convention: +yaw turns
from +x towards +y) and half extents ``(ex, ey)``; a vertical interval ``[z0, z1]`` separates boxes
stacked above each other (bridges). Used for spawn checks and actor collisions.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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

    A bounding-circle test over all pairs selects candidates, the separating-axis test decides
    (compiled with numba: every tick asks it for every pair of actors).
    """
    arrays = (np.ascontiguousarray(a, dtype=np.float64) for a in (x, y, yaw, ex, ey, z0, z1))
    return _overlapping_pairs(*arrays)


@njit(cache=True)
def _overlapping_pairs(x, y, yaw, ex, ey, z0, z1) -> np.ndarray:
    n = len(x)
    radius = np.hypot(ex, ey)
    cos, sin = np.cos(yaw), np.sin(yaw)
    found = []
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[j] - x[i], y[j] - y[i]
            if dx * dx + dy * dy >= (radius[i] + radius[j]) ** 2 or not (z0[i] < z1[j] and z0[j] < z1[i]):
                continue
            separated = False
            for axis in range(4):
                if axis == 0:
                    ux, uy = cos[i], sin[i]
                elif axis == 1:
                    ux, uy = -sin[i], cos[i]
                elif axis == 2:
                    ux, uy = cos[j], sin[j]
                else:
                    ux, uy = -sin[j], cos[j]
                reach_i = ex[i] * abs(cos[i] * ux + sin[i] * uy) + ey[i] * abs(-sin[i] * ux + cos[i] * uy)
                reach_j = ex[j] * abs(cos[j] * ux + sin[j] * uy) + ey[j] * abs(-sin[j] * ux + cos[j] * uy)
                if abs(dx * ux + dy * uy) > reach_i + reach_j:
                    separated = True
                    break
            if not separated:
                found.append((i, j))
    out = np.empty((len(found), 2), dtype=np.intp)
    for k in range(len(found)):
        out[k, 0], out[k, 1] = found[k]
    return out


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
