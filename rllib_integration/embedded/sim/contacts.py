"""How a vehicle meets what it hits, compiled with numba: contacts resolved as a rigid-body solver
(PhysX, in CARLA) resolves them, never by putting the vehicle back or holding it.

- **Solid objects** (buildings, poles, walls, rails, trunks: the object raster of
  :mod:`..maps.static_world`): a vehicle whose outline enters one is pushed out of it along the
  surface's normal; its velocity loses the part that drives into the surface (bouncing back at
  :data:`RESTITUTION` of it) and the surface's friction (:data:`FRICTION`) brakes the part along it,
  so a glancing contact slides; the impulse about the vehicle's centre turns it (a car scraping a
  wall swings parallel to it). A vehicle steering or reversing away simply leaves.
- **Curbs** (the sidewalk raster, :data:`..maps.static_world.CURB_HEIGHT` high): below
  ``climb_speed`` a wheel rolls onto the sidewalk; faster, a wheel meeting the curb at more than
  :data:`CURB_GLANCE` degrees climbs it and costs the vehicle :data:`CURB_KEEP` of its speed (a jolt
  the collision sensor reports with ``static.sidewalk``, which the Leaderboard does not count); at a
  shallower angle the curb deflects the vehicle along it (the normal part of its velocity goes).
- **Other actors** (:func:`apply_velocity_change`): :mod:`.collisions` pushes overlapping boxes
  apart and exchanges impulses through this module's helpers.

A surface's normal at a point is read off the raster around it (away from the centroid of the
occupied pixels within :data:`NORMAL_RADIUS`), so a pole pushes radially and a wall straight out,
whatever the pixel staircase; the depth is found by walking along the normal until the raster is free.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .vehicle_kernel import FROZEN, HALF_LENGTH, HALF_WIDTH, INERTIA, MASS, REAR_AXLE, SPEED, SPIN, TRACK, VY, \
    WHEELBASE, X, Y, YAW

RESTITUTION = 0.1  # share of the speed into a solid surface it gives back
FRICTION = 0.4  # Coulomb friction of a scraped surface (tangential impulse <= FRICTION x normal impulse)
CURB_GLANCE = 20.0  # degrees: a curb met at a shallower angle deflects the vehicle, at a steeper one it is climbed
CURB_KEEP = 0.7  # share of the speed a vehicle keeps when it climbs a curb faster than the climbing speed
NORMAL_RADIUS = 1.5  # metres of raster around a contact point that give the surface's normal
SEPARATION = 0.03  # metres left between a vehicle and the surface it was pushed off
PUSH_ITERATIONS = 4  # outline points pushed out one after another, the deepest first

#: Outline points of a vehicle body in units of (half length, half width): 5 across the front, 5
#: across the back, 3 along each side.
OUTLINE = np.array([(1.0, y) for y in (-1.0, -0.5, 0.0, 0.5, 1.0)] + [(-1.0, y) for y in (-1.0, -0.5, 0.0, 0.5, 1.0)]
                   + [(x, side) for x in (-0.5, 0.0, 0.5) for side in (-1.0, 1.0)])
#: What :func:`static_contacts` reports per vehicle.
NO_HIT, SOLID_HIT, CURB_HIT = 0, 1, 2
#: "Occupied" lookup of the sidewalk raster (its values are 0 and 1).
SIDEWALK_OCCUPIED = np.array([False, True])


@njit(cache=True, inline="always")
def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@njit(cache=True, inline="always")
def _pixel(x: float, y: float, origin_x: float, origin_y: float, ppm: float, height: int, width: int):
    row = min(max(int((y - origin_y) * ppm), 0), height - 1)
    col = min(max(int((x - origin_x) * ppm), 0), width - 1)
    return row, col


@njit(cache=True, inline="always")
def occupied_at(grid: np.ndarray, occupied: np.ndarray, x: float, y: float, origin_x: float, origin_y: float,
                ppm: float) -> int:
    """The raster value at a world point when it counts as occupied (``occupied[value]``), else 0."""
    r, c = _pixel(x, y, origin_x, origin_y, ppm, grid.shape[0], grid.shape[1])
    value = grid[r, c]
    return int(value) if occupied[value] else 0


@njit(cache=True)
def surface_normal(grid: np.ndarray, occupied: np.ndarray, x: float, y: float, origin_x: float, origin_y: float,
                   ppm: float, radius: float) -> tuple[float, float, float]:
    """``(depth, nx, ny)`` of a world point in the occupied region of a raster: the outward normal
    (away from the occupied pixels' centroid within ``radius``) and how far along it the region ends
    (0 outside it; more than ``radius`` when no way out was found; normal (0, 0) when none)."""
    height, width = grid.shape
    r0, c0 = int((y - origin_y) * ppm), int((x - origin_x) * ppm)
    reach = int(radius * ppm)
    sx = sy = 0.0
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            if dr * dr + dc * dc > reach * reach:
                continue
            r, c = r0 + dr, c0 + dc
            if 0 <= r < height and 0 <= c < width and occupied[grid[r, c]]:
                sx += origin_x + (c + 0.5) / ppm - x
                sy += origin_y + (r + 0.5) / ppm - y
    norm = math.hypot(sx, sy)
    if norm < 1e-9:
        return (0.0 if occupied_at(grid, occupied, x, y, origin_x, origin_y, ppm) == 0 else 2.0 * radius), 0.0, 0.0
    nx, ny = -sx / norm, -sy / norm
    step, depth = 0.25 / ppm, 0.0
    while depth <= radius:
        if occupied_at(grid, occupied, x + nx * depth, y + ny * depth, origin_x, origin_y, ppm) == 0:
            return depth, nx, ny
        depth += step
    return depth, nx, ny


@njit(cache=True, inline="always")
def apply_velocity_change(row: np.ndarray, dvx: float, dvy: float, cx: float, cy: float) -> None:
    """Add a world-frame velocity change to a vehicle row as an impulse at world point (cx, cy):
    forward speed and side slip change, and the impulse's moment about the centre spins it."""
    yaw = row[YAW]
    cos, sin = math.cos(yaw), math.sin(yaw)
    row[SPEED] += dvx * cos + dvy * sin
    row[VY] += -dvx * sin + dvy * cos
    rx, ry = cx - row[X], cy - row[Y]
    row[SPIN] += (rx * dvy - ry * dvx) * row[MASS] / row[INERTIA]


@njit(cache=True)
def surface_response(row: np.ndarray, nx: float, ny: float, cx: float, cy: float, restitution: float,
                     friction: float) -> tuple[float, float]:
    """The velocity change of a vehicle meeting an immovable surface of outward normal (nx, ny) at
    world point (cx, cy), applied to its row; returns the impulse (N·s, world frame). Nothing
    changes for a vehicle leaving the surface."""
    yaw = row[YAW]
    cos, sin = math.cos(yaw), math.sin(yaw)
    vx, vy = row[SPEED] * cos - row[VY] * sin, row[SPEED] * sin + row[VY] * cos
    vn = vx * nx + vy * ny
    if vn >= 0.0:
        return 0.0, 0.0
    jn = -(1.0 + restitution) * vn
    dvx, dvy = jn * nx, jn * ny
    tx, ty = vx - vn * nx, vy - vn * ny
    along = math.hypot(tx, ty)
    if along > 1e-9:
        slip = min(friction * jn, along)
        dvx -= slip * tx / along
        dvy -= slip * ty / along
    apply_velocity_change(row, dvx, dvy, cx, cy)
    return dvx * row[MASS], dvy * row[MASS]


@njit(cache=True)
def _deepest(row: np.ndarray, x: float, y: float, yaw: float, outline: np.ndarray, grid: np.ndarray,
             occupied: np.ndarray, origin_x: float, origin_y: float, ppm: float):
    """How a vehicle at (x, y, yaw) overlaps the occupied region: the depth and surface normal of its
    deepest outline point, the middle of the points inside (where the contact pushes: a bumper flat
    against a wall is pushed at its middle) and the raster value there; depth 0 when no point is in it."""
    cos, sin = math.cos(yaw), math.sin(yaw)
    best, bnx, bny, value = 0.0, 0.0, 0.0, 0
    sum_x = sum_y = 0.0
    inside = 0
    for p in range(len(outline)):
        lx, ly = outline[p, 0] * row[HALF_LENGTH], outline[p, 1] * row[HALF_WIDTH]
        px, py = x + cos * lx - sin * ly, y + sin * lx + cos * ly
        hit = occupied_at(grid, occupied, px, py, origin_x, origin_y, ppm)
        if hit == 0:
            continue
        sum_x, sum_y, inside = sum_x + px, sum_y + py, inside + 1
        depth, nx, ny = surface_normal(grid, occupied, px, py, origin_x, origin_y, ppm, NORMAL_RADIUS)
        if depth > best:
            best, bnx, bny, value = depth, nx, ny, hit
    if inside == 0:
        return best, bnx, bny, x, y, value
    return best, bnx, bny, sum_x / inside, sum_y / inside, value  # the contact: the middle of the points inside


@njit(cache=True, inline="always")
def _wheels(row: np.ndarray, x: float, y: float, yaw: float, sidewalk: np.ndarray, origin_x: float,
            origin_y: float, ppm: float, out: np.ndarray, points: np.ndarray) -> None:
    """Whether each wheel of a vehicle at (x, y, yaw) stands on a sidewalk, and where it is."""
    cos, sin = math.cos(yaw), math.sin(yaw)
    front = row[REAR_AXLE] + row[WHEELBASE]
    for w in range(4):
        lx = front if w < 2 else row[REAR_AXLE]
        ly = (row[TRACK] / 2.0) * (-1.0 if w % 2 == 0 else 1.0)
        px, py = x + cos * lx - sin * ly, y + sin * lx + cos * ly
        points[w, 0], points[w, 1] = px, py
        out[w] = occupied_at(sidewalk, SIDEWALK_OCCUPIED, px, py, origin_x, origin_y, ppm) != 0


@njit(cache=True)
def _push_out(row: np.ndarray, pose: np.ndarray, outline: np.ndarray, grid: np.ndarray, occupied: np.ndarray,
              origin_x: float, origin_y: float, ppm: float):
    """Push a vehicle at ``pose`` out of the occupied region, deepest outline point first: (resolved,
    x, y, normal x, normal y, contact x, contact y, object value)."""
    x, y, yaw = pose[0], pose[1], pose[2]
    total_x = total_y = 0.0
    cnx = cny = cpx = cpy = 0.0
    value = 0
    free = False
    for attempt in range(PUSH_ITERATIONS + 1):
        depth, nx, ny, px, py, hit = _deepest(row, x, y, yaw, outline, grid, occupied, origin_x, origin_y, ppm)
        if depth <= 0.0:
            free = True
            break
        if value == 0:
            cnx, cny, cpx, cpy, value = nx, ny, px, py, hit
        if depth > NORMAL_RADIUS or nx == 0.0 and ny == 0.0 or attempt == PUSH_ITERATIONS:
            break
        x += nx * (depth + SEPARATION)
        y += ny * (depth + SEPARATION)
        total_x += nx * (depth + SEPARATION)
        total_y += ny * (depth + SEPARATION)
    if not free:
        return False, x, y, cnx, cny, cpx, cpy, value
    norm = math.hypot(total_x, total_y)
    if norm > 1e-9:
        cnx, cny = total_x / norm, total_y / norm
    return True, x, y, cnx, cny, cpx, cpy, value


@njit(cache=True, inline="always")
def clear_within(reach: float, x: float, y: float, clearance: np.ndarray, origin_x: float, origin_y: float,
                 ppm: float) -> bool:
    """Whether every point within ``reach`` metres of (x, y) surely reads no occupied pixel: the centre's pixel lies
    farther from the nearest one (``clearance``, pixels between centres) than the reach plus a pixel's diagonal
    (half for where the centre lies in its pixel, half for the occupied pixel's extent), with a hair to spare. Off
    the raster it is not sure (the reads there are clamped to the border)."""
    r, c = (y - origin_y) * ppm, (x - origin_x) * ppm
    if not (0.0 <= r < clearance.shape[0] and 0.0 <= c < clearance.shape[1]):
        return False
    return clearance[int(r), int(c)] > reach * ppm + 1.5


@njit(cache=True, inline="always")
def clear_of_objects(row: np.ndarray, x: float, y: float, clearance: np.ndarray, origin_x: float, origin_y: float,
                     ppm: float) -> bool:
    """Whether a vehicle's body (its outline, within half its box's diagonal) centred at (x, y) surely meets no
    object pixel (:func:`clear_within`)."""
    return clear_within(math.hypot(row[HALF_LENGTH], row[HALF_WIDTH]), x, y, clearance, origin_x, origin_y, ppm)


@njit(cache=True, inline="always")
def _wheels_clear(row: np.ndarray, x: float, y: float, sidewalk_clearance: np.ndarray, origin_x: float,
                  origin_y: float, ppm: float, out: np.ndarray) -> bool:
    """Where the wheels of a vehicle at (x, y) surely stand on no sidewalk (:func:`clear_within` of the farthest
    wheel's reach): ``out`` all False and True returned; else False (the wheels are to be read)."""
    reach = math.hypot(max(abs(row[REAR_AXLE] + row[WHEELBASE]), abs(row[REAR_AXLE])), row[TRACK] / 2.0)
    if not clear_within(reach, x, y, sidewalk_clearance, origin_x, origin_y, ppm):
        return False
    out[:] = False
    return True


@njit(cache=True)
def tick_poses(before: np.ndarray, path: np.ndarray) -> np.ndarray:
    """(3, N, 3): the poses :func:`static_contacts` checks of the N vehicles of a tick, x, y and yaw at its start (their
    rows ``before`` it), at its middle sub-step and at its end (``path``, (S, N, 3) after each sub-step)."""
    count, middle, last = before.shape[0], (path.shape[0] - 1) // 2, path.shape[0] - 1
    poses = np.empty((3, count, 3))
    for i in range(count):
        poses[0, i, 0], poses[0, i, 1], poses[0, i, 2] = before[i, X], before[i, Y], before[i, YAW]
        for axis in range(3):
            poses[1, i, axis], poses[2, i, axis] = path[middle, i, axis], path[last, i, axis]
    return poses


@njit(cache=True)
def static_contacts(data: np.ndarray, count: int, poses: np.ndarray, outline: np.ndarray, object_index: np.ndarray,
                    solid: np.ndarray, clearance: np.ndarray, sidewalk: np.ndarray, sidewalk_clearance: np.ndarray,
                    origin_x: float, origin_y: float, ppm: float, climb_speed: float, curb_height: float):
    """Contacts of every vehicle with the static world over the poses of a tick (``poses``: (P, count, 3),
    the first at the tick's start), resolved in place (see the module docstring). ``solid[value]``:
    whether the object of raster value ``value`` is loaded; ``clearance`` / ``sidewalk_clearance``: each pixel's
    distance to the nearest object / sidewalk pixel (a pose far from every object reads none of its outline, far
    from every sidewalk none of its wheels). Returns per vehicle the kind of its
    contact (:data:`NO_HIT`, :data:`SOLID_HIT`, :data:`CURB_HIT`), the object hit (index + 1), the impulse
    (N·s, world x and y) and how far it stands raised on curbs at its final pose."""
    kinds = np.zeros(count, np.int64)
    objects = np.zeros(count, np.int64)
    impulses = np.zeros((count, 2))
    raised = np.zeros(count)
    curb_before, curb_now = np.zeros(4, np.bool_), np.zeros(4, np.bool_)
    wheel_points = np.zeros((4, 2))
    glance = math.sin(math.radians(CURB_GLANCE))
    for i in range(count):
        row = data[i]
        if row[FROZEN] != 0.0:
            continue  # not moved by physics (its z is not settled either): no contact to find
        fast = abs(row[SPEED]) > climb_speed
        if not _wheels_clear(row, poses[0, i, 0], poses[0, i, 1], sidewalk_clearance, origin_x, origin_y, ppm,
                             curb_before):
            _wheels(row, poses[0, i, 0], poses[0, i, 1], poses[0, i, 2], sidewalk, origin_x, origin_y, ppm,
                    curb_before, wheel_points)
        for k in range(1, poses.shape[0]):
            pose = poses[k, i]
            resolved, x, y, nx, ny, cx, cy, value = True, pose[0], pose[1], 0.0, 0.0, 0.0, 0.0, 0  # (clear: no hit)
            if not clear_of_objects(row, pose[0], pose[1], clearance, origin_x, origin_y, ppm):
                resolved, x, y, nx, ny, cx, cy, value = _push_out(row, pose, outline, object_index, solid, origin_x,
                                                                  origin_y, ppm)
            if value != 0:  # the body meets a solid object
                kinds[i], objects[i] = SOLID_HIT, value
                if resolved:
                    row[X], row[Y], row[YAW] = x, y, _wrap(pose[2])
                    impulses[i, 0], impulses[i, 1] = surface_response(row, nx, ny, cx, cy, RESTITUTION, FRICTION)
                else:  # wedged where no way out is near: back to the pose before, at rest
                    back = poses[k - 1, i]
                    row[X], row[Y], row[YAW] = back[0], back[1], _wrap(back[2])
                    impulses[i, 0] = -row[SPEED] * math.cos(back[2]) * row[MASS]
                    impulses[i, 1] = -row[SPEED] * math.sin(back[2]) * row[MASS]
                    row[SPEED] = row[VY] = row[SPIN] = 0.0
                break
            if not _wheels_clear(row, pose[0], pose[1], sidewalk_clearance, origin_x, origin_y, ppm, curb_now):
                _wheels(row, pose[0], pose[1], pose[2], sidewalk, origin_x, origin_y, ppm, curb_now, wheel_points)
            mounting = -1
            for w in range(4):
                if fast and curb_now[w] and not curb_before[w]:
                    mounting = w
                    break
            if mounting >= 0:
                px, py = wheel_points[mounting, 0], wheel_points[mounting, 1]
                depth, nx, ny = surface_normal(sidewalk, SIDEWALK_OCCUPIED, px, py, origin_x, origin_y, ppm,
                                               NORMAL_RADIUS)
                cos, sin = math.cos(row[YAW]), math.sin(row[YAW])
                vx, vy = row[SPEED] * cos - row[VY] * sin, row[SPEED] * sin + row[VY] * cos
                speed = math.hypot(vx, vy)
                into = -(vx * nx + vy * ny)
                if speed > 1e-6 and into > 0.0:
                    kinds[i] = CURB_HIT
                    if into < glance * speed and depth <= NORMAL_RADIUS:  # glancing: deflected along the curb
                        row[X] = pose[0] + nx * (depth + SEPARATION)
                        row[Y] = pose[1] + ny * (depth + SEPARATION)
                        row[YAW] = _wrap(pose[2])
                        impulses[i, 0], impulses[i, 1] = surface_response(row, nx, ny, px, py, 0.0, 0.1)
                    else:  # climbed, with a jolt
                        row[X], row[Y], row[YAW] = pose[0], pose[1], _wrap(pose[2])
                        lost = 1.0 - CURB_KEEP
                        impulses[i, 0], impulses[i, 1] = -lost * vx * row[MASS], -lost * vy * row[MASS]
                        row[SPEED] *= CURB_KEEP
                        row[VY] *= CURB_KEEP
                    break
            curb_before[:] = curb_now
        if not _wheels_clear(row, row[X], row[Y], sidewalk_clearance, origin_x, origin_y, ppm, curb_now):
            _wheels(row, row[X], row[Y], row[YAW], sidewalk, origin_x, origin_y, ppm, curb_now, wheel_points)
        on_curb = 0
        for w in range(4):
            on_curb += curb_now[w]
        raised[i] = curb_height * on_curb / 4.0
    return kinds, objects, impulses, raised
