"""The cut-in scenarios' cars move as ScenarioRunner's: StaticCutIn's car pulls out from a standstill as CARLA's
``BasicAgent.lane_change`` drives it, so it stops for the standing car ahead of it on its lane while still half
there (where the leaderboard's NPC agent, which looks only along its own lane, runs into it)."""

from __future__ import annotations

import pathlib

import carla
import numpy as np

from conftest import make_world
from rllib_integration.routes.planner import RoutePlanner
from rllib_integration.routes.progress import RouteProgress
from rllib_integration.routes.route_files import read_routes
from rllib_integration.routes.route_sets import dense_route
from rllib_integration.scenarios.cut_ins import StaticCutIn

ROUTES = pathlib.Path(__file__).parent / "routes" / "leaderboard2_scenarios.xml"


def test_the_static_cut_in_car_waits_for_the_car_ahead_while_on_its_lane_then_cuts_in(server):
    world = make_world(server, "Boulevards")[1]
    town_map = world.get_map()
    (spec,) = [route for route in read_routes(ROUTES) if route.scenarios[0].type == "StaticCutIn"]
    progress = RouteProgress(dense_route(RoutePlanner(town_map), spec))
    trigger = carla.Location(*spec.scenarios[0].trigger[:3])
    start = town_map.get_waypoint(trigger).transform
    hero = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                             carla.Transform(start.location + carla.Location(z=0.3), start.rotation))
    scenario = StaticCutIn(spec.scenarios[0], world, town_map, hero, progress, np.random.default_rng(0))
    scenario.build()
    side_lane = town_map.get_waypoint(scenario.adversary.get_location()).lane_id
    hero_lane = town_map.get_waypoint(scenario.meeting).lane_id
    assert side_lane != hero_lane
    assert scenario.adversary.get_control().brake == 1.0  # held by its brakes until the scenario starts,
    scenario.tick(0.0)
    control = scenario.adversary.get_control()  # then as ScenarioRunner holds it: full throttle against full brake
    assert (control.throttle, control.brake) == (1.0, 1.0) and not scenario.moving
    # the hero drives up at 30 km/h and waits 12 m short of where the car pulls out
    on_side, top_speed, now = [], 0.0, 0.0
    for _ in range(400):
        distance = hero.get_location().distance(scenario.meeting)
        if distance > 12.0:
            forward = town_map.get_waypoint(hero.get_location()).transform.get_forward_vector()
            hero.set_target_velocity(carla.Vector3D(8.3 * forward.x, 8.3 * forward.y, 0.0))
        else:
            hero.set_target_velocity(carla.Vector3D())
            hero.apply_control(carla.VehicleControl(brake=1.0))
        scenario.tick(now)
        world.tick()
        now += 0.05
        if not scenario.adversary.is_alive:
            break
        location = scenario.adversary.get_location()
        speed = scenario.adversary.get_velocity().length()
        if town_map.get_waypoint(location).lane_id == side_lane:
            on_side.append(speed)
        else:
            top_speed = max(top_speed, speed)
    moving = [v for v in on_side if v > 0.05]
    assert moving, "the car pulled out"
    # CARLA's BasicAgent from a standstill (measured on this town): at most 2.7 m/s before its emergency stop
    # for the standing car 11 m ahead, then about 1.5-2.5 m/s while its centre is still on its lane
    assert max(on_side) < 3.5, max(on_side)
    assert any(b < a - 0.1 for a, b in zip(on_side, on_side[1:])), "it braked for the car ahead"
    assert top_speed > 12.0, "then it drove on in the hero's lane towards 60 km/h"
