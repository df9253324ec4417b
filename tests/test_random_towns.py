"""Property-based tests over random towns (hypothesis draws :class:`TownSpec`s: grids of jittered junctions,
streets of 1-6 lanes, one-way streets, lane ends, ring roads, boulevards beside the town, roundabouts, a
highway loop with ramps, hills): routes exist or fail with a clear error, the static world leaves every
lane free, and the autopilot drives seeded routes among traffic to their end. ``RANDOM_TOWN_EXAMPLES``
sets how many towns each test draws (CI: the default); failing towns found are kept as ``@example``s."""

from __future__ import annotations

import math
import os
import random

import carla
import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rllib_integration.embedded.maps.ground import ground_model
from rllib_integration.embedded.maps.random_towns import TownSpec, random_town_opendrive
from rllib_integration.embedded.maps.static_world import static_world
from rllib_integration.embedded.maps.towns import load_map
from rllib_integration.evaluation import EvaluationSettings, evaluate
from rllib_integration.routes.planner import RoadOption, RoutePlanner
from rllib_integration.routes.route_sets import generate_routes

EXAMPLES = int(os.environ.get("RANDOM_TOWN_EXAMPLES", "3"))
TOWNS = st.builds(TownSpec, rows=st.integers(2, 4), cols=st.integers(2, 4), spacing=st.floats(70.0, 150.0),
                  jitter=st.floats(0.0, 0.2), seed=st.integers(0, 10 ** 6), ring=st.booleans(),
                  boulevard=st.booleans(), roundabout=st.booleans(), highway=st.booleans(), lane_ends=st.booleans(),
                  signal_share=st.floats(0.0, 0.6), hills=st.sampled_from([0.0, 2.5, 5.0]))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def town_file(spec: TownSpec, folder) -> str:
    path = os.path.join(str(folder), f"random_{abs(hash(spec)) % 10 ** 8}.xodr")
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(random_town_opendrive(spec))
    return path


def town_map(spec: TownSpec):
    return load_map(f"Random_{spec.seed}", random_town_opendrive(spec))


@SETTINGS
@given(spec=TOWNS)
def test_routes_on_random_towns_exist_or_fail_with_a_clear_error(spec):
    town = town_map(spec)
    planner = RoutePlanner(town)
    points = [p.location for p in town.get_spawn_points()]
    assert len(points) >= 10, f"{spec.describe()}: {len(points)} spawn points"
    rng = random.Random(spec.seed)
    found = 0
    for _ in range(8):
        start, goal = rng.sample(points, 2)
        try:
            route = planner.trace_route(start, goal)
        except ValueError as error:
            assert "no route" in str(error) or "no driving lane" in str(error), str(error)
            continue
        found += 1
        locations = [w.transform.location for w, _ in route]
        gaps = [a.distance(b) for (a, b), (_, option) in zip(zip(locations, locations[1:]), route[1:])
                if option not in (RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT)]  # a change lands 8 m on
        assert max(gaps, default=0.0) < 4.5, f"{spec.describe()}: the route jumps {max(gaps):.1f} m"  # found: 7-8 m
        # jumps in Osm2Odr's junctions of a boulevard meeting the grid at a corner (the generator now joins it by links)
        assert locations[-1].distance(town.get_waypoint(goal).transform.location) < 3.0
    assert found >= 4, f"{spec.describe()}: only {found} of 8 routes found"


@SETTINGS
@given(spec=TOWNS)
@example(spec=TownSpec(rows=2, cols=3, spacing=88.0, jitter=0.0, seed=0, ring=False, boulevard=True, highway=True,
                       lane_ends=False, signal_share=0.0))  # found: a guard rail on a lane's edge pixels
def test_the_static_world_leaves_every_lane_free(spec):
    """No solid object stands on a driving lane (the lanes through junctions included): every point of every
    lane, within its half width, is free on the collision raster."""
    town = town_map(spec)
    world = static_world(town, ground_model(town))
    lanes = [w for w in town.generate_waypoints(1.0) if w.lane_type == carla.LaneType.Driving]
    xy = np.array([(w.transform.location.x, w.transform.location.y, w.lane_width / 2.0) for w in lanes])
    yaw = np.radians([w.transform.rotation.yaw for w in lanes])
    for fraction in np.linspace(-0.9, 0.9, 7):  # across each lane, up to a raster pixel from its edges
        px = xy[:, 0] - np.sin(yaw) * fraction * xy[:, 2]
        py = xy[:, 1] + np.cos(yaw) * fraction * xy[:, 2]
        rows, cols = world.pixels(px, py)
        solid = world.object_index[rows, cols]
        hits = np.flatnonzero(solid)
        assert not len(hits), (f"{spec.describe()}: {world.objects[solid[hits[0]] - 1].name} stands on lane "
                               f"{lanes[hits[0]].road_id}/{lanes[hits[0]].lane_id} at ({px[hits[0]]:.1f}, "
                               f"{py[hits[0]]:.1f})")


@SETTINGS
@given(spec=TOWNS)
@example(spec=TownSpec())
@example(spec=TownSpec(rows=2, cols=2, spacing=70.0, jitter=0.0, seed=0, ring=False, boulevard=True, lane_ends=False,
                       signal_share=0.0))  # found: the hero one lane off the route for the whole boulevard (fixed:
# the evaluator's autopilot agent asks to change back to the route's lane; branches chosen by their second half)
@example(spec=TownSpec(rows=2, cols=2, spacing=117.0, jitter=0.0, seed=2760, ring=True, boulevard=True, roundabout=True,
                       lane_ends=False, signal_share=0.0))  # found: asked back to the route's lane every second while
# a change was under way, the hero swung across three lanes and left the boulevard on the wrong one
def test_the_autopilot_drives_random_towns_among_traffic(spec, tmp_path_factory):
    path = town_file(spec, tmp_path_factory.mktemp("towns"))
    planner = RoutePlanner(load_map(*_resolved(path)))
    routes = generate_routes(planner, path, 2, seed=spec.seed, min_length=300.0, max_length=700.0)
    document = evaluate(routes, EvaluationSettings(traffic=15, walkers=5, seed=spec.seed))
    for record in document["_checkpoint"]["records"]:
        assert record["status"] == "Completed" and record["scores"]["score_route"] >= 95.0, \
            f"{spec.describe()}, route {record['route_id']}: {record['status']}, RC {record['scores']['score_route']:.1f}"
        assert not record["infractions"]["red_light"], f"{spec.describe()}: {record['infractions']['red_light']}"
    assert math.isfinite(document["_checkpoint"]["global_record"]["scores"]["score_composed"])


def _resolved(path: str) -> tuple[str, str]:
    from rllib_integration.embedded.maps.towns import resolve_town
    return resolve_town(path)


def test_a_town_without_sidewalks_says_why_it_has_no_walkers(caplog):
    """RandomTown9 has no sidewalks (no pedestrian navigation): asked for walkers, the background says so by name,
    once, and the env runs without them."""
    import logging

    from rllib_integration import CarlaEnv
    from test_env import PoseExperiment

    env = CarlaEnv({"carla": {"simulator": "embedded"},
                    "experiment": {"type": PoseExperiment, "town": "RandomTown9",
                                   "background_activity": {"n_vehicles": 2, "n_walkers": 5, "seed": 0}}})
    try:
        with caplog.at_level(logging.WARNING, logger="rllib_integration.background_traffic"):
            env.reset(seed=0)
            env.step(1)
        walkers = env.core.world.get_actors().filter("walker.*")
        assert len(walkers) == 0
        messages = [r.getMessage() for r in caplog.records]
        assert any("RandomTown9 has no sidewalks" in m for m in messages), messages
        assert not any("spawned 0 of" in m for m in messages)
    finally:
        env.close()
