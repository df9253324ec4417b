"""The vehicles and walkers in the way along a route: the nearest one on the route ahead (the leader to follow or
the walker to stop for) and the nearest one about to cross it, as a driver judges them: how far along the route,
how fast they go its way, how fast the gap closes. Through the carla API only, on the embedded world and on a
server alike.

Why: the virtual LiDAR's rays say how far the nearest box lies in a direction, not whether it is on the hero's
path nor how it moves. A policy cloned from the autopilot on rays alone stopped too late behind a queue and
bumped the car ahead at every stop (held out, 8-13 vehicle collisions per km); the gap along the route and the
closing speed are what following a car takes.

An actor is on the route where its bounding box comes within :data:`CORRIDOR` metres (each side of the route's
centre line) of a route point ahead; it is about to cross where its box, moved on at its velocity, does so within
:data:`CROSSING_TIMES` seconds without doing so now. Gaps run from the hero's front to the first such route point.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from ..common.per_frame import PerFrame, PerWorld
from ..routes.progress import RouteProgress

#: What :meth:`RouteObstacles.features` gives. On the route ahead: the gap / horizon (1: none that near), the
#: gap's nearness ``exp(-gap / NEAR_SCALE)`` (fine resolution where it matters: 0 when none), the actor's speed
#: along the route / 10 m/s, the closing speed (the hero's speed less that) / 10 m/s, a walker (1) or vehicle (0).
#: About to cross it: the gap / horizon (1: none), its nearness, the seconds until it is on the route / the last of
#: :data:`CROSSING_TIMES`.
OBSTACLE_FEATURES = ("leader_gap", "leader_near", "leader_speed", "leader_closing", "leader_walker",
                     "crossing_gap", "crossing_near", "crossing_time")
OBSTACLE_HORIZON = 40.0  # metres of route looked along
CORRIDOR = 1.5  # metres either side of the route's centre line an actor's box must come within to be in the way
CROSSING_TIMES = (0.5, 1.0, 1.5, 2.0, 3.0)  # seconds ahead at which crossing actors are placed at their velocity
NEAR_SCALE = 5.0  # metres: the nearness feature's scale
SPEED_SCALE = 10.0  # m/s
ACTOR_PREFIXES = ("vehicle.", "walker.")


class ActorTable(PerFrame):
    """Every vehicle's and walker's pose, velocity and box in a world at one frame (read once per frame for every
    hero of that world)."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.positions = np.zeros((0, 2))  # the boxes' centres (x, y)
        self.velocities = np.zeros((0, 2))
        self.yaws = np.zeros(0)
        self.extents = np.zeros((0, 2))  # half length, half width
        self.walkers = np.zeros(0, dtype=bool)
        self._boxes: dict[int, tuple[float, float, float, float, bool] | None] = {}  # id -> box offset, extent, walker

    def read(self, world: Any) -> None:
        rows = []
        for actor in world.get_actors():
            box = self._boxes.get(actor.id, False)
            if box is False:
                box = self._boxes[actor.id] = _box(actor)
            if box is None:
                continue
            transform, velocity = actor.get_transform(), actor.get_velocity()
            yaw = math.radians(transform.rotation.yaw)
            c, s = math.cos(yaw), math.sin(yaw)
            bx, by, ex, ey, walker = box
            rows.append((actor.id, transform.location.x + c * bx - s * by, transform.location.y + s * bx + c * by,
                         velocity.x, velocity.y, yaw, ex, ey, walker))
        table = np.array(rows, dtype=np.float64).reshape(-1, 9)
        self.ids = table[:, 0].astype(np.int64)
        self.positions, self.velocities = table[:, 1:3], table[:, 3:5]
        self.yaws, self.extents, self.walkers = table[:, 5], table[:, 6:8], table[:, 8] > 0.5


def _box(actor: Any) -> tuple[float, float, float, float, bool] | None:
    if not actor.type_id.startswith(ACTOR_PREFIXES):
        return None
    box = actor.bounding_box
    return box.location.x, box.location.y, box.extent.x, box.extent.y, actor.type_id.startswith("walker.")


actor_table = PerWorld(ActorTable)


def none_ahead() -> np.ndarray:
    """:data:`OBSTACLE_FEATURES` with nothing in the way (and where there is no route)."""
    return np.array([1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0], dtype=np.float32)


class RouteObstacles:
    """The actors in the way of ``hero`` along its route (``progress``) in ``world``."""

    def __init__(self, world: Any, hero: Any, progress: RouteProgress, horizon: float = OBSTACLE_HORIZON) -> None:
        self.world, self.hero, self.progress, self.horizon = world, hero, progress, float(horizon)
        self.front = float(hero.bounding_box.extent.x + hero.bounding_box.location.x)  # metres ahead of its location
        self.table = actor_table(world)

    def features(self, frame: int | None = None) -> np.ndarray:
        """:data:`OBSTACLE_FEATURES` now (``frame``: the world's frame, so the heroes of a world read it once)."""
        progress, table = self.progress, self.table.at(self.world, frame)
        start = progress.index
        end = progress.index_after(start, self.horizon + self.front) + 1
        points = np.ascontiguousarray(progress.points[start:end, :2])
        hero_location, hero_velocity = self.hero.get_location(), self.hero.get_velocity()
        others = table.ids != self.hero.id
        reach = self.horizon + self.front + 10.0
        near = others & (np.hypot(table.positions[:, 0] - hero_location.x,
                                  table.positions[:, 1] - hero_location.y) < reach + SPEED_SCALE * CROSSING_TIMES[-1])
        features = none_ahead()
        if len(points) < 2 or not near.any():
            return features
        route_metres = progress.cumulative[start:end] - progress.cumulative[start]
        forward = np.ascontiguousarray(progress.forward[start:end])
        rows = np.flatnonzero(near)
        gaps, first = route_gaps(points, forward, route_metres, table.positions[rows], table.yaws[rows],
                                 table.extents[rows], self.front, CORRIDOR)
        on_route = ~np.isnan(gaps)
        if on_route.any():
            k = int(np.nanargmin(gaps))
            row, gap, direction = rows[k], float(gaps[k]), forward[first[k]]
            along = float(table.velocities[row] @ direction)
            hero_along = hero_velocity.x * direction[0] + hero_velocity.y * direction[1]
            if gap < self.horizon:
                features[:5] = (gap / self.horizon, math.exp(-gap / NEAR_SCALE), along / SPEED_SCALE,
                                (hero_along - along) / SPEED_SCALE, float(table.walkers[row]))
        crossing = rows[~on_route]
        best_gap, best_time = self.horizon, CROSSING_TIMES[-1]
        for seconds in CROSSING_TIMES:
            if not len(crossing):
                break
            moved = table.positions[crossing] + table.velocities[crossing] * seconds
            gaps, _ = route_gaps(points, forward, route_metres, moved, table.yaws[crossing], table.extents[crossing],
                                 self.front, CORRIDOR)
            hit = ~np.isnan(gaps)
            if hit.any() and float(np.nanmin(gaps)) < best_gap:
                best_gap, best_time = float(np.nanmin(gaps)), seconds
            crossing = crossing[~hit]  # each actor counted at its first time on the route
        if best_gap < self.horizon:
            features[5:] = (best_gap / self.horizon, math.exp(-best_gap / NEAR_SCALE), best_time / CROSSING_TIMES[-1])
        return features


@njit(cache=True)
def route_gaps(points: np.ndarray, forward: np.ndarray, route_metres: np.ndarray, centres: np.ndarray,
               yaws: np.ndarray, extents: np.ndarray, front: float, corridor: float) -> tuple[np.ndarray, np.ndarray]:
    """For each box (centre, yaw, half extents): the metres from ``front`` metres along the route to the box's nearest
    corner (0 when they overlap), NaN where the box is not on the route ahead (no route point within ``corridor``
    metres of it, or behind the hero); and the first route point within ``corridor`` of it (-1: none). Compiled: a
    handful of boxes against a few hundred route points, several times a step for every hero, where NumPy's
    per-call cost was a third of the traffic experiment's step."""
    n = centres.shape[0]
    gaps = np.full(n, np.nan)
    first = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        c, s = math.cos(yaws[i]), math.sin(yaws[i])
        for j in range(points.shape[0]):
            dx, dy = points[j, 0] - centres[i, 0], points[j, 1] - centres[i, 1]
            out_x = max(abs(dx * c + dy * s) - extents[i, 0], 0.0)
            out_y = max(abs(-dx * s + dy * c) - extents[i, 1], 0.0)
            if math.sqrt(out_x * out_x + out_y * out_y) < corridor:
                first[i] = j
                break
        j = first[i]
        if j < 0:
            continue
        low, high = np.inf, -np.inf
        for sx in (1.0, -1.0):
            for sy in (1.0, -1.0):
                ex, ey = extents[i, 0] * sx, extents[i, 1] * sy
                corner_x, corner_y = centres[i, 0] + c * ex - s * ey, centres[i, 1] + s * ex + c * ey
                along = (corner_x - points[j, 0]) * forward[j, 0] + (corner_y - points[j, 1]) * forward[j, 1]
                low, high = min(low, along), max(high, along)
        if route_metres[j] + high > 0.0:  # a follower is not in the hero's way
            gaps[i] = max(route_metres[j] + low - front, 0.0)
    return gaps, first
