"""Observations of many heroes of one world computed together: the virtual LiDAR of every hero in one compiled
call per frame, the BirdView's actors read once per frame; each hero gets what it would measure alone."""

import numpy as np
import pytest

from conftest import shared_map

from ppo_example.ppo_experiment import RouteExperiment
from rllib_integration import CarlaVectorEnv
from rllib_integration.common.map_raster import MARKING_LABELS, ROAD_LABELS
from rllib_integration.sensors import birdview, virtual_lidar
from rllib_integration.sensors.ray_march import clearances, march_cells


def vector_env(sensors: dict, heroes: int) -> CarlaVectorEnv:
    """Heroes with their own sensors (hero by hero: the batch measures the rays without a sensor of each hero's)."""
    config = {"carla": {"simulator": "embedded", "enable_rendering": False},
              "experiment": {"type": RouteExperiment, "town": "GridTown", "hero": {"sensors": sensors},
                             "background_activity": {"n_vehicles": 6, "n_walkers": 4, "seed": 2}, "batched": False}}
    return CarlaVectorEnv(config, num_envs=heroes)


@pytest.mark.parametrize("town", ["GridTown", "Town10HD"])
def test_stepping_over_the_clear_samples_meets_what_every_sample_meets(town):
    """The march skips the samples a pixel's clearance rules out: the same first edge and marking as sampling every
    step, for heroes on and off the roads and near the raster's borders."""
    from rllib_integration.common.map_raster import map_layer
    from rllib_integration.embedded.maps.towns import load_map, resolve_town
    town_map = load_map(*resolve_town(str(shared_map(town)) if town.startswith("Town") else town))
    layer = map_layer(town_map, virtual_lidar.RASTER_PPM)
    road, marking = ROAD_LABELS[layer.labels], MARKING_LABELS[layer.labels]
    road_clear, marking_clear = clearances(road, marking, layer.pixels_per_meter, virtual_lidar.MARCH_STEP)
    rng = np.random.default_rng(0)
    points = np.array([(w.transform.location.x, w.transform.location.y) for w in town_map.generate_waypoints(2.0)])
    origins = points[rng.integers(len(points), size=1500)] + rng.normal(0.0, 3.0, (1500, 2))
    origins[:40, 0] = layer.origin_x + rng.uniform(-5.0, 5.0, 40)
    origins[40:80, 1] = layer.origin_y + rng.uniform(-5.0, 5.0, 40)
    yaws, angles = rng.uniform(-np.pi, np.pi, 1500), virtual_lidar.ray_angles(32, 360.0)
    nothing, none_ids = np.zeros((0, 2)), np.zeros(0, np.int64)
    rays = []
    for clear in ((np.zeros_like(road_clear), np.zeros_like(marking_clear)), (road_clear, marking_clear)):
        out = np.empty((1500, 32, 3), np.float32)
        virtual_lidar.march_rays(origins, yaws, np.arange(1500), angles, virtual_lidar.MARCH_STEP, 40.0,
                                 march_cells(road, marking, *clear), layer.origin_x, layer.origin_y, layer.pixels_per_meter, nothing, np.zeros(0),
                                 nothing, none_ids, out)
        rays.append(out)
    assert np.array_equal(*rays)
    assert (rays[0][:, :, 0] == 40.0).any() and (rays[0][:, :, 0] < 1.0).any(), "far and near edges both met"


def test_every_heros_rays_are_measured_in_one_call_a_frame_and_equal_its_rays_measured_alone(monkeypatch):
    calls = []
    march = virtual_lidar.march_rays
    monkeypatch.setattr(virtual_lidar, "march_rays", lambda *args: (calls.append(len(args[0])), march(*args)))
    env = vector_env({"vlidar": {"type": "sensor.virtual_lidar", "rays": 16}}, heroes=8)
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        assert calls == [8], "the first observations: one call for the 8 heroes"
        for _ in range(30):
            calls.clear()
            env.step(env.action_space.sample())
            assert calls == [8], f"one call a tick for every acting or respawned hero, got {calls}"
        lidars = [agent.sensor_interface.sensors["vlidar"].lidar for agent in env.world.agents]
        frame = env.world.core.world.get_snapshot().frame + 1000  # a frame no sensor measured yet
        together = [lidar.measure(frame) for lidar in lidars]
        alone = [lidar.measure() for lidar in lidars]
        for rays, own in zip(together, alone):
            assert rays.shape == (16, 3) and np.array_equal(rays, own)
        assert any((rays[:, 2] < 40.0).any() for rays in together), "some hero sees another car"
        world = env.world.core.world
        assert len(virtual_lidar.lidar_batch(world)) == 8
    finally:
        env.close()
    assert len(virtual_lidar.lidar_batch(world)) == 0, "destroyed sensors leave the batch"


def test_every_heros_birdview_draws_the_actors_read_once_a_frame_as_it_would_alone(monkeypatch):
    reads = []
    read = birdview.ActorScene.read
    monkeypatch.setattr(birdview.ActorScene, "read", lambda self, world: (reads.append(1), read(self, world)))
    env = vector_env({"vlidar": {"type": "sensor.virtual_lidar", "rays": 8},  # the experiment's observation
                      "birdview": {"type": "sensor.birdview", "size": 64, "radius": 16, "output": "masks"}}, heroes=6)
    try:
        env.action_space.seed(1)
        env.reset(seed=1)
        for _ in range(20):
            reads.clear()
            env.step(env.action_space.sample())
            assert len(reads) == 1, "the actors are read once a tick for the 6 heroes"
        world = env.world.core.world
        first, second = env.world.agents[0].hero, env.world.agents[1].hero
        ahead = first.get_transform()
        ahead.location += 8.0 * ahead.get_forward_vector()
        second.set_transform(ahead)  # hero 1 in hero 0's picture
        frame = world.get_snapshot().frame + 1000  # a frame no sensor drew yet
        vehicles = birdview.MASK_CHANNELS.index("vehicles")
        seen = 0
        for agent in env.world.agents:
            renderer = agent.sensor_interface.sensors["birdview"].renderer
            shared = renderer.render(frame)
            alone = birdview.BirdviewRenderer(world, agent.hero, 64, 16.0, "masks").render()
            assert np.array_equal(shared, alone)
            seen += int(shared[..., vehicles].any())
        assert seen >= 2, "hero 0 sees hero 1, and hero 1 sees hero 0"
    finally:
        env.close()
