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


def ray_cast_reference(camera, transform):
    """What a camera sees when a ray is cast per pixel against the ground and every box (the cameras' way
    before rasterization), from the library's ray casting: (depth, tags, rgb) like ``Camera.render``."""
    from rllib_integration.common.map_raster import LABEL_TAGS, PALETTE
    from rllib_integration.common.formats import MAX_DEPTH
    from rllib_integration.embedded.sensors.cameras import SKY_HORIZON, SKY_TOP, STATIC_REACH, rotation_matrix
    from rllib_integration.embedded.sensors.raycast import cast_boxes, cast_scene
    rotation = rotation_matrix(transform.rotation)
    directions = camera._rays @ rotation.T
    origin, t_ground, boxes = cast_scene(camera._sim, camera.parent, transform, directions, MAX_DEPTH, STATIC_REACH)
    t_box, which, normal = cast_boxes(origin, directions, boxes)
    nearest = np.minimum(t_ground, t_box)
    sky = ~np.isfinite(nearest) | (nearest >= MAX_DEPTH)
    depth = np.minimum(nearest, MAX_DEPTH)
    on_box = (t_box < t_ground) & ~sky
    points = origin + directions * np.where(sky, 0.0, depth)[:, None]
    labels = camera._ground.labels(points[:, 0], points[:, 1])
    tags = np.where(sky, TAG_SKY, LABEL_TAGS[labels]).astype(np.uint8)
    rgb = PALETTE[labels].astype(float)
    tags[on_box] = boxes.tag[which[on_box]]
    shade = 0.55 + 0.45 * np.clip(normal[on_box] @ np.array([0.3, -0.4, 0.87]), 0.0, 1.0)
    rgb[on_box] = boxes.colour[which[on_box]] * shade[:, None]
    elevation = np.clip(directions[:, 2] / np.linalg.norm(directions, axis=1), 0.0, 1.0)[:, None]
    rgb = np.where(sky[:, None], SKY_HORIZON + (SKY_TOP - SKY_HORIZON) * elevation, rgb)
    shape = (camera.height, camera.width)
    return depth.reshape(shape), tags.reshape(shape), np.clip(rgb, 0, 255).astype(np.uint8).reshape(*shape, 3)


@pytest.mark.parametrize("size, mount", [((84, 84), (1.5, 0.0, 1.7, 0.0, 0.0, 0.0)),
                                         ((400, 300), (1.5, 0.0, 1.7, 0.0, -10.0, 0.0)),
                                         ((160, 120), (-4.0, 0.0, 2.5, 0.0, -15.0, 30.0))])
def test_the_rasterized_picture_is_the_ray_cast_picture(world, size, mount):
    """50 vehicles parked around the hero and the static world: the rasterizer gives the per-pixel ray caster's
    picture (tags and colours of all but a few edge pixels, the same depths)."""
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from benchmarks.birdview import populate
    library = world.get_blueprint_library()
    hero = world.spawn_actor(library.find("vehicle.lincoln.mkz_2017"), straight_spawn(world))
    assert populate(world, hero, 50) >= 40
    world.tick()
    x, y, z, roll, pitch, yaw = mount
    blueprint = library.find("sensor.camera.rgb")
    blueprint.set_attribute("image_size_x", str(size[0]))
    blueprint.set_attribute("image_size_y", str(size[1]))
    sensor = world.spawn_actor(blueprint, carla.Transform(carla.Location(x, y, z), carla.Rotation(pitch, yaw, roll)),
                               attach_to=hero)
    transform = sensor.get_transform()
    frame = sensor.render(transform)
    depth, tags, rgb = ray_cast_reference(sensor, transform)
    same_tag = frame.tags == tags
    assert same_tag.mean() > 0.99, f"{(~same_tag).sum()} pixels of {tags.size} differ in tag"
    close = np.all(np.abs(frame.rgb.astype(int) - rgb) <= 1, axis=2)
    assert close.mean() > 0.99
    both = same_tag & (tags != TAG_SKY)
    assert np.allclose(frame.depth[both], depth[both], rtol=1e-4, atol=1e-3)
    assert len(set(np.unique(tags))) >= 4, "a varied scene: road, vehicles, static objects, sky"
