"""The Leaderboard's criteria, each watching the hero through the carla API only (so the same code
runs on the embedded world and on a CARLA server):

- :class:`CollisionCriterion`: its own ``sensor.other.collision`` on the hero; the other actor's
  ``type_id`` gives the kind (``walker.*`` pedestrian, ``vehicle.*`` vehicle, anything else but a
  sidewalk the static layout); repeated contacts count once and a standing hero is not at fault, as
  in the Leaderboard's ``CollisionTest``;
- :class:`RedLightCriterion`: every traffic light's stop lines (its stop waypoints followed to the
  junction's edge, 80 % of the lane wide); the hero runs a red light when its rear crosses one
  while the light is red, heading along the lane; one event per light passed;
- :class:`StopSignCriterion`: a stop sign's trigger volume affects the hero when it or its lane's
  next 20 m lie inside; leaving it without having stood (speed < 0.1 m/s) while affected is one event;
- :class:`MinSpeedCriterion` (Leaderboard 2.0's ``MinimumSpeedRouteTest``): the route in four stretches;
  over each, the hero's mean speed as a share of the surrounding traffic's (every autopilot or background
  vehicle of the world) at the same ticks; a share under 100 % is a ``min_speed_infractions`` event with
  that percentage (no traffic, no event);
- :class:`LaneCriterion`: the hero is outside the lanes when farther than half a lane plus 1.3 m from
  the nearest driving or parking lane's centre, or (out of junctions) heading more than 120 degrees
  against its lane; the route metres completed meanwhile give the outside percentage.
"""

from __future__ import annotations

import math
from typing import Any

import carla
import numpy as np
from numba import njit

from ..common.lane_index import LANE_TYPES, lane_index
from ..common.per_frame import PerWorld
from ..common.waypoint_index import get_waypoints, waypoint_index
from .infractions import (COLLISION_LAYOUT, COLLISION_PEDESTRIAN, COLLISION_VEHICLE, MIN_SPEED, RED_LIGHT,
                          STOP_SIGN, Infraction)

COLLISION_RADIUS, COLLISION_ID_TIME = 5.0, 5.0  # metres, seconds: the Leaderboard's CollisionTest
COLLISION_SPEED = 0.1  # m/s: a hero slower than this is not at fault (CollisionTest.EPSILON)
LIGHT_PROXIMITY = 50.0  # metres: lights checked around the hero
STOP_LINE_WIDTH = 0.4  # of the lane width, each side of the lane centre
STOP_PROXIMITY, STOP_SPEED, STOP_LOOKAHEAD = 50.0, 0.1, 20  # metres, m/s, 1 m steps
ALLOWED_OUT_DISTANCE = 1.3  # metres past half a lane (the kerb's shoulder)
WRONG_WAY_ANGLE = 120.0  # degrees between the hero's heading and its lane's


def _xyz(location: carla.Location) -> tuple[float, float, float]:
    return (location.x, location.y, location.z)


def collision_kind(type_id: str) -> str:
    """The infraction kind of a collision with an actor of ``type_id``."""
    if type_id.startswith("walker."):
        return COLLISION_PEDESTRIAN
    if type_id.startswith("vehicle."):
        return COLLISION_VEHICLE
    return COLLISION_LAYOUT


class CollisionCriterion:
    """Collisions of the hero, through a collision sensor of its own, counted as the Leaderboard's
    ``CollisionTest`` counts them: a contact with the actor of the last counted hit (within
    :data:`COLLISION_ID_TIME` of it), or within :data:`COLLISION_RADIUS` of the last counted hit's
    place (until the hero is farther), is that hit; a contact while the hero stands (below
    :data:`COLLISION_SPEED`) is not its fault; a sidewalk (a curb climbed) is no infraction, though it
    starts a new last hit."""

    def __init__(self, world: Any, hero: Any, busy: set | None = None) -> None:
        """``busy``: a set this criterion adds itself to when an event comes (many heroes' criteria: those to
        update)."""
        blueprint = world.get_blueprint_library().find("sensor.other.collision")
        self.sensor = world.spawn_actor(blueprint, carla.Transform(), attach_to=hero)
        self._events: list[Any] = []
        self._busy = busy
        self.sensor.listen(self._record)
        self._last_id: int | None = None
        self._last_time = 0.0
        self._last_place: carla.Location | None = None

    def _record(self, event: Any) -> None:
        self._events.append(event)
        if self._busy is not None:
            self._busy.add(self)

    @property
    def idle(self) -> bool:
        """Whether an update now would find nothing and change nothing: no event came and no last hit is remembered
        (many heroes' criteria are updated only when they are not idle)."""
        return not self._events and self._last_id is None and self._last_place is None

    def update(self, now: float, location: carla.Location, speed: float) -> list[Infraction]:
        """The new collision events since the last update; ``speed``: the hero's speed (m/s) when they
        happened (the Leaderboard reads the speed its data provider cached at the tick)."""
        events, self._events[:] = list(self._events), []
        if self._last_place is not None and location.distance(self._last_place) > COLLISION_RADIUS:
            self._last_place = None
        if self._last_id is not None and now - self._last_time > COLLISION_ID_TIME:
            self._last_id = None
        found = []
        for event in events:
            other = event.other_actor
            other_id, type_id = (other.id, other.type_id) if other is not None else (0, "static.unknown")
            if other_id == self._last_id or self._last_place is not None and \
                    location.distance(self._last_place) <= COLLISION_RADIUS or speed < COLLISION_SPEED:
                continue
            self._last_time = now
            self._last_place = carla.Location(location.x, location.y, location.z)
            if other_id != 0:  # static objects (id 0) are told apart by place only
                self._last_id = other_id
            if "sidewalk" in type_id:
                continue
            found.append(Infraction(collision_kind(type_id), now, _xyz(location),
                                    f"Agent collided against object with type={type_id} and id={other_id} "
                                    f"at (x={location.x:.3f}, y={location.y:.3f}, z={location.z:.3f})",
                                    {"other_type": type_id, "other_id": other_id}))
        return found

    def destroy(self) -> None:
        if self.sensor is not None:
            self.sensor.stop()
            self.sensor.destroy()
            self.sensor = None


def junction_edge(waypoint: carla.Waypoint) -> carla.Waypoint:
    """The lane's last point before the junction that ``waypoint``'s lane leads into (a light's stop line)."""
    for _ in range(200):
        following = waypoint.next(0.5)
        if not following or following[0].is_junction:
            break
        waypoint = following[0]
    return waypoint


class StopLines:
    """The stop lines of a world's traffic lights (static: measured once a world, kept by light id)."""

    def __init__(self) -> None:
        self.light_ids: tuple[int, ...] | None = None

    def measure(self, lights: list[Any]) -> "StopLines":
        """The lines of ``lights`` (measured again only when the world's lights are others)."""
        ids = tuple(light.id for light in lights)
        if ids == self.light_ids:
            return self
        starts, ends, forwards, owners = [], [], [], []
        for index, light in enumerate(lights):
            for waypoint in light.get_stop_waypoints():
                waypoint = junction_edge(waypoint)
                t = waypoint.transform
                yaw = math.radians(t.rotation.yaw)
                forward = (math.cos(yaw), math.sin(yaw))
                half = STOP_LINE_WIDTH * waypoint.lane_width
                right = (-forward[1], forward[0])
                x, y = t.location.x, t.location.y
                starts.append((x - half * right[0], y - half * right[1]))
                ends.append((x + half * right[0], y + half * right[1]))
                forwards.append(forward)
                owners.append(index)
        self.starts, self.ends = np.array(starts).reshape(-1, 2), np.array(ends).reshape(-1, 2)
        self.forwards, self.owners = np.array(forwards).reshape(-1, 2), np.array(owners, dtype=int)
        self.centres = (self.starts + self.ends) / 2.0
        self.light_ids = ids
        return self


stop_lines: PerWorld[StopLines] = PerWorld(StopLines)


class RedLightCriterion:
    """Red lights run by the hero (its rear crossing a red light's stop line); with ``heroes`` above 1, by each of
    that many heroes of one world (:meth:`update_many`: their lines crossed found in one compiled call)."""

    def __init__(self, world: Any, town_map: carla.Map, heroes: int = 1) -> None:
        self.lights = list(world.get_actors().filter("traffic.traffic_light*"))
        lines = stop_lines(world).measure(self.lights)
        self.starts, self.ends, self.forwards, self.owners = lines.starts, lines.ends, lines.forwards, lines.owners
        self.centres = lines.centres
        self._previous_tails = np.full((heroes, 2), np.nan)  # each hero's rear at its last update (NaN: none yet)
        self._last_lights = np.full(heroes, -1, dtype=np.int64)  # and the last light it ran (-1: none)

    def restart(self, hero: int) -> None:
        """Hero ``hero`` starts anew (a new episode): no rear seen yet, no light run."""
        self._previous_tails[hero] = np.nan
        self._last_lights[hero] = -1

    def update(self, now: float, transform: carla.Transform, extent_x: float) -> list[Infraction]:
        location = transform.location
        return self.update_many(now, np.array([[location.x, location.y, location.z]]),
                                np.array([transform.rotation.yaw]), np.array([extent_x]),
                                np.zeros(1, np.int64)).get(0, [])

    def update_many(self, now: Any, xyz: np.ndarray, yaws: np.ndarray, extents_x: np.ndarray,
                    heroes: np.ndarray) -> dict[int, list[Infraction]]:
        """The red lights run by heroes ``heroes`` at ``xyz`` (N, 3) heading ``yaws`` (N,) degrees, boxes
        ``extents_x`` (N,) long, since their last update: a list by the row of each hero that ran one (most ticks
        none); ``now``: the time of their events, one for all or one a hero."""
        times = np.asarray(now, dtype=np.float64)  # one for all (0-d) or one a hero
        crossed = np.zeros((len(heroes), max(len(self.owners), 1)), dtype=np.bool_)
        crossings = tail_crossings(np.ascontiguousarray(xyz[:, :2], dtype=np.float64),
                                   np.ascontiguousarray(yaws, dtype=np.float64),
                                   np.ascontiguousarray(extents_x, dtype=np.float64), np.asarray(heroes, dtype=np.int64),
                                   self._previous_tails, self.starts, self.ends, self.forwards, self.centres,
                                   LIGHT_PROXIMITY, crossed)
        found: dict[int, list[Infraction]] = {}
        for row, line in zip(*crossed.nonzero()) if crossings else ():
            light_index, hero = int(self.owners[line]), int(heroes[row])
            light = self.lights[light_index]
            if light.get_state() != carla.TrafficLightState.Red or light_index == self._last_lights[hero]:
                continue
            self._last_lights[hero] = light_index
            x, y, z = (float(v) for v in xyz[row])
            when = float(times if times.ndim == 0 else times[row])
            found.setdefault(int(row), []).append(Infraction(
                RED_LIGHT, when, (x, y, z), f"Agent ran a red light {light.id} at (x={x:.3f}, y={y:.3f}, z={z:.3f})",
                {"light_id": light.id}))
        return found


@njit(cache=True, inline="always")
def _side(ox: float, oy: float, ux: float, uy: float, vx: float, vy: float) -> float:
    return (ux - ox) * (vy - oy) - (uy - oy) * (vx - ox)


@njit(cache=True)
def tail_crossings(xy: np.ndarray, yaws: np.ndarray, extents_x: np.ndarray, heroes: np.ndarray,
                   previous_tails: np.ndarray, starts: np.ndarray, ends: np.ndarray, forwards: np.ndarray,
                   centres: np.ndarray, proximity: float, crossed: np.ndarray) -> int:
    """For each hero ``heroes[i]`` at ``xy[i]`` heading ``yaws[i]`` degrees: its rear (80 % of ``extents_x[i]``
    behind its centre) replaces ``previous_tails[heroes[i]]``, and ``crossed[i, l]`` is set for every stop line
    ``l`` within ``proximity`` that faces its heading and that the rear crossed since then (a rear that moved less
    than a millimetre crosses nothing). Returns how many were set."""
    count = 0
    for i in range(heroes.shape[0]):
        hero = heroes[i]
        yaw = math.radians(yaws[i])
        hx, hy = math.cos(yaw), math.sin(yaw)
        tx, ty = xy[i, 0] - 0.8 * extents_x[i] * hx, xy[i, 1] - 0.8 * extents_x[i] * hy
        px, py = previous_tails[hero, 0], previous_tails[hero, 1]
        previous_tails[hero, 0], previous_tails[hero, 1] = tx, ty
        if math.isnan(px) or (px - tx) ** 2 + (py - ty) ** 2 < 1e-6:
            continue
        for line in range(starts.shape[0]):
            dx, dy = centres[line, 0] - tx, centres[line, 1] - ty
            if dx * dx + dy * dy >= proximity * proximity or forwards[line, 0] * hx + forwards[line, 1] * hy <= 0.0:
                continue
            ax, ay, bx, by = starts[line, 0], starts[line, 1], ends[line, 0], ends[line, 1]
            d1, d2 = _side(ax, ay, bx, by, px, py), _side(ax, ay, bx, by, tx, ty)
            d3, d4 = _side(px, py, tx, ty, ax, ay), _side(px, py, tx, ty, bx, by)
            crossed[i, line] = d1 * d2 <= 0 and d3 * d4 < 0
            count += crossed[i, line]
    return count


class StopSignCriterion:
    """Stop signs passed by the hero without standing still at them."""

    def __init__(self, world: Any, town_map: carla.Map) -> None:
        self.map = town_map
        self.boxes = []  # (sign, centre xy, cos, sin, extent x, extent y)
        for sign in world.get_actors().filter("traffic.stop"):
            transform = sign.get_transform()
            volume = sign.trigger_volume
            centre = transform.transform(volume.location)
            yaw = math.radians(transform.rotation.yaw + volume.rotation.yaw)
            self.boxes.append((sign, np.array([centre.x, centre.y]), math.cos(yaw), math.sin(yaw),
                               volume.extent.x, volume.extent.y))
        self._centres = np.array([box[1] for box in self.boxes]).reshape(-1, 2)
        self._target: tuple | None = None
        self._stopped = self._entered = False

    @staticmethod
    def _inside(box: tuple, points: np.ndarray) -> bool:
        _, centre, c, s, ex, ey = box
        d = points - centre
        along, across = d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c
        return bool(np.any((np.abs(along) <= ex) & (np.abs(across) <= ey)))

    def _lookahead(self, location: carla.Location) -> np.ndarray:
        points = [(location.x, location.y)]
        waypoint = self.map.get_waypoint(location)
        for _ in range(STOP_LOOKAHEAD):
            following = waypoint.next(1.0) if waypoint is not None else []
            if not following:
                break
            waypoint = following[0]
            points.append((waypoint.transform.location.x, waypoint.transform.location.y))
        return np.array(points)

    def update(self, now: float, location: carla.Location, speed: float) -> list[Infraction]:
        if not self.boxes:  # a town without stop signs
            return []
        dx, dy = self._centres[:, 0] - location.x, self._centres[:, 1] - location.y
        near = [self.boxes[k] for k in np.flatnonzero(dx * dx + dy * dy < STOP_PROXIMITY ** 2)]
        if not near:
            return self._leave(now, location)
        points = self._lookahead(location)
        if self._target is None:
            self._target = next((b for b in near if self._inside(b, points)), None)
            self._stopped = self._entered = False
            if self._target is None:
                return []
        if not self._inside(self._target, points):
            return self._leave(now, location)
        self._entered = self._entered or self._inside(self._target, points[:1])
        self._stopped = self._stopped or speed < STOP_SPEED
        return []

    def _leave(self, now: float, location: carla.Location) -> list[Infraction]:
        target, self._target = self._target, None
        if target is None or self._stopped or not self._entered:
            return []
        sign = target[0]
        return [Infraction(STOP_SIGN, now, _xyz(location),
                           f"Agent ran a stop sign {sign.id} at (x={location.x:.3f}, y={location.y:.3f}, "
                           f"z={location.z:.3f})", {"sign_id": sign.id})]


MIN_SPEED_CHECKPOINTS = 4  # stretches of the route (the Leaderboard's MinSpeedTest)
TRAFFIC_ROLES = ("autopilot", "background")  # role_name of the vehicles whose speed sets the pace


class MinSpeedCriterion:
    """The hero's mean speed against the traffic's, per stretch of the route (see the module docstring).

    ``background``: the route's background activity (its vehicles come and go; they count while alive)."""

    def __init__(self, world: Any, hero: Any, route_length: float, background: Any = None) -> None:
        self.traffic = [v for v in world.get_actors().filter("vehicle.*")
                        if v.id != hero.id and v.attributes.get("role_name") in TRAFFIC_ROLES]
        self.background = background
        self.stretch = route_length / MIN_SPEED_CHECKPOINTS
        self.started_at = 0.0
        self.hero_sum = self.traffic_sum = 0.0
        self.samples = 0
        self.values: list[float] = []

    def update(self, now: float, completed: float, speed: float, location: carla.Location) -> list[Infraction]:
        """After a tick: sample the speeds; the event of a stretch the hero just finished."""
        found = []
        if completed - self.started_at > self.stretch:
            found = self._checkpoint(now, location)
            self.started_at = completed
        alive = [v for v in self.traffic if v.is_alive]
        if self.background is not None:
            alive += self.background.vehicles
        if alive:
            self.traffic_sum += sum(v.get_velocity().length() for v in alive) / len(alive)
            self.hero_sum += speed
            self.samples += 1
        return found

    def finish(self, now: float, fraction: float, location: carla.Location) -> list[Infraction]:
        """The last stretch's event (routes end near 99 %: counted when past 95 %, as the Leaderboard does). The
        Leaderboard ends its criteria twice (when its scenario tree finishes, then when the scenario is stopped),
        so a last stretch under 100 % is two events there, and here too: DS agrees with the Leaderboard's."""
        if fraction <= 0.95:
            return []
        found = self._checkpoint(now, location)
        if found:
            self.values.append(self.values[-1])
        return found + found

    def _checkpoint(self, now: float, location: carla.Location) -> list[Infraction]:
        hero, traffic, self.hero_sum, self.traffic_sum = self.hero_sum, self.traffic_sum, 0.0, 0.0
        self.samples = 0
        if traffic <= 0.0:
            return []
        value = round(hero / traffic * 100.0, 2)
        self.values.append(value)
        if value >= 100.0:
            return []
        return [Infraction(MIN_SPEED, now, _xyz(location), f"Average speed is {value}% of the surrounding traffic's one",
                           {"percentage": value})]




class LaneCriterion:
    """Whether the hero is outside the driving and parking lanes or against its lane's direction (the map's
    nearest lane, found through the map's :class:`~..common.lane_index.LaneIndex` where its samples settle it)."""

    def __init__(self, town_map: carla.Map) -> None:
        self.map = town_map
        self.index = lane_index(town_map, ALLOWED_OUT_DISTANCE, WRONG_WAY_ANGLE)
        waypoint_index(town_map)  # built now, with the world (the points the samples leave open ask it)

    def outside(self, transform: carla.Transform, wrong_way_counts: bool = True) -> bool:
        """Whether the hero is outside the lanes; against its lane's direction only where ``wrong_way_counts``
        (a ``TwoWays`` scenario switches that off while it runs, as ScenarioRunner's does)."""
        location = transform.location
        return bool(self.outside_many(np.array([[location.x, location.y, location.z]]),
                                      np.array([transform.rotation.yaw]), np.array([wrong_way_counts]))[0])

    def outside_many(self, xyz: np.ndarray, yaws: np.ndarray, wrong_way_counts: np.ndarray) -> np.ndarray:
        """:meth:`outside` of many heroes at once: locations ``xyz`` (N, 3), headings ``yaws`` (N,) degrees."""
        return self.index.outside(xyz, yaws, wrong_way_counts,
                                  lambda k: self.exact(xyz[k], float(yaws[k]), bool(wrong_way_counts[k])))

    def exact(self, xyz: np.ndarray, yaw: float, wrong_way_counts: bool) -> bool:
        """The check of one hero at ``xyz`` heading ``yaw`` degrees, from the map's own nearest lane."""
        x, y, z = (float(v) for v in xyz)
        # the nearest driving or parking lane: one query with both lane types flagged, the map's own answer through
        # its waypoint index (a few microseconds where the map takes 170 on GridTown, measured)
        [waypoint] = get_waypoints(self.map, np.array([[x, y, z]], dtype=np.float32), project_to_road=True,
                                   lane_type=LANE_TYPES)
        if waypoint is None:
            return True
        at = waypoint.transform.location
        distance = math.hypot(x - at.x, y - at.y)
        if distance > waypoint.lane_width / 2.0 + ALLOWED_OUT_DISTANCE:
            return True
        if waypoint.is_junction or waypoint.lane_type != carla.LaneType.Driving or not wrong_way_counts:
            return False
        angle = abs((yaw - waypoint.transform.rotation.yaw + 180.0) % 360.0 - 180.0)
        return angle > WRONG_WAY_ANGLE
