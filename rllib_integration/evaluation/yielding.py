"""The autopilot's look at crossing traffic before and in a junction (a vehicle running its red light, or
taking priority it does not have, as the Leaderboard 2.0's junction scenarios send), and along the route's lane
before it pulls out onto it (:func:`pulling_out_blocked`: ParkingExit), through the carla API only.

:func:`crossing_conflict` predicts every moving vehicle near the junction at constant velocity for
:data:`HORIZON` seconds and the hero along its route speeding up from its speed, slowing where the route turns
(:func:`speed_profile`: predicted at full speed through a turn, the hero found a conflict only once inside the junction,
where it then stood in the crossing traffic's way).

- A vehicle that would be on a point of the hero's path from :data:`TIME_GAP` seconds before the hero reaches it
  until :data:`TIME_GAP` seconds after the hero's length has passed it is a conflict of kind ``"vehicle"``: the
  autopilot edges forward until there is none (the traffic manager's and the scenarios' cars stop for what stands
  in their way, so the hero gets its turn), but stands still while one is too near to stop short of its path
  comfortably (:data:`STOP_DECELERATION`, :data:`STOP_MARGIN`): edging into its way then, the hero made it stop
  with its nose across the hero's turn, which the hero then ran into.
- A two-wheeler (predicted :data:`RIDER_HORIZON` seconds: a flow of bicycles along a biking lane stops for nobody)
  is a conflict of kind ``"rider"`` when the hero's whole crossing of its way does not fit before or after it
  with :data:`RIDER_TIME_GAP` seconds to spare (:func:`crosses_in_time`; with a second, as for cars, gaps fitting the
  crossing were so rare in CrossingBicycleFlow that the hero waited the whole scenario on 7 of 32 seeds); the
  autopilot drives on to :data:`YIELD_SETBACK` metres short of that way and waits there, braked.

The hero goes on rather than stand in a crossing vehicle's way: the points of its path it covers already do not
count, nor does a vehicle whose predicted way the hero's footprint comes within :data:`ON_ITS_WAY_MARGIN` of, any
part of it (:func:`body_on_its_way`; braking there left it across a flow's lane, where the flow's cars stopped for it
and it for them, or in a biking lane, where the bicycles ran into it). Vehicles driving the hero's way (its leaders
and followers, the traffic manager's business) are left out: a leader already on the hero's path at the points it
shares with it (one driving beside the hero, off its path, that merges into it from a ramp is not: HighwayCutIn),
and a follower anywhere (where the route leaves its lane at a sharp kink, as at a motorway exit, a follower's
straight line crosses the hero's path).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ..routes.progress import Route

LOOK_AHEAD = 30  # route points (metres) ahead in which a junction makes the autopilot look
PATH_POINTS = 40  # route points (metres) of the hero's path predicted
HORIZON, STEP = 4.0, 0.25  # seconds predicted, and their step
RIDER_HORIZON = 6.0  # seconds a two-wheeler is predicted: a flow of them along a biking lane stops for nothing
ACCELERATION, CRUISE = 2.0, 8.0  # m/s², m/s: how the hero is assumed to go on from its speed
TURN_ACCELERATION = 1.5  # m/s² across its way the hero is assumed to turn at (the traffic manager's)
TURN_WINDOW = 4  # path points (about a metre apart) a turn's radius is measured over
TIME_GAP = 1.0  # seconds between the hero and a crossing vehicle at the same place: a conflict
RIDER_TIME_GAP = 0.6  # seconds between the hero's crossing of a two-wheeler's way and the two-wheeler
STOP_DECELERATION, STOP_MARGIN = 4.0, 8.0  # m/s², metres: a crossing vehicle nearer than it stops in is "near"
OCCUPANCY_MARGIN = 2.0  # metres added to the hero's length while it covers a point
CLEARANCE = 3.0  # metres between the predicted centres that count as the same place
SAME_WAY = 35.0  # degrees: a vehicle heading within this of the hero's path drives its way
NEAR = 60.0  # metres: vehicles farther than this from the hero are not looked at
MOVING = 1.0  # m/s: slower vehicles are not predicted (standing ones are the traffic manager's leaders)
MERGE_SIDE = 8.0  # metres: a vehicle beside the hero driving its way, off its path, within this may merge into it
YIELD_SETBACK = 2.5  # metres short of where it would stand in a rider's way the hero waits
ZONE_MARGIN = 0.5  # metres added to both footprints where a rider's way and the hero's path meet
ON_ITS_WAY_MARGIN = 0.3  # metres past a crossing vehicle's side the hero counts as on its way
PULL_OUT_SPEED = 1.0  # m/s: the hero this slow off the route's lane is pulling out (a parking place)
PULL_OUT_BEHIND, PULL_OUT_AHEAD = 10.0, 12.0  # metres of the route's lane a pull-out needs free ...
PULL_OUT_TIME = 3.0  # ... and seconds of a vehicle coming up behind at its speed


def near_junction(route: Route, index: int) -> bool:
    """Whether the route enters or is in a junction within :data:`LOOK_AHEAD` points of ``index``."""
    return any(w.is_junction for w, _ in route[index:index + LOOK_AHEAD])


def speed_profile(along: np.ndarray, headings: np.ndarray, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """The hero's speed at each point of its path (``along``: metres to each, ``headings`` in degrees) and the
    seconds it takes to reach each: speeding up from ``speed`` at :data:`ACCELERATION` to :data:`CRUISE` at most (the
    traffic manager's pace through a junction), and no faster in a turn than :data:`TURN_ACCELERATION` allows on its
    radius (measured over :data:`TURN_WINDOW` points)."""
    speed = min(speed, CRUISE)
    caps = np.full(len(along), CRUISE)
    if len(along) > TURN_WINDOW:
        turn = np.abs((headings[TURN_WINDOW:] - headings[:-TURN_WINDOW] + 180.0) % 360.0 - 180.0)
        radius = (along[TURN_WINDOW:] - along[:-TURN_WINDOW]) / np.maximum(np.radians(turn), 1e-3)
        window_caps = np.sqrt(TURN_ACCELERATION * radius)
        for k, cap in enumerate(window_caps):  # each point of a window is as slow as the window's turn allows
            caps[k:k + TURN_WINDOW + 1] = np.minimum(caps[k:k + TURN_WINDOW + 1], cap)
    speeds = np.minimum(np.sqrt(speed ** 2 + 2.0 * ACCELERATION * along), caps)
    first = along[0] / max(0.5 * (speed + speeds[0]), 0.5)
    middle = np.maximum(0.5 * (speeds[:-1] + speeds[1:]), 0.5)
    return np.concatenate([[first], first + np.cumsum(np.diff(along) / middle)]), speeds


class Conflict(NamedTuple):
    """What the hero yields to: ``kind`` ``"vehicle"`` (it stops for what stands in its way, so the hero may edge
    forward), ``"rider"`` (a two-wheeler of a flow that stops for nobody) or ``"pull-out"`` (a vehicle coming along
    the lane the hero waits to pull out onto), and the ``room``: metres of its path the hero may still drive (for a
    rider, to wait :data:`YIELD_SETBACK` short of its way; none for a pull-out); for vehicles, ``creep``: whether
    each is far enough from the hero's path to stop short of it should the hero edge into its way."""

    kind: str
    room: float = 0.0
    creep: bool = True


def crossing_conflict(world: Any, hero: Any, route: Route, index: int) -> Conflict | None:
    """The moving vehicle crossing the hero's path that will be where the hero is, if one (a rider first; see the
    module docstring)."""
    path = route[index:index + PATH_POINTS]
    if len(path) < 2:
        return None
    points = np.array([[w.transform.location.x, w.transform.location.y] for w, _ in path])
    hero_location = hero.get_location()
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    along += math.hypot(points[0, 0] - hero_location.x, points[0, 1] - hero_location.y)
    headings = np.array([w.transform.rotation.yaw for w, _ in path])
    arrival, speed_there = speed_profile(along, headings, hero.get_velocity().length())
    # the hero covers a point from its arrival until its length (and a margin) has passed it
    leaves = arrival + (2.0 * hero.bounding_box.extent.x + OCCUPANCY_MARGIN) / np.maximum(speed_there, 1.0)
    times = np.arange(0.0, HORIZON + 1e-9, STEP)
    rider_times = np.arange(0.0, RIDER_HORIZON + 1e-9, STEP)
    front = hero.bounding_box.extent.x
    hero_transform = hero.get_transform()
    hero_forward, hero_yaw = hero_transform.get_forward_vector(), hero_transform.rotation.yaw
    conflict, rider_arrival = None, None
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id:
            continue
        velocity = vehicle.get_velocity()
        speed = math.hypot(velocity.x, velocity.y)
        location = vehicle.get_location()
        if speed < MOVING or location.distance(hero_location) > NEAR:
            continue
        heading = math.degrees(math.atan2(velocity.y, velocity.x))
        behind = (location.x - hero_location.x) * hero_forward.x + (location.y - hero_location.y) * hero_forward.y < 0
        if behind and abs((heading - hero_yaw + 180.0) % 360.0 - 180.0) < SAME_WAY:
            continue  # a follower (where the route leaves its lane at a kink, too): it keeps its distance
        rider = vehicle.attributes.get("number_of_wheels") == "2"
        steps = rider_times if rider else times
        xs, ys = location.x + velocity.x * steps, location.y + velocity.y * steps
        d2 = (xs[:, None] - points[None, :, 0]) ** 2 + (ys[:, None] - points[None, :, 1]) ** 2
        close_t, close_k = np.nonzero(d2 < CLEARANCE ** 2)
        merging = abs((heading - hero_yaw + 180.0) % 360.0 - 180.0) < SAME_WAY and \
            not np.any(d2[0] < CLEARANCE ** 2) and abs(
                (location.x - hero_location.x) * hero_forward.y - (location.y - hero_location.y) * hero_forward.x) < MERGE_SIDE
        if not merging and body_on_its_way(hero_transform, hero.bounding_box.extent, xs, ys,
                                           vehicle.bounding_box.extent.y + ON_ITS_WAY_MARGIN):
            continue  # the hero stands on its way already: better on across it than standing in it
        if rider and not merging:  # a bicycle flow stops for nobody: the hero takes a gap its crossing fits in
            if rider_arrival is None:  # (a bicycle flow's gaps are judged at the hero's pace as if straight on: at
                # the turn's pace no gap of one fitted the crossing, and the hero waited the whole scenario)
                rider_arrival, _ = speed_profile(along, np.zeros(len(along)), hero.get_velocity().length())
            first = crosses_in_time(points, headings, rider_arrival, hero.bounding_box.extent, location, velocity,
                                    vehicle.bounding_box.extent, steps[-1])
            if first is not None:
                room = max(along[first] - YIELD_SETBACK, 0.0)
                if conflict is not None and conflict.kind == "rider":
                    room = min(room, conflict.room)  # the nearest rider's way
                conflict = Conflict("rider", room)
            continue
        for t, k in zip(close_t, close_k):
            if along[k] < front:
                continue  # a point the hero covers already: better on off it than standing on it
            if not merging and abs((heading - headings[k] + 180.0) % 360.0 - 180.0) < SAME_WAY:
                continue  # driving the hero's way at that place
            if arrival[k] - TIME_GAP < steps[t] < leaves[k] + TIME_GAP:
                near = speed * steps[t] < speed * speed / (2.0 * STOP_DECELERATION) + STOP_MARGIN
                if conflict is None:
                    conflict = Conflict("rider" if rider else "vehicle", creep=not near)
                elif rider and conflict.kind == "rider":
                    conflict = Conflict("rider")
                elif near and conflict.kind == "vehicle":
                    conflict = Conflict("vehicle", conflict.room, creep=False)
                break
    return conflict


def crosses_in_time(points: np.ndarray, headings: np.ndarray, arrival: np.ndarray, extent: Any, location: Any,
                    velocity: Any, other_extent: Any, horizon: float, gap: float = RIDER_TIME_GAP) -> int | None:
    """For a vehicle crossing the hero's path (``points``, their ``headings`` in degrees, the hero's ``arrival``
    there) at constant ``velocity`` from ``location``: the first point of the stretch where the hero would be in its
    way, if the vehicle is in the hero's way while the hero is in its way, give or take ``gap`` seconds (else None).
    The hero is in its way while its footprint (``extent``) overlaps the band the vehicle's footprint sweeps
    (``other_extent``, plus :data:`ZONE_MARGIN`); the vehicle is in the hero's way while its centre is within its half
    length and the hero's half size of the path points of that stretch. A vehicle driving the hero's way there
    (within :data:`SAME_WAY`), past that stretch, or more than ``horizon`` seconds from it is not."""
    speed = math.hypot(velocity.x, velocity.y)
    dx, dy = velocity.x / speed, velocity.y / speed
    rel_x, rel_y = points[:, 0] - location.x, points[:, 1] - location.y
    lon, lat = rel_x * dx + rel_y * dy, rel_x * dy - rel_y * dx
    theta = np.radians(headings) - math.atan2(dy, dx)
    across = extent.x * np.abs(np.sin(theta)) + extent.y * np.abs(np.cos(theta))  # the hero's half size across its way
    crossing = np.degrees(np.abs((theta + math.pi) % (2.0 * math.pi) - math.pi)) >= SAME_WAY  # (else its way there)
    inside = (np.abs(lat) < other_extent.y + across + ZONE_MARGIN) & crossing
    if not inside.any():
        return None  # not in its way, or driving the hero's way there (a leader, the traffic manager's business)
    first = int(np.argmax(inside))
    run = inside[first:]  # the stretch: from the first point inside to the last before one outside
    last = first + (len(run) if run.all() else int(np.argmin(run))) - 1
    stretch = slice(first, last + 1)
    along_its_way = extent.x * np.abs(np.cos(theta[stretch])) + extent.y * np.abs(np.sin(theta[stretch]))
    reach = other_extent.x + float(np.max(along_its_way)) + ZONE_MARGIN
    enters, leaves = (float(np.min(lon[stretch])) - reach) / speed, (float(np.max(lon[stretch])) + reach) / speed
    if leaves < 0.0 or enters > horizon:
        return None
    return first if enters < arrival[last] + gap and leaves > arrival[first] - gap else None


def body_on_its_way(transform: Any, extent: Any, xs: np.ndarray, ys: np.ndarray, half_width: float) -> bool:
    """Whether the footprint of a vehicle at ``transform`` (half sizes ``extent``) comes within ``half_width`` of the
    way another vehicle's predicted centres (``xs``, ``ys``, in time order) sweep, ahead of where it is: in the
    footprint's frame, a step of that way crosses the footprint, or the nearest of a step's ends to the footprint, or
    of the footprint's corners to a step, is within ``half_width`` (the distance of a segment and a rectangle)."""
    forward, right = transform.get_forward_vector(), transform.get_right_vector()
    norm_f, norm_r = math.hypot(forward.x, forward.y) or 1.0, math.hypot(right.x, right.y) or 1.0
    dx, dy = xs - transform.location.x, ys - transform.location.y
    u = (dx * forward.x + dy * forward.y) / norm_f  # along the footprint
    v = (dx * right.x + dy * right.y) / norm_r  # to its right
    ex, ey = extent.x, extent.y
    if np.min(np.hypot(np.maximum(np.abs(u) - ex, 0.0), np.maximum(np.abs(v) - ey, 0.0))) <= half_width:
        return True  # a predicted centre near the footprint
    a = np.stack([u[:-1], v[:-1]], axis=1)
    ab = np.stack([np.diff(u), np.diff(v)], axis=1)
    length2 = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
    for corner in ((ex, ey), (ex, -ey), (-ex, ey), (-ex, -ey)):
        t = np.clip(np.einsum("ij,ij->i", np.asarray(corner) - a, ab) / length2, 0.0, 1.0)
        nearest = a + ab * t[:, None]
        if np.min(np.hypot(nearest[:, 0] - corner[0], nearest[:, 1] - corner[1])) <= half_width:
            return True  # a step passing near a corner
    # a step across the footprint (its ends outside it): where it meets an edge's line, within that edge
    u0, v0, du, dv = a[:, 0], a[:, 1], ab[:, 0], ab[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for edge in (-ex, ex):
            t = (edge - u0) / du
            if np.any((t >= 0.0) & (t <= 1.0) & (np.abs(v0 + t * dv) <= ey)):
                return True
        for edge in (-ey, ey):
            t = (edge - v0) / dv
            if np.any((t >= 0.0) & (t <= 1.0) & (np.abs(u0 + t * du) <= ex)):
                return True
    return False


def pulling_out_blocked(world: Any, town_map: Any, hero: Any, route: Route, index: int) -> bool:
    """Whether the hero, standing (slower than :data:`PULL_OUT_SPEED`) beside the route's lane (its centre outside
    the lane: a parking place), must wait: a vehicle on the route's lane from :data:`PULL_OUT_BEHIND` metres (plus
    :data:`PULL_OUT_TIME` seconds at its speed) behind it to :data:`PULL_OUT_AHEAD` metres ahead."""
    if hero.get_velocity().length() > PULL_OUT_SPEED or index >= len(route):
        return False
    waypoint = route[index][0]
    lane, location = waypoint.transform, hero.get_location()
    right, forward = lane.get_right_vector(), lane.get_forward_vector()
    if abs((location.x - lane.location.x) * right.x + (location.y - lane.location.y) * right.y) <= \
            waypoint.lane_width / 2.0:
        return False
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id:
            continue
        other = vehicle.get_location()
        along = (other.x - location.x) * forward.x + (other.y - location.y) * forward.y
        if not -(PULL_OUT_BEHIND + PULL_OUT_TIME * vehicle.get_velocity().length()) <= along <= PULL_OUT_AHEAD:
            continue
        on = town_map.get_waypoint(other)
        if on is not None and (on.road_id, on.lane_id) == (waypoint.road_id, waypoint.lane_id):
            return True
    return False
