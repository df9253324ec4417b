"""CARLA 0.9.16's own navigation agents, unchanged from ``../shared/carla-code/PythonAPI-carla`` (a test
fixture, never copied), drive the embedded world: ``BasicAgent`` on every shared CARLA town and the
procedural towns, ``BehaviorAgent`` among 30 autopilot cars; each reaches its goal without touching
the static world (a curb climbed is not a collision the Leaderboard counts)."""

from __future__ import annotations

import os
import pathlib
import random
import sys

import carla
import pytest

from conftest import MAPS_DIR
from rllib_integration.embedded import EmbeddedServer
from rllib_integration.embedded.runner import embedded_carla

AGENTS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "carla-code" / "PythonAPI-carla"
if not (AGENTS / "agents" / "navigation" / "basic_agent.py").is_file():
    pytest.skip(f"CARLA's agents are absent ({AGENTS}): ../shared/carla-code holds them beside the repository",
                allow_module_level=True)
pytest.importorskip("shapely", reason="CARLA's agents need shapely (requirements-test.txt)")

SHARED_TOWNS = [name for name in ("Town01", "Town02", "Town07", "Town10HD") if (MAPS_DIR / f"{name}.xodr").is_file()]
TOWNS = ["GridTown", "RingTown", "HighwayLoop", "Boulevards"] + [str(MAPS_DIR / f"{name}.xodr") for name in SHARED_TOWNS]
DELTA, LIMIT = 0.05, 400.0  # seconds per step, simulated seconds per drive


def drive(town: str, seed: int, behavior: bool, traffic: int) -> dict:
    """One agent from a random spawn point to the farthest of 20 others; what happened."""
    if str(AGENTS) not in sys.path:
        sys.path.insert(0, str(AGENTS))
    server = EmbeddedServer.start("127.0.0.1", 47300 + seed)
    try:
        with embedded_carla():  # carla.Client and carla.command are the embedded world's (the runner's way)
            from agents.navigation.basic_agent import BasicAgent
            from agents.navigation.behavior_agent import BehaviorAgent
            client = carla.Client("127.0.0.1", server.port)
            world = client.load_world(town)
            settings = world.get_settings()
            settings.synchronous_mode, settings.fixed_delta_seconds = True, DELTA
            world.apply_settings(settings)
            manager = client.get_trafficmanager(8000)
            manager.set_synchronous_mode(True)
            manager.set_random_device_seed(seed)
            rng = random.Random(seed)
            points = world.get_map().get_spawn_points()
            start = rng.choice(points)
            hero = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2017"), start)
            if traffic:
                cars = [b for b in world.get_blueprint_library().filter("vehicle.*")
                        if b.get_attribute("base_type").as_str() == "car"]
                others = [p for p in points if p.location.distance(start.location) > 15.0]
                rng.shuffle(others)
                client.apply_batch_sync([carla.command.SpawnActor(rng.choice(cars), p).then(
                    carla.command.SetAutopilot(carla.command.FutureActor, True, 8000)) for p in others[:traffic]], True)
            events = []
            sensor = world.spawn_actor(world.get_blueprint_library().find("sensor.other.collision"), carla.Transform(),
                                       attach_to=hero)
            sensor.listen(lambda event: events.append(event.other_actor.type_id))
            world.tick()
            agent = BehaviorAgent(hero, behavior="normal") if behavior else BasicAgent(hero, 30)
            goal = max(rng.sample(points, 20), key=lambda p: p.location.distance(start.location))
            agent.set_destination(goal.location)
            ticks = 0
            while not agent.done() and ticks * DELTA < LIMIT:
                hero.apply_control(agent.run_step())
                world.tick()
                ticks += 1
            return {"reached": agent.done(), "left": hero.get_location().distance(goal.location),
                    "static": sorted({e for e in events if e.startswith("static.") and e != "static.sidewalk"}),
                    "seconds": ticks * DELTA}
    finally:
        server.stop()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("town", TOWNS, ids=lambda t: os.path.splitext(os.path.basename(t))[0])
def test_basic_agent_reaches_its_goal_without_touching_the_static_world(town, seed):
    result = drive(town, seed, behavior=False, traffic=0)
    assert result["reached"], f"BasicAgent stopped {result['left']:.0f} m short after {result['seconds']:.0f} s"
    assert not result["static"], f"BasicAgent hit {result['static']}"


@pytest.mark.parametrize("town", [str(MAPS_DIR / f"{name}.xodr") for name in SHARED_TOWNS] or ["GridTown"],
                         ids=lambda t: os.path.splitext(os.path.basename(t))[0])
def test_behavior_agent_reaches_its_goal_among_traffic(town):
    result = drive(town, 0, behavior=True, traffic=30)
    assert result["reached"], f"BehaviorAgent stopped {result['left']:.0f} m short after {result['seconds']:.0f} s"
    assert not result["static"], f"BehaviorAgent hit {result['static']}"
