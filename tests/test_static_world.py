"""The static world around the roads (curbs, buildings, guard rails, trees, poles, the map's wall) and
the ground: collisions with CARLA's fake ``static.*`` actors, the world queries that answer from it,
sensors that see it, and vehicles that never fall."""

import math

import carla
import numpy as np
import pytest

from conftest import make_world, shared_map
from rllib_integration.embedded import Client
from rllib_integration.embedded.maps import static_world as static_world_module
from rllib_integration.embedded.maps.ground import ground_model
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.sensors import parsers
from rllib_integration.sensors.birdview import BirdviewRenderer, MASK_CHANNELS

MKZ = "vehicle.lincoln.mkz_2017"


def town_world(server, town):
    return make_world(server, str(shared_map(town)) if town.startswith("Town") else town)[1]


def with_collisions(world, vehicle):
    sensor = world.spawn_actor(world.get_blueprint_library().find("sensor.other.collision"), carla.Transform(),
                               attach_to=vehicle)
    events = []
    sensor.listen(events.append)
    return events


def forward_speed(vehicle):
    velocity, forward = vehicle.get_velocity(), vehicle.get_transform().get_forward_vector()
    return velocity.x * forward.x + velocity.y * forward.y


@pytest.mark.parametrize("town", ["Town01", "Town10HD"])
def test_driving_straight_off_the_road_ends_in_a_static_collision_never_a_fall(server, town):
    world = town_world(server, town)
    ground = ground_model(world.get_map())
    blueprint = world.get_blueprint_library().find(MKZ)
    tried = 0
    for point in world.get_map().get_spawn_points()[::7][:10]:
        for turn in (90.0, -90.0):  # off to the right (over the sidewalk), off to the left (across the road)
            car = world.try_spawn_actor(blueprint, carla.Transform(point.location,
                                                                   carla.Rotation(yaw=point.rotation.yaw + turn)))
            if car is None:
                continue
            tried += 1
            events = with_collisions(world, car)
            for _ in range(25):
                world.tick()
            start = car.get_location()
            car.apply_control(carla.VehicleControl(throttle=1.0))
            hard, speed = [], 0.0
            for _ in range(300):
                speed = forward_speed(car)
                world.tick()
                location = car.get_location()
                assert location.z >= ground.height(np.array([location.x]), np.array([location.y]))[0] - 0.01
                hard = [e for e in events if e.other_actor.type_id != "static.sidewalk"]
                if hard:
                    break
            assert hard, f"{town}: driving off the road from {start} hit nothing"
            event = hard[0]
            assert event.other_actor.id == 0 and event.other_actor.type_id.startswith("static.")
            assert event.other_actor.type_id in ("static.building", "static.vegetation", "static.pole",
                                                 "static.wall", "static.guardrail")
            impulse = event.normal_impulse
            assert math.hypot(impulse.x, impulse.y) > 100.0, "an impulse in N·s"
            assert car.get_location().distance(start) < 60.0, "within the sidewalk, the set-back and a block"
            assert abs(forward_speed(car)) <= max(2.0, 0.15 * speed), "it stops or bounces back slowly"
            car.destroy()
    assert tried >= 8


def test_the_map_edge_is_a_wall(server):
    world = town_world(server, "RingTown")
    static = world.get_environment_objects(carla.CityObjectLabel.Walls)
    assert len(static) == 4
    east = max(static, key=lambda o: o.transform.location.x)
    car = world.spawn_actor(world.get_blueprint_library().find(MKZ), carla.Transform(
        carla.Location(east.transform.location.x - 20.0, east.transform.location.y, 1.0), carla.Rotation(yaw=0.0)))
    world.unload_map_layer(carla.MapLayer.Foliage)  # no trees in the way
    events = with_collisions(world, car)
    for _ in range(25):
        world.tick()
    car.apply_control(carla.VehicleControl(throttle=1.0))
    for _ in range(200):
        world.tick()
    assert any(e.other_actor.type_id == "static.wall" for e in events)
    assert car.get_location().x < east.transform.location.x, "nothing leaves the world"


def test_curbs_cost_speed_at_speed_and_can_be_climbed_at_walking_pace(server):
    world = town_world(server, "Town10HD")
    blueprint = world.get_blueprint_library().find(MKZ)
    outcomes = {}
    for index, speed in ((20, 8.0), (40, 1.0)):
        point = world.get_map().get_spawn_points()[index]
        waypoint = world.get_map().get_waypoint(point.location)
        lane = waypoint
        while lane.get_right_lane() is not None and lane.get_right_lane().lane_type != carla.LaneType.Sidewalk:
            lane = lane.get_right_lane()
        assert lane.get_right_lane() is not None, "a sidewalk to the right"
        right = lane.transform.get_right_vector()
        start = lane.transform.location + carla.Location(right.x * (lane.lane_width / 2 - 3.0),
                                                         right.y * (lane.lane_width / 2 - 3.0), 0.3)
        car = world.spawn_actor(blueprint, carla.Transform(start, carla.Rotation(yaw=lane.transform.rotation.yaw + 90)))
        events = with_collisions(world, car)
        for _ in range(25):
            world.tick()
        car.enable_constant_velocity(carla.Vector3D(speed, 0.0, 0.0))
        highest = 0.0
        for _ in range(int(5.0 / speed / 0.05)):  # 5 m
            world.tick()
            highest = max(highest, car.get_location().z)
            if events:
                break
        outcomes[speed] = ([e.other_actor.type_id for e in events], forward_speed(car), highest)
        car.destroy()
    kinds, _, _ = outcomes[8.0]
    assert kinds and kinds[0] == "static.sidewalk", "a curb hit at 29 km/h"
    kinds, _, highest = outcomes[1.0]
    assert "static.sidewalk" not in kinds and 0.07 <= highest <= 0.25, "at walking pace the car climbs the curb"


def test_level_bbs_environment_objects_and_layers(server):
    for town in ("Town01", "Town10HD", "GridTown"):
        world = town_world(server, town)
        buildings = world.get_level_bbs(carla.CityObjectLabel.Buildings)
        assert len(buildings) > 50, f"{town}: an urban town has many buildings"
        assert all(b.extent.z >= 3.0 for b in buildings)
    everything = world.get_environment_objects()
    labels = {o.type for o in everything}
    assert {carla.CityObjectLabel.Buildings, carla.CityObjectLabel.Vegetation, carla.CityObjectLabel.Poles,
            carla.CityObjectLabel.Walls} <= labels
    target = world.get_environment_objects(carla.CityObjectLabel.Buildings)[0]
    world.enable_environment_objects([target.id], False)
    assert target.id not in {o.id for o in world.get_environment_objects(carla.CityObjectLabel.Buildings)}
    world.enable_environment_objects([target.id], True)
    world.unload_map_layer(carla.MapLayer.Buildings)
    assert not world.get_level_bbs(carla.CityObjectLabel.Buildings)
    assert world.get_level_bbs(carla.CityObjectLabel.Vegetation), "other layers stay"
    world.load_map_layer(carla.MapLayer.Buildings)
    assert len(world.get_level_bbs(carla.CityObjectLabel.Buildings)) == len(
        world.get_environment_objects(carla.CityObjectLabel.Buildings))


def test_layered_opt_towns_load_only_the_layers_asked_for(server, tmp_path, monkeypatch):
    folder = tmp_path / "carla" / "CarlaUE4" / "Content" / "Carla" / "Maps" / "OpenDrive"
    folder.mkdir(parents=True)
    (folder / "Town01.xodr").write_text(shared_map("Town01").read_text())
    monkeypatch.setenv("CARLA_ROOT", str(tmp_path / "carla"))
    client = Client("localhost", server.port)
    roads_only = client.load_world("Town01_Opt", map_layers=carla.MapLayer.NONE)
    assert not roads_only.get_level_bbs(carla.CityObjectLabel.Buildings), "an _Opt town without its layers"
    roads_only.load_map_layer(carla.MapLayer.Buildings)
    assert roads_only.get_level_bbs(carla.CityObjectLabel.Buildings)
    assert not roads_only.get_level_bbs(carla.CityObjectLabel.Vegetation)
    plain = client.load_world("Town01", map_layers=carla.MapLayer.NONE)
    assert plain.get_level_bbs(carla.CityObjectLabel.Vegetation), "a town without layers loads everything"


def test_queries_answer_from_the_static_world(server):
    world = town_world(server, "Town10HD")
    building = world.get_level_bbs(carla.CityObjectLabel.Buildings)[0]
    above = carla.Location(building.location.x, building.location.y, building.location.z + building.extent.z + 10.0)
    hit = world.ground_projection(above, 100.0)
    assert hit.label == carla.CityObjectLabel.Buildings
    assert hit.location.z == pytest.approx(building.location.z + building.extent.z, abs=0.05)
    road = world.get_map().get_spawn_points()[0].location
    down = world.ground_projection(carla.Location(road.x, road.y, 10.0), 50.0)
    assert down.label == carla.CityObjectLabel.Roads and down.location.z == pytest.approx(0.0, abs=0.05)
    points = world.cast_ray(carla.Location(road.x, road.y, 10.0), carla.Location(building.location.x,
                                                                                   building.location.y, 1.0))
    assert points and points[0].label in (carla.CityObjectLabel.Buildings, carla.CityObjectLabel.Roads,
                                          carla.CityObjectLabel.Sidewalks, carla.CityObjectLabel.Vegetation)
    origin = carla.Location(road.x, road.y, 10.0)
    distances = [p.location.distance(origin) for p in points]
    assert distances == sorted(distances), "nearest first"
    assert world.project_point(carla.Location(road.x, road.y, 1.0), carla.Vector3D(0, 0, 1), 5.0) is None


def test_a_semantic_camera_looking_across_a_sidewalk_sees_buildings(server):
    world = town_world(server, "Town10HD")
    point = world.get_map().get_spawn_points()[20]
    waypoint = world.get_map().get_waypoint(point.location)
    blueprint = world.get_blueprint_library().find("sensor.camera.semantic_segmentation")
    blueprint.set_attribute("image_size_x", "96")
    blueprint.set_attribute("image_size_y", "64")
    transform = carla.Transform(carla.Location(point.location.x, point.location.y, 1.7),
                                carla.Rotation(yaw=waypoint.transform.rotation.yaw + 90.0))
    camera = world.spawn_actor(blueprint, transform)
    images = []
    camera.listen(images.append)
    world.tick()
    tags = parsers.semantic_tags(parsers.image_rgb(images[-1]))
    assert (tags == int(carla.CityObjectLabel.Buildings)).mean() > 0.1
    assert (tags == int(carla.CityObjectLabel.Sidewalks)).any()


def test_birdview_draws_buildings_only_when_asked(server):
    world = town_world(server, "Town10HD")
    hero = world.spawn_actor(world.get_blueprint_library().find(MKZ), world.get_map().get_spawn_points()[10])
    world.tick()
    plain = BirdviewRenderer(world, hero, 96, 25.0, "masks").render()
    built = BirdviewRenderer(world, hero, 96, 25.0, "masks", buildings=True).render()
    assert plain.shape[2] == len(MASK_CHANNELS) and built.shape[2] == len(MASK_CHANNELS) + 1
    assert built[..., -1].any() and not (built[..., -1] & built[..., 0]).any(), "buildings are off the road"
    np.testing.assert_array_equal(plain, built[..., :-1])
    rgb = BirdviewRenderer(world, hero, 96, 25.0, "rgb").render()
    assert not (rgb == (143, 89, 2)).all(axis=2).any(), "the original's look by default"


def test_ground_is_continuous_across_town07s_junction_and_vehicles_land(server):
    path = shared_map("Town07")
    name, opendrive = resolve_town(str(path))
    ground = ground_model(load_map(name, opendrive))
    xs, ys = np.meshgrid(np.arange(-20.0, 20.0, 0.25), np.arange(-258.0, -218.0, 0.25))
    heights = ground.height(xs, ys)
    assert np.abs(np.diff(heights, axis=0)).max() < 0.1 and np.abs(np.diff(heights, axis=1)).max() < 0.1
    world = town_world(server, "Town07")
    car = world.spawn_actor(world.get_blueprint_library().find(MKZ), carla.Transform(
        carla.Location(0.0, -238.0, float(ground.height(np.array([0.0]), np.array([-238.0]))[0]) + 0.5)))
    car.set_target_velocity(carla.Vector3D(0.0, 0.0, 4.0))  # thrown up, it lands again
    for _ in range(60):
        world.tick()
    location = car.get_location()
    assert location.z == pytest.approx(ground.height(np.array([location.x]), np.array([location.y]))[0], abs=0.05)


@pytest.mark.parametrize("town", ["Town07", "Town04", "GridTown", "RingTown", "Highway"])
def test_two_kilometres_of_random_routes_without_a_fall(server, town):
    world = town_world(server, town)
    ground = ground_model(world.get_map())
    manager = Client("localhost", server.port).get_trafficmanager(8000)
    manager.set_synchronous_mode(True)
    manager.set_random_device_seed(3)
    car = world.spawn_actor(world.get_blueprint_library().find(MKZ), world.get_map().get_spawn_points()[3])
    car.set_autopilot(True, 8000)
    manager.set_desired_speed(car, 50.0)
    travelled, last, lowest = 0.0, car.get_location(), np.inf
    for tick in range(12000):
        world.tick()
        location = car.get_location()
        travelled += location.distance(last)
        last = location
        lowest = min(lowest, location.z - ground.height(np.array([location.x]), np.array([location.y]))[0])
        if travelled >= 2000.0:
            break
    assert travelled >= 2000.0, f"{town}: the car drove {travelled:.0f} m"
    assert lowest > -0.01, "never below the ground"


def test_the_static_world_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("RLLIB_INTEGRATION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(static_world_module, "_WORLDS", {})
    name, opendrive = resolve_town("RingTown")
    town_map = load_map(name, opendrive)
    built = static_world_module.static_world(town_map, ground_model(town_map))
    assert list((tmp_path / "cache" / "static_world").glob("RingTown_*.npz"))
    static_world_module._WORLDS.clear()  # as a new process would start
    loaded = static_world_module.static_world(town_map, ground_model(town_map))
    assert loaded is not built and len(loaded.objects) == len(built.objects)
    np.testing.assert_array_equal(loaded.object_index, built.object_index)


def test_a_bicycle_rides_a_biking_lane_end_to_end_and_the_lane_is_paved_in_the_map_layer(server):
    """Biking lanes are paved side lanes: the map layer draws them (as shoulders) and the sidewalks beyond them, so the
    static world puts no guard rail, tree or building on them. Before, BikeTown's biking lanes were left out of the
    layer: the town counted as a motorway town (few sidewalks drawn) and guard rails stood across its biking lanes,
    where the bicycles of CrossingBicycleFlow crashed, turned round and rode back into the hero."""
    from rllib_integration.common.map_raster import Label, map_layer
    client, world = make_world(server, "BikeTown")
    town_map = world.get_map()
    layer = map_layer(town_map, 4.0)
    for x in (-60.0, 30.0, 45.0):
        row, col = int((4.25 - layer.origin_y) * 4.0), int((x - layer.origin_x) * 4.0)
        assert layer.labels[row, col] == Label.SHOULDER, f"the biking lane at x={x}"
        row = int((6.25 - layer.origin_y) * 4.0)
        assert layer.labels[row, col] == Label.SIDEWALK, f"the sidewalk beyond it at x={x}"
    library = world.get_blueprint_library()
    bike = world.spawn_actor(library.find("vehicle.bh.crossbike"),
                             carla.Transform(carla.Location(-60.0, 4.25, 0.3), carla.Rotation()))
    hits = []
    sensor = world.spawn_actor(library.find("sensor.other.collision"), carla.Transform(), attach_to=bike)
    sensor.listen(lambda event: hits.append(event.other_actor.type_id))
    world.tick()
    bike.set_target_velocity(carla.Vector3D(7.0, 0.0, 0.0))
    while bike.get_location().x < 90.0 and len(hits) == 0 and world.get_snapshot().timestamp.elapsed_seconds < 30.0:
        bike.apply_control(carla.VehicleControl(throttle=0.6))
        world.tick()
    sensor.stop()
    assert not hits, f"the bicycle hit {hits[0]} at {bike.get_location()}"
    assert bike.get_location().x >= 90.0 and abs(bike.get_location().y - 4.25) < 0.5
