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
from typing import Any, Sequence

import numpy as np
from numba import njit

from ..common.per_frame import PerFrame, PerWorld, forget_gone, same_ids
from ..routes.progress import RouteProgress, first_reaching
from ..routes.progress_batch import route_rows

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
        self._layout: tuple | None = None  # the ids last read, the obstacles' rows in id order, their boxes, vehicles

    def read(self, world: Any) -> None:
        poses = getattr(world, "actor_poses", None)  # the embedded world: every pose, vehicles' velocities, one call
        if callable(poses) and callable(getattr(world, "vehicle_kinematics", None)):
            self._read_tables(world, *poses())
            return
        rows = []
        actors = list(world.get_actors())
        forget_gone(self._boxes, {actor.id for actor in actors})
        for actor in actors:
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


    def _read_tables(self, world: Any, ids: np.ndarray, poses: np.ndarray) -> None:
        """:meth:`read` from every actor's pose in arrays and every vehicle's velocity read off the vehicle table,
        rounded as the carla types round them (32-bit floats, the yaw in degrees) and in spawn order (by id), so the
        table is the one an actor-by-actor read gives."""
        if self._layout is None or not same_ids(self._layout[0], ids):  # actors came or went: their boxes, in order
            forget_gone(self._boxes, ids.tolist())
            boxes = [self._boxes.get(actor_id, False) for actor_id in ids.tolist()]
            for k, box in enumerate(boxes):
                if box is False:
                    actor = world.get_actor(int(ids[k]))
                    boxes[k] = self._boxes[int(ids[k])] = _box(actor) if actor is not None else None
            rows = np.array(sorted((k for k, box in enumerate(boxes) if box is not None), key=lambda k: ids[k]),
                            dtype=np.int64)
            table = np.array([boxes[k] for k in rows], dtype=np.float64).reshape(-1, 5)  # bx, by, ex, ey, walker
            vehicles = np.flatnonzero(table[:, 4] <= 0.5)
            self._layout = (ids if not ids.flags.writeable else ids.copy(), rows, table, vehicles,
                            ids[rows[vehicles]].tolist())
        _, rows, table, vehicles, vehicle_ids = self._layout
        walkers = table[:, 4] > 0.5
        velocities = np.zeros((len(rows), 2))
        if len(vehicles):
            velocities[vehicles] = np.asarray(world.vehicle_kinematics(vehicle_ids))[:, 4:6]
        for k in np.flatnonzero(walkers):
            velocity = world.get_actor(int(ids[rows[k]])).get_velocity()
            velocities[k] = (velocity.x, velocity.y)
        xy = poses[rows, :2].astype(np.float32).astype(np.float64)
        yaws = np.radians(np.degrees(poses[rows, 2]).astype(np.float32).astype(np.float64))
        c, s = np.cos(yaws), np.sin(yaws)
        self.ids = ids[rows].astype(np.int64)
        self.positions = np.stack([xy[:, 0] + c * table[:, 0] - s * table[:, 1],
                                   xy[:, 1] + s * table[:, 0] + c * table[:, 1]], axis=1)
        self.velocities = velocities.astype(np.float32).astype(np.float64)
        self.yaws, self.extents, self.walkers = yaws, table[:, 2:4], walkers


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
        return obstacle_features([self], frame)[0]


def obstacle_features(obstacles: Sequence[RouteObstacles], frame: int | None = None,
                      kinematics: np.ndarray | None = None) -> np.ndarray:
    """(N, 8) float32: :meth:`RouteObstacles.features` of ``obstacles`` (heroes of one world) at ``frame``, in one
    compiled call: the routes are read from the world's route rows (:data:`~..routes.progress_batch.route_rows`,
    each copied there once), each hero's stretch ahead found and the gaps and features worked out for all in
    :func:`features_kernel`. ``kinematics``: the heroes' x, y, velocity x and y (N, 4) where they were read already
    (a batch's rows: the values ``get_location`` and ``get_velocity`` give), else read here."""
    first = obstacles[0]
    table = first.table.at(first.world, frame)
    count = len(obstacles)
    routes = route_rows(first.world)
    progresses = [route.progress for route in obstacles]
    rows = routes.sync(progresses)
    heroes = np.empty((count, 6))  # x, y, velocity x, y, front, horizon
    if kinematics is None:
        for k, route in enumerate(obstacles):
            location, velocity = route.hero.get_location(), route.hero.get_velocity()
            heroes[k, :4] = (location.x, location.y, velocity.x, velocity.y)
    else:
        heroes[:, :4] = kinematics
    heroes[:, 4] = [route.front for route in obstacles]
    heroes[:, 5] = [route.horizon for route in obstacles]
    out = np.empty((count, len(OBSTACLE_FEATURES)), dtype=np.float32)
    features_kernel(routes.points, routes.forward, routes.cumulative, routes.counts, rows,
                    np.array([progress.index for progress in progresses], dtype=np.int64), heroes,
                    np.array([route.hero.id for route in obstacles], dtype=np.int64), table.ids, table.positions,
                    table.velocities, table.yaws, table.extents, table.walkers, out)
    return out


@njit(cache=True)
def features_kernel(route_points: np.ndarray, route_forward: np.ndarray, route_cumulative: np.ndarray,
                    route_counts: np.ndarray, route_rows: np.ndarray, starts: np.ndarray, heroes: np.ndarray,
                    hero_ids: np.ndarray, ids: np.ndarray, positions: np.ndarray, velocities: np.ndarray,
                    yaws: np.ndarray, extents: np.ndarray, walkers: np.ndarray, out: np.ndarray) -> None:
    """:data:`OBSTACLE_FEATURES` of every hero ``h`` into ``out[h]``: its route is row ``route_rows[h]`` of the
    route rows (points, forward vectors, cumulative metres, point counts), its last passed point ``starts[h]``, its
    stretch ahead the points up to the first ``horizon + front`` metres on (as ``RouteProgress.index_after`` finds
    it), ``heroes[h]`` its x, y, velocity x, y, front and horizon; the actors are the world's table (ids, box
    centres, velocities, yaws, half extents, walker or not). The actors near a hero are kept as rows of the table
    in buffers made once a call (no array made a hero: a thousand small ones a tick of 32 heroes, otherwise)."""
    rows = np.empty(ids.shape[0], dtype=np.int64)  # the actors near the hero
    crossing = np.empty(ids.shape[0], dtype=np.int64)  # those not on its route yet
    gaps, first = np.empty(ids.shape[0]), np.empty(ids.shape[0], dtype=np.int64)
    for h in range(heroes.shape[0]):
        x, y, vx, vy, front, horizon = heroes[h, 0], heroes[h, 1], heroes[h, 2], heroes[h, 3], heroes[h, 4], \
            heroes[h, 5]
        out[h, 0], out[h, 1], out[h, 2], out[h, 3], out[h, 4] = 1.0, 0.0, 0.0, 0.0, 0.0  # none_ahead()
        out[h, 5], out[h, 6], out[h, 7] = 1.0, 0.0, 1.0
        limit = horizon + front + 10.0 + SPEED_SCALE * CROSSING_TIMES[-1]
        count = 0
        for b in range(ids.shape[0]):
            if ids[b] != hero_ids[h] and np.hypot(positions[b, 0] - x, positions[b, 1] - y) < limit:
                rows[count] = b
                count += 1
        route_row, start = route_rows[h], starts[h]
        cumulative, points_in_row = route_cumulative[route_row], route_counts[route_row]
        end = min(first_reaching(cumulative, points_in_row, cumulative[start] + (horizon + front)),
                  points_in_row - 1) + 1
        if end - start < 2 or count == 0:
            continue
        route, forward = route_points[route_row, start:end, :2], route_forward[route_row, start:end]
        along_route = cumulative[start:end] - cumulative[start]
        route_gaps(route, forward, along_route, positions, velocities, 0.0, yaws, extents, rows, count, front,
                   CORRIDOR, gaps, first)
        k = -1
        for i in range(count):  # the nearest on the route (the first of equals)
            if not math.isnan(gaps[i]) and (k < 0 or gaps[i] < gaps[k]):
                k = i
        if k >= 0:
            row, gap = rows[k], gaps[k]
            dx, dy = forward[first[k], 0], forward[first[k], 1]
            along = velocities[row, 0] * dx + velocities[row, 1] * dy
            hero_along = vx * dx + vy * dy
            if gap < horizon:
                out[h, 0], out[h, 1], out[h, 2] = gap / horizon, math.exp(-gap / NEAR_SCALE), along / SPEED_SCALE
                out[h, 3], out[h, 4] = (hero_along - along) / SPEED_SCALE, 1.0 if walkers[row] else 0.0
        waiting = 0  # the actors off the route, in order
        for i in range(count):
            if math.isnan(gaps[i]):
                crossing[waiting] = rows[i]
                waiting += 1
        best_gap, best_time = horizon, CROSSING_TIMES[-1]
        for seconds in CROSSING_TIMES:
            if waiting == 0:
                break
            route_gaps(route, forward, along_route, positions, velocities, seconds, yaws, extents, crossing, waiting,
                       front, CORRIDOR, gaps, first)
            nearest, hit = gaps[0], False  # (np.nanmin's: the last of equal least gaps)
            for i in range(waiting):
                if not math.isnan(gaps[i]):
                    hit = True
                    if not nearest < gaps[i]:
                        nearest = gaps[i]
            if hit and nearest < best_gap:
                best_gap, best_time = nearest, seconds
            still = 0  # each actor counted at its first time on the route
            for i in range(waiting):
                if math.isnan(gaps[i]):
                    crossing[still] = crossing[i]
                    still += 1
            waiting = still
        if best_gap < horizon:
            out[h, 5], out[h, 6], out[h, 7] = best_gap / horizon, math.exp(-best_gap / NEAR_SCALE), \
                best_time / CROSSING_TIMES[-1]


@njit(cache=True, inline="always")
def route_gaps(points: np.ndarray, forward: np.ndarray, route_metres: np.ndarray, positions: np.ndarray,
               velocities: np.ndarray, seconds: float, yaws: np.ndarray, extents: np.ndarray, rows: np.ndarray,
               count: int, front: float, corridor: float, gaps: np.ndarray, first: np.ndarray) -> None:
    """For each of the first ``count`` actors ``rows`` of the table (box centre ``positions``, moved on at its
    ``velocities`` for ``seconds`` where that is not 0, ``yaws``, half ``extents``): into ``gaps[i]`` the metres from
    ``front`` metres along the route to the box's nearest corner (0 when they overlap), NaN where the box is not on
    the route ahead (no route point within ``corridor`` metres of it, or behind the hero); into ``first[i]`` the first
    route point within ``corridor`` of it (-1: none). Compiled: a handful of boxes against a few hundred route points,
    several times a step for every hero, where NumPy's per-call cost was a third of the traffic experiment's step."""
    for i in range(count):
        b = rows[i]
        if seconds == 0.0:
            centre_x, centre_y = positions[b, 0], positions[b, 1]
        else:
            centre_x = positions[b, 0] + velocities[b, 0] * seconds
            centre_y = positions[b, 1] + velocities[b, 1] * seconds
        gaps[i], first[i] = np.nan, -1
        c, s = math.cos(yaws[b]), math.sin(yaws[b])
        for j in range(points.shape[0]):
            dx, dy = points[j, 0] - centre_x, points[j, 1] - centre_y
            out_x = max(abs(dx * c + dy * s) - extents[b, 0], 0.0)
            out_y = max(abs(-dx * s + dy * c) - extents[b, 1], 0.0)
            if math.sqrt(out_x * out_x + out_y * out_y) < corridor:
                first[i] = j
                break
        j = first[i]
        if j < 0:
            continue
        low, high = np.inf, -np.inf
        for sx in (1.0, -1.0):
            for sy in (1.0, -1.0):
                ex, ey = extents[b, 0] * sx, extents[b, 1] * sy
                corner_x, corner_y = centre_x + c * ex - s * ey, centre_y + s * ex + c * ey
                along = (corner_x - points[j, 0]) * forward[j, 0] + (corner_y - points[j, 1]) * forward[j, 1]
                low, high = min(low, along), max(high, along)
        if route_metres[j] + high > 0.0:  # a follower is not in the hero's way
            gaps[i] = max(route_metres[j] + low - front, 0.0)
