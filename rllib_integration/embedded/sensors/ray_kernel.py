"""Ray-box intersection for the sensors, compiled with numba.

Boxes stand upright (yaw only). Each ray is tested with the slab method in the box's frame; the
nearest hit in front of the origin wins. The normal is that of the face entered, in world axes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _enter(ox, oy, oz, dx, dy, dz, cx, cy, cz, c, s, ex, ey, ez):
    """(distance to the face entered, its axis, the sign of its normal) of one ray and one box;
    distance inf when the ray misses or starts inside."""
    rx, ry = ox - cx, oy - cy
    local_o = (c * rx + s * ry, -s * rx + c * ry, oz - cz)
    local_d = (c * dx + s * dy, -s * dx + c * dy, dz)
    half = (ex, ey, ez)
    enter, leave, axis = -np.inf, np.inf, 0
    for i in range(3):
        d = local_d[i]
        if abs(d) < 1e-9:
            d = 1e-9
        t1, t2 = (-half[i] - local_o[i]) / d, (half[i] - local_o[i]) / d
        near, far = min(t1, t2), max(t1, t2)
        if near > enter:
            enter, axis = near, i
        leave = min(leave, far)
    if leave >= enter and enter > 0.0:
        return enter, axis, -1.0 if local_d[axis] > 0.0 else 1.0
    return np.inf, 0, 0.0


@njit(cache=True)
def _record(k, t, axis, sign, c, s, ray, best, which, normal):
    best[ray], which[ray] = t, k
    nx, ny, nz = sign if axis == 0 else 0.0, sign if axis == 1 else 0.0, sign if axis == 2 else 0.0
    normal[ray, 0], normal[ray, 1], normal[ray, 2] = c * nx - s * ny, s * nx + c * ny, nz


@njit(cache=True)
def cast_all(origin, directions, centre, yaw, extent, index, best, which, normal):
    """Every ray against the boxes of ``index``; updates ``best`` (distance), ``which`` (box) and
    ``normal`` where a box is nearer than what they hold."""
    for k in index:
        c, s = math.cos(yaw[k]), math.sin(yaw[k])
        for ray in range(len(directions)):
            t, axis, sign = _enter(origin[0], origin[1], origin[2], directions[ray, 0], directions[ray, 1],
                                   directions[ray, 2], centre[k, 0], centre[k, 1], centre[k, 2], c, s,
                                   extent[k, 0], extent[k, 1], extent[k, 2])
            if t < best[ray]:
                _record(k, t, axis, sign, c, s, ray, best, which, normal)
