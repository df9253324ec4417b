"""Compile the library's numba kernels into their disk cache before the tests start (``conftest.py`` runs it).

The kernels are compiled on first use and cached beside their modules (``cache=True``). In a fresh checkout the
cache is empty, and the first tests, each in processes of its own (pytest-xdist's workers, the scripts and Ray
workers they start), all compiled the same kernels at once: a full run took 1,646 s from a cold cache against
1,467 s from a warm one (2-core machine, stop 59). This script drives short workloads that reach the kernels,
in two parts run side by side (``world``: the simulation, traffic, camera and LiDAR on a hilly random town;
``experiments``: the examples' observations and route tasks, hero by hero and batched, and the evaluator's
criteria); with a warm cache each part only loads them (a few seconds).

    python tests/warm_kernels.py world|experiments
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PARTS = ("world", "experiments")

#: A decorator that compiles a kernel into the disk cache.
CACHED_KERNEL = re.compile(r"^@(numba\.)?njit\(.*cache=True", re.MULTILINE)
PACKAGE = pathlib.Path(ROOT).resolve() / "rllib_integration"


def cold_kernel_modules(package: pathlib.Path = PACKAGE) -> list[pathlib.Path]:
    """The modules of ``package`` (default: the library) with disk-cached kernels whose cache is missing or older
    than the module."""
    cold = []
    for source in pathlib.Path(package).rglob("*.py"):
        if not CACHED_KERNEL.search(source.read_text(encoding="utf-8")):
            continue
        indexes = list((source.parent / "__pycache__").glob(f"{source.stem}.*.nbi"))
        if not indexes or max(index.stat().st_mtime for index in indexes) < source.stat().st_mtime:
            cold.append(source)
    return cold


def world() -> None:
    """The vehicle kernels, contacts, ground, traffic manager (hybrid mode too), walkers, camera and LiDAR."""
    import carla

    from conftest import make_world
    from rllib_integration.embedded import EmbeddedServer
    from rllib_integration.embedded.maps.random_towns import TownSpec, random_town_opendrive

    folder = tempfile.mkdtemp(prefix="warm_kernels_")
    path = os.path.join(folder, "warm_town.xodr")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(random_town_opendrive(TownSpec(rows=2, cols=2, seed=1, hills=2.5)))
    server = EmbeddedServer.start("localhost", 0)
    try:
        client, world = make_world(server, path)
        manager = client.get_trafficmanager(8000)
        manager.set_synchronous_mode(True)
        library = world.get_blueprint_library()
        points = world.get_map().get_spawn_points()
        vehicles = [world.try_spawn_actor(library.filter("vehicle.*")[k % 5], point)
                    for k, point in enumerate(points[:12])]
        vehicles = [vehicle for vehicle in vehicles if vehicle is not None]
        for vehicle in vehicles[1:]:
            vehicle.set_autopilot(True, 8000)
        for _ in range(4):
            location = world.get_random_location_from_navigation()
            if location is not None:
                world.try_spawn_actor(library.filter("walker.pedestrian.*")[0], carla.Transform(location))
        hero = vehicles[0]
        sensors = []
        for blueprint_id, attributes in (("sensor.camera.rgb", {"image_size_x": "64", "image_size_y": "48"}),
                                         ("sensor.camera.semantic_segmentation", {"image_size_x": "64",
                                                                                  "image_size_y": "48"}),
                                         ("sensor.lidar.ray_cast", {"channels": "8", "points_per_second": "5000"})):
            blueprint = library.find(blueprint_id)
            for key, value in attributes.items():
                blueprint.set_attribute(key, value)
            sensor = world.spawn_actor(blueprint, carla.Transform(carla.Location(z=2.0)), attach_to=hero)
            sensor.listen(lambda data: None)
            sensors.append(sensor)
        hero.apply_control(carla.VehicleControl(throttle=0.8, steer=0.3))
        for tick in range(80):
            if tick == 40:
                manager.set_hybrid_physics_mode(True)
                manager.set_hybrid_physics_radius(5.0)
            world.tick()
        for sensor in sensors:
            sensor.stop()
    finally:
        server.stop()


def experiments() -> None:
    """The examples' experiments hero by hero and batched (virtual LiDAR, the obstacles ahead, route progress,
    BirdView in rgb and masks) and the evaluator's criteria on a route among traffic."""
    from benchmarks.sampling import env_config
    from rllib_integration import CarlaEnv, CarlaVectorEnv
    from rllib_integration.evaluation import EvaluationSettings, evaluate
    from rllib_integration.routes.planner import shared_planner
    from rllib_integration.routes.route_sets import generate_routes
    from rllib_integration.embedded.maps.towns import load_map, resolve_town

    runs = [(kind, batched) for kind in ("traffic", "vlidar", "birdview") for batched in (True, False)]
    for kind, batched in runs + [("masks", True)]:  # (the BirdView's masks: its map masks' kernel)
        config = env_config(kind, 6)
        config["experiment"]["batched"] = batched
        drive(CarlaVectorEnv(config, num_envs=3))
    drive(CarlaEnv(env_config("traffic", 3)))
    planner = shared_planner(load_map(*resolve_town("GridTown")))
    routes = generate_routes(planner, "GridTown", 1, seed=0, min_length=60.0, max_length=90.0)
    evaluate(routes, EvaluationSettings(traffic=6, walkers=3, seed=0))


def drive(env, steps: int = 15) -> None:
    """A few random steps of ``env``, then it is closed."""
    env.action_space.seed(0)
    try:
        env.reset(seed=0)
        for _ in range(steps):
            env.step(env.action_space.sample())
    finally:
        env.close()


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in PARTS:
        sys.exit(f"usage: python {os.path.basename(__file__)} {'|'.join(PARTS)}")
    {"world": world, "experiments": experiments}[sys.argv[1]]()


if __name__ == "__main__":
    main()
