"""The leader search of the autopilot's car following, compiled with numba: for every autopilot
vehicle, the nearest vehicle or walker on its route ahead.

A candidate lies ahead of the follower (within the route's sampled reach) and not far to the side of its
heading; it counts when it stands on the route (its centre near the route point at its distance, within both half
widths and a margin: 1.5 m within 10 m ahead, 0.5 m farther or for a standing car parallel to the route there, as
one parked in the next lane; or, for one wholly ahead within 30 degrees of the follower's heading, either end
within both half widths and 0.5 m of the route point at its distance) and does not drive against the follower,
unless it stands right on the follower's path within :data:`HEAD_ON_REACH` (a turning truck's nose in its lane).
A walker counts when it stands or walks on the car's path (within both half widths and :data:`WALKER_MARGIN` of
it) or will step onto it within :data:`WALKER_NOTICE` seconds, whichever way it faces; a walking walker right beside
the car's front half counts within :data:`WALKER_BESIDE` more (it turns at any step: one edging round a car that had
stopped for it was hit when the car crept on); one on the sidewalk beside the path does not. The gap is measured
from the follower's front to the candidate's extent towards it (its length when it drives the same way, its width
when it crosses).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

WALKER_MARGIN = 0.4  # metres between a car's side and a walker it passes
WALKER_NOTICE = 1.5  # seconds: a walker heading for the path this soon is in the way already
WALKER_BESIDE = 0.6  # metres more for a walking walker beside the car's front half: its next step may be into it
PARALLEL_SIN, PARALLEL_MARGIN = 0.17, 0.5  # a car within 10 degrees of the path's heading is parallel: 0.5 m margin
PARKED_SPEED = 0.5  # m/s: a parallel car slower than this stands (parked, or queued in the next lane)
HEAD_ON_REACH = 10.0  # metres: an oncoming vehicle this close ahead, on the path itself, is a leader
ALONG_COS = 0.87  # a vehicle wholly ahead within 30 degrees of the follower's heading: its ends count too


@njit(cache=True)
def nearest_leaders(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, half_length: np.ndarray, half_width: np.ndarray,
                    own: np.ndarray, samples: np.ndarray, step: float, ox: np.ndarray, oy: np.ndarray,
                    oyaw: np.ndarray, ospeed: np.ndarray, olength: np.ndarray, owidth: np.ndarray,
                    left_out: np.ndarray, first_walker: int) -> tuple[np.ndarray, np.ndarray]:
    """Gap to and index of the leader of each follower ``i`` (inf and 0 where there is none).

    Followers: position, heading (radians), half length and width, their own index among the others
    (``own``, not their own leader), route points ``samples[i]`` every ``step`` metres from the route's
    start. Others (vehicles, then walkers from index ``first_walker``): position, heading, speed, half length
and width. ``left_out[i, j]``:
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
            cos_other, sin_other = math.cos(oyaw[j]), math.sin(oyaw[j])
            if j >= first_walker:  # a walker: on the car's path, or stepping onto it within WALKER_NOTICE
                px, py = samples[i, index, 0], samples[i, index, 1]
                nx, ny = samples[i, min(index + 1, last), 0] - px, samples[i, min(index + 1, last), 1] - py
                length = math.hypot(nx, ny)
                if length < 1e-6:
                    nx, ny, length = fx, fy, 1.0
                side = ((ox[j] - px) * ny - (oy[j] - py) * nx) / length  # signed distance from the path
                towards = -ospeed[j] * (cos_other * ny - sin_other * nx) / length * (1.0 if side > 0.0 else -1.0)
                clearance = abs(side) - max(towards, 0.0) * WALKER_NOTICE
                beside = WALKER_BESIDE if ahead < half_length[i] + 2.0 and ospeed[j] > 0.2 else 0.0
                if clearance >= half_width[i] + owidth[j] + WALKER_MARGIN + beside \
                        or math.hypot(ox[j] - px, oy[j] - py) > 6.0:
                    continue
                pair_gap = ahead - half_length[i] - owidth[j]
                if pair_gap < gap[i]:
                    gap[i], leader[i] = pair_gap, j
                continue
            margin = 1.5 if ahead < 10.0 else 0.5
            if margin > PARALLEL_MARGIN and ospeed[j] < PARKED_SPEED:  # close ahead: the wider margin only for
                # a moving car or one angled towards the path (a car parked in the next lane is not in the way)
                px, py = samples[i, index, 0], samples[i, index, 1]
                nx, ny = samples[i, min(index + 1, last), 0] - px, samples[i, min(index + 1, last), 1] - py
                length = math.hypot(nx, ny)
                if length > 1e-6 and cos_other * nx + sin_other * ny > 0.0 \
                        and abs(cos_other * ny - sin_other * nx) < PARALLEL_SIN * length:
                    margin = PARALLEL_MARGIN
            off_route = math.hypot(ox[j] - samples[i, index, 0], oy[j] - samples[i, index, 1])
            # the ends of a vehicle wholly ahead going the follower's way count too (one standing where the route
            # bends away from its lane is in the way with its tail though its centre is beside the route's point at
            # its distance); not those of one crossing (its nose towards a path it waits to cross is no leader) nor
            # of one beside (two merging side by side would each stop for the other)
            if fx * cos_other + fy * sin_other > ALONG_COS and ahead - olength[j] > half_length[i]:
                end = max(olength[j] - owidth[j], 0.0)
                for sign in (-1.0, 1.0):
                    ex, ey = ox[j] + sign * end * cos_other, oy[j] + sign * end * sin_other
                    end_ahead = (ex - x[i]) * fx + (ey - y[i]) * fy
                    if 0.0 < end_ahead < reach_ahead:
                        k = min(max(round(end_ahead / step), 0), last)
                        # (within the narrow margin only: a car in the next lane is no leader by its ends)
                        off_end = math.hypot(ex - samples[i, k, 0], ey - samples[i, k, 1]) + margin - PARALLEL_MARGIN
                        off_route = min(off_route, off_end)
            if off_route >= half_width[i] + owidth[j] + margin:
                continue  # beside the route
            if fx * cos_other + fy * sin_other <= -0.2 and (ahead >= HEAD_ON_REACH or off_route >= half_width[i] + owidth[j]):
                continue  # oncoming (one right on the path close ahead is in the way all the same)
            turned = abs(fx * sin_other - fy * cos_other)  # |sin| of the heading difference
            reach_back = olength[j] * math.sqrt(max(1.0 - turned * turned, 0.0)) + owidth[j] * turned
            pair_gap = ahead - half_length[i] - reach_back
            if pair_gap < gap[i]:
                gap[i], leader[i] = pair_gap, j
    return gap, leader
