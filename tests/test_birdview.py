"""BirdView: geometry of the egocentric picture, map content, masks and the map-layer cache."""

import carla
import numpy as np
import pytest

from conftest import straight_spawn
from rllib_integration import ConfigError
from rllib_integration.common import map_raster as birdview_map
from rllib_integration.embedded.maps.random_towns import TownSpec, random_town_opendrive
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.sensors.birdview import (MASK_CHANNELS, MASK_THRESHOLDS, HERO_COLOUR, VEHICLE_COLOUR,
                                                averaged_layer, mask_bits_layer)
from test_sensors import as_point, sensor_env

SIZE, RADIUS = 300, 15.0
PPM = SIZE / (2 * RADIUS)
HERO_ROW, HERO_COL = SIZE / 2 + RADIUS / 2 * PPM, SIZE / 2


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RLLIB_INTEGRATION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(birdview_map, "_LAYERS", {})
    return tmp_path / "cache"


def birdview_env(output="rgb", spawn=None):
    probe = sensor_env({})
    spot = spawn or straight_spawn(probe.core.world)
    probe.close()
    env = sensor_env({"bev": {"type": "sensor.birdview", "size": SIZE, "radius": RADIUS, "output": output}},
                     spawn_points=[as_point(spot)])
    return env, spot


def settle(env, steps=10):
    for _ in range(steps):
        _, _, _, _, info = env.step(np.array([0.0, 0.0, 1.0], np.float32))
    return info["sensors"]["bev"]


def test_hero_arrow_is_green_at_the_expected_pixel_and_points_up():
    env, _ = birdview_env()
    try:
        env.reset(seed=0)
        frame, image = settle(env)
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
        # the hero's pixels: those at least half covered by its arrow (its anti-aliased edge blends it with the road)
        hero, road = np.array(HERO_COLOUR, float), birdview_map.PALETTE[birdview_map.Label.ROAD].astype(float)
        green = np.linalg.norm(image - hero, axis=2) < 0.5 * np.linalg.norm(road - hero)
        rows, cols = np.nonzero(green)
        extent = env.core.hero.bounding_box.extent
        assert tuple(image[int(HERO_ROW), int(HERO_COL)]) == HERO_COLOUR
        assert rows.min() == pytest.approx(HERO_ROW - extent.x * PPM, abs=1.5), "the nose is up"
        assert rows.max() == pytest.approx(HERO_ROW + extent.x * PPM, abs=1.5)
        assert cols.mean() == pytest.approx(HERO_COL, abs=1.0)
        top, bottom = green[rows.min() + 1].sum(), green[rows.max() - 1].sum()
        assert top < bottom / 2, "the arrow narrows to its nose at the top"
        assert frame == env.core.world.get_snapshot().frame
    finally:
        env.close()


def test_road_pixels_lie_on_the_map_lanes():
    env, _ = birdview_env("masks")
    try:
        env.reset(seed=0)
        _, masks = settle(env)
        town_map, hero = env.core.map, env.core.hero.get_transform()
        yaw = np.radians(hero.rotation.yaw)
        forward, right = np.array([np.cos(yaw), np.sin(yaw)]), np.array([-np.sin(yaw), np.cos(yaw)])
        rng = np.random.default_rng(0)
        agree = total = 0
        for row, col in rng.integers(0, SIZE, size=(400, 2)):
            ahead, side = (HERO_ROW - row - 0.5) / PPM, (col + 0.5 - HERO_COL) / PPM
            point = np.array([hero.location.x, hero.location.y]) + ahead * forward + side * right
            lane = town_map.get_waypoint(carla.Location(point[0], point[1], 0.0), project_to_road=False,
                                         lane_type=carla.LaneType.Driving)
            on_lane = lane is not None and abs(
                (point - [lane.transform.location.x, lane.transform.location.y]) @
                [-np.sin(np.radians(lane.transform.rotation.yaw)), np.cos(np.radians(lane.transform.rotation.yaw))]
            ) < lane.lane_width / 2 - 0.2
            off_lane = lane is None
            if on_lane or off_lane:
                total += 1
                agree += bool(masks[row, col, 0]) == on_lane
        assert total > 300 and agree / total > 0.97
        assert masks[..., MASK_CHANNELS.index("lane_markings")].any()
    finally:
        env.close()


def test_a_vehicle_10m_ahead_is_10_ppm_pixels_above_the_hero():
    env, spot = birdview_env("masks")
    try:
        env.reset(seed=0)
        settle(env, 5)
        hero = env.core.hero.get_transform()
        forward = hero.get_forward_vector()
        world = env.core.world
        ahead = carla.Transform(carla.Location(hero.location.x + 10 * forward.x, hero.location.y + 10 * forward.y, 0.5),
                                hero.rotation)
        world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2017"), ahead)
        _, masks = settle(env)
        hero_rows, hero_cols = np.nonzero(masks[..., MASK_CHANNELS.index("hero")])
        rows, cols = np.nonzero(masks[..., MASK_CHANNELS.index("vehicles")])
        assert rows.mean() == pytest.approx(hero_rows.mean() - 10 * PPM, abs=1.0)
        assert cols.mean() == pytest.approx(hero_cols.mean(), abs=1.0)
        assert not masks[..., MASK_CHANNELS.index("walkers")].any()
    finally:
        env.close()


def test_other_vehicles_are_sky_blue_in_rgb():
    env, _ = birdview_env()
    try:
        env.reset(seed=0)
        hero = env.core.hero.get_transform()
        forward = hero.get_forward_vector()
        world = env.core.world
        world.spawn_actor(world.get_blueprint_library().find("vehicle.audi.a2"),
                          carla.Transform(carla.Location(hero.location.x + 12 * forward.x,
                                                         hero.location.y + 12 * forward.y, 0.5), hero.rotation))
        _, image = settle(env)
        assert tuple(image[int(HERO_ROW - 12 * PPM), int(HERO_COL)]) == VEHICLE_COLOUR
    finally:
        env.close()


class ActorByActorWorld:
    """The embedded world without its one-call ``actor_poses``: the BirdView reads the actors one by one,
    as it does on a CARLA server."""

    def __init__(self, world):
        self._world = world

    def __getattr__(self, name):
        if name == "actor_poses":
            raise AttributeError(name)
        return getattr(self._world, name)


@pytest.mark.parametrize("output", ["rgb", "masks"])
def test_poses_read_in_one_call_draw_what_actor_by_actor_reads_draw(output):
    from rllib_integration.sensors.birdview import BirdviewRenderer
    env, _ = birdview_env(output)
    try:
        env.reset(seed=0)
        hero = env.core.hero.get_transform()
        forward, right = hero.get_forward_vector(), hero.get_right_vector()
        world, library = env.core.world, env.core.world.get_blueprint_library()

        def at(ahead, aside, z=0.5, turn=0.0):
            return carla.Transform(carla.Location(hero.location.x + ahead * forward.x + aside * right.x,
                                                  hero.location.y + ahead * forward.y + aside * right.y, z),
                                   carla.Rotation(yaw=hero.rotation.yaw + turn))
        world.spawn_actor(library.find("vehicle.audi.a2"), at(12.0, 0.0, turn=20.0))
        world.spawn_actor(library.find("vehicle.yamaha.yzf"), at(-6.0, 3.0))
        world.spawn_actor(library.find("walker.pedestrian.0001"), at(7.0, -5.0, 1.0, turn=90.0))
        world.spawn_actor(library.find("vehicle.tesla.model3"), at(80.0, 0.0))  # off the picture
        settle(env, 3)
        one_call = BirdviewRenderer(world, env.core.hero, SIZE, RADIUS, output).render()
        one_by_one = BirdviewRenderer(ActorByActorWorld(world), env.core.hero, SIZE, RADIUS, output).render()
        assert np.array_equal(one_call, one_by_one)
        channel = MASK_CHANNELS.index("walkers") if output == "masks" else None
        if channel is not None:
            assert one_call[..., channel].any() and one_call[..., MASK_CHANNELS.index("vehicles")].any()
    finally:
        env.close()


@pytest.mark.parametrize("output", ["rgb", "masks"])
def test_many_heroes_rendered_together_get_the_pictures_each_renders_alone(output, server):
    """render_many (the batched experiments' BirdViews: views, lights and actors found for every hero at once)
    draws exactly what each renderer draws alone, its own hero on top in each, its route where it has one; renderers
    of another configuration in the same call are rendered apart."""
    from conftest import make_world
    from rllib_integration.routes.planner import RoutePlanner
    from rllib_integration.routes.progress import RouteProgress
    from rllib_integration.sensors.birdview import BirdviewRenderer, render_many, render_stacked
    world = make_world(server, "GridTown")[1]
    library, spawns = world.get_blueprint_library(), world.get_map().get_spawn_points()
    heroes = [world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"), spawns[k]) for k in range(0, 60, 4)]
    for hero in heroes:
        hero.set_autopilot(True)
    for _ in range(30):
        world.tick()
    planner, lights = RoutePlanner(world.get_map()), list(world.get_actors().filter("traffic.traffic_light*"))
    renderers = [BirdviewRenderer(world, hero, 64, 16.0, output, route=True, lights=lights) for hero in heroes]
    for hero, renderer in zip(heroes, renderers):
        renderer.set_route(RouteProgress(planner.trace_route(hero.get_location(), spawns[-1].location)))
    renderers.append(BirdviewRenderer(world, heroes[0], 96, 20.0, output, lights=lights))  # another configuration
    if output == "rgb":  # a world.debug shape, which OpenCV draws into each picture
        world.debug.draw_point(heroes[0].get_location() + carla.Location(x=6.0, y=6.0), size=0.5,
                               color=carla.Color(255, 0, 255), life_time=60.0)
    frame = world.get_snapshot().frame
    together = render_many(renderers, frame)
    alone = [renderer.render(frame) for renderer in renderers]
    # render_stacked: one configuration drawn straight into an array of any strides (a frame stack's newest frame)
    channels = together[0].shape[2]
    poses = np.array([(t.location.x, t.location.y, t.location.z, t.rotation.yaw)
                      for t in (hero.get_transform() for hero in heroes)])
    stacks = np.full((len(heroes), 64, 64, 2 * channels), 7, dtype=np.uint8)
    drawn = render_stacked(renderers[:-1], frame, poses, stacks[..., channels:])
    assert drawn.base is stacks or drawn.base is stacks.base
    assert np.array_equal(stacks[..., channels:], np.stack(alone[:-1])) and (stacks[..., :channels] == 7).all()
    assert np.array_equal(render_stacked(renderers[:-1], frame, poses), np.stack(alone[:-1]))
    zeroed = np.zeros_like(stacks)  # cleared: into zeros, which the masks need not write again
    render_stacked(renderers[:-1], frame, poses, zeroed[..., channels:], cleared=True)
    assert np.array_equal(zeroed[..., channels:], np.stack(alone[:-1])) and (zeroed[..., :channels] == 0).all()
    if output == "rgb":
        assert (stacks[0, ..., channels:] == (255, 0, 255)).all(axis=2).any(), "the debug point, drawn in place"
    assert [picture.shape for picture in together] == [(64, 64, 3 if output == "rgb" else 9)] * len(heroes) + \
        [(96, 96, 3 if output == "rgb" else 8)]
    assert all(np.array_equal(a, b) for a, b in zip(together, alone))
    assert len({picture.tobytes() for picture in together}) > len(together) // 2  # the heroes' own views
    hero_channel = MASK_CHANNELS.index("hero")
    centre = (64 // 2 + int(16.0 / 2 * 2.0), 64 // 2)  # the hero's pixel (row, column): radius / 2 below the centre
    for picture in together[:-1]:
        if output == "masks":
            assert picture[centre[0], centre[1], hero_channel] == 255
        else:
            assert tuple(picture[centre]) == HERO_COLOUR


def test_the_map_layer_is_rendered_once_and_reused_from_memory_and_disk(cache):
    renders = birdview_map.RENDER_COUNT[f"renders@{PPM:g}"]
    env, _ = birdview_env()
    try:
        env.reset(seed=0)
        assert birdview_map.RENDER_COUNT[f"renders@{PPM:g}"] == renders + 1
        env.reset(seed=1)
        env.reset(seed=2)
        assert birdview_map.RENDER_COUNT[f"renders@{PPM:g}"] == renders + 1, "later episodes reuse the layer"
    finally:
        env.close()
    assert list(cache.glob("birdview/GridTown_*_10ppm.png")), "the layer is cached on disk"
    birdview_map._LAYERS.clear()  # as a new process would start
    loads = birdview_map.RENDER_COUNT[f"disk_loads@{PPM:g}"]
    env, _ = birdview_env()
    try:
        env.reset(seed=0)
        assert birdview_map.RENDER_COUNT[f"renders@{PPM:g}"] == renders + 1
        assert birdview_map.RENDER_COUNT[f"disk_loads@{PPM:g}"] == loads + 1
    finally:
        env.close()


def test_birdview_attribute_errors():
    """Checked when the env is made, before any simulator starts."""
    for attributes, pattern in (({"size": "big"}, r"bev\.size: expected a whole number of pixels from 8"),
                                ({"radius": -1}, r"bev\.radius: expected metres above 0"),
                                ({"output": "rgba"}, r"bev\.output: expected 'rgb' or 'masks'"),
                                ({"zoom": 2}, r"bev\.zoom: not a BirdView attribute")):
        with pytest.raises(ConfigError, match=pattern):
            sensor_env({"bev": {"type": "sensor.birdview", **attributes}})


class StandInLight:
    """A traffic light as the renderer sees one (the embedded world gets real ones with traffic)."""

    type_id = "traffic.traffic_light"

    def __init__(self, location, state):
        self._location, self._state = location, state

    def get_location(self):
        return self._location

    def get_state(self):
        return self._state


def test_traffic_lights_are_discs_in_their_state_colour():
    from rllib_integration.sensors.birdview import LIGHT_COLOURS, BirdviewRenderer
    env, _ = birdview_env()
    try:
        env.reset(seed=0)
        settle(env, 5)
        hero = env.core.hero.get_transform()
        forward, right = hero.get_forward_vector(), hero.get_right_vector()
        red = carla.Location(hero.location.x + 8 * forward.x + 6 * right.x, hero.location.y + 8 * forward.y + 6 * right.y, 3.0)
        green = carla.Location(hero.location.x - 5 * right.x, hero.location.y - 5 * right.y, 3.0)
        for output in ("rgb", "masks"):
            renderer = BirdviewRenderer(env.core.world, env.core.hero, SIZE, RADIUS, output,
                                        lights=[StandInLight(red, carla.TrafficLightState.Red),
                                                StandInLight(green, carla.TrafficLightState.Green)])
            picture = renderer.render()
            red_pixel = (int(HERO_ROW - 8 * PPM), int(HERO_COL + 6 * PPM))
            green_pixel = (int(HERO_ROW), int(HERO_COL - 5 * PPM))
            if output == "rgb":
                assert tuple(picture[red_pixel]) == LIGHT_COLOURS[carla.TrafficLightState.Red]
                assert tuple(picture[green_pixel]) == LIGHT_COLOURS[carla.TrafficLightState.Green]
            else:
                assert picture[red_pixel][MASK_CHANNELS.index("traffic_light_red")] == 255
                assert picture[green_pixel][MASK_CHANNELS.index("traffic_light_green")] == 255
                assert not picture[..., MASK_CHANNELS.index("traffic_light_yellow")].any()
    finally:
        env.close()


def test_world_debug_shapes_are_drawn_for_their_life_time():
    env, _ = birdview_env()
    try:
        env.reset(seed=0)
        hero = env.core.hero.get_transform()
        forward, right = hero.get_forward_vector(), hero.get_right_vector()
        world = env.core.world

        def at(ahead, aside):
            return carla.Location(hero.location.x + ahead * forward.x + aside * right.x,
                                  hero.location.y + ahead * forward.y + aside * right.y, 1.0)

        magenta = carla.Color(255, 0, 255)
        world.debug.draw_point(at(8.0, 4.0), size=0.6, color=magenta, life_time=0.0)  # forever
        world.debug.draw_line(at(4.0, -4.0), at(12.0, -4.0), thickness=0.3, color=carla.Color(0, 255, 255),
                              life_time=0.5)
        box = carla.BoundingBox(at(12.0, 4.0), carla.Vector3D(1.0, 1.0, 1.0))  # turned about its own centre
        world.debug.draw_box(box, hero.rotation, thickness=0.2, color=carla.Color(255, 128, 0), life_time=0.0)
        _, image = settle(env, 1)
        assert tuple(image[int(HERO_ROW - 8 * PPM), int(HERO_COL + 4 * PPM)]) == (255, 0, 255)
        orange = np.all(image == (255, 128, 0), axis=2)
        rows, cols = np.nonzero(orange)
        assert rows.mean() == pytest.approx(HERO_ROW - 12 * PPM, abs=2) and cols.mean() == pytest.approx(HERO_COL + 4 * PPM, abs=2)
        assert cols.max() - cols.min() == pytest.approx(2 * PPM, abs=3)
        assert tuple(image[int(HERO_ROW - 8 * PPM), int(HERO_COL - 4 * PPM)]) == (0, 255, 255)
        _, image = settle(env, 20)  # one second later the line has expired, the point has not
        hero_now = env.core.hero.get_transform()
        assert hero_now.location.distance(hero.location) < 0.5
        assert not np.all(image == (0, 255, 255), axis=2).any()
        assert np.all(image == (255, 0, 255), axis=2).sum() > 10
    finally:
        env.close()


def test_small_birdviews_stay_readable_on_the_ring():
    """64 px over 32 m (the DQN example's): lane markings are lines, not a speckle of sampled pixels
    and arrow blobs; measured as the picture's fine-grained contrast inside the road (mean absolute
    Laplacian), which nearest-neighbour sampling of the map put at 49-99 on these views."""
    import cv2
    from rllib_integration.carla_core import CarlaCore
    core = CarlaCore({"simulator": "embedded", "enable_rendering": False})
    try:
        core.setup_experiment({"town": "RingTown", "weather": "ClearNoon", "background_activity": {
            "n_vehicles": 0, "n_walkers": 0, "tm_hybrid_mode": True, "seed": 0, "respawn_per_episode": False}})
        sensors = {"rgb": {"type": "sensor.birdview", "size": 64, "radius": 16},
                   "masks": {"type": "sensor.birdview", "size": 64, "radius": 16, "output": "masks"}}
        for seed in range(6):
            core.reset_hero({"blueprint": "vehicle.lincoln.mkz_2017", "spawn_points": [], "sensors": sensors},
                            np.random.default_rng(seed))
            data = core.tick(None)
            rgb, masks = data["rgb"][1], data["masks"][1]
            grey = rgb.astype(np.float32).mean(axis=2)
            road = cv2.erode((masks[..., 0] > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            inside = road & (masks[..., MASK_CHANNELS.index("hero")] == 0)
            contrast = float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[inside].mean())
            assert contrast < 45.0, (seed, contrast)
            assert (grey[inside] > 90).sum() >= 40, "the lane markings are still drawn"
            assert masks[..., MASK_CHANNELS.index("lane_markings")].astype(bool).sum() >= 150
    finally:
        core.close()


@pytest.mark.parametrize("town, k", [("GridTown", 2), ("a random town", 3)])
def test_coarse_masks_threshold_the_averaged_coverage_at_each_fine_pixel(town, k):
    """A coarse masks picture reads :func:`mask_bits_layer`: each fine pixel's bits are the averaged road / marking
    coverage, bilinearly interpolated between the blocks' centres at the pixel's centre, at their thresholds."""
    if town == "GridTown":
        town_map = load_map(*resolve_town("GridTown"))
    else:
        spec = TownSpec(rows=2, cols=3, spacing=80.0, jitter=0.2, seed=5, ring=True, boulevard=True, roundabout=True,
                        highway=False, lane_ends=True, signal_share=0.5, hills=0.0)
        town_map = load_map("Random_5", random_town_opendrive(spec))
    layer = birdview_map.map_layer(town_map, 2.0 * k)
    _, coverage, _ = averaged_layer(layer, k, arrows=False)
    bits, to_world = mask_bits_layer(layer, k)
    assert bits.shape == (coverage.shape[0] * k, coverage.shape[1] * k)
    assert to_world[0, 0] == pytest.approx(1.0 / layer.pixels_per_meter)
    rng = np.random.default_rng(0)
    rows = rng.integers(k, bits.shape[0] - k, 20000)
    cols = rng.integers(k, bits.shape[1] - k, 20000)
    # pixel i of the fine layer lies at block (i - (k - 1) / 2) / k of the averaged one
    u, v = (cols - (k - 1) / 2.0) / k, (rows - (k - 1) / 2.0) / k
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = u - u0, v - v0
    for bit, threshold in enumerate(MASK_THRESHOLDS[:2]):
        c = coverage[..., bit].astype(float)
        value = (c[v0, u0] * (1 - fu) * (1 - fv) + c[v0, u0 + 1] * fu * (1 - fv) + c[v0 + 1, u0] * (1 - fu) * fv
                 + c[v0 + 1, u0 + 1] * fu * fv)
        marked = (bits[rows, cols] >> bit) & 1 == 1
        clear = np.abs(value - threshold) > 1.0  # (OpenCV's fixed-point interpolation rounds within a level)
        assert (marked[clear] == (value[clear] >= threshold)).all(), f"bit {bit}"
        assert marked.any() and not marked.all(), f"bit {bit}: the town has both"
