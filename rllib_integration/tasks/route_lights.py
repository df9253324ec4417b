"""The traffic lights a route meets: where each one's stop line lies along the route, and the next one's
distance and state ahead of the hero (what a driver sees of the next light, before its trigger volume
makes ``Vehicle.get_traffic_light_state`` report it). Through the carla API only, on the embedded world
and on a server alike."""

from __future__ import annotations

import math
from typing import Any, Sequence

import carla
import numpy as np
from numba import njit

from ..common.identity_cache import SequenceCache
from ..common.per_frame import PerWorld
from ..evaluation.criteria import junction_edge
from ..routes.progress import RouteProgress
from ..routes.progress_batch import route_rows

MATCH_DISTANCE = 2.0  # metres between a stop line's centre and the route for the route to pass that line
MATCH_HEADING = 0.7  # cosine between the lane's and the route's directions there, at least
#: What :meth:`RouteLights.features` gives: the next light's stop line on the route (distance / horizon, 1 when
#: none is that near), whether it is red, whether yellow.
LIGHT_FEATURES = ("light_distance", "light_red", "light_yellow")
LIGHT_HORIZON = 40.0  # metres: the experiments' default horizon


class RouteLights:
    """The lights along one route (``progress``), in route order."""

    def __init__(self, world: Any, progress: RouteProgress) -> None:
        self.progress = progress
        stops: list[tuple[int, int]] = []
        for light_id, location, yaw in world_stop_lines(world).lines(world):
            index = progress.nearest_index(location)
            heading = progress.forward[index] @ np.array([math.cos(yaw), math.sin(yaw)])
            gap = math.hypot(progress.points[index, 0] - location.x, progress.points[index, 1] - location.y)
            if gap <= MATCH_DISTANCE and heading >= MATCH_HEADING:
                stops.append((index, light_id))
        stops.sort(key=lambda stop: stop[0])
        self.indices = np.array([index for index, _ in stops], dtype=int)
        self.lights = [world.get_actor(light_id) for _, light_id in stops]

    def next_light(self, horizon: float) -> tuple[float, carla.TrafficLightState | None]:
        """(metres to the next light's stop line ahead on the route, its state), or (``horizon``, None) when
        there is none within ``horizon`` metres."""
        index = self.progress.index
        ahead = np.flatnonzero(self.indices >= index)
        if not len(ahead):
            return horizon, None
        stop = int(self.indices[ahead[0]])
        distance = self.progress.distance_between(index, stop)
        if distance > horizon:
            return horizon, None
        return distance, self.lights[int(ahead[0])].get_state()

    def features(self, horizon: float = LIGHT_HORIZON) -> np.ndarray:
        """:data:`LIGHT_FEATURES` of the next light on the route within ``horizon`` metres (float32)."""
        distance, state = self.next_light(horizon)
        return np.array([distance / horizon, state == carla.TrafficLightState.Red,
                         state == carla.TrafficLightState.Yellow], dtype=np.float32)


class StopLines:
    """The stop lines of a world's traffic lights, as the route lights match them: each light's stop waypoints moved
    to the junction's edge (:func:`~..evaluation.criteria.junction_edge`), read once a world (the map queries took two
    thirds of a traffic hero's respawn, a route's lights found anew each episode)."""

    def __init__(self) -> None:
        self._lines: list[tuple[int, carla.Location, float]] | None = None

    def lines(self, world: Any) -> list[tuple[int, carla.Location, float]]:
        """(light id, the stop line's location, its lane's yaw in radians) of each stop waypoint of each light, in
        the order of ``world.get_actors()`` and of each light's ``get_stop_waypoints``."""
        if self._lines is None:
            self._lines = []
            for light in world.get_actors().filter("traffic.traffic_light*"):
                for waypoint in light.get_stop_waypoints():
                    edge = junction_edge(waypoint).transform
                    self._lines.append((light.id, edge.location, math.radians(edge.rotation.yaw)))
        return self._lines


#: Each world's stop lines (the very world object), kept while the world is.
world_stop_lines: PerWorld[StopLines] = PerWorld(StopLines)


def no_light() -> np.ndarray:
    """:data:`LIGHT_FEATURES` where there is no route (no light near)."""
    return np.array([1.0, 0.0, 0.0], dtype=np.float32)


#: The stop lines of the last sets of routes asked for (:func:`light_features_many`), padded into one array a set
_STOPS: SequenceCache[tuple[np.ndarray, np.ndarray]] = SequenceCache(8)


def light_features_many(route_lights: Sequence[RouteLights | None], world: Any,
                        horizon: float = LIGHT_HORIZON) -> np.ndarray:
    """(N, 3) float32: :meth:`RouteLights.features` of each of ``route_lights`` (:func:`no_light` for None), the
    routes of heroes of ``world``: the next stop line of every route found in one compiled call over the world's
    route rows, the state read of the lights within ``horizon`` only (the same values)."""
    stops, counts = _STOPS.get(route_lights, _padded_stops)
    routed = [k for k, lights in enumerate(route_lights) if lights is not None]
    distances, which = np.full(len(route_lights), float(horizon)), np.full(len(route_lights), -1, dtype=np.int64)
    if routed:
        progresses = [route_lights[k].progress for k in routed]
        routes = route_rows(world)
        rows = routes.sync(progresses)
        _next_stops(stops, counts, np.array(routed, dtype=np.int64),
                    np.array([progress.index for progress in progresses], dtype=np.int64), routes.cumulative, rows,
                    float(horizon), distances, which)
    features = np.zeros((len(route_lights), len(LIGHT_FEATURES)), dtype=np.float32)
    features[:, 0] = distances / horizon
    for k in np.flatnonzero(which >= 0).tolist():  # (the heroes with a light near: its state, as next_light reads it)
        state = route_lights[k].lights[int(which[k])].get_state()
        features[k, 1], features[k, 2] = state == carla.TrafficLightState.Red, state == carla.TrafficLightState.Yellow
    return features


def _padded_stops(route_lights: Sequence[RouteLights | None]) -> tuple[np.ndarray, np.ndarray]:
    """Each route's stop line points (N, the most of any), padded, and how many each has (0 without a route)."""
    width = max([len(lights.indices) for lights in route_lights if lights is not None], default=0)
    stops = np.zeros((len(route_lights), max(width, 1)), dtype=np.int64)
    counts = np.zeros(len(route_lights), dtype=np.int64)
    for k, lights in enumerate(route_lights):
        if lights is not None:
            stops[k, :len(lights.indices)], counts[k] = lights.indices, len(lights.indices)
    return stops, counts


@njit(cache=True)
def _next_stops(stops: np.ndarray, counts: np.ndarray, heroes: np.ndarray, at: np.ndarray, cumulative: np.ndarray,
                rows: np.ndarray, horizon: float, distances: np.ndarray, which: np.ndarray) -> None:
    """For each hero ``heroes[n]`` past route point ``at[n]`` (its route row ``rows[n]``): the first of its stop line
    points (``stops``, ``counts`` of them) at or after it, within ``horizon`` metres of route: its metres into
    ``distances`` and its place among the stops into ``which`` (left as they are where there is none)."""
    for n in range(heroes.shape[0]):
        k, index = heroes[n], at[n]
        for s in range(counts[k]):
            if stops[k, s] >= index:
                distance = cumulative[rows[n], stops[k, s]] - cumulative[rows[n], index]
                if distance <= horizon:
                    distances[k], which[k] = distance, s
                break
