"""CARLA's own Leaderboard 2.x evaluator and ScenarioRunner, unchanged from ``../shared/carla-code``, on the
embedded world (``python -m rllib_integration.embedded run leaderboard_evaluator.py``): a Town01 route
with two scenarios (ControlLoss's debris, DynamicObjectCrossing's walker behind a vending machine) driven
by the leaderboard's NPC agent and by a policy through ``rllib_integration/leaderboard/policy_agent.py``,
and a procedural town's route with ControlLoss."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import constant_policy

ROOT = pathlib.Path(__file__).resolve().parents[1]
CODE = ROOT.parent / "shared" / "carla-code"
ROUTES = ROOT / "tests" / "routes" / "leaderboard2_town01.xml"
GRID_ROUTES = ROOT / "tests" / "routes" / "leaderboard2_gridtown.xml"
SCENARIO_ROUTES = ROOT / "tests" / "routes" / "leaderboard2_scenarios.xml"
EVALUATOR = CODE / "leaderboard" / "leaderboard" / "leaderboard_evaluator.py"
if not EVALUATOR.is_file():
    pytest.skip(f"CARLA's leaderboard is absent ({EVALUATOR}): ../shared/carla-code holds it beside the repository",
                allow_module_level=True)
pytest.importorskip("py_trees", reason="ScenarioRunner's py_trees 0.8 (requirements-test.txt) is not installed")


def leaderboard(carla_root: pathlib.Path | None, out: pathlib.Path, agent: pathlib.Path, *args: str,
                route: str = "0", port: int = 2000, routes: pathlib.Path = ROUTES, town: str = "Town01"
                ) -> tuple[dict, str]:
    """Run CARLA's leaderboard_evaluator.py on the embedded world; its results.json and output."""
    env = {key: value for key, value in os.environ.items() if key != "CARLA_ROOT"}
    env["SCENARIO_RUNNER_ROOT"] = str(CODE / "scenario_runner")
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (ROOT, CODE / "leaderboard", CODE / "scenario_runner",
                                                         CODE / "PythonAPI-carla"))
    if carla_root is not None:
        env["CARLA_ROOT"] = str(carla_root)
    checkpoint = out / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "rllib_integration.embedded", "run", str(EVALUATOR), "--town", town,
         "--port", str(port), "--", "--port", str(port), "--routes", str(routes), "--routes-subset", route,
         "--agent", str(agent), "--checkpoint", str(checkpoint), "--debug-checkpoint", str(out / "live.txt"), *args],
        cwd=out, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert checkpoint.is_file(), output[-3000:]
    return json.loads(checkpoint.read_text()), output


NPC_AGENT = CODE / "leaderboard" / "leaderboard" / "autoagents" / "npc_agent.py"


@pytest.fixture(scope="module")
def npc_run(carla_root, tmp_path_factory) -> tuple[dict, str]:
    """CARLA's leaderboard with its NPC agent on the Town01 route with ControlLoss and DynamicObjectCrossing."""
    return leaderboard(carla_root, tmp_path_factory.mktemp("npc"), NPC_AGENT, "--track", "SENSORS")


def test_the_npc_agent_drives_a_route_with_two_scenarios(npc_run):
    results, output = npc_run
    assert "Skipping scenario" not in output and "Traceback" not in output, output[-3000:]
    (record,) = results["_checkpoint"]["records"]
    assert record["status"] == "Completed", record
    assert record["scores"]["score_route"] == 100
    infractions = record["infractions"]
    assert not infractions["collisions_layout"], "ControlLoss's debris lie on the lane to be driven over"
    assert not infractions["collisions_vehicle"] and not infractions["red_light"], infractions
    assert 250 < record["meta"]["route_length"] < 320
    assert results["entry_status"] == "Finished" and results["eligible"], results["entry_status"]


def test_scenarios_run_on_a_procedural_town_without_a_carla_install(tmp_path):
    """GridTown (no CARLA_ROOT, no .xodr): ControlLoss's debris and noise on a 150 m route."""
    results, output = leaderboard(None, tmp_path, CODE / "leaderboard" / "leaderboard" / "autoagents" / "npc_agent.py",
                                  "--track", "SENSORS", routes=GRID_ROUTES, town="GridTown", port=2013)
    assert "Skipping scenario" not in output and "Traceback" not in output, output[-3000:]
    (record,) = results["_checkpoint"]["records"]
    assert record["status"] == "Completed" and record["scores"]["score_route"] == 100, record
    assert not record["infractions"]["collisions_layout"], record["infractions"]


def test_crossing_bicycle_flow_rides_a_biking_lane_of_the_bike_town(tmp_path):
    """ScenarioRunner's CrossingBicycleFlow needs a biking lane across the junction (CARLA's Town12 and Town13 have
    them; BikeTown here): it is built and its bicycles ride (the leaderboard's recorder logs their spawns)."""
    from rllib_integration.embedded import Client
    from rllib_integration.embedded.server import EmbeddedServer
    results, output = leaderboard(None, tmp_path, NPC_AGENT, "--track", "SENSORS", "--record", str(tmp_path),
                                  routes=SCENARIO_ROUTES, route="37", town="BikeTown", port=2014)
    assert "Skipping scenario" not in output and "Traceback" not in output, output[-3000:]
    (record,) = results["_checkpoint"]["records"]
    assert record["scores"]["score_route"] == 100, record
    server = EmbeddedServer.start("localhost", 2015)
    try:
        info = Client("localhost", 2015).show_recorder_file_info(str(tmp_path / "RouteScenario_37_rep0.log"), True)
    finally:
        server.stop()
    bicycles = sum(info.count(name) for name in ("bh.crossbike", "diamondback.century", "gazelle.omafiets"))
    assert bicycles >= 2, "the flow's bicycles"


def test_a_policy_runs_as_a_leaderboard_agent(carla_root, tmp_path):
    """The quickstart's experiment (BirdView and state computed on the leaderboard's ego, the global plan
    as its route) with a policy that always answers "throttle 0.3, straight": the ego drives down the
    straight route, so the policy's actions reach it."""
    constant_policy(tmp_path / "policy.onnx", action=8)
    (tmp_path / "agent.yaml").write_text(f"config: {ROOT / 'dqn_example' / 'dqn_config.yaml'}\npolicy: policy.onnx\n")
    results, output = leaderboard(carla_root, tmp_path, ROOT / "rllib_integration" / "leaderboard" / "policy_agent.py",
                                  "--track", "MAP", "--agent-config", str(tmp_path / "agent.yaml"), port=2011)
    (record,) = results["_checkpoint"]["records"]
    assert "crashed" not in record["status"].lower(), output[-3000:]
    assert record["scores"]["score_route"] > 20, record


def test_the_policy_agent_names_a_missing_setting(carla_root, tmp_path):
    (tmp_path / "agent.yaml").write_text("policy: policy.onnx\n")
    results, output = leaderboard(carla_root, tmp_path, ROOT / "rllib_integration" / "leaderboard" / "policy_agent.py",
                                  "--track", "MAP", "--agent-config", str(tmp_path / "agent.yaml"), port=2012)
    (record,) = results["_checkpoint"]["records"]
    assert record["status"] == "Failed - Agent couldn't be set up"
    assert "no config. Fix: give 'config: TRAINING.yaml'" in output


def test_evaluate_py_drives_a_leaderboard_agent_and_scores_it_as_the_leaderboard_does(npc_run, carla_root, tmp_path):
    """The same NPC agent on the same route through evaluate.py (its own scenarios, no background activity):
    both hit DynamicObjectCrossing's walker and drive ControlLoss's debris; the driving scores agree within 5."""
    env = {**os.environ, "CARLA_ROOT": str(carla_root), "SCENARIO_RUNNER_ROOT": str(CODE / "scenario_runner"),
           "PYTHONPATH": os.pathsep.join(str(p) for p in (ROOT, CODE / "leaderboard", CODE / "scenario_runner",
                                                          CODE / "PythonAPI-carla"))}
    result = subprocess.run([sys.executable, "evaluate.py", "--routes", str(ROUTES), "--route-ids", "0", "--agent",
                             "rllib_integration.leaderboard.leaderboard_agent:LeaderboardAgent", "--agent-config",
                             f"agent={NPC_AGENT}", "--out", str(tmp_path / "out")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (ours,) = json.loads((tmp_path / "out" / "results.json").read_text())["_checkpoint"]["records"]
    (theirs,) = npc_run[0]["_checkpoint"]["records"]
    assert ours["status"] == theirs["status"] == "Completed"
    assert bool(ours["infractions"]["collisions_pedestrian"]) == bool(theirs["infractions"]["collisions_pedestrian"])
    assert abs(ours["scores"]["score_composed"] - theirs["scores"]["score_composed"]) <= 5.0, (ours["scores"],
                                                                                           theirs["scores"])
    assert [s["status"] for s in ours["meta"]["scenarios"]][0] == "passed"  # ControlLoss


def test_the_gps_plan_is_the_leaderboards():
    """evaluate.py hands a Leaderboard agent the GPS plan the leaderboard computes (its Mercator, y south)."""
    sys.path[:0] = [str(CODE / "leaderboard"), str(CODE / "scenario_runner"), str(CODE / "PythonAPI-carla")]
    try:
        from leaderboard.utils import route_manipulation
    finally:
        del sys.path[:3]
    import carla
    from rllib_integration.embedded.maps.towns import load_map, resolve_town
    from rllib_integration.leaderboard.leaderboard_agent import gps
    town_map = load_map(*resolve_town("GridTown"))

    class World:
        def get_map(self):
            return town_map
    lat_ref, lon_ref = route_manipulation._get_latlon_ref(World())
    for location in (carla.Location(396.3, 200.0, 0.3), carla.Location(-50.0, -120.0, 1.0)):
        theirs = route_manipulation._location_to_gps(lat_ref, lon_ref, location)
        ours = gps(town_map, location)
        assert ours["lat"] == pytest.approx(theirs["lat"], abs=1e-12) and ours["lon"] == pytest.approx(theirs["lon"])
