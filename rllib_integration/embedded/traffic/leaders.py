"""The leader search of the autopilot's car following, compiled with numba: for every autopilot
vehicle, the nearest vehicle or walker on its route ahead.

A candidate lies ahead of the follower (within the route's sampled reach) and not far to the side of its
heading; it counts when it stands on the route (near the route point at its distance, within both
half widths and a margin) and does not drive against the follower. The gap is measured from the
follower's front to the candidate's extent towards it (its length when it drives the same way, its
width when it crosses).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def nearest_leaders(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, half_length: np.ndarray, half_width: np.ndarray,
                    own: np.ndarray, samples: np.ndarray, step: float, ox: np.ndarray, oy: np.ndarray,
                    oyaw: np.ndarray, olength: np.ndarray, owidth: np.ndarray, left_out: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Gap to and index of the leader of each follower ``i`` (inf and 0 where there is none).

    Followers: position, heading (radians), half length and width, their own index among the others
    (``own``, not their own leader), route points ``samples[i]`` every ``step`` metres from the route's
    start. Others (vehicles, then walkers): position, heading, half length and width. ``left_out[i, j]``:
    others the follower ignores this plan (shape (0, 0): none)."""
    count, others, reach_ahead = len(x), len(ox), step * samples.shape[1]
    last = samples.shape[1] - 1
    gap = np.full(count, np.inf)
    leader = np.zeros(count, np.int64)
    ignores = left_out.shape[0] > 0
    for i in range(count):
        fx, fy = math.cos(yaw[i]), math.sin(yaw[i])
        for j in range(others):
            if j == own[i] or ignores and left_out[i, j]:
                continue
            dx, dy = ox[j] - x[i], oy[j] - y[i]
            ahead = dx * fx + dy * fy
            if not 0.0 < ahead < reach_ahead or abs(dy * fx - dx * fy) >= 0.75 * ahead + 4.0:
                continue
            index = min(max(round(ahead / step), 0), last)
            margin = 1.5 if ahead < 10.0 else 0.5
            off_route = math.hypot(ox[j] - samples[i, index, 0], oy[j] - samples[i, index, 1])
            if off_route >= half_width[i] + owidth[j] + margin:
                continue  # beside the route
            cos_other, sin_other = math.cos(oyaw[j]), math.sin(oyaw[j])
            if fx * cos_other + fy * sin_other <= -0.2:
                continue  # oncoming
            turned = abs(fx * sin_other - fy * cos_other)  # |sin| of the heading difference
            reach_back = olength[j] * math.sqrt(max(1.0 - turned * turned, 0.0)) + owidth[j] * turned
            pair_gap = ahead - half_length[i] - reach_back
            if pair_gap < gap[i]:
                gap[i], leader[i] = pair_gap, j
    return gap, leader
