"""The embedded world's carla API: spawning, ticking, settings, blueprints, actors, batches."""

import carla
import numpy as np
import pytest

from conftest import make_world, straight_spawn
from rllib_integration.embedded import Client, command


def test_spawning_on_an_occupied_spot_raises_or_returns_none(world):
    bp = world.get_blueprint_library().find("vehicle.tesla.model3")
    spot = world.get_map().get_spawn_points()[0]
    first = world.spawn_actor(bp, spot)
    with pytest.raises(RuntimeError, match="collision at spawn position"):
        world.spawn_actor(bp, spot)
    nudged = carla.Transform(carla.Location(spot.location.x + 1.0, spot.location.y, spot.location.z), spot.rotation)
    assert world.try_spawn_actor(bp, nudged) is None, "overlapping boxes block a spawn"
    assert len(world.get_actors().filter("vehicle.*")) == 1
    first.destroy()
    assert world.try_spawn_actor(bp, spot) is not None, "a destroyed actor frees its spot"


def test_frames_and_elapsed_time_advance_by_one_step_per_tick(world):
    start = world.get_snapshot().timestamp
    frames = [world.tick() for _ in range(10)]
    assert frames == list(range(start.frame + 1, start.frame + 11))
    stamp = world.get_snapshot().timestamp
    assert stamp.frame == frames[-1]
    assert stamp.elapsed_seconds == pytest.approx(start.elapsed_seconds + 10 * 0.05)
    assert stamp.delta_seconds == pytest.approx(0.05)


def test_settings_round_trip_and_load_world_keeps_them_on_request(server):
    client, world = make_world(server, delta=0.1)
    settings = world.get_settings()
    assert settings.synchronous_mode and settings.fixed_delta_seconds == pytest.approx(0.1)
    settings.no_rendering_mode = True
    world.apply_settings(settings)
    kept = client.load_world("RingTown", reset_settings=False, map_layers=carla.MapLayer.NONE)
    assert kept.get_settings().synchronous_mode and kept.get_settings().no_rendering_mode
    assert kept.get_map().name == "RingTown"
    reset = client.load_world("GridTown")
    assert not reset.get_settings().synchronous_mode
    assert reset.id != kept.id, "a new world is a new episode"


def test_frames_keep_increasing_across_world_loads(server):
    client, world = make_world(server)
    last = world.tick()
    new_world = client.load_world("Highway", reset_settings=False)
    assert new_world.tick() > last


def test_blueprint_library_has_carla_ids_sizes_and_attributes(world):
    library = world.get_blueprint_library()
    hero = library.find("vehicle.lincoln.mkz_2017")
    assert hero.get_attribute("number_of_wheels").as_int() == 4
    assert hero.get_attribute("base_type").as_str() == "car"
    hero.set_attribute("role_name", "hero")
    assert hero.get_attribute("role_name").as_str() == "hero"
    assert library.find("vehicle.lincoln.mkz_2017").get_attribute("role_name").as_str() == "autopilot", \
        "find() hands out copies"
    first, second = (next(iter(library.filter("vehicle.tesla.model3"))) for _ in range(2))
    first.set_attribute("role_name", "mine")
    second.set_attribute("role_name", "theirs")
    assert [b.get_attribute("role_name").as_str() for b in (first, second, library.find("vehicle.tesla.model3"))] \
        == ["mine", "theirs", "autopilot"], "the blueprints a filter hands out are independent copies"
    color = hero.get_attribute("color")
    hero.set_attribute("color", color.recommended_values[-1])
    assert isinstance(hero.get_attribute("color").as_color(), carla.Color)
    with pytest.raises(RuntimeError):
        hero.set_attribute("color", "not a colour")
    with pytest.raises(IndexError):
        library.find("vehicle.lincoln.mkz2017")
    two_wheelers = library.filter_by_attribute("number_of_wheels", "2")
    assert {bp.id for bp in two_wheelers} >= {"vehicle.bh.crossbike", "vehicle.yamaha.yzf"}
    assert len(library.filter("vehicle.*")) == 41
    assert len(library.filter("walker.pedestrian.*")) == 52
    assert [bp.id for bp in library.filter("model3")] == ["vehicle.tesla.model3"], "tags match too"
    vehicle = world.spawn_actor(hero, world.get_map().get_spawn_points()[0])
    assert vehicle.attributes["role_name"] == "hero"
    assert vehicle.bounding_box.extent.x == pytest.approx(4.902 / 2)
    assert vehicle.bounding_box.extent.y == pytest.approx(2.128 / 2)
    assert vehicle.bounding_box.location.z == pytest.approx(1.511 / 2)


def test_actor_queries_snapshot_and_destroy(world):
    bp = world.get_blueprint_library().find("vehicle.audi.tt")
    points = world.get_map().get_spawn_points()
    cars = [world.spawn_actor(bp, p) for p in points[:3]]
    walker_bp = world.get_blueprint_library().find("walker.pedestrian.0001")
    walker = world.spawn_actor(walker_bp, carla.Transform(carla.Location(points[5].location.x + 3.0,
                                                                         points[5].location.y + 8.0, 1.0)))
    assert [a.id for a in world.get_actors().filter("vehicle.*")] == [c.id for c in cars]
    assert world.get_actor(cars[1].id) is cars[1]
    assert world.get_actors([cars[0].id, walker.id]).find(walker.id) is walker
    assert world.get_spectator().type_id == "spectator"
    world.tick()
    snapshot = world.get_snapshot()
    assert snapshot.has_actor(cars[2].id)
    assert snapshot.find(cars[2].id).get_transform().location.distance(cars[2].get_location()) < 1e-9
    assert cars[0].destroy() is True and cars[0].is_alive is False
    assert cars[0].destroy() is False
    gone = cars[0].get_transform()  # as CARLA's client: a destroyed actor reads as an all-zero snapshot
    assert (gone.location.x, gone.location.y, gone.rotation.yaw) == (0.0, 0.0, 0.0)
    assert world.get_actor(cars[0].id) is None
    world.tick()
    assert not world.get_snapshot().has_actor(cars[0].id)
    assert cars[1].get_location().distance(snapshot.find(cars[1].id).get_transform().location) < 0.6


def test_set_transform_target_velocity_and_frozen_physics(world):
    bp = world.get_blueprint_library().find("vehicle.audi.a2")
    spot = straight_spawn(world)
    car = world.spawn_actor(bp, spot)
    target = carla.Transform(carla.Location(spot.location.x, spot.location.y, 0.0), spot.rotation)
    car.set_transform(target)
    assert car.get_location().distance(target.location) < 1e-9
    forward = spot.get_forward_vector()
    car.set_target_velocity(carla.Vector3D(10 * forward.x, 10 * forward.y, 0.0))
    assert car.get_velocity().length() == pytest.approx(10.0)
    car.set_simulate_physics(False)
    world.tick()
    assert car.get_location().distance(target.location) < 1e-9, "physics off: the actor stays put"
    assert car.get_velocity().length() == 0.0, "at rest"


def test_speed_limit_is_the_road_the_vehicle_drives_on(server):
    from conftest import shared_map
    from rllib_integration.embedded.maps.rules import SpeedLimits
    _, world = make_world(server, str(shared_map("Town02")))
    town_map = world.get_map()
    limits = SpeedLimits(town_map).by_road
    car = world.spawn_actor(world.get_blueprint_library().find("vehicle.audi.a2"), town_map.get_spawn_points()[0])
    seen, last = set(), carla.Location(1e9, 1e9, 0.0)
    for waypoint in town_map.generate_waypoints(20.0):
        inside = [w for w in waypoint.next(4.0) if w.road_id == waypoint.road_id]  # off the road's ends, where
        if waypoint.is_junction or not inside:                                     # roads meet
            continue
        waypoint = inside[0]
        transform = waypoint.transform
        if transform.location.distance(last) < 2.0:
            continue  # (the limit is looked up again after every metre driven, as a sign is passed)
        last = transform.location
        car.set_transform(carla.Transform(carla.Location(transform.location.x, transform.location.y, 0.5),
                                          transform.rotation))
        assert car.get_speed_limit() == limits.get(waypoint.road_id, 30.0)
        seen.add(car.get_speed_limit())
    assert seen == {30.0, 60.0, 90.0}, "Town02's speed signs give 30, 60 and 90 km/h roads"


def test_a_town_whose_roads_share_one_limit_answers_it_without_a_map_query(server, monkeypatch):
    from rllib_integration.embedded.maps.rules import SpeedLimits
    _, world = make_world(server, "GridTown")
    limits = SpeedLimits(world.get_map())
    assert limits.uniform and limits.default == 40.0 and not limits.by_road, "GridTown has no speed signs"
    monkeypatch.setattr(limits, "map", None)  # a query would fail
    assert limits.at(carla.Location(1e4, -1e4, 0.0)) == 40.0
    car = world.spawn_actor(world.get_blueprint_library().find("vehicle.audi.a2"), world.get_map().get_spawn_points()[3])
    world.tick()
    assert car.get_speed_limit() == 40.0
    assert world.vehicle_kinematics([car.id])[0, 7] == 40.0


def test_collisions_stop_vehicles_and_are_recorded(world):
    library = world.get_blueprint_library()
    spot = straight_spawn(world)
    forward = spot.get_forward_vector()
    ahead = carla.Transform(carla.Location(spot.location.x + 15 * forward.x, spot.location.y + 15 * forward.y,
                                           spot.location.z), spot.rotation)
    parked = world.spawn_actor(library.find("vehicle.audi.a2"), ahead)
    hero = world.spawn_actor(library.find("vehicle.lincoln.mkz_2017"), spot)
    hero.apply_control(carla.VehicleControl(throttle=1.0))
    hits = []
    for _ in range(100):
        world.tick()
        hits += [(r.actor.id, r.other_actor.id) for r in world.collisions]
    assert (hero.id, parked.id) in hits and (parked.id, hero.id) in hits
    gap = hero.get_location().distance(parked.get_location())
    assert gap > (4.902 + 3.705) / 2 - 0.5, "the hero does not drive through the parked car"


def test_apply_batch_sync_spawns_and_destroys_with_responses(server):
    client, world = make_world(server)
    bp = world.get_blueprint_library().find("vehicle.nissan.micra")
    points = world.get_map().get_spawn_points()
    responses = client.apply_batch_sync([command.SpawnActor(bp, p) for p in points[:4]] +
                                        [command.SpawnActor(bp, points[0])], True)
    assert [r.has_error() for r in responses] == [False, False, False, False, True]
    assert "collision" in responses[-1].error
    ids = [r.actor_id for r in responses[:4]]
    assert sorted(a.id for a in world.get_actors().filter("vehicle.*")) == sorted(ids)
    client.apply_batch([carla.command.DestroyActor(i) for i in ids[:2]])  # real carla commands too
    assert sorted(a.id for a in world.get_actors().filter("vehicle.*")) == sorted(ids[2:])
    control = carla.command.ApplyVehicleControl(ids[2], carla.VehicleControl(throttle=5.0))
    assert not client.apply_batch_sync([control])[0].has_error()
    assert world.get_actor(ids[2]).get_control().throttle == 1.0
    assert client.apply_batch_sync([command.DestroyActor(99999)])[0].has_error()


def test_client_surface(server):
    client = Client("localhost", server.port)
    client.set_timeout(2.0)
    assert client.get_server_version() == client.get_client_version() == "0.9.16"
    assert {"GridTown", "Highway", "RingTown"} <= set(client.get_available_maps())
    world = client.get_world()
    assert Client("127.0.0.1", server.port).get_world() is world, "same address, same server"
    world.set_weather(carla.WeatherParameters.WetCloudySunset)
    assert world.get_weather().cloudiness == carla.WeatherParameters.WetCloudySunset.cloudiness
    opendrive = world.get_map().to_opendrive()
    generated = client.generate_opendrive_world(opendrive)
    assert len(generated.get_map().get_spawn_points()) == len(world.get_map().get_spawn_points())


def test_many_vehicles_controls_and_locations_in_one_call_are_their_own_calls(server):
    """``apply_vehicle_controls`` / ``actor_locations`` / ``vehicle_kinematics`` (not carla API: many heroes a tick)
    give what each vehicle's ``apply_control`` / ``get_location`` / ``get_transform`` and ``get_velocity`` give: the
    same clamped 32-bit controls, then the same motion, the same 32-bit poses and velocities."""
    worlds = [make_world(server)[1]]
    bp = worlds[0].get_blueprint_library().find("vehicle.audi.a2")
    spots = worlds[0].get_map().get_spawn_points()[:7]
    cars = [worlds[0].spawn_actor(bp, spot) for spot in spots[:6]]
    walker = worlds[0].spawn_actor(worlds[0].get_blueprint_library().filter("walker.pedestrian.*")[0],
                                   carla.Transform(spots[6].location + carla.Location(z=1.0)))
    rows = np.array([[0.7, 0.1234567, 0.0], [1.5, -2.0, 0.0], [0.0, 0.3, 0.8], [0.4, 0.0, -1.0],
                     [0.2, 0.05, 0.1], [0.9, -0.3333333333, 0.0]])
    cars[4].apply_ackermann_control(carla.VehicleAckermannControl(steer=0.3, speed=5.0))
    before = [car.get_transform() for car in cars]
    worlds[0].apply_vehicle_controls([car.id for car in cars], rows)
    batched = [car.get_control() for car in cars]
    for car, transform in zip(cars, before):  # the same again, car by car, from the same state
        car.set_transform(transform)
    cars[4].apply_ackermann_control(carla.VehicleAckermannControl(steer=0.3, speed=5.0))
    for car, (throttle, steer, brake) in zip(cars, rows.tolist()):
        car.apply_control(carla.VehicleControl(throttle=throttle, steer=steer, brake=brake))
    one_by_one = [car.get_control() for car in cars]
    assert batched == one_by_one
    assert batched[1].throttle == 1.0 and batched[1].steer == -1.0 and batched[3].brake == 0.0, "clamped"
    assert batched[0].steer == carla.VehicleControl(steer=0.1234567).steer, "32-bit, as carla.VehicleControl"
    worlds[0].apply_vehicle_controls([car.id for car in cars], rows)
    for _ in range(20):
        worlds[0].tick()
    assert cars[4].get_control().steer == pytest.approx(0.05, abs=1e-6), "no Ackermann control after the batch's"
    ids = [car.id for car in cars] + [walker.id]
    locations = worlds[0].actor_locations(ids)
    expected = [car.get_location() for car in cars] + [walker.get_location()]
    assert locations.tolist() == [[loc.x, loc.y, loc.z] for loc in expected]
    for _ in range(60):
        worlds[0].tick()
    kinematics = worlds[0].vehicle_kinematics([car.id for car in cars]).astype(np.float32)  # as carla's types hold them
    for row, car in zip(kinematics.tolist(), cars):
        t, v = car.get_transform(), car.get_velocity()
        assert row[:7] == [t.location.x, t.location.y, t.location.z, t.rotation.yaw, v.x, v.y, v.z]
    assert abs(cars[0].get_angular_velocity().z) > 1.0 and cars[0].get_velocity().length() > 2.0, "a car turning"
    cars[5].destroy()
    assert worlds[0].actor_locations([cars[5].id]).tolist() == [[0.0, 0.0, 0.0]], "a vehicle gone reads zeros"
    assert worlds[0].vehicle_kinematics([cars[5].id]).tolist() == [[0.0] * 9], "and no kinematics"
    worlds[0].apply_vehicle_controls([cars[5].id, cars[0].id], rows[:2])  # no vehicle behind the first: ignored
    with pytest.raises(ValueError, match="throttle"):
        worlds[0].apply_vehicle_controls([cars[0].id, cars[1].id], np.array([[0.5, 0.0, 0.0], [np.nan, 0.0, 0.0]]))
    with pytest.raises(RuntimeError, match="no vehicle"):
        worlds[0].apply_vehicle_controls([walker.id], rows[:1])
    asked = [cars[0].id, cars[1].id, cars[4].id]  # asked again after a vehicle goes and the last takes its slot
    worlds[0].vehicle_kinematics(asked)
    cars[1].destroy()
    kinematics = worlds[0].vehicle_kinematics(asked).astype(np.float32)
    assert kinematics[1].tolist() == [0.0] * 9, "the vehicle gone"
    for row, car in zip(kinematics[[0, 2]].tolist(), (cars[0], cars[4])):
        t, v = car.get_transform(), car.get_velocity()
        assert row[:7] == [t.location.x, t.location.y, t.location.z, t.rotation.yaw, v.x, v.y, v.z], "its new slot"
