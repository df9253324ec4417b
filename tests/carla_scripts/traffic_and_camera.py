"""A CARLA client script in the style of PythonAPI/examples (written for these tests): batch-spawns
autopilot vehicles and walkers with carla.command, records a camera to disk in asynchronous mode
and cleans up on Ctrl-C. It imports nothing of rllib_integration."""

import argparse
import json
import os
import random
import time

import carla


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=2000)
    parser.add_argument("--tm-port", type=int, default=8000)
    parser.add_argument("-n", "--vehicles", type=int, default=10)
    parser.add_argument("-w", "--walkers", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    client = carla.Client(args.host, args.port)
    client.set_timeout(10.0)
    world = client.get_world()
    traffic_manager = client.get_trafficmanager(args.tm_port)
    traffic_manager.set_global_distance_to_leading_vehicle(2.5)
    traffic_manager.set_respawn_dormant_vehicles(True)
    library = world.get_blueprint_library()
    cars = [bp for bp in library.filter("vehicle.*") if bp.get_attribute("base_type") == "car"
            and int(bp.get_attribute("number_of_wheels")) == 4]
    walkers = [bp for bp in library.filter("walker.pedestrian.*") if int(bp.get_attribute("generation")) == 2]
    points = world.get_map().get_spawn_points()
    random.seed(3)
    random.shuffle(points)
    SpawnActor, SetAutopilot, FutureActor = carla.command.SpawnActor, carla.command.SetAutopilot, carla.command.FutureActor
    batch = []
    for transform in points[:args.vehicles]:
        blueprint = random.choice(cars)
        if blueprint.has_attribute("color"):
            blueprint.set_attribute("color", random.choice(blueprint.get_attribute("color").recommended_values))
        blueprint.set_attribute("role_name", "autopilot")
        batch.append(SpawnActor(blueprint, transform).then(SetAutopilot(FutureActor, True, traffic_manager.get_port())))
    vehicle_ids = [r.actor_id for r in client.apply_batch_sync(batch, True) if not r.error]
    for vehicle in world.get_actors(vehicle_ids):
        traffic_manager.update_vehicle_lights(vehicle, True)

    walker_batch = []
    for _ in range(args.walkers):
        location = world.get_random_location_from_navigation()
        blueprint = random.choice(walkers)
        if blueprint.has_attribute("is_invincible"):
            blueprint.set_attribute("is_invincible", "false")
        walker_batch.append(SpawnActor(blueprint, carla.Transform(location)))
    walker_ids = [r.actor_id for r in client.apply_batch_sync(walker_batch, True) if not r.error]
    controller = library.find("controller.ai.walker")
    controller_ids = [r.actor_id for r in client.apply_batch_sync(
        [SpawnActor(controller, carla.Transform(), w) for w in walker_ids], True) if not r.error]
    world.wait_for_tick()
    for actor in world.get_actors(controller_ids):
        actor.start()
        actor.go_to_location(world.get_random_location_from_navigation())
        actor.set_max_speed(1.4)

    hero = world.get_actor(vehicle_ids[0])
    camera_bp = library.find("sensor.camera.rgb")
    camera_bp.set_attribute("image_size_x", "64")
    camera_bp.set_attribute("image_size_y", "48")
    camera = world.spawn_actor(camera_bp, carla.Transform(carla.Location(x=1.5, z=2.4)), attach_to=hero)
    os.makedirs(args.out, exist_ok=True)
    camera.listen(lambda image: image.save_to_disk(os.path.join(args.out, "%06d.png" % image.frame)))
    frames, start = [], None
    try:
        while True:
            snapshot = world.wait_for_tick()
            start = start or (snapshot.timestamp.elapsed_seconds, time.time())
            frames.append(snapshot.frame)
    except KeyboardInterrupt:
        pass
    finally:
        camera.stop()
        moved = sum(1 for v in world.get_actors(vehicle_ids) if v.get_velocity().length() > 0.1)
        summary = {"vehicles": len(vehicle_ids), "walkers": len(walker_ids), "controllers": len(controller_ids),
                   "frames": len(frames), "consecutive": all(b == a + 1 for a, b in zip(frames, frames[1:])),
                   "sim_seconds": world.get_snapshot().timestamp.elapsed_seconds - start[0],
                   "wall_seconds": time.time() - start[1], "moving": moved}
        client.apply_batch([carla.command.DestroyActor(x) for x in vehicle_ids + walker_ids + controller_ids])
        with open(os.path.join(args.out, "summary.json"), "w") as handle:
            json.dump(summary, handle)


if __name__ == "__main__":
    main()
