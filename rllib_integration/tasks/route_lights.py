"""The traffic lights a route meets: where each one's stop line lies along the route, and the next one's
distance and state ahead of the hero (what a driver sees of the next light, before its trigger volume
makes ``Vehicle.get_traffic_light_state`` report it). Through the carla API only, on the embedded world
and on a server alike."""

from __future__ import annotations

import math
from typing import Any

import carla
import numpy as np

from ..evaluation.criteria import junction_edge
from ..routes.progress import RouteProgress

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
        stops: list[tuple[int, Any]] = []
        for light in world.get_actors().filter("traffic.traffic_light*"):
            for waypoint in light.get_stop_waypoints():
                edge = junction_edge(waypoint)
                location = edge.transform.location
                index = progress.nearest_index(location)
                yaw = math.radians(edge.transform.rotation.yaw)
                heading = progress.forward[index] @ np.array([math.cos(yaw), math.sin(yaw)])
                gap = math.hypot(progress.points[index, 0] - location.x, progress.points[index, 1] - location.y)
                if gap <= MATCH_DISTANCE and heading >= MATCH_HEADING:
                    stops.append((index, light))
        stops.sort(key=lambda stop: stop[0])
        self.indices = np.array([index for index, _ in stops], dtype=int)
        self.lights = [light for _, light in stops]

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


def no_light() -> np.ndarray:
    """:data:`LIGHT_FEATURES` where there is no route (no light near)."""
    return np.array([1.0, 0.0, 0.0], dtype=np.float32)
