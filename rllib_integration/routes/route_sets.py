"""Dense routes from route files, and seeded route sets for any town (train / validation / test splits).

:func:`dense_route` joins the planner's shortest routes between a route's sparse waypoints, as the
Leaderboard densifies its routes. :func:`generate_routes` draws routes of 1-2 km (by default) from
the town's spawn points: each starts as far as it can from the starts drawn before (so a set spreads
over the town), goes on to random destinations until it is long enough (small towns loop), and
never makes a U-turn; the sparse waypoints it keeps (every :data:`SPARSE_STEP` metres) densify back
to the same route.
"""

from __future__ import annotations

import math
import random

import carla
import numpy as np
from numba import njit

from .planner import RoadOption, RoutePlanner, distance_to, point_distance, route_poses, step_lengths
from .route_files import RouteSpec

SPARSE_STEP = 25.0  # metres between the kept waypoints of a generated route
U_TURN = math.radians(150.0)  # a heading change this large within 15 m is a U-turn
CANDIDATES = 8  # starts drawn per route, the farthest from earlier starts is kept

Route = list[tuple[carla.Waypoint, RoadOption]]


def dense_route(planner: RoutePlanner, spec: RouteSpec) -> Route:
    """The route through ``spec``'s waypoints, every ``planner.resolution`` metres. It ends as CARLA's
    ``GlobalRoutePlanner`` ends the Leaderboard's routes: at the first of its last points within two resolutions
    of the destination (the route completion of a hero stopping just short of the end agrees with the
    Leaderboard's)."""
    route: Route = []
    for a, b in zip(spec.waypoints[:-1], spec.waypoints[1:]):
        piece = planner.trace_route(a, b)
        route.extend(piece if not route else piece[1:])
    return ended_as_planned(route, spec.waypoints[-1], 2.0 * planner.resolution)


def ended_as_planned(route: Route, end: carla.Location, reach: float, poses: np.ndarray | None = None) -> Route:
    """``route`` cut at the first of its last points within ``reach`` metres of ``end`` (:func:`dense_route`);
    ``poses``: its :func:`~.planner.route_poses`, where the caller has them (the same 32-bit distances, no
    transform read a point)."""
    if poses is not None:
        return route[:_last_kept(poses, end.x, end.y, end.z, reach) + 1]
    last = len(route) - 1
    while last > 1 and route[last - 1][0].transform.location.distance(end) < reach:
        last -= 1
    return route[:last + 1]


@njit(cache=True)
def _last_kept(poses: np.ndarray, x: float, y: float, z: float, reach: float) -> int:
    """:func:`ended_as_planned`'s last point of a route whose poses are ``poses``, the end at (x, y, z): from the
    route's end back, by :func:`~.planner.location_distances`' 32-bit arithmetic (the points near the end only)."""
    bx, by, bz = np.float32(x), np.float32(y), np.float32(z)
    last = poses.shape[0] - 1
    while last > 1 and distance_to(poses, last - 1, bx, by, bz) < reach:
        last -= 1
    return last


def has_u_turn(route: Route, window: float = 15.0) -> bool:
    """Whether the heading turns by more than 150 degrees within ``window`` metres."""
    return u_turn_in(route_poses(route), window)


def u_turn_in(poses: np.ndarray, window: float = 15.0) -> bool:
    """:func:`has_u_turn` of a route whose :func:`~.planner.route_poses` are ``poses``."""
    if len(poses) < 2:
        return False
    first_step = point_distance(poses, 0, 1)
    step = max(1, int(round(window / max(first_step, 0.1))))
    return _turns_beyond(poses, step, math.degrees(U_TURN))


@njit(cache=True)
def _turns_beyond(poses: np.ndarray, step: int, limit: float) -> bool:
    """Whether the yaw (degrees, ``poses[:, 3]``) turns by more than ``limit`` from any pose to the one ``step``
    on (one compiled pass where the NumPy expression took several arrays a call, a route drawn calling it twice)."""
    for k in range(poses.shape[0] - step):
        if abs((poses[k + step, 3] - poses[k, 3] + 180.0) % 360.0 - 180.0) > limit:
            return True
    return False


def sparse_points(route: Route, step: float = SPARSE_STEP,
                  poses: np.ndarray | None = None) -> tuple[list[carla.Location], list[float]]:
    """Waypoints every ``step`` metres along a dense route (and its ends), with their yaws; never in
    a junction or a lane change, where a point could snap to another lane. ``poses``: the route's
    :func:`~.planner.route_poses`, where the caller has them."""
    poses = route_poses(route) if poses is None else poses
    steps = [0.0] + step_lengths(poses[:, :3]).tolist()
    poses = poses.tolist()
    following = [option == RoadOption.LANEFOLLOW for _, option in route]
    points, yaws, travelled = [], [], 0.0
    for index, (waypoint, _) in enumerate(route):
        travelled += steps[index]
        if index == 0 or index == len(route) - 1 or travelled >= step and following[index] and \
                all(following[index + 1:index + 4]) and not waypoint.is_junction:
            x, y, z, yaw = poses[index]
            points.append(carla.Location(x, y, z))
            yaws.append(yaw)
            travelled = 0.0
    return points, yaws


def generate_routes(planner: RoutePlanner, town: str, count: int, seed: int = 0, min_length: float = 1000.0,
                    max_length: float = 2000.0, first_id: int = 0) -> list[RouteSpec]:
    """``count`` routes of ``min_length``-``max_length`` metres on the planner's map, from ``seed``."""
    specs = []
    for route, poses in _draw(planner, town, count, seed, min_length, max_length):
        points, yaws = sparse_points(route, poses=poses)
        specs.append(RouteSpec(str(first_id + len(specs)), town, points, yaws))
    return specs


def draw_route(planner: RoutePlanner, town: str, seed: int, min_length: float, max_length: float) -> Route:
    """The dense route of ``generate_routes(planner, town, 1, seed, min_length, max_length)``'s route as drawn,
    ended as :func:`dense_route` ends it, without tracing its sparse waypoints again: what an episode drives (its
    sparse waypoints densify back to it, but for a lane a sparse point snaps to otherwise now and then)."""
    [(route, poses)] = _draw(planner, town, 1, seed, min_length, max_length)
    x, y, z, _ = poses[-1].tolist()  # the last of the sparse waypoints
    ended = ended_as_planned(route, carla.Location(x, y, z), 2.0 * planner.resolution, poses)
    planner.remember(ended, poses[:len(ended)])  # (what the episode's progress reads next)
    return ended


def _draw(planner: RoutePlanner, town: str, count: int, seed: int, min_length: float,
          max_length: float) -> list[tuple[Route, np.ndarray]]:
    """:func:`generate_routes`'s routes as drawn (dense), each with its poses (:func:`~.planner.route_poses`)."""
    if not 0 < min_length <= max_length:
        raise ValueError(f"route lengths must satisfy 0 < min_length <= max_length, got {min_length}, {max_length}")
    rng = random.Random(seed)
    spots = planner.spawn_locations
    if len(spots) < 2:
        raise ValueError(f"{town} has fewer than two spawn points to draw routes between")
    starts: list[carla.Location] = []
    routes: list[tuple[Route, np.ndarray]] = []
    attempts = 0
    while len(routes) < count:
        attempts += 1
        if attempts > 50 * count:
            raise ValueError(f"could draw only {len(routes)} of {count} routes of {min_length:g}-{max_length:g} m "
                             f"on {town}. Fix: ask for fewer or shorter routes")
        candidates = rng.sample(spots, min(CANDIDATES, len(spots)))
        start = max(candidates, key=lambda c: min((c.distance(s) for s in starts), default=0.0))
        wandered = _wander(planner, rng, spots, start, min_length, max_length)
        if wandered is None:
            continue
        routes.append(wandered)
        starts.append(start)
    return routes


def _wander(planner: RoutePlanner, rng: random.Random, spots: list[carla.Location], start: carla.Location,
            min_length: float, max_length: float) -> tuple[Route, np.ndarray] | None:
    """A route from ``start`` through random destinations, between the lengths and without U-turns, and its
    poses (each piece's read once as the route grows)."""
    route: Route = []
    poses = np.zeros((0, 4))
    travelled = np.zeros(0)  # the distance from the first point to each next one, a step at a time (as
    here = start             # route_length sums them), grown piece by piece
    for _ in range(12):
        there = rng.choice(spots)
        if there.distance(here) < 50.0:
            continue
        try:
            piece = planner.trace_route(here, there)
        except ValueError:
            continue
        candidate = route + (piece if not route else piece[1:])
        candidate_poses = np.concatenate([poses, planner.poses_of(piece)[1 if route else 0:]])
        if u_turn_in(candidate_poses[max(len(route) - 20, 0):]):
            continue
        steps = step_lengths(candidate_poses[max(len(poses) - 1, 0):, :3])  # the new points' steps
        so_far = travelled[-1:]  # (none before the first piece)
        travelled = np.concatenate([travelled, np.cumsum(np.concatenate([so_far, steps]))[len(so_far):]])
        length = float(travelled[-1]) if len(travelled) else 0.0
        if length > max_length:
            end = points_reaching(travelled, rng.uniform(min_length, max_length))
            return None if u_turn_in(candidate_poses[:end]) else (candidate[:end], candidate_poses[:end])
        route, poses, here = candidate, candidate_poses, there
        if length >= min_length:
            return route, poses
    return None


def points_reaching(travelled: np.ndarray, length: float) -> int:
    """How many points of a route reach ``length`` metres, ``travelled`` the distance from its first point to each
    next one (the cumulative sum of its steps; all the points where it is shorter)."""
    return int(np.searchsorted(travelled, length, side="left")) + 2 if len(travelled) and travelled[-1] >= length \
        else len(travelled) + 1
