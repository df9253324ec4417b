"""Background traffic: autopilot vehicles, traffic lights, walkers, NPC spawning and determinism."""

import math

import carla
import numpy as np
import pytest

from conftest import make_world, shared_map
from rllib_integration import BaseExperiment, CarlaEnv
from rllib_integration.embedded import Client, command
from rllib_integration.embedded.maps.osm import osm_to_opendrive
from rllib_integration.embedded.maps.procedural import grid_town
from rllib_integration.embedded.traffic.navigation import navigation_for
from rllib_integration.evaluation.criteria import RedLightCriterion, StopSignCriterion
from rllib_integration.routes.planner import RoutePlanner


def spawn_cars(client, world, count, seed=0, port=8000):
    """``count`` cars (4 wheels, base type car) with autopilot, through a batch as CARLA users do."""
    tm = client.get_trafficmanager(port)
    tm.set_synchronous_mode(True)
    tm.set_random_device_seed(seed)
    cars = [bp for bp in world.get_blueprint_library().filter("vehicle.*")
            if bp.get_attribute("base_type").as_str() == "car"]
    points = world.get_map().get_spawn_points()
    order = np.random.default_rng(seed).permutation(len(points))[:count]
    batch = [command.SpawnActor(cars[i % len(cars)], points[p]).then(
        command.SetAutopilot(command.FutureActor, True, port)) for i, p in enumerate(order)]
    responses = client.apply_batch_sync(batch, True)
    assert not any(r.has_error() for r in responses)
    return [world.get_actor(r.actor_id) for r in responses]


def test_fifty_autopilot_cars_move_without_collisions_and_stay_on_the_road(server):
    client, world = make_world(server, "GridTown")
    cars = spawn_cars(client, world, 50)
    last = {car.id: car.get_location() for car in cars}
    travelled = dict.fromkeys(last, 0.0)
    town_map = world.get_map()
    collisions, off_road = [], set()
    for tick in range(2000):
        world.tick()
        collisions += [(r.actor.id, r.other_actor.id) for r in world.collisions]
        if tick % 20 == 0:  # more than 0.5 m beyond a lane edge (junction lanes do not tile junctions)
            for car in cars:
                travelled[car.id] += car.get_location().distance(last[car.id])
                last[car.id] = car.get_location()
                lane = town_map.get_waypoint(car.get_location())
                if car.get_location().distance(lane.transform.location) > lane.lane_width / 2 + 0.5:
                    off_road.add(car.id)
    assert not collisions
    assert not off_road
    assert all(distance > 20.0 for distance in travelled.values()), "every car moved (a car may loop a block)"
    assert max(car.get_velocity().length() for car in cars) * 3.6 <= 40.0 * 0.7 + 1.0, "70 % of the limit"


def test_hybrid_mode_moves_far_cars_along_their_lanes_at_their_speed(server):
    client, world = make_world(server, "GridTown")
    tm = client.get_trafficmanager(8000)
    tm.set_hybrid_physics_mode(True)
    tm.set_hybrid_physics_radius(40.0)
    cars = spawn_cars(client, world, 30)
    points = world.get_map().get_spawn_points()
    hero_bp = world.get_blueprint_library().find("vehicle.tesla.model3")
    hero_bp.set_attribute("role_name", "hero")
    hero = next(h for h in (world.try_spawn_actor(hero_bp, p) for p in points) if h is not None)
    town_map = world.get_map()
    last = {car.id: car.get_location() for car in cars}
    travelled = dict.fromkeys(last, 0.0)
    far_checked = 0
    for tick in range(600):
        world.tick()
        if tick % 20 or tick < 40:
            continue
        hero_at = hero.get_location()
        for car in cars:
            location, transform = car.get_location(), car.get_transform()
            travelled[car.id] += location.distance(last[car.id])
            last[car.id] = location
            lane = town_map.get_waypoint(location)
            if math.hypot(location.x - hero_at.x, location.y - hero_at.y) > 45.0:  # beyond the radius: moved
                if not lane.is_junction and car.get_velocity().length() > 1.0:  # a waiting car stays where it stopped
                    at = lane.transform.location
                    off_centre = math.hypot(location.x - at.x, location.y - at.y)
                    # on the route's 2 m chords: within centimetres on straights, a few decimetres in tight curves
                    assert off_centre < 0.5, f"a far car is {off_centre:.2f} m off its lane's centre"
                    turn = (transform.rotation.yaw - lane.transform.rotation.yaw + 180.0) % 360.0 - 180.0
                    assert abs(turn) < 5.0, "a far car faces along its lane"
                assert car.get_velocity().length() * 3.6 <= 40.0 * 0.7 + 2.5, "at the traffic manager's speed"
                far_checked += 1
    assert far_checked > 100
    assert sum(distance > 30.0 for distance in travelled.values()) >= 25, "far cars drive on, kinematically"


def test_respawned_dormant_vehicles_drive_on_from_where_they_reappear(server):
    """Respawning brings the vehicles beyond the upper bound into the ring around the hero (25-120 m here);
    each is planned a fresh route from its new spot and drives on (never moved back along its old route)."""
    client, world = make_world(server, "GridTown")
    tm = client.get_trafficmanager(8000)
    tm.set_hybrid_physics_mode(True)
    tm.set_respawn_dormant_vehicles(True)
    tm.set_boundaries_respawn_dormant_vehicles(25.0, 120.0)
    cars = spawn_cars(client, world, 30)
    hero_bp = world.get_blueprint_library().find("vehicle.tesla.model3")
    hero_bp.set_attribute("role_name", "hero")
    hero = next(h for h in (world.try_spawn_actor(hero_bp, p) for p in world.get_map().get_spawn_points())
                if h is not None)
    hero_at = hero.get_location()

    def distances():
        return [math.hypot(c.get_location().x - hero_at.x, c.get_location().y - hero_at.y) for c in cars]
    assert sum(d > 120.0 for d in distances()) >= 15, "most start beyond the upper bound"
    moved = 0.0
    for tick in range(400):
        before = [car.get_location() for car in cars]
        world.tick()
        if tick > 5:
            moved += sum(car.get_location().distance(b) for car, b in zip(cars, before))
            assert sum(d > 120.0 + 20.0 for d in distances()) <= 3, "vehicles beyond the upper bound are brought back"
    assert moved / 30 > 40.0, "and drive on from there"


def light_and_approach(world):
    """A signalised approach: (light, stop waypoint, a waypoint 40 m before it)."""
    for light in world.get_actors().filter("traffic.traffic_light*"):
        for stop in light.get_stop_waypoints():
            before = stop.previous(40.0)
            if before and not any(w.is_junction for d in range(2, 40, 4) for w in stop.previous(float(d))):
                return light, stop, before[0]
    raise AssertionError("no signalised approach")


def test_a_car_stops_at_red_before_the_stop_line_and_goes_on_green(server):
    client, world = make_world(server, "GridTown")
    light, stop, start = light_and_approach(world)
    for other in light.get_group_traffic_lights():
        other.freeze(True)
        other.set_state(carla.TrafficLightState.Red)
    t = start.transform
    car = world.spawn_actor(world.get_blueprint_library().find("vehicle.tesla.model3"),
                            carla.Transform(carla.Location(t.location.x, t.location.y, 0.5), t.rotation))
    car.set_autopilot(True, 8000)
    client.get_trafficmanager(8000).set_desired_speed(car, 30.0)
    for _ in range(400):
        world.tick()
    stop_location = stop.transform.location
    forward = stop.transform.get_forward_vector()
    front = car.get_location() + carla.Location(forward.x * car.bounding_box.extent.x,
                                                forward.y * car.bounding_box.extent.x)
    before_line = (stop_location.x - front.x) * forward.x + (stop_location.y - front.y) * forward.y
    assert car.get_velocity().length() < 0.1, "stopped at the red light"
    assert -0.5 < before_line < 12.0, "before the stop line"
    assert car.is_at_traffic_light() and car.get_traffic_light() is light
    assert car.get_traffic_light_state() == carla.TrafficLightState.Red
    light.set_state(carla.TrafficLightState.Green)
    for _ in range(100):
        world.tick()
    assert car.get_velocity().length() > 2.0, "goes on green"
    past = (car.get_location().x - stop_location.x) * forward.x + (car.get_location().y - stop_location.y) * forward.y
    assert past > 0.0


def test_light_groups_cycle_one_green_at_a_time(server):
    _, world = make_world(server, "GridTown")
    lights = list(world.get_actors().filter("traffic.traffic_light"))
    assert len(lights) == 16, "the town's 16 signals"
    groups = {tuple(sorted(l.id for l in light.get_group_traffic_lights())) for light in lights}
    assert len(groups) == 4 and all(len(g) == 4 for g in groups)
    group = lights[0].get_group_traffic_lights()
    seen = {light.id: set() for light in group}
    for _ in range(int((10 + 3 + 2) * 4 / 0.05) + 10):
        world.tick()
        states = [light.get_state() for light in group]
        assert sum(s != carla.TrafficLightState.Red for s in states) <= 1
        for light, state in zip(group, states):
            seen[light.id].add(state)
    assert all(states == {carla.TrafficLightState.Red, carla.TrafficLightState.Green, carla.TrafficLightState.Yellow}
               for states in seen.values()), "every light of the group had its turn"


def test_junctions_of_a_map_without_signals_get_lights(server):
    client = Client("localhost", server.port)
    world = client.generate_opendrive_world(osm_to_opendrive(grid_town(rows=2, cols=2, arterial_every=99)))
    lights = world.get_actors().filter("traffic.traffic_light*")
    assert len(lights) > 0
    assert all(len(light.get_group_traffic_lights()) >= 3 for light in lights), "3 or more approaches"


def test_an_autopilot_stops_at_a_stop_sign_every_time_it_comes_back_to_it(server):
    """The traffic manager remembered the last stop sign a vehicle had stopped at for ever: a route that came back
    to that junction (after others without a stop sign) ran the sign, a Leaderboard stop infraction."""
    client, world = make_world(server, str(shared_map("Town07")))
    town_map = world.get_map()
    sign = min(world.get_actors().filter("traffic.stop"),
               key=lambda s: s.get_location().distance(carla.Location(-10.4, -74.3, 0.0)))
    lane = town_map.get_waypoint(sign.get_transform().transform(sign.trigger_volume.location))
    start, beyond = lane.previous(30.0)[0].transform, lane.next(40.0)[0].transform.location
    car = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                            carla.Transform(start.location + carla.Location(z=0.3), start.rotation))
    tm = client.get_trafficmanager(8000)
    tm.set_synchronous_mode(True)
    car.set_autopilot(True, 8000)
    criterion, infractions = StopSignCriterion(world, town_map), []
    for _ in range(2):  # the same approach twice
        car.set_transform(carla.Transform(start.location + carla.Location(z=0.3), start.rotation))
        tm.set_path(car, [beyond])
        closest = math.inf
        for _ in range(int(30.0 / 0.05)):
            world.tick()
            location = car.get_location()
            infractions += criterion.update(world.get_snapshot().timestamp.elapsed_seconds, location,
                                            car.get_velocity().length())
            closest = min(closest, location.distance(beyond))
        assert closest < 3.0, "the car drove through the junction"
    assert not infractions, [i.message for i in infractions]


def test_an_autopilot_stops_at_a_red_light_whose_lane_another_road_overlaps(server):
    """Town07 puts a light on a short road between two junctions, and the junctions' connecting roads run over
    it: a route through them never touches the light's lane, so the autopilot, which looked lights up by lane,
    drove through it at red. Lights are now also found by where their stop line lies on the route."""
    client, world = make_world(server, str(shared_map("Town07")))
    town_map = world.get_map()
    light = next(l for l in world.get_actors().filter("traffic.traffic_light") if l.get_opendrive_id() == "1023")
    start = town_map.get_waypoint(carla.Location(-60.0, 0.7, 0.0))
    car = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                            carla.Transform(start.transform.location + carla.Location(z=0.3), start.transform.rotation))
    tm = client.get_trafficmanager(8000)
    tm.set_synchronous_mode(True)
    car.set_autopilot(True, 8000)
    tm.set_path(car, [carla.Location(-20.0, 0.4, 0.0), carla.Location(10.0, 0.2, 0.0)])
    light.set_state(carla.TrafficLightState.Red)
    light.freeze(True)
    criterion, infractions = RedLightCriterion(world, town_map), []

    def drive(seconds: float) -> None:
        for _ in range(int(seconds / 0.05)):
            world.tick()
            infractions.extend(criterion.update(world.get_snapshot().timestamp.elapsed_seconds, car.get_transform(),
                                                car.bounding_box.extent.x))

    drive(25.0)
    assert car.get_velocity().length() < 0.1 and -25.0 < car.get_location().x < -15.0, car.get_location()
    light.set_state(carla.TrafficLightState.Green)
    drive(15.0)
    assert car.get_location().x > 0.0, "it goes at green"
    assert not infractions, [i.message for i in infractions]


class Idle(BaseExperiment):
    def get_action_space(self):
        return None

    def get_observation_space(self):
        return None

    def get_observation(self, sensor_data):
        return np.zeros(1), {}


def traffic_env(**activity):
    return CarlaEnv({"carla": {"simulator": "embedded"},
                     "experiment": {"type": Idle, "town": "GridTown",
                                    "background_activity": {"n_vehicles": 20, "n_walkers": 10, **activity}}})


def npc_positions(env):
    world = env.core.world
    return sorted((a.id, round(a.get_location().x, 6), round(a.get_location().y, 6)) for a in world.get_actors()
                  if a.type_id.startswith(("vehicle.", "walker.")) and a.attributes.get("role_name") != "hero")


def test_background_activity_spawns_is_seeded_and_is_cleaned_up():
    runs = []
    for _ in range(2):
        env = traffic_env(seed=7)
        try:
            env.reset(seed=0)
            world = env.core.world
            assert len(world.get_actors().filter("vehicle.*")) == 21
            assert len(world.get_actors().filter("walker.pedestrian.*")) == 10
            assert len(world.get_actors().filter("controller.ai.walker")) == 10
            assert {a.attributes["role_name"] for a in world.get_actors().filter("vehicle.*")} == {"autopilot", "hero"}
            for _ in range(500):
                world.tick()
            runs.append(npc_positions(env))
        finally:
            world = env.core.world
            env.close()
        assert not [a for a in world.get_actors() if a.type_id != "spectator" and
                    not a.type_id.startswith("traffic.")], "close destroys every NPC"
    assert runs[0] == runs[1], "same seed, same trajectories"


def test_respawn_per_episode():
    env = traffic_env(respawn_per_episode=True, n_walkers=0, seed=3)
    try:
        env.reset(seed=0)
        first = set(env.core.background.actor_ids)
        env.reset(seed=1)
        # a background car can draw the hero's spot and fail to spawn, as on a server (a warning)
        assert first.isdisjoint(env.core.background.actor_ids) and 18 <= len(env.core.background.actor_ids) <= 20
    finally:
        env.close()


def test_traffic_manager_settings(server):
    client, world = make_world(server, "GridTown")
    tm = client.get_trafficmanager(8123)
    assert tm.get_port() == 8123
    car = spawn_cars(client, world, 1, port=8123)[0]
    tm.vehicle_percentage_speed_difference(car, 10.0)
    tm.auto_lane_change(car, False)
    tm.distance_to_leading_vehicle(car, 4.0)
    tm.set_desired_speed(car, 18.0)  # replaces the speed difference, as CARLA's does (and the other way round)
    tm.set_global_distance_to_leading_vehicle(3.0)
    tm.global_percentage_speed_difference(20.0)
    tm.ignore_lights_percentage(car, 100.0)
    for _ in range(300):
        world.tick()
    assert car.get_velocity().length() * 3.6 == pytest.approx(18.0, abs=2.0), "desired speed"
    assert car.get_control().throttle > 0.0
    car.set_autopilot(False)
    tm.set_desired_speed(car, 10.0)  # kept, as CARLA keeps a vehicle's parameters, until it is driven again
    car.set_autopilot(True, 8123)
    for _ in range(300):
        world.tick()
    assert car.get_velocity().length() * 3.6 == pytest.approx(10.0, abs=2.0), "the setting made while not driven"
    tm.vehicle_percentage_speed_difference(car, 50.0)  # drops the desired speed: half of GridTown's 40 km/h
    for _ in range(300):
        world.tick()
    assert car.get_velocity().length() * 3.6 == pytest.approx(20.0, abs=2.0), "the speed difference replaces it"


def test_a_vehicle_told_to_drive_100_percent_below_the_limit_stands_braked_and_does_not_creep(server):
    """CARLA's traffic manager holds a vehicle whose target speed is zero; an IDM whose free-road term floors the
    target speed crept it forward in pulses (into the lane it was yielding to)."""
    client, world = make_world(server, "GridTown")
    tm = client.get_trafficmanager(8124)
    car = spawn_cars(client, world, 1, port=8124)[0]
    tm.ignore_lights_percentage(car, 100.0)
    for _ in range(60):
        world.tick()
    tm.vehicle_percentage_speed_difference(car, 100.0)
    for _ in range(100):
        world.tick()
    standing = car.get_location()
    for _ in range(200):  # 10 s
        world.tick()
        assert car.get_control().throttle == 0.0 and car.get_control().brake == 1.0
    assert car.get_location().distance(standing) < 0.01
    tm.set_desired_speed(car, 0.3)  # a crawl is not a stand: it edges forward
    for _ in range(200):
        world.tick()
    assert 0.3 < car.get_location().distance(standing) < 1.5


@pytest.mark.parametrize("ignore", [None, "collision_detection", "ignore_vehicles_percentage"])
def test_a_follower_stops_behind_a_standing_car_unless_told_to_ignore_it(server, ignore):
    from conftest import straight_spawn
    client, world = make_world(server, "GridTown")
    tm = client.get_trafficmanager(8000)
    tm.set_synchronous_mode(True)
    start = straight_spawn(world)
    library = world.get_blueprint_library()
    ahead = world.get_map().get_waypoint(start.location).next(30.0)[0].transform
    standing = world.spawn_actor(library.find("vehicle.audi.a2"), carla.Transform(
        carla.Location(ahead.location.x, ahead.location.y, ahead.location.z + 0.3), ahead.rotation))
    standing.apply_control(carla.VehicleControl(hand_brake=True))
    follower = world.spawn_actor(library.find("vehicle.lincoln.mkz_2017"), carla.Transform(
        carla.Location(start.location.x, start.location.y, start.location.z + 0.3), start.rotation))
    follower.set_autopilot(True, 8000)
    tm.auto_lane_change(follower, False)  # (it would overtake)
    if ignore == "collision_detection":
        tm.collision_detection(follower, standing, False)
    elif ignore == "ignore_vehicles_percentage":
        tm.ignore_vehicles_percentage(follower, 100.0)
    hits = 0
    for _ in range(600):
        world.tick()
        hits += sum(1 for r in world.collisions if r.actor.id == follower.id and r.other_actor.id == standing.id)
    gap = follower.get_location().distance(standing.get_location())
    if ignore is None:
        assert hits == 0 and follower.get_velocity().length() < 0.2, "it waits behind the standing car"
        assert 4.5 < gap < 12.0, f"at its standstill distance ({gap:.1f} m between centres)"
    else:
        assert hits > 0, "it drives on as if the car were not there"


@pytest.mark.parametrize("town", ["GridTown", "Town01"])
def test_sidewalk_network_is_connected(server, town):
    from conftest import shared_map
    name = town if town == "GridTown" else str(shared_map(town))
    _, world = make_world(server, name)
    navigation = navigation_for(world.get_map())
    assert len(navigation.points) > 1000
    assert len(set(navigation.components().tolist())) == 1, "every sidewalk point reaches every other"


def test_a_route_start_with_a_walker_or_a_car_on_it_is_cleared_for_the_hero():
    """The Leaderboard's start: background vehicles and walkers standing on the route's first waypoint are
    removed (a walker's controller with it) so the hero spawns there; the rest of the traffic stays."""
    env = traffic_env(seed=5)
    try:
        env.reset(seed=0)
        core, world = env.core, env.core.world
        planner = RoutePlanner(core.map)
        start, end = core.map.get_spawn_points()[0], core.map.get_spawn_points()[7]
        route = planner.trace_route(start.location, end.location)
        spot = route[0][0].transform
        walker = world.get_actors().filter("walker.pedestrian.*")[0]
        car = [a for a in world.get_actors().filter("vehicle.*") if a.attributes["role_name"] == "autopilot"][0]
        controller = [a for a in world.get_actors().filter("controller.ai.walker") if a.parent.id == walker.id][0]
        core.release_hero()
        for actor, dx in ((walker, 0.0), (car, 8.0)):
            actor.set_simulate_physics(False)
            actor.set_transform(carla.Transform(spot.location + carla.Location(x=dx, z=1.0), spot.rotation))
        world.tick()
        others = len(core.background.actor_ids)
        hero = core.reset_hero(env.experiment.config["hero"], np.random.default_rng(0), route=route)
        assert hero.get_location().distance(spot.location) < 1.0
        gone = {walker.id, car.id, controller.id}
        assert not gone & {a.id for a in world.get_actors()} and not gone & set(core.background.actor_ids)
        assert len(core.background.actor_ids) == others - 3
    finally:
        env.close()


def test_a_map_with_crosswalks_and_no_sidewalks_has_an_empty_walker_network():
    """Found on a highway town (crosswalk polygons, no sidewalk beside a driving lane): building the
    pedestrian graph raised 'attempt to get argmin of an empty sequence' and every route with walkers crashed."""
    from rllib_integration.embedded.maps.towns import load_map, resolve_town
    from rllib_integration.embedded.traffic.navigation import Navigation

    class WithCrosswalks:
        def __init__(self, town_map):
            self.town_map = town_map

        def generate_waypoints(self, distance):
            return self.town_map.generate_waypoints(distance)

        def get_crosswalks(self):
            corners = [carla.Location(0, 0, 0), carla.Location(4, 0, 0), carla.Location(4, 8, 0),
                       carla.Location(0, 8, 0)]
            return corners + corners[:1]

    navigation = Navigation(WithCrosswalks(load_map(*resolve_town("Highway"))))
    assert len(navigation.points) == 0 and navigation.components().size == 0


def test_a_vehicle_not_driven_by_the_traffic_manager_coming_across_keeps_its_vehicles_out_of_the_junction():
    """InterurbanActorFlow: background cars turned into a scenario's flow just ahead of its cars, which hold no
    junction; the traffic manager's vehicles now wait while such a vehicle is coming across their way."""
    from types import SimpleNamespace

    from rllib_integration.embedded.traffic.crossing import CrossingTraffic

    # (x, y, yaw degrees, speed) of: A crossing at 10 m/s, 4 s from the path; B the same 8 s away (past the horizon);
    # C a leader on the path; D a follower; E standing across it; F like A but driven by the traffic manager
    rows = {"A": (15.0, -40.0, 90.0, 10.0), "B": (15.0, -80.0, 90.0, 10.0), "C": (10.0, 0.0, 0.0, 5.0),
            "D": (-10.0, 0.0, 0.0, 8.0), "E": (15.0, -3.0, 90.0, 0.0), "F": (15.0, -40.0, 90.0, 10.0)}
    ids = {name: k for k, name in enumerate(rows, start=100)}

    def table(names):
        data = {"x": [rows[n][0] for n in names], "y": [rows[n][1] for n in names],
                "yaw": [math.radians(rows[n][2]) for n in names], "speed": [rows[n][3] for n in names]}
        return SimpleNamespace(owners=[SimpleNamespace(id=ids[n]) for n in names],
                               column=lambda key: np.array(data[key], dtype=float))

    path = np.stack([np.arange(0.0, 30.0, 2.0), np.zeros(15)], axis=1)  # the route along +x from (0, 0)

    def coming(names, registered=()):
        crossing = CrossingTraffic(table(names), {ids[n] for n in registered})
        return crossing.coming(-2.0, 0.0, 0.0, 0.0, 2.4, path)

    assert coming(["A"]) == ids["A"]
    assert coming(["B", "C", "D", "E"]) is None
    assert coming(["F"], registered=["F"]) is None, "the traffic manager's own vehicles hold the junction instead"


def test_a_car_standing_where_the_route_bends_out_of_its_lane_is_a_leader_by_its_tail_and_a_crossing_one_is_not():
    """HighwayExit, seed 11: the hero's route bent off the highway lane towards the exit where a flow car stood,
    its centre beside the route's point at its distance but its tail on the route; the car was no leader and the
    hero ran into it. A vehicle going the follower's way is now judged by its ends too; one crossing is not."""
    from rllib_integration.embedded.traffic.leaders import nearest_leaders
    along = np.arange(16) * 2.0
    route = np.stack([along, np.where(along > 16.0, 0.5 * (along - 16.0), 0.0)], axis=1)[None]  # bends off at 16 m

    def leader_gap(yaw: float, half_length: float) -> float:
        gap, _ = nearest_leaders(np.zeros(1), np.zeros(1), np.zeros(1), np.array([2.4]), np.array([1.0]),
                                 np.array([-1]), route, 2.0, np.array([22.0]), np.array([0.0]), np.array([yaw]),
                                 np.array([0.0]), np.array([half_length]), np.array([0.9]), np.zeros((0, 0), bool), 1)
        return float(gap[0])

    assert leader_gap(0.0, 2.4) == pytest.approx(22.0 - 2.4 - 2.4)  # its tail is on the route
    assert leader_gap(0.0, 0.9) == math.inf  # a short one there: centre and ends beside the route
    assert leader_gap(math.pi / 2, 2.4) == math.inf  # crossing, its nose towards the route: no leader
