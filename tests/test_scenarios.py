"""The evaluator's own Leaderboard 2.0 scenarios (rllib_integration.scenarios) and the 2.0 metrics: the
autopilot passes one route of every simulated type (tests/routes/leaderboard2_scenarios.xml, Town01 and
the procedural Boulevards and GridTown), a constant-throttle agent fails them, and the penalties are the Leaderboard's."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from rllib_integration.evaluation.infractions import (MIN_SPEED, SCENARIO_TIMEOUT, YIELD_EMERGENCY, Infraction,
                                                      penalty)
from rllib_integration.evaluation.results import format_table, global_record
from rllib_integration.routes.route_files import read_routes
from rllib_integration.scenarios import SCENARIO_TYPES, unsimulated_types

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROUTES = ROOT / "tests" / "routes" / "leaderboard2_scenarios.xml"


def evaluate(carla_root: pathlib.Path, out: pathlib.Path, *agent: str) -> list[dict]:
    env = {**os.environ, "CARLA_ROOT": str(carla_root)}
    result = subprocess.run([sys.executable, "evaluate.py", "--routes", str(ROUTES), "--workers", "2", "--out", str(out),
                             *agent], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "not simulated" not in result.stderr
    return json.loads((out / "results.json").read_text())["_checkpoint"]["records"]


def test_the_fixture_routes_cover_every_simulated_type():
    routes = read_routes(ROUTES)
    types = [s.type for r in routes for s in r.scenarios]
    assert sorted(types) == sorted(SCENARIO_TYPES) and not unsimulated_types([s for r in routes for s in r.scenarios])


#: Scenario types the autopilot fails at seed 0 (none): over seeds 0-15 it passes 615 of the 624 route runs (README,
#: "Scenario coverage"; benchmarks/scenario_seeds.py).
KNOWN_FAILURES: set[str] = set()


def test_the_autopilot_passes_every_scenario_and_a_constant_throttle_fails_them(carla_root, tmp_path):
    records = evaluate(carla_root, tmp_path / "autopilot", "--agent", "autopilot")
    for record in records:
        (scenario,) = record["meta"]["scenarios"]
        assert record["meta"]["background_activity"], "a 2.0 route file's routes run among the background activity"
        if scenario["type"] in KNOWN_FAILURES:
            continue
        assert scenario["status"] == "passed", (record["route_id"], scenario, record["meta"]["events"])
        assert record["status"] == "Completed", record["meta"]["events"]
        others = {kind for kind, events in record["infractions"].items() if events} - {MIN_SPEED}
        assert not others, (record["route_id"], scenario["type"], record["meta"]["events"])
    assert len(records) == len(SCENARIO_TYPES)

    # (without the background: the cars waiting ahead would be all it hits)
    records = evaluate(carla_root, tmp_path / "constant", "--agent", "constant", "--agent-config", "throttle=0.3",
                       "--background", "off")
    outcome = {r["meta"]["scenarios"][0]["type"]: r["meta"]["scenarios"][0] for r in records}
    # a steady car in its lane passes these: ControlLoss's noise leaves it in its lane, InvadingTurn's oncoming cars
    # pass beside it, PriorityAtJunction holds its light green, and BackgroundActivityParametrizer asks nothing of it
    steady = {"ControlLoss", "InvadingTurn", "PriorityAtJunction", "BackgroundActivityParametrizer"}
    assert all(s["status"] != "passed" for t, s in outcome.items() if t not in steady), outcome
    for kind in ("DynamicObjectCrossing", "ParkingCrossingPedestrian", "PedestrianCrossing"):
        assert "collisions_pedestrian" in outcome[kind]["infractions"]
    for kind in ("HardBreakRoute", "OppositeVehicleTakingPriority", "OppositeVehicleRunningRedLight",
                 "BlockedIntersection"):
        assert "collisions_vehicle" in outcome[kind]["infractions"]
    timed_out = [r for r in records if r["infractions"][SCENARIO_TIMEOUT]]
    assert timed_out and all(r["meta"]["scenarios"][0]["status"] == "timed out" for r in timed_out)


def test_parking_exit_places_its_cars_before_the_background_takes_their_places(carla_root, tmp_path):
    # seed 1 (and 2, 4, 5, 7): a background car stood where a parked car goes when ParkingExit was built after the
    # route's first tick, and the scenario was "not built"
    (record,) = evaluate(carla_root, tmp_path, "--agent", "autopilot", "--route-ids", "35", "--seed", "1")
    (scenario,) = record["meta"]["scenarios"]
    assert scenario["type"] == "ParkingExit" and scenario["status"] == "passed", scenario


def test_parking_exits_side_car_is_driven_by_the_traffic_manager_and_stops_for_a_hero_pulling_out(carla_root, tmp_path):
    # ScenarioRunner hands the car beside the parked hero to the traffic manager, which yields to a hero pulling out
    # in front of it; driven along its lane heedless, it ran into the leaderboard's NPC agent as it pulled out
    # (DS 2.5 here against 49.6 on CARLA's leaderboard) and into this hero, steering out at once
    (record,) = evaluate(carla_root, tmp_path, "--agent", "constant", "--agent-config", "throttle=0.6", "steer=-0.35",
                         "--route-ids", "35")
    pulling_out = [e for e in record["meta"]["events"] if e["kind"] == "collisions_vehicle" and e["time"] < 4.0]
    assert record["meta"]["scenarios"][0]["type"] == "ParkingExit" and not pulling_out, pulling_out


def test_leaderboard_2_penalties():
    def event(kind, **facts):
        return Infraction(kind, 0.0, (0.0, 0.0, 0.0), "", facts)
    assert penalty([event(SCENARIO_TIMEOUT)], 0.0) == pytest.approx(0.7)
    assert penalty([event(YIELD_EMERGENCY)], 0.0) == pytest.approx(0.7)
    # the Leaderboard's 'decreases' factor: 1 - (1 - 0.7) * (1 - percentage / 100)
    assert penalty([event(MIN_SPEED, percentage=50.0)], 0.0) == pytest.approx(0.85)
    assert penalty([event(MIN_SPEED, percentage=0.0), event(SCENARIO_TIMEOUT)], 10.0) == pytest.approx(0.7 * 0.7 * 0.9)


def test_records_of_an_older_results_file_still_sum():
    old = {"route_id": "0", "index": 0, "status": "Completed",
           "infractions": {"collisions_vehicle": ["hit"], "red_light": []},
           "scores": {"score_route": 100.0, "score_penalty": 0.6, "score_composed": 60.0},
           "meta": {"town": "Town01", "route_length": 1000.0, "duration_game": 10.0, "duration_system": 1.0,
                    "infractions_per_km": {"collisions_vehicle": 1.0}}}
    overall = global_record([old])
    assert overall["infractions"]["collisions_vehicle"] == 1.0 and overall["infractions"][MIN_SPEED] == 0.0
    table = format_table([old])
    assert "veh/km" in table and "min_spd" not in table  # the 2.0 columns only where a route has one
