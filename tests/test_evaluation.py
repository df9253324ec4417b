"""The Leaderboard-style evaluator: route scores, infractions, route ends, results.json and the script."""

from __future__ import annotations

import csv
import json
import pathlib
import subprocess
import sys

import carla
import cv2
import pytest

from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.evaluation import EvaluationSettings, RouteRunner, evaluate
from rllib_integration.evaluation.agents import AutopilotAgent, ConstantAgent
from rllib_integration.evaluation.infractions import PENALTIES, RED_LIGHT
from rllib_integration.evaluation.results import global_record
from rllib_integration.routes.planner import RoutePlanner
from rllib_integration.routes.route_files import RouteSpec
from rllib_integration.routes.route_sets import generate_routes

from conftest import make_world, shared_map

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def short_routes(town: str, count: int = 1, seed: int = 0) -> list[RouteSpec]:
    planner = RoutePlanner(load_map(*resolve_town(town)))
    return generate_routes(planner, town, count, seed=seed, min_length=300.0, max_length=500.0)


def records(document: dict) -> list[dict]:
    return document["_checkpoint"]["records"]


@pytest.mark.parametrize("town", ["GridTown", "Town01"])
def test_the_autopilot_completes_routes_without_infractions(town):
    town = str(shared_map(town)) if town == "Town01" else town
    document = evaluate(short_routes(town, count=2), EvaluationSettings(agent="autopilot"))
    for record in records(document):
        assert record["status"] == "Completed", record
        assert record["scores"]["score_route"] == 100.0
        assert record["scores"]["score_composed"] >= 90.0, record["meta"]["events"]
        assert 0 < record["meta"]["duration_game"] < 0.8 * record["meta"]["route_length"] + 5.0
    assert document["_checkpoint"]["global_record"]["scores"]["score_composed"] >= 90.0


def test_constant_full_throttle_ends_early_with_the_infractions_it_commits():
    document = evaluate(short_routes("RingTown", count=2), EvaluationSettings(agent="constant",
                                                                            agent_config={"throttle": 1.0}))
    for record in records(document):
        assert record["scores"]["score_route"] < 20.0
        assert record["status"].startswith("Failed")
        assert record["infractions"]["collisions_layout"], "it leaves the curved road into the scenery"
        assert record["infractions"]["outside_route_lanes"]
        assert not record["infractions"]["collisions_vehicle"] and not record["infractions"]["collisions_pedestrian"]
        assert record["scores"]["score_penalty"] < 0.65


class RedLightRunner(AutopilotAgent):
    """The autopilot, told to ignore traffic lights, with every light held red."""

    def start(self, core):
        super().start(core)
        core.traffic_manager.ignore_lights_percentage(core.hero, 100.0)
        lights = list(core.world.get_actors().filter("traffic.traffic_light*"))
        for light in lights:
            light.set_state(carla.TrafficLightState.Red)
        lights[0].freeze(True)  # freezes every light, as in CARLA


def route_across_a_junction(town: str, route_id: str, entry) -> RouteSpec:
    """From 40 m before the waypoint ``entry(world, map)`` to 30 m past the junction its lane leads into."""
    runner = RouteRunner(EvaluationSettings(agent="autopilot"))
    try:
        runner.load_town(town, "0")
        at = entry(runner.core.world, runner.core.map)
        before = at.previous(40.0)[0].transform.location
        after = at
        while not after.is_junction:
            after = after.next(2.0)[0]
        while after.is_junction:
            after = after.next(2.0)[0]
        after = after.next(30.0)[0].transform.location
    finally:
        runner.close()
    return RouteSpec(route_id, town, [before, after])


def route_through_one_light(town: str) -> RouteSpec:
    """Across the junction of a traffic light's first stop line."""
    return route_across_a_junction(town, "red", lambda world, town_map: next(iter(
        world.get_actors().filter("traffic.traffic_light*"))).get_stop_waypoints()[0])


def test_running_one_red_light_costs_exactly_one_070_factor():
    spec = route_through_one_light("GridTown")
    runner = RouteRunner(EvaluationSettings(agent="autopilot"), agent=RedLightRunner())
    try:
        record = runner.run(0, spec)
    finally:
        runner.close()
    assert len(record["infractions"][RED_LIGHT]) == 1, record["meta"]["events"]
    assert record["status"] == "Completed"
    assert record["scores"]["score_penalty"] == pytest.approx(PENALTIES[RED_LIGHT])
    assert record["scores"]["score_composed"] == pytest.approx(70.0)


def test_a_blocked_agent_ends_after_180_s_standing_still():
    spec = short_routes("GridTown")[0]
    runner = RouteRunner(EvaluationSettings(agent="constant"), agent=ConstantAgent())
    runner.agent.setup({"throttle": 0.0, "brake": 1.0})
    try:
        record = runner.run(0, spec)
    finally:
        runner.close()
    assert record["status"] == "Failed - Agent got blocked"
    assert record["meta"]["duration_game"] == pytest.approx(180.0, abs=0.06)
    assert len(record["infractions"]["vehicle_blocked"]) == 1
    assert record["scores"]["score_route"] < 2.0 and record["scores"]["score_penalty"] == 1.0


def test_global_record_means_and_infractions_per_completed_km():
    def record(rc, penalty, length, red):
        return {"index": 0, "route_id": "r", "status": "Completed", "scores": {
            "score_route": rc, "score_penalty": penalty, "score_composed": rc * penalty},
            "infractions": {k: (["x"] * red if k == RED_LIGHT else []) for k in global_record([])["infractions"]},
            "meta": {"route_length": length, "duration_game": 10.0, "duration_system": 1.0}}
    overall = global_record([record(100.0, 0.7, 2000.0, 1), record(50.0, 0.49, 1000.0, 2)])
    assert overall["scores"]["score_route"] == 75.0
    assert overall["scores"]["score_composed"] == pytest.approx((70.0 + 24.5) / 2)
    assert overall["infractions"][RED_LIGHT] == pytest.approx(3 / 2.5)  # 3 events over 2.5 completed km
    assert overall["meta"]["infractions_per_km_summed"][RED_LIGHT] == pytest.approx(1 / 2.0 + 2 / 0.5)


def test_evaluate_script_writes_results_routes_videos_and_state_logs(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "evaluate.py", "--routes", "GridTown", "--route-count", "2", "--route-length", "200",
               "300", "--agent", "autopilot", "--workers", "2", "--record", str(tmp_path / "videos"), "--state-log",
               "--out", str(out)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "global" in result.stdout and "DS" in result.stdout
    document = json.loads((out / "results.json").read_text())
    assert [r["index"] for r in records(document)] == [0, 1]
    assert document["_checkpoint"]["progress"] == [2, 2] and document["entry_status"] == "Finished"
    assert len(document["values"]) == len(document["labels"]) == 15  # the Leaderboard 2.0's labels
    assert (out / "routes.xml").is_file()
    for record in records(document):
        name = record["route_id"]
        video = cv2.VideoCapture(str(tmp_path / "videos" / f"route_{name}.mp4"))
        ok, frame = video.read()
        assert ok and frame.shape == (480, 480, 3) and frame.std() > 10
        rows = list(csv.DictReader(open(out / "state_logs" / f"route_{name}.csv")))
        assert len(rows) == pytest.approx(record["meta"]["duration_game"] / 0.05, abs=2)
        assert float(rows[-1]["route_completion"]) == 100.0
        assert max(float(r["speed"]) for r in rows) > 3.0
    # the same routes on one worker score the same: each route's world is seeded from its index
    again = subprocess.run(command[:command.index("--workers")] + ["--out", str(tmp_path / "one")], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    single = json.loads((tmp_path / "one" / "results.json").read_text())
    assert [r["scores"] for r in records(single)] == [r["scores"] for r in records(document)]


def test_bad_agents_and_route_ids_are_clear_errors(tmp_path):
    for arguments, expected in ((["--agent", "nonsense"], "not a built-in agent"),
                                (["--agent", str(tmp_path)], "Fix: pass --config"),
                                (["--route-ids", "99"], "no route 99")):
        result = subprocess.run([sys.executable, "evaluate.py", "--routes", "GridTown", "--route-count", "1",
                                 "--route-length", "200", "300", "--out", str(tmp_path / "o"), *arguments],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 2 and expected in result.stderr, result.stderr


def test_the_core_follows_the_hero_along_its_route():
    from rllib_integration.carla_core import CarlaCore
    import numpy as np
    spec = short_routes("GridTown")[0]
    core = CarlaCore({"simulator": "embedded", "enable_rendering": False})
    try:
        core.setup_experiment({"town": "GridTown", "weather": "ClearNoon", "background_activity": {
            "n_vehicles": 0, "n_walkers": 0, "tm_hybrid_mode": True, "seed": 0, "respawn_per_episode": False}})
        route = RoutePlanner(core.map).trace_route(spec.waypoints[0], spec.waypoints[-1])
        sensors = {"bev": {"type": "sensor.birdview", "size": 64, "radius": 16, "output": "masks", "route": True}}
        core.reset_hero({"blueprint": "vehicle.lincoln.mkz_2017", "spawn_points": [], "sensors": sensors},
                        np.random.default_rng(0), route=route)
        assert core.hero.get_location().distance(route[0][0].transform.location) < 1.5
        ahead = core.next_waypoints(5)
        assert [w.id for w, _ in ahead] == [w.id for w, _ in route[core.route_progress.index + 1:][:5]]
        core.hero.set_autopilot(True, core.tm_port)
        for _ in range(100):
            data = core.tick(None)
        assert core.route_progress.completed > 10.0
        masks = data["bev"][1]
        assert masks.shape == (64, 64, 9)
        route_mask = masks[..., -1]
        assert route_mask[:40].any(), "the route ahead of the hero is drawn"
        assert not route_mask[:, :10].any(), "only the route, not the whole road"
    finally:
        core.close()


class StopSignRunner(AutopilotAgent):
    """The autopilot, told to ignore stop signs."""

    def start(self, core):
        super().start(core)
        core.traffic_manager.ignore_signs_percentage(core.hero, 100.0)


def route_through_one_stop_sign(town: str) -> RouteSpec:
    """Across the junction a stop sign guards, from its trigger volume's lane."""
    def entry(world, town_map):
        sign = next(iter(world.get_actors().filter("traffic.stop")))
        return town_map.get_waypoint(sign.get_transform().transform(sign.trigger_volume.location))
    return route_across_a_junction(town, "stop", entry)


@pytest.mark.parametrize("agent, expected", [(StopSignRunner, 1), (AutopilotAgent, 0)])
def test_passing_a_stop_sign_without_stopping_costs_one_080_factor(agent, expected):
    spec = route_through_one_stop_sign(str(shared_map("Town07")))
    runner = RouteRunner(EvaluationSettings(agent="autopilot"), agent=agent())
    try:
        record = runner.run(0, spec)
    finally:
        runner.close()
    assert record["status"] == "Completed", record["meta"]["events"]
    assert len(record["infractions"]["stop_infraction"]) == expected, record["meta"]["events"]
    assert record["scores"]["score_penalty"] == pytest.approx(PENALTIES["stop_infraction"] ** expected)


def test_one_worker_drives_each_route_on_its_own_town(tmp_path):
    """Routes of two towns in one evaluator process: each is driven on its own town's roads (the second town
    is loaded, not the first kept), and the autopilot completes both in a route's time."""
    specs = short_routes("GridTown") + short_routes("RingTown")
    specs[1] = RouteSpec("1", specs[1].town, specs[1].waypoints, specs[1].yaws)
    document = evaluate(specs, EvaluationSettings(agent="autopilot", state_log_dir=str(tmp_path)), workers=1)
    for spec, record in zip(specs, records(document)):
        assert record["meta"]["town"] == spec.town and record["status"] == "Completed", record
        assert 0 < record["meta"]["duration_game"] < 0.8 * record["meta"]["route_length"] + 5.0
        town_map = load_map(*resolve_town(spec.town))
        rows = list(csv.DictReader(open(tmp_path / f"route_{spec.route_id}.csv")))
        for row in rows[::50]:
            location = carla.Location(float(row["x"]), float(row["y"]), 0.0)
            waypoint = town_map.get_waypoint(location, project_to_road=False)
            assert waypoint is not None, f"route {spec.route_id} left {spec.town}'s roads at {location}"


def test_the_autopilot_changes_lanes_only_into_a_free_lane(server):
    """The traffic manager's force_lane_change changes "no matter what" (as CARLA's): the evaluator's autopilot asks
    for the route's lane changes only when the lane beside has room (on Town10HD it had cut into a car alongside)."""
    from rllib_integration.evaluation.agents import lane_is_free
    _, world = make_world(server, "Highway")  # lanes running the same way
    town_map = world.get_map()
    spot = next(w for w in town_map.generate_waypoints(10.0)
                if not w.is_junction and w.get_right_lane() is not None and w.get_right_lane().lane_type ==
                carla.LaneType.Driving and w.get_right_lane().lane_id * w.lane_id > 0)
    library = world.get_blueprint_library()
    lift = carla.Location(0, 0, 0.3)
    hero = world.spawn_actor(library.find("vehicle.lincoln.mkz_2017"),
                             carla.Transform(spot.transform.location + lift, spot.transform.rotation))
    world.tick()
    assert lane_is_free(world, town_map, hero, right=True)
    beside = spot.get_right_lane()
    other = world.spawn_actor(library.find("vehicle.audi.a2"),
                              carla.Transform(beside.transform.location + lift, beside.transform.rotation))
    world.tick()
    assert not lane_is_free(world, town_map, hero, right=True), "a car alongside"
    far = beside.next(40.0)[0]
    other.set_transform(carla.Transform(far.transform.location + lift, far.transform.rotation))
    world.tick()
    assert lane_is_free(world, town_map, hero, right=True), "the car 40 m ahead leaves room"
