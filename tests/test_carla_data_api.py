"""Blueprints, attributes and sensor data behave as CARLA's, the way CARLA's example scripts use them."""


import carla
import numpy as np
import pytest

from test_cameras import attach, scene


def test_attributes_convert_and_compare_as_carla(world):
    library = world.get_blueprint_library()
    bp = library.find("vehicle.tesla.model3")
    generation = bp.get_attribute("generation")
    assert int(generation) == 1 and generation == 1 and generation == "1" and generation != 2
    assert bp.get_attribute("base_type") == "car" and bp.get_attribute("special_type") == "electric"
    assert bool(bp.get_attribute("sticky_control")) is True and bp.get_attribute("sticky_control") == True  # noqa: E712
    assert str(generation) == "ActorAttribute(id=generation,type=int,value=1(const))"
    assert generation.type == carla.ActorAttributeType.Int and not generation.is_modifiable
    with pytest.raises(RuntimeError, match="bad attribute cast"):
        float(bp.get_attribute("base_type"))
    with pytest.raises(RuntimeError, match="bad attribute cast"):
        bp.get_attribute("role_name").as_int()
    color = bp.get_attribute("color")
    assert isinstance(color.as_color(), carla.Color) and color.recommended_values
    bp.set_attribute("color", color.recommended_values[2])
    assert bp.get_attribute("color").as_str() == color.recommended_values[2]
    with pytest.raises(RuntimeError, match="invalid value"):
        bp.set_attribute("color", "red")
    with pytest.raises(IndexError, match="not modifiable"):
        bp.set_attribute("number_of_wheels", "3")
    with pytest.raises(IndexError, match="has no attribute 'wheelbase'"):
        bp.get_attribute("wheelbase")
    # the generation filter of CARLA's generate_traffic.py
    gen2 = [b.id for b in library.filter("vehicle.*") if int(b.get_attribute("generation")) == 2]
    assert "vehicle.ford.crown" in gen2 and "vehicle.lincoln.mkz_2017" not in gen2
    cars = [b for b in library.filter("vehicle.*") if b.get_attribute("base_type") == "car"]
    assert len(cars) > 20


def test_walkers_and_props_carry_carlas_attributes(world):
    library = world.get_blueprint_library()
    walkers = library.filter("walker.pedestrian.*")
    assert len(walkers) == 52 and [w for w in walkers if int(w.get_attribute("generation")) == 2]
    adult = library.find("walker.pedestrian.0028")
    assert adult.has_attribute("can_use_wheelchair")
    adult.set_attribute("use_wheelchair", "True")
    assert adult.get_attribute("use_wheelchair").as_bool()
    assert not library.find("walker.pedestrian.0010").has_attribute("can_use_wheelchair"), "children do not"
    speeds = adult.get_attribute("speed").recommended_values
    assert float(speeds[1]) == pytest.approx(1.4) and float(speeds[2]) == pytest.approx(2.8)
    cone = library.find("static.prop.constructioncone")
    assert cone.get_attribute("size") == "small"
    rgb = library.find("sensor.camera.rgb")
    for name in ("lens_k", "gamma", "exposure_mode", "motion_blur_intensity", "sensor_tick", "role_name"):
        assert rgb.has_attribute(name)
    assert library.find("sensor.camera.dvs").has_attribute("refractory_period_ns")


def test_a_prop_blocks_a_vehicle_and_is_seen(world):
    hero, target = scene(world, ahead=12.0)
    target.destroy()
    t = hero.get_transform()
    forward = t.get_forward_vector()
    cone = world.spawn_actor(world.get_blueprint_library().find("static.prop.streetbarrier"), carla.Transform(
        carla.Location(t.location.x + 12.0 * forward.x, t.location.y + 12.0 * forward.y, t.location.z),
        carla.Rotation(yaw=t.rotation.yaw + 90.0)))
    assert cone.type_id == "static.prop.streetbarrier" and world.get_actors().filter("static.prop.*")[0].id == cone.id
    sensor, seen = attach(world, hero, "sensor.camera.semantic_segmentation", carla.Transform(carla.Location(z=1.5)),
                          image_size_x=64, image_size_y=48)
    world.tick()
    tags = np.frombuffer(seen[-1].raw_data, np.uint8).reshape(48, 64, 4)[..., 2]
    assert (tags == int(carla.CityObjectLabel.Static)).sum() > 10
    sensor.destroy()
    hits = []
    collision = world.spawn_actor(world.get_blueprint_library().find("sensor.other.collision"), carla.Transform(),
                                  attach_to=hero)
    collision.listen(hits.append)
    hero.apply_control(carla.VehicleControl(throttle=0.6))
    for _ in range(80):
        world.tick()
    assert any(event.other_actor.id == cone.id for event in hits)
    assert hero.get_location().distance(t.location) < 12.0, "it stopped at the barrier"


def test_images_convert_save_index_and_iterate(world, tmp_path):
    hero, _ = scene(world)
    transform = carla.Transform(carla.Location(z=1.5))
    _, rgb = attach(world, hero, "sensor.camera.rgb", transform, image_size_x=32, image_size_y=24)
    _, depth = attach(world, hero, "sensor.camera.depth", transform, image_size_x=32, image_size_y=24)
    _, semantic = attach(world, hero, "sensor.camera.semantic_segmentation", transform, image_size_x=32,
                         image_size_y=24)
    world.tick()
    image = rgb[-1]
    assert (image.width, image.height, image.fov, len(image)) == (32, 24, 90.0, 32 * 24)
    pixels = list(image)
    assert len(pixels) == 768 and isinstance(pixels[0], carla.Color)
    raw = np.frombuffer(image.raw_data, np.uint8).reshape(24, 32, 4)
    last = image[767]
    assert (last.b, last.g, last.r, last.a) == tuple(raw[23, 31])
    image[0] = carla.Color(1, 2, 3, 4)
    assert tuple(np.frombuffer(image.raw_data, np.uint8)[:4]) == (3, 2, 1, 4)
    path = image.save_to_disk(str(tmp_path / "out" / f"{image.frame:06d}"))
    assert path.endswith(".png")
    from PIL import Image as PILImage
    assert PILImage.open(path).size == (32, 24)
    # depth: the converters of carla.ColorConverter, in place
    image = depth[-1]
    before = np.frombuffer(image.raw_data, np.uint8).reshape(24, 32, 4).copy()
    image.convert(carla.ColorConverter.LogarithmicDepth)
    grey = np.frombuffer(image.raw_data, np.uint8).reshape(24, 32, 4)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert not np.array_equal(before, grey)
    near, far = grey[23, 16, 0], grey[12, 16, 0]
    assert near < far, "the road just below is nearer (darker) than the horizon"
    image = semantic[-1]
    image.save_to_disk(str(tmp_path / "palette.png"), carla.ColorConverter.CityScapesPalette)
    image.convert(carla.ColorConverter.CityScapesPalette)
    colours = {tuple(p) for p in np.frombuffer(image.raw_data, np.uint8).reshape(-1, 4)[:, 2::-1]}
    assert (128, 64, 128) in colours, "the road in CityScapes colours"


def test_point_clouds_iterate_as_carla_detections_and_save_ply(world, tmp_path):
    hero, _ = scene(world)
    _, lidar = attach(world, hero, "sensor.lidar.ray_cast", carla.Transform(carla.Location(z=2.0)),
                      range=30, points_per_second=20000)
    _, semantic = attach(world, hero, "sensor.lidar.ray_cast_semantic", carla.Transform(carla.Location(z=2.0)),
                         range=30, points_per_second=20000)
    _, radar = attach(world, hero, "sensor.other.radar", carla.Transform(carla.Location(x=2.5, z=1.0)))
    for _ in range(3):
        world.tick()
    sweep = lidar[-1]
    detections = list(sweep)
    assert len(detections) == len(sweep) > 100 and isinstance(detections[0], carla.LidarDetection)
    assert sum(sweep.get_point_count(c) for c in range(sweep.channels)) == len(sweep)
    first = np.frombuffer(sweep.raw_data, np.float32).reshape(-1, 4)[0]
    assert detections[0].point.x == pytest.approx(float(first[0])) and detections[0].intensity == pytest.approx(
        float(first[3]))
    path = sweep.save_to_disk(str(tmp_path / "sweep"))
    with open(path, encoding="ascii") as stream:
        lines = stream.read().splitlines()
    assert lines[:3] == ["ply", "format ascii 1.0", f"element vertex {len(sweep)}"]
    assert len(lines) == lines.index("end_header") + 1 + len(sweep)
    tagged = list(semantic[-1])
    assert isinstance(tagged[0], carla.SemanticLidarDetection)
    assert {d.object_tag for d in tagged} >= {1}, "the road is tagged"
    semantic[-1].save_to_disk(str(tmp_path / "semantic.ply"))
    echoes = radar[-1]
    assert len(list(echoes)) == echoes.get_detection_count() and all(
        isinstance(d, carla.RadarDetection) and d.depth > 0 for d in echoes)


def test_instance_normals_optical_flow_and_dvs_cameras(world):
    hero, target = scene(world, ahead=8.0)
    transform = carla.Transform(carla.Location(z=1.5))
    size = dict(image_size_x=48, image_size_y=32)
    _, instance = attach(world, hero, "sensor.camera.instance_segmentation", transform, **size)
    _, normals = attach(world, hero, "sensor.camera.normals", transform, **size)
    _, flow = attach(world, hero, "sensor.camera.optical_flow", transform, **size)
    _, dvs = attach(world, hero, "sensor.camera.dvs", transform, **size)
    world.tick()
    pixels = np.frombuffer(instance[-1].raw_data, np.uint8).reshape(32, 48, 4)
    ids = pixels[..., 1].astype(int) + 256 * pixels[..., 0].astype(int)
    assert target.id in set(ids[pixels[..., 2] == 14].ravel()), "the car ahead carries its actor id"
    up = np.frombuffer(normals[-1].raw_data, np.uint8).reshape(32, 48, 4)[31, 24, 2::-1]
    assert up[2] > 250 and abs(int(up[0]) - 128) < 3, "the road below faces up (camera z)"
    target.destroy()
    hero.apply_control(carla.VehicleControl(throttle=0.8))
    for _ in range(30):
        world.tick()
    motion = np.frombuffer(flow[-1].raw_data, np.float32).reshape(32, 48, 2)
    assert np.abs(motion[28]).max() > 1e-3, "the road streams past a moving camera"
    assert isinstance(flow[-1][0], carla.OpticalFlowPixel)
    assert flow[-1].get_color_coded_flow().width == 48
    events = dvs[-1]
    assert len(events) > 0 and len(events.to_array()) == len(events)
    assert str(events[0]).startswith("Event(x=") and events.to_image().height == 32


def test_collision_sensors_hear_their_own_parents_collisions_every_tick(world):
    """A collision sensor runs only after ticks in which its parent collided (a world of many heroes has one on
    each), yet gives every collision of its parent, every tick, as does a second one on it; a sensor on the other
    vehicle hears its own; a destroyed one hears nothing more."""
    hero, target = scene(world, ahead=9.0)
    blueprint = world.get_blueprint_library().find("sensor.other.collision")

    def sensor(parent: carla.Actor) -> tuple[carla.Actor, list]:
        actor, events = world.spawn_actor(blueprint, carla.Transform(), attach_to=parent), []
        actor.listen(events.append)
        return actor, events

    (_, heard), (_, heard_second) = sensor(hero), sensor(hero)
    (_, heard_target), (gone, heard_gone) = sensor(target), sensor(hero)
    hero.apply_control(carla.VehicleControl(throttle=1.0))
    frames_hit: list[int] = []
    for tick in range(120):
        frame = world.tick()
        if tick == 5:
            gone.destroy()
        hits = [event for event in heard if event.frame == frame]
        if hits:
            frames_hit.append(frame)
            assert hero.id not in {event.other_actor.id for event in hits}
            assert all(event.actor.id == hero.id for event in hits)  # (CARLA's: the sensor's parent)
    assert len(frames_hit) > 1, "the hero drove into the car ahead and pushed on"
    assert any(event.other_actor.id == target.id for event in heard)
    assert [(e.frame, e.other_actor.id) for e in heard_second] == [(e.frame, e.other_actor.id) for e in heard]
    assert heard_target and all(event.other_actor.id == hero.id for event in heard_target)
    assert not heard_gone, "destroyed before the hero reached the car"
