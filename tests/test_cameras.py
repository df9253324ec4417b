"""Cameras, LiDAR and radar of the embedded world, in CARLA's formats."""

import math

import carla
import numpy as np
import pytest

from conftest import straight_spawn
from rllib_integration.sensors import parsers

TAG_ROAD, TAG_SKY, TAG_CAR = 1, 11, 14


def scene(world, ahead=10.0, mount=carla.Location(x=0.0, z=1.0)):
    """A hero at a straight spawn point, settled, and an Audi A2 ``ahead`` metres in front of the mount."""
    library = world.get_blueprint_library()
    spot = straight_spawn(world)
    hero = world.spawn_actor(library.find("vehicle.lincoln.mkz_2017"), spot)
    forward = spot.get_forward_vector()
    distance = ahead + mount.x
    target = world.spawn_actor(library.find("vehicle.audi.a2"), carla.Transform(
        carla.Location(spot.location.x + distance * forward.x, spot.location.y + distance * forward.y, 0.5), spot.rotation))
    for _ in range(20):
        world.tick()
    return hero, target


def attach(world, hero, blueprint_id, transform, **attributes):
    blueprint = world.get_blueprint_library().find(blueprint_id)
    for key, value in attributes.items():
        blueprint.set_attribute(key, str(value))
    sensor = world.spawn_actor(blueprint, transform, attach_to=hero)
    data = []
    sensor.listen(data.append)
    return sensor, data


def test_a_vehicle_ahead_is_centred_at_its_depth_with_the_vehicle_tag(world):
    hero, target = scene(world)
    mount = carla.Transform(carla.Location(z=1.0))
    size = {"image_size_x": 201, "image_size_y": 151, "fov": 90}
    _, rgb = attach(world, hero, "sensor.camera.rgb", mount, **size)
    _, depth = attach(world, hero, "sensor.camera.depth", mount, **size)
    _, semantic = attach(world, hero, "sensor.camera.semantic_segmentation", mount, **size)
    world.tick()
    image = rgb[-1]
    assert (image.width, image.height, image.fov) == (201, 151, 90.0) and len(image.raw_data) == 201 * 151 * 4
    assert image.frame == world.get_snapshot().frame
    metres = parsers.depth_to_meters(parsers.image_rgb(depth[-1]))
    tags = parsers.semantic_tags(parsers.image_rgb(semantic[-1]))
    assert tags[75, 100] == TAG_CAR
    assert metres[75, 100] == pytest.approx(10.0 - target.bounding_box.extent.x, abs=0.2)
    rows, cols = np.nonzero(tags == TAG_CAR)
    assert cols.mean() == pytest.approx(100, abs=1.5), "centred"
    bottom = tags[90:, :]  # spawn points can sit on a painted arrow: take the whole ground view
    assert np.bincount(bottom.ravel()).argmax() == TAG_ROAD, "road below the horizon"
    assert tags[5, 100] == TAG_SKY and metres[5, 100] == pytest.approx(1000.0, abs=0.1), "sky above it"
    pixels = parsers.image_rgb(image)
    assert tuple(pixels[75, 100]) != tuple(pixels[5, 100])


def test_lidar_sees_the_vehicle_at_its_range_and_azimuth(world):
    hero, target = scene(world)
    _, data = attach(world, hero, "sensor.lidar.ray_cast_semantic", carla.Transform(carla.Location(z=1.0)),
                     channels=32, range=50, points_per_second=200000, rotation_frequency=20, upper_fov=5, lower_fov=-30)
    points = []
    for _ in range(2):  # a whole turn at 20 Hz
        world.tick()
        points.append(parsers.semantic_lidar(data[-1]))
    points = np.concatenate(points)
    hits = points[points["object_idx"] == target.id]
    assert len(hits) > 20 and set(hits["object_tag"]) == {TAG_CAR}
    nearest = hits["x"].min()
    assert nearest == pytest.approx(10.0 - target.bounding_box.extent.x, abs=0.15), "range"
    azimuth = np.degrees(np.arctan2(hits["y"], hits["x"]))
    assert abs(azimuth.mean()) < 1.0 and np.abs(azimuth).max() < math.degrees(math.atan2(1.0, 8.0)) + 1.0
    assert data[-1].channels == 32 and sum(data[-1].get_point_count(c) for c in range(32)) == len(data[-1])


def test_lidar_ground_returns_lie_at_minus_the_mount_height(world):
    world.unload_map_layer(carla.MapLayer.All)  # only the ground in range: no buildings, trees or poles
    hero = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2017"), straight_spawn(world))
    for _ in range(20):
        world.tick()
    _, data = attach(world, hero, "sensor.lidar.ray_cast", carla.Transform(carla.Location(z=2.0)),
                     channels=16, range=40, points_per_second=50000, upper_fov=-5, lower_fov=-30,
                     dropoff_general_rate=0.0, dropoff_zero_intensity=0.0)
    world.tick()
    points = parsers.lidar(data[-1])
    assert len(points) > 1000
    np.testing.assert_allclose(points[:, 2], -2.0, atol=1e-3)
    distance = np.linalg.norm(points[:, :3], axis=1)
    np.testing.assert_allclose(points[:, 3], np.exp(-0.004 * distance), rtol=1e-4)


def test_radar_measures_an_approaching_vehicle_at_minus_5_m_per_s(world):
    hero, target = scene(world, ahead=30.0)
    _, data = attach(world, hero, "sensor.other.radar", carla.Transform(carla.Location(z=1.0)),
                     horizontal_fov=10, vertical_fov=10, range=100, points_per_second=20000)
    forward = hero.get_transform().get_forward_vector()
    target.set_target_velocity(carla.Vector3D(-5.0 * forward.x, -5.0 * forward.y, 0.0))
    world.tick()
    detections = parsers.radar(data[-1])
    on_target = detections[np.abs(detections[:, 3] - (30.0 - target.bounding_box.extent.x)) < 1.5]
    assert len(on_target) > 10
    assert np.median(on_target[:, 0]) == pytest.approx(-5.0, abs=0.25)
    assert np.all(np.abs(on_target[:, 1]) <= math.radians(5.0) + 1e-6)


def test_dvs_reports_changes_only(world):
    hero, _ = scene(world)
    world.freeze_all_traffic_lights(True)  # a light changing colour in view is an event too
    _, data = attach(world, hero, "sensor.camera.dvs", carla.Transform(carla.Location(z=1.6)),
                     image_size_x=64, image_size_y=48)
    world.tick()
    world.tick()
    # the settled hero's sub-millimetre jitter may flip a pixel on an edge, no more
    assert len(data[-1]) <= 3, "a still scene gives (almost) no events"
    hero.apply_control(carla.VehicleControl(throttle=1.0, steer=0.5))
    for _ in range(10):
        world.tick()
    events = np.frombuffer(data[-1].raw_data, dtype=parsers.DVS_EVENT)
    assert len(events) > 30 and events["pol"].any() and (~events["pol"]).any()
    assert events["x"].max() < 64 and events["y"].max() < 48
