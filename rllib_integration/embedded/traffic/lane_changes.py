"""Lane changes of autopilot vehicles, as CARLA's traffic manager makes them.

Each plan, a vehicle outside junctions (and more than 20 m before the next) may move to the
neighbouring lane that runs its way, where the lane marking allows it (``Waypoint.lane_change``):

- **forced** (``force_lane_change``): at once, whatever the traffic;
- **merging**: the vehicle's lane ends ahead (an acceleration lane): into a neighbour that goes on;
- **overtaking** (``auto_lane_change``, on by default): its leader within 30 m has been slower than
  it wants to go for 2 s, or stands still without waiting for anything (not a queue before a
  junction: a broken-down or parked car), and the other lane is free;
- **keep right** (``keep_right_rule_percentage``) and **random** (``random_left/right_lanechange_percentage``):
  the chance per simulation step, as CARLA's, when the other lane is free.

"Free" means no vehicle in the target lane from ``max(10 m, 1.5 s)`` (more if it is faster) behind
to ``max(12 m, 1.5 s)`` ahead. A change re-routes the vehicle onto the target lane; it steers across over about 2 s
(pure pursuit with a longer look-ahead) and changes again at the earliest 5 s later.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import carla
import numpy as np

if TYPE_CHECKING:
    from .autopilot_state import AutopilotState

COOLDOWN = 5.0  # seconds between two lane changes of one vehicle
SLOW_FOR = 2.0  # seconds behind a slow leader before overtaking
CHANGE_TIME = 2.0  # seconds a change takes (look-ahead while changing)


def neighbour(waypoint: carla.Waypoint, right: bool) -> carla.Waypoint | None:
    """The driving lane beside ``waypoint`` that runs the same way, where the marking allows the move."""
    allowed = waypoint.lane_change
    wanted = carla.LaneChange.Right if right else carla.LaneChange.Left
    if not (allowed & wanted):
        return None
    other = waypoint.get_right_lane() if right else waypoint.get_left_lane()
    if other is None or other.lane_type != carla.LaneType.Driving or other.lane_id * waypoint.lane_id <= 0:
        return None
    return other


def continues(waypoint: carla.Waypoint) -> bool:
    """Whether a lane goes on beyond its end (a successor, not a dead end)."""
    end = waypoint.next_until_lane_end(2.0)
    return bool((end[-1] if end else waypoint).next(1.5))


def is_free(others: np.ndarray, x: float, y: float, yaw: float, speed: float, target: carla.Waypoint,
            own_slot: int) -> bool:
    """Whether the target lane beside the vehicle has room: ``others`` rows are (x, y, speed, half
    length, slot) of every vehicle."""
    centre = target.transform.location
    fx, fy = math.cos(yaw), math.sin(yaw)
    dx, dy = others[:, 0] - centre.x, others[:, 1] - centre.y
    lateral = np.abs(-dx * fy + dy * fx)
    along = (others[:, 0] - x) * fx + (others[:, 1] - y) * fy
    in_lane = (lateral < target.lane_width / 2.0 + 0.3) & (others[:, 4] != own_slot)
    behind = max(10.0, speed * 1.5 + 2.0 * max(np.max(others[in_lane, 2], initial=0.0) - speed, 0.0))
    ahead = max(12.0, speed * 1.5)
    return not np.any(in_lane & (along > -behind - others[:, 3]) & (along < ahead + others[:, 3]))


def decide(state: "AutopilotState", now: float, steps: int, rng: np.random.Generator, leader_gap: float,
           leader_speed: float, speed: float, cruise: float) -> list[bool]:
    """The sides to try, in order (True right, False left): forced, overtaking, keep right or random
    (see the module docstring; the chances are per simulation step, as CARLA's, over the ``steps``
    since the last plan); whether a side exists and is free is the caller's to check."""
    if state.forced_change is not None:
        return [state.forced_change]
    if state.route.dead_end:  # the lane ends ahead: merge into one that goes on
        return [False, True]
    if now - state.changed_at < COOLDOWN:
        return []
    slow = leader_gap < 30.0 and (1.0 < leader_speed < 0.8 * cruise or (leader_speed <= 1.0 and state.leader_stuck))
    state.slow_since = (state.slow_since if state.slow_since is not None else now) if slow else None
    if state.auto_lane_change and state.slow_since is not None and now - state.slow_since >= SLOW_FOR \
            and speed < 0.9 * cruise + 0.5:
        return [False, True]
    for right, percentage in ((True, state.keep_right), (False, state.random_left), (True, state.random_right)):
        if percentage > 0.0 and rng.random() < 1.0 - (1.0 - min(percentage, 100.0) / 100.0) ** steps:
            return [right]
    return []
