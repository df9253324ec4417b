"""The recorder and replayer: a replay reproduces a recorded run; the recording queries report
what happened."""

from __future__ import annotations

import random

import carla
import pytest

from rllib_integration.embedded import Client, command

from conftest import make_world

TICKS = 300


def where(light) -> tuple[float, float]:
    """A traffic light's place (its id changes when the town is loaded again, as on a CARLA server)."""
    location = light.get_location()
    return round(location.x, 1), round(location.y, 1)


def _record_traffic(client, world, path) -> tuple[dict, list]:
    """Twenty autopilot cars for TICKS ticks, recorded; returns each car's (type, poses per tick)."""
    tm = client.get_trafficmanager(8000)
    tm.set_synchronous_mode(True)
    tm.set_random_device_seed(3)
    rng = random.Random(3)
    blueprints = list(world.get_blueprint_library().filter("vehicle.*"))
    points = world.get_map().get_spawn_points()
    rng.shuffle(points)
    batch = [command.SpawnActor(rng.choice(blueprints), p).then(command.SetAutopilot(command.FutureActor, True, 8000))
             for p in points[:20]]
    ids = [r.actor_id for r in client.apply_batch_sync(batch, True) if not r.has_error()]
    written = client.start_recorder(str(path))
    lights = []
    tracks = {i: (world.get_actor(i).type_id, []) for i in ids}
    for _ in range(TICKS):
        world.tick()
        for actor_id, (_, poses) in tracks.items():
            t = world.get_actor(actor_id).get_transform()
            poses.append((t.location.x, t.location.y, t.rotation.yaw))
        lights.append({where(light): light.get_state() for light in world.get_actors().filter("traffic.traffic_light")})
    client.stop_recorder()
    assert written == str(path)
    return tracks, lights


def test_a_replay_reproduces_the_recorded_trajectories_and_lights(server, tmp_path):
    client, world = make_world(server, "GridTown")
    tracks, lights = _record_traffic(client, world, tmp_path / "run.log")
    moved = [abs(p[-1][0] - p[0][0]) + abs(p[-1][1] - p[0][1]) for _, p in tracks.values()]
    assert max(moved) > 20.0  # the cars drove

    world = client.load_world("GridTown")  # a fresh world: no cars
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    info = client.replay_file(str(tmp_path / "run.log"), 0.0, 0.0, 0)
    assert "run.log" in info
    replayed = {}
    for tick in range(TICKS):
        world.tick()
        cars = list(world.get_actors().filter("vehicle.*"))
        if tick == 0:  # match each replayed car to a recorded one by type and start
            for car in cars:
                loc = car.get_location()
                replayed[car.id] = min(tracks, key=lambda i: (tracks[i][0] != car.type_id) * 1e9 + abs(
                    tracks[i][1][0][0] - loc.x) + abs(tracks[i][1][0][1] - loc.y))
            assert sorted(replayed.values()) == sorted(tracks)
        for car in cars:
            x, y, yaw = tracks[replayed[car.id]][1][tick]
            t = car.get_transform()
            assert abs(t.location.x - x) < 0.05 and abs(t.location.y - y) < 0.05, (tick, car.id)
            assert abs((t.rotation.yaw - yaw + 180) % 360 - 180) < 0.5
        for light in world.get_actors().filter("traffic.traffic_light"):
            assert light.get_state() == lights[tick][where(light)]  # ids differ in a reloaded town
    world.tick()  # the end: the cars stay, with physics again
    assert len(world.get_actors().filter("vehicle.*")) == len(tracks)


def test_recording_queries_report_creations_collisions_and_blocked_actors(server, tmp_path):
    client, world = make_world(server, "GridTown")
    library = world.get_blueprint_library()
    spots = world.get_map().get_spawn_points()
    path = client.start_recorder(str(tmp_path / "crash.log"))
    parked = world.spawn_actor(library.find("vehicle.tesla.model3"), spots[0])
    parked.set_simulate_physics(False)  # parked for good: the hero's hit does not shunt it
    hero_bp = library.find("vehicle.audi.tt")
    hero_bp.set_attribute("role_name", "hero")
    behind = carla.Transform(spots[0].location - spots[0].get_forward_vector() * 15.0, spots[0].rotation)
    hero = world.spawn_actor(hero_bp, behind)
    for _ in range(200):
        hero.apply_control(carla.VehicleControl(throttle=0.6))
        world.tick()
    hero.destroy()
    world.tick()
    client.stop_recorder()

    info = client.show_recorder_file_info(path, False)
    assert "Map: GridTown" in info and f"Create {parked.id}: vehicle.tesla.model3" in info
    assert f"Destroy {hero.id}" in info and "Frames: 202" in info
    collisions = client.show_recorder_collisions(path, "h", "v")
    row = [line for line in collisions.splitlines() if "vehicle.audi.tt" in line]
    assert len(row) == 1 and "h v" in row[0] and "vehicle.tesla.model3" in row[0]
    assert "audi" not in client.show_recorder_collisions(path, "w", "a")
    blocked = {int(line.split()[1]): (float(line.split()[0]), float(line.split()[-1]))
               for line in client.show_recorder_actors_blocked(path, 5.0, 100.0).splitlines()
               if line.strip().split(" ")[0].isdigit()}
    assert blocked[parked.id] == (0.0, 10.0)  # parked all along
    assert blocked[hero.id][0] >= 1.0  # the hero was blocked only once it had driven into the parked car
    with pytest.raises(ValueError, match="category"):
        client.show_recorder_collisions(path, "x", "a")


def test_a_missing_or_foreign_recording_is_a_clear_error(server, tmp_path):
    client = Client("localhost", server.port)
    with pytest.raises(RuntimeError, match="not found"):
        client.replay_file(str(tmp_path / "none.log"), 0, 0, 0)
    (tmp_path / "text.log").write_text("hello")
    with pytest.raises(RuntimeError, match="not a recording"):
        client.show_recorder_file_info(str(tmp_path / "text.log"), False)


def _synthetic(path, frames: int, vehicles: int = 100) -> None:
    """A recording of ``vehicles`` cars driving straight for ``frames`` ticks, written line by line."""
    import gzip
    import json
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write(json.dumps({"format": "rllib_integration-recording", "version": 1, "map": "GridTown",
                                 "delta": 0.05, "date": "01/01/26 00:00:00", "start_frame": 0}) + "\n")
        for k in range(frames):
            frame = {"frame": k, "time": k * 0.05, "poses": {str(i): [i * 5.0 + k * 0.5, 0.0, 0.0, 0.0, 0.0, 0.0,
                                                                      10.0, 0.0, 0.0] for i in range(vehicles)}}
            if k == 0:
                frame["created"] = [{"id": i, "type": "vehicle.audi.a2", "role": "autopilot", "attributes": {},
                                     "pose": frame["poses"][str(i)], "extent": [1.8, 0.9, 0.8]} for i in range(vehicles)]
            stream.write(json.dumps(frame) + "\n")


def test_recordings_are_read_frame_by_frame_with_flat_memory(server, tmp_path):
    import tracemalloc
    from rllib_integration.embedded.recorder import blocked_table, file_info, read_recording
    peaks = {}
    for frames in (300, 1500):
        path = tmp_path / f"long_{frames}.log"
        _synthetic(path, frames)
        tracemalloc.start()
        recording = read_recording(str(path))
        info = file_info(recording)
        blocked_table(recording, 5.0, 100.0)
        peaks[frames] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert f"Frames: {frames}" in info and "Create 99: vehicle.audi.a2" in info
    assert peaks[1500] < 1.5 * peaks[300] + 2 ** 20, f"memory grows with the length: {peaks}"
    client, world = make_world(server, "GridTown")
    settings = world.get_settings()
    settings.fixed_delta_seconds = 0.05
    world.apply_settings(settings)
    assert "Replaying" in client.replay_file(str(tmp_path / "long_1500.log"), 60.0, 5.0, 0)
    for _ in range(20):
        world.tick()
    cars = world.get_actors().filter("vehicle.*")
    assert len(cars) == 100 and abs(cars[0].get_location().x - 0.5 * 61 * 20) < 12.0, "at the recorded place"


def test_malformed_recordings_are_one_error_naming_the_file_and_the_frame(server, tmp_path):
    import gzip
    import json
    from rllib_integration.embedded.recorder import RecordingError, read_recording
    good = tmp_path / "good.log"
    _synthetic(good, 50, vehicles=3)
    damaged = tmp_path / "damaged.log"
    damaged.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(RecordingError, match=r"damaged.log: damaged after line \d+ \((EOFError|BadGzipFile)"):
        list(read_recording(str(damaged)).frames())
    lines = gzip.open(good, "rt").read().splitlines()
    frame = json.loads(lines[8])
    frame["poses"]["1"] = ["x"] * 9
    wrong = tmp_path / "wrong.log"
    with gzip.open(wrong, "wt") as stream:
        stream.write("\n".join(lines[:8] + [json.dumps(frame)] + lines[9:]) + "\n")
    with pytest.raises(RecordingError, match=r"wrong.log: frame 7 \(line 9\): its 'poses' is malformed"):
        list(read_recording(str(wrong)).frames())
    client, _ = make_world(server, "GridTown")
    with pytest.raises(RuntimeError, match="wrong.log: frame 7"):
        client.show_recorder_file_info(str(wrong), False)


def test_load_world_ends_a_recording_saying_so(server, tmp_path, caplog):
    client, world = make_world(server, "GridTown")
    path = client.start_recorder(str(tmp_path / "switch.log"))
    world.tick()
    with caplog.at_level("WARNING"):
        client.load_world("RingTown")
    assert any("load_world ended the recording" in r.getMessage() and path in r.getMessage() for r in caplog.records)
    assert "Map: GridTown" in client.show_recorder_file_info(path, False)
