"""The traffic manager's routes: what is derived from a vehicle's route as it advances, and the room beyond a
junction, against the same computed from scratch."""

from __future__ import annotations

import math

import numpy as np

from rllib_integration.embedded.traffic.autopilot import free_length
from rllib_integration.embedded.traffic.routes import ROUTE_STEP, Route


def test_a_routes_lights_across_are_those_of_the_whole_route_as_it_drops_points_and_gains_them(world):
    """``Route.lights_across`` looks only at the segments added since it was last asked (a route mostly loses
    points behind and gains them ahead): it answers what the whole route's crossings give, first crossing of each
    light, at every step, also after a restart and with several changes between two questions."""

    class Lines:  # stand-in signals: a stop line of light k every 7 m of x + y (k: the strip it begins), any heading
        lights = [f"light {k}" for k in range(100)]

        def crossings(self, coords, headings):
            strips = np.floor((coords[:, 0] + coords[:, 1]) / 7.0).astype(int)
            return sorted({(i, int(max(strips[i], strips[i + 1])) % 100) for i in range(len(coords) - 1)
                           if strips[i] != strips[i + 1]})

    def whole(route, signals):
        seen, lights = set(), []
        headings = np.array([p[2] for p in route.points])
        for index, light in signals.crossings(np.reshape(route.coords, (-1, 2)), headings):
            if light not in seen:
                seen.add(light)
                lights.append((index, signals.lights[light]))
        return lights

    signals, route, rng = Lines(), Route(), np.random.default_rng(0)
    town_map = world.get_map()
    ahead = town_map.get_spawn_points()[0].location
    route.start(town_map.get_waypoint(ahead))
    checked, with_lights = 0, 0
    for step in range(300):
        if step == 150:  # re-localised elsewhere: a new route
            route.start(town_map.get_waypoint(town_map.get_spawn_points()[5].location))
        while len(route.points) < 20:
            route.append(route.points[-1][3].next(2.0)[0])
        if rng.random() < 0.6:
            lights = route.lights_across(signals)
            assert lights == whole(route, signals), step
            checked, with_lights = checked + 1, with_lights + bool(lights)
        x, y = route.coords[4], route.coords[5]  # the vehicle passes a point or two
        route.drop_passed(x + rng.uniform(0.0, 2.0) * math.cos(route.points[2][2]),
                          y + rng.uniform(0.0, 2.0) * math.sin(route.points[2][2]))
    assert checked > 100 and with_lights > checked // 2


def test_the_room_after_a_junction_ends_at_the_point_the_first_slow_vehicle_near_the_route_is_nearest():
    rng = np.random.default_rng(1)
    for trial in range(300):
        x, y = rng.uniform(0.0, 12.0, 30), rng.uniform(-3.0, 3.0, 30)
        speed = rng.choice([0.0, 2.9, 3.0, 8.0], 30)
        points = np.stack([np.arange(6) * ROUTE_STEP, rng.uniform(-0.3, 0.3, 6)], axis=1)
        own = int(rng.integers(30))
        distance = np.hypot(x[:, None] - points[None, :, 0], y[:, None] - points[None, :, 1])
        slow = (distance.min(axis=1) < 2.0) & (speed < 3.0)
        slow[own] = False
        expected = distance[slow].argmin(axis=1).min() * ROUTE_STEP if slow.any() else math.inf
        assert free_length(x, y, speed, points, own) == expected, trial
