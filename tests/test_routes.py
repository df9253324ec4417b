"""The global route planner, the Leaderboard's route files and seeded route sets."""

from __future__ import annotations

import itertools
import math
import random

import carla
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from rllib_integration.common.lane_geometry import DrivableLanes, sharpest_radius
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.routes.planner import (RoadOption, RoutePlanner, any_within, location_distances, route_length,
                                             route_poses)
from rllib_integration.routes.progress import polyline_distance
from rllib_integration.routes.route_files import RouteFileError, RouteSpec, ScenarioSpec, read_routes, write_routes
from rllib_integration.routes.route_sets import (U_TURN, dense_route, draw_route, ended_as_planned, generate_routes,
                                                has_u_turn, points_reaching, u_turn_in)

from conftest import shared_map

JUNCTION_OPTIONS = {RoadOption.LEFT, RoadOption.RIGHT, RoadOption.STRAIGHT}
LANE_CHANGES = {RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT}


def planner_for(town: str) -> RoutePlanner:
    return RoutePlanner(load_map(*resolve_town(town)), resolution=1.0)


@pytest.mark.parametrize("town", ["GridTown", "RingTown", "Town01"])
def test_routes_are_dense_connected_and_end_where_asked(town):
    planner = planner_for(str(shared_map(town)) if town == "Town01" else town)
    spots = planner.map.get_spawn_points()
    rng = random.Random(0)
    for _ in range(10):
        a, b = rng.sample(spots, 2)
        route = planner.trace_route(a.location, b.location)
        assert route[0][0].transform.location.distance(a.location) < 4.0  # on its lane, or the next one
        assert route[-1][0].transform.location.distance(b.location) < 1.0
        for (w0, _), (w1, option) in zip(route[:-1], route[1:]):
            gap = w0.transform.location.distance(w1.transform.location)
            assert gap <= (10.0 if option in LANE_CHANGES else 1.6), (w0, w1, option)
        for option, run in itertools.groupby(route, key=lambda item: item[1]):
            run = [w for w, _ in run]
            if option in JUNCTION_OPTIONS:  # inside a junction, but for the borders
                assert all(w.is_junction for w in run[1:-1])
        for (w0, o0), (w1, o1) in zip(route[:-1], route[1:]):
            if o0 == o1 == RoadOption.LANEFOLLOW:  # a lane's border point may lie on a junction's edge
                assert not (w0.is_junction and w1.is_junction)
        length = route_length(route)
        assert length >= a.location.distance(b.location) - 1.0


def test_junction_options_match_the_turn_the_route_makes():
    planner = planner_for("GridTown")
    spots = planner.map.get_spawn_points()
    rng = random.Random(1)
    seen = set()
    for _ in range(30):
        a, b = rng.sample(spots, 2)
        route = planner.trace_route(a.location, b.location)
        for option, run in itertools.groupby(route, key=lambda item: item[1]):
            run = [w for w, _ in run]
            if option not in JUNCTION_OPTIONS or len(run) < 3:
                continue
            p = [(w.transform.location.x, w.transform.location.y) for w in run]
            heading_in = math.atan2(p[1][1] - p[0][1], p[1][0] - p[0][0])
            heading_out = math.atan2(p[-1][1] - p[-2][1], p[-1][0] - p[-2][0])
            turn = math.degrees((heading_out - heading_in + math.pi) % (2 * math.pi) - math.pi)
            # CARLA's frame is left-handed: a growing heading turns right
            expected = RoadOption.RIGHT if turn > 35 else RoadOption.LEFT if turn < -35 else RoadOption.STRAIGHT
            assert option == expected, (p[0], p[-1], turn)
            seen.add(option)
    assert seen == JUNCTION_OPTIONS


def test_a_destination_against_the_driving_direction_is_a_clear_error():
    planner = planner_for("Highway")  # one-way carriageways that end: nothing leads back
    start = next(p for p in planner.map.get_spawn_points() if planner.map.get_waypoint(p.location).previous(50.0))
    behind = planner.map.get_waypoint(start.location).previous(50.0)[0].transform.location
    with pytest.raises(ValueError, match="cannot be reached"):
        planner.trace_route(start.location, behind)


def test_route_files_round_trip_in_both_formats(tmp_path):
    routes = [RouteSpec("0", "Town01", [carla.Location(1.5, 2.25, 0.5), carla.Location(100.0, -3.0, 0.0)], [90.0, 180.0]),
              RouteSpec("7", "GridTown", [carla.Location(0, 0, 0), carla.Location(10, 0, 0), carla.Location(20, 5, 0)])]
    for version in (1, 2):
        path = tmp_path / f"routes_{version}.xml"
        if version == 2:
            routes[0].scenarios = [ScenarioSpec("Accident_1", "Accident", (1.0, 2.0, 0.0, 90.0),
                                                {"distance": {"value": "40"}, "direction": {"value": "left"}})]
            routes[0].weathers = [{"route_percentage": "0", "cloudiness": "5.0"}]
        write_routes(path, routes, version)
        text = path.read_text()
        assert ("<waypoint " in text) == (version == 1) and ("<position " in text) == (version == 2)
        back = read_routes(path)
        assert [r.route_id for r in back] == ["0", "7"] and [r.town for r in back] == ["Town01", "GridTown"]
        for a, b in zip(back, routes):
            assert [(p.x, p.y, p.z) for p in a.waypoints] == [(p.x, p.y, p.z) for p in b.waypoints]
        if version == 1:
            assert back[0].yaws == [90.0, 180.0]
        else:
            assert back[0].scenarios == routes[0].scenarios
            assert back[0].scenarios[0].value("distance", 120.0) == 40.0
            assert back[0].scenarios[0].value("direction", "right", str) == "left"
            assert back[0].scenarios[0].value("speed", 60.0) == 60.0
            assert back[0].weathers == [{"route_percentage": "0", "cloudiness": "5.0"}]


@pytest.mark.parametrize("text, message", [
    ("<routes><route id='0'><waypoint x='0' y='0' z='0'/><waypoint x='1' y='0' z='0'/></route></routes>", "no town"),
    ("<routes><route id='0' town='Town01'><waypoint x='0' y='0' z='0'/></route></routes>", "at least two"),
    ("<routes><route id='0' town='Town01'><waypoint x='a' y='0'/><waypoint x='1' y='0'/></route></routes>",
     "not a number"),
    ("<scenarios/>", "root element"),
    ("<routes>", "not XML"),
])
def test_bad_route_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(RouteFileError, match=message):
        read_routes(path)


@pytest.mark.parametrize("town", ["GridTown", "RingTown", "Town01"])
def test_generated_route_sets_are_seeded_spread_and_densify_back(tmp_path, town):
    name = str(shared_map(town)) if town == "Town01" else town
    planner = planner_for(name)
    routes = generate_routes(planner, town, 5, seed=3)
    assert [r.route_id for r in routes] == ["0", "1", "2", "3", "4"]
    again = generate_routes(planner, town, 5, seed=3)
    assert [[(p.x, p.y) for p in r.waypoints] for r in routes] == [[(p.x, p.y) for p in r.waypoints] for r in again]
    other = generate_routes(planner, town, 5, seed=4)
    assert [(r.waypoints[0].x, r.waypoints[0].y) for r in other] != [(r.waypoints[0].x, r.waypoints[0].y) for r in routes]
    write_routes(tmp_path / "set.xml", routes)
    for spec in read_routes(tmp_path / "set.xml"):
        dense = dense_route(planner, spec)
        assert 950.0 <= route_length(dense) <= 2050.0
        assert not has_u_turn(dense)
    starts = [r.waypoints[0] for r in routes]
    nearest = [min(a.distance(b) for b in starts if b is not a) for a in starts]
    assert min(nearest) > 20.0  # spread over the town, not bunched at one spot


@pytest.mark.parametrize("town", ["GridTown", "RingTown", "Town10HD"])
def test_an_episode_drives_its_route_as_drawn_which_densifies_back_to_itself(town):
    """``draw_route`` (an episode's route, not traced again from its sparse waypoints) is the route that
    ``dense_route`` gives for ``generate_routes``'s route of the same seed, ended the same way (the sparse points
    densify back to the route drawn, but for one now and then that snaps to another lane); each is seeded,
    connected, as long as asked and free of U-turns."""
    name = str(shared_map(town)) if town.startswith("Town") else town
    planner = planner_for(name)
    same = 0
    for seed in range(40):
        drawn = draw_route(planner, town, seed, 300.0, 800.0)
        assert [id(w) for w, _ in drawn] == [id(w) for w, _ in draw_route(planner, town, seed, 300.0, 800.0)]
        spec = generate_routes(planner, town, 1, seed=seed, min_length=300.0, max_length=800.0)[0]
        same += [id(w) for w, _ in drawn] == [id(w) for w, _ in dense_route(planner, spec)]
        assert 290.0 <= route_length(drawn) <= 800.0 and not has_u_turn(drawn)
        assert drawn[0][0].transform.location.distance(spec.waypoints[0]) < 0.1
        assert drawn[-1][0].transform.location.distance(spec.waypoints[-1]) <= 2.0 * planner.resolution
        for (w0, _), (w1, option) in zip(drawn[:-1], drawn[1:]):
            assert w0.transform.location.distance(w1.transform.location) <= (10.0 if option in LANE_CHANGES else 1.6)
    assert same >= 36, f"{same} of 40 routes as densified"


def test_sharpest_radius_measures_curves_and_cusps():
    angles = [k * 0.5 / 5.0 for k in range(60)]  # a circle of 5 m radius, a point every 0.5 m
    circle = [(5.0 * math.cos(a), 5.0 * math.sin(a)) for a in angles]
    assert sharpest_radius(circle) == pytest.approx(5.0, rel=0.02)
    assert sharpest_radius([(0.5 * k, 0.0) for k in range(20)]) == math.inf
    cusp = [(0.5 * k, 0.0) for k in range(10)] + [(4.5 - 0.5 * k, 0.2) for k in range(1, 10)]  # doubles back
    assert sharpest_radius(cusp) < 1.0


@pytest.mark.parametrize("town", ["GridTown", "RingTown", "RandomTown7"])
def test_a_traced_routes_poses_are_its_waypoints_own(town):
    """``route_poses`` of the route just traced reads the rows the planner assembled it from (its edges' and
    lanes' rows, cut as the route is), of any other route a row a waypoint: both are the waypoints' own transforms,
    over routes that change lanes, stay on one lane and loop back to a point behind their start."""
    from rllib_integration.routes.planner import route_poses
    planner = planner_for(town)
    spots = planner.map.get_spawn_points()
    rng = random.Random(5)
    options: set[RoadOption] = set()
    pairs = [tuple(rng.sample(spots, 2)) for _ in range(60)]
    pairs += [(a, a) for a in spots[:3]]  # (the same point: a route of one lane, or none)
    for a, b in pairs:
        start, forward = a.location, a.get_forward_vector()
        end = b.location if b is not a else start - 6.0 * forward  # a point behind the start: a loop
        try:
            route = planner.trace_route(start, end)
        except ValueError:
            continue
        own = np.array([(w.transform.location.x, w.transform.location.y, w.transform.location.z,
                         w.transform.rotation.yaw) for w, _ in route])
        assert np.array_equal(route_poses(route), own)
        assert np.array_equal(route_poses(list(route)), own)  # (a copy: looked up a waypoint at a time)
        options |= {option for _, option in route}
    assert options & LANE_CHANGES or town != "GridTown", "some routes changed lanes"
    for seed in range(4):  # an episode's route, drawn through several traced pieces and cut, then read again
        route = draw_route(planner, town, seed, 300.0, 800.0)
        own = np.array([(w.transform.location.x, w.transform.location.y, w.transform.location.z,
                         w.transform.rotation.yaw) for w, _ in route])
        assert np.array_equal(route_poses(route), own)
        route.append(route[0])  # a route changed after it was drawn is read anew
        assert np.array_equal(route_poses(route), np.concatenate([own, own[:1]]))


@pytest.mark.parametrize("town", ["GridTown", "Boulevards"])
def test_routes_never_take_a_junction_connection_no_car_can_follow(town):
    """Osm2Odr joins a street ending at a junction to its other direction with a U-turn of 1-2 m radius, and a
    dual carriageway's two sides with a connection that doubles back on itself; the autopilot that followed such
    a route on Boulevards circled, hit a tree and left the route. Such connections are no edges of the graph."""
    planner = planner_for(town)
    drivable = DrivableLanes(planner.map)
    undrivable = {(e.road_id, e.lane_id) for e, _ in planner.map.get_topology() if not drivable(e)}
    assert undrivable, f"{town} has such connections (the test checks they are left out)"
    used = {(w.road_id, w.lane_id) for _, _, data in planner.graph.edges(data=True)
            for w, _ in data["path"][:-1]}  # (a lane's last point is where the next begins)
    assert not used & undrivable
    for spec in generate_routes(planner, town, 6, seed=1000, min_length=2000.0, max_length=5000.0):
        route = dense_route(planner, spec)
        assert all(drivable(w) for w, _ in route)
        assert sharpest_radius([(w.transform.location.x, w.transform.location.y) for w, _ in route]) >= 1.0


def test_many_progresses_advanced_and_measured_at_once_are_each_ones_own():
    """``ProgressBatch`` (every hero's route followed in one compiled call) gives each ``RouteProgress``'s own
    ``update_at`` and ``distance_at``, bit for bit, as routes are replaced (a respawn), grow longer than the rows
    held, vehicles drive along them, stray and come back, and calls give some of the progresses in any order (the
    heroes acting this step)."""
    import numpy as np

    from rllib_integration.routes.progress import RouteProgress
    from rllib_integration.routes.progress_batch import ProgressBatch

    planner = planner_for("GridTown")
    spawns = load_map(*resolve_town("GridTown")).get_spawn_points()
    rng = random.Random(3)

    def route() -> list:
        start, end = rng.sample(spawns, 2)
        return planner.trace_route(start.location, end.location)

    routes = [r for r in (route() for _ in range(40)) if len(r) >= 2]
    batch, rows = ProgressBatch(), 5
    batched = [RouteProgress(r) for r in routes[:rows]]
    alone = [RouteProgress(r) for r in routes[:rows]]
    spare = iter(routes[rows:])
    noise = np.random.default_rng(4)
    for tick in range(400):
        if tick % 37 == 36:  # a hero respawns on a new route (and, once, a second row is added)
            k = tick % rows
            new = next(spare)
            batched[k], alone[k] = RouteProgress(new), RouteProgress(new)
        if tick == 200:
            new = max(routes, key=len)
            batched.append(RouteProgress(new))
            alone.append(RouteProgress(new))
        acting = noise.permutation(len(alone))[:len(alone) - tick % 3]  # some of them, in any order
        given, own = [batched[k] for k in acting], [alone[k] for k in acting]
        xy = np.array([p.points[min(p.index + 2, len(p.points) - 1), :2] for p in own])
        xy = (xy + noise.normal(0.0, 1.5, xy.shape)).astype(np.float32).astype(np.float64)
        gained = batch.update(given, xy)
        expected = [p.update_at(x, y) for p, (x, y) in zip(own, xy.tolist())]
        assert gained.tolist() == expected
        assert [p.index for p in batched] == [p.index for p in alone]
        completed, distances = batch.measure(given, xy)
        assert completed.tolist() == [p.completed for p in own]
        assert distances.tolist() == [p.distance_at(x, y) for p, (x, y) in zip(own, xy.tolist())]
    assert len(batch.counts) <= len(alone) + 2, "rows are reused, not added for every new route"
    assert max(p.index for p in alone) > 30, "the vehicles went along their routes"


def test_a_new_route_takes_the_row_asked_for_longest_ago_not_one_another_caller_reads():
    """A world's routes are shared (``route_rows``): the core advances every hero's after a tick, the route task and
    the BirdView read the same rows, each asking for its own set of heroes in its own order. A route that comes
    takes the row of the route asked for longest ago (an ended episode's), never a row the last calls read (the
    other callers' heroes, whose routes would be copied back at their next call): a row is added instead."""
    import numpy as np

    from rllib_integration.routes.progress import RouteProgress
    from rllib_integration.routes.progress_batch import ProgressBatch

    planner = planner_for("GridTown")
    spawns = load_map(*resolve_town("GridTown")).get_spawn_points()[:16]
    routes = [planner.trace_route(a.location, b.location) for a, b in zip(spawns[::2], spawns[1::2])]
    batch = ProgressBatch()
    heroes = [RouteProgress(route) for route in routes[:4]]

    def tick() -> list[int]:  # the core's call (every hero), the task's (the acting ones), the BirdView's (sorted)
        rows = batch.sync(heroes).tolist()
        assert batch.sync(heroes[1:][::-1]).tolist() == rows[1:][::-1]
        assert batch.sync(heroes[::-1]).tolist() == rows[::-1]
        return rows

    rows = tick()
    heroes[2] = RouteProgress(routes[4])  # hero 2 respawns: its ended route was read by the last calls
    after = tick()
    assert after[:2] + after[3:] == rows[:2] + rows[3:] and after[2] == 4 and len(batch.counts) == 5
    for turn in range(1, 4):
        assert tick() == after, "no route copied again"
        rotated = heroes[turn:] + heroes[:turn]  # other calls (other heroes acting): the ended route's row ages
        assert batch.sync(rotated).tolist() == after[turn:] + after[:turn]
    heroes[0] = RouteProgress(routes[5])  # a later respawn: the ended route's row, read longest ago
    assert tick() == [rows[2]] + after[1:] and len(batch.counts) == 5
    for k, hero in enumerate(heroes):
        row = batch.sync(heroes)[k]
        assert np.array_equal(batch.points[row, :len(hero.points)], hero.points)


def test_a_rosters_tuple_of_progresses_is_answered_by_identity_only_while_its_rows_hold_it():
    """A world's roster hands the same tuple of progresses every tick until a hero or a route changes, and
    ``ProgressBatch.sync`` answers a tuple it answered lately without reading its ids again. Between two of its
    calls, other callers' lists (heroes acting, in any order; new routes taking rows; more calls than the batch keeps)
    may move routes to other rows: the tuple's answer is then read again, and every row it is given holds its
    progress's route."""
    import numpy as np

    from rllib_integration.routes.progress import RouteProgress
    from rllib_integration.routes.progress_batch import RECENT, ProgressBatch

    planner = planner_for("GridTown")
    spawns = load_map(*resolve_town("GridTown")).get_spawn_points()
    rng = random.Random(5)
    routes = [r for r in (planner.trace_route(*(s.location for s in rng.sample(spawns, 2))) for _ in range(30))
              if len(r) >= 2]
    batch, noise = ProgressBatch(), np.random.default_rng(6)
    heroes = [RouteProgress(route) for route in routes[:4]]
    everyone, spare, seen = tuple(heroes), iter(routes[4:]), set()
    for tick in range(120):
        if tick % 11 == 10:  # a respawn: the roster's next tuple is a new one
            heroes[tick % 4] = RouteProgress(next(spare))
            everyone = tuple(heroes)
        for _ in range(int(noise.integers(0, RECENT + 2))):  # other callers: some of the heroes, or routes of
            if noise.random() < 0.3:  # their own only (the roster's rows then age, and new routes may take them)
                others = [RouteProgress(routes[int(k)]) for k in noise.integers(0, len(routes), 2)]
            else:
                others = [heroes[k] for k in noise.permutation(4)[:int(noise.integers(1, 5))]]
            batch.sync(others)
        rows = batch.sync(everyone)
        assert batch.sync(everyone) is rows, "asked again at once: the same answer"
        seen.add(tuple(rows.tolist()))
        for hero, row in zip(everyone, rows.tolist()):
            assert batch.counts[row] == len(hero.points)
            assert np.array_equal(batch.points[row, :len(hero.points)], hero.points)
    assert len(seen) > 3, "the tuple's rows moved now and then"


@pytest.mark.parametrize("seed", range(5))
def test_a_drawn_route_is_cut_where_its_length_is_reached(seed):
    rng = np.random.default_rng(seed)
    steps = np.round(rng.uniform(0.0, 2.0, rng.integers(0, 300)), int(rng.integers(1, 4)))  # equal sums now and then
    for length in [*rng.uniform(0.0, float(steps.sum()) + 5.0, 50), *np.cumsum(steps)[:20]]:
        travelled, expected = 0.0, len(steps) + 1  # a step at a time, as route_length sums them
        for i, metres in enumerate(steps.tolist(), start=1):
            travelled += metres
            if travelled >= length:
                expected = i + 1
                break
        assert points_reaching(np.cumsum(steps), float(length)) == expected


@njit
def _every_hypot(points, lo, hi, x, y):
    """The distance to a polyline as the least ``math.hypot`` of every offset (the plain way, compiled as the
    library's: numba's ``math.hypot`` is the C library's, which CPython's is not)."""
    best = math.hypot(points[lo, 0] - x, points[lo, 1] - y)
    for k in range(lo, hi - 1):
        ax, ay = points[k, 0], points[k, 1]
        abx, aby = points[k + 1, 0] - ax, points[k + 1, 1] - ay
        t = min(max(((x - ax) * abx + (y - ay) * aby) / max(abx * abx + aby * aby, 1e-9), 0.0), 1.0)
        best = min(best, math.hypot(ax + t * abx - x, ay + t * aby - y))
    return best


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 90), st.integers(0, 2 ** 32 - 1), st.sampled_from(["walk", "float32", "same", "circle"]))
def test_the_distance_to_a_route_is_the_least_hypot_of_every_offset(count, seed, shape):
    """``polyline_distance`` compares offsets by their squares and takes the hypot of the nearest few only: the same
    distance, to the last bit, as the least hypot of every offset, ties and repeated points included."""
    rng = np.random.default_rng(seed)
    if shape == "circle":  # every point as near the centre
        angles = np.linspace(0.0, 2.0 * np.pi, count)
        points = np.stack([10.0 * np.cos(angles), 10.0 * np.sin(angles), np.zeros(count)], axis=1)
    elif shape == "same":
        points = np.repeat(rng.normal(0.0, 50.0, (1, 3)), count, axis=0)
    else:
        points = np.cumsum(rng.normal(0.0, 1.0, (count, 3)), axis=0) + 250.0
        if shape == "float32":
            points = points.astype(np.float32).astype(np.float64)
    for _ in range(10):
        lo = int(rng.integers(0, count))
        hi = int(rng.integers(lo + 1, count + 1))
        x, y = (0.0, 0.0) if shape == "circle" else tuple(points[rng.integers(count), :2] + rng.normal(0.0, 2.0, 2))
        assert polyline_distance(points, lo, hi, x, y) == _every_hypot(points, lo, hi, x, y)
        assert polyline_distance(points, lo, hi, *points[lo, :2]) == 0.0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2 ** 32 - 1), st.floats(0.5, 3.0))
def test_the_compiled_route_checks_decide_as_their_numpy_expressions(count, seed, reach):
    """The route drawing's compiled checks against the NumPy they replace: a landing within reach
    (``location_distances``, libcarla's 32-bit arithmetic) and a U-turn (the yaw's turn over ``step`` poses), on
    points placed at exactly the reach now and then and yaws at the wrap-around (-180/180 degrees)."""
    rng = np.random.default_rng(seed)
    goal = rng.uniform(-300.0, 300.0, 3).astype(np.float32).astype(np.float64)
    table = (goal + rng.normal(0.0, reach, (count + 5, 3))).astype(np.float32).astype(np.float64)
    table[rng.random(len(table)) < 0.2, :] = goal + np.array([reach, 0.0, 0.0])  # at the reach, to the bit or near
    rows = rng.permutation(len(table))[:count].astype(np.int64)
    expected = bool(np.any(location_distances(table[rows, :3], goal) < reach))
    assert any_within(np.column_stack([table, np.zeros(len(table))]), rows, *goal, reach) == expected
    poses = np.zeros((count + 2, 4))
    poses[:, 3] = rng.choice([-180.0, 180.0, 30.0, -150.0, 179.999, -179.999, 0.0], count + 2) \
        + rng.normal(0.0, 10.0, count + 2) * (rng.random(count + 2) < 0.5)
    poses[:, 0] = np.arange(count + 2) * rng.choice([0.05, 1.0, 3.0])
    for window in (1.0, 15.0):
        step = max(1, int(round(window / max(float(location_distances(poses[0, :3], poses[1, :3])), 0.1))))
        turns = np.abs((poses[step:, 3] - poses[:-step, 3] + 180.0) % 360.0 - 180.0)
        assert u_turn_in(poses, window) == bool(np.any(turns > math.degrees(U_TURN)))


def test_a_route_ended_from_its_poses_ends_where_its_transforms_end_it():
    """``ended_as_planned`` with the route's poses (as ``draw_route`` ends an episode's route) cuts it at the point
    the waypoints' own transforms give, ends near the route's points included."""
    planner = planner_for("GridTown")
    route = draw_route(planner, "GridTown", 3, 300.0, 800.0)
    poses = route_poses(route)
    for k in [len(route) - 1, len(route) - 2, len(route) // 2, 2, 1]:
        for offset in (0.0, 0.5, 1.999, 2.0, 2.001):
            x, y, z, _ = poses[k].tolist()
            end = carla.Location(x + offset, y, z)
            for reach in (1.0, 2.0):
                ended = ended_as_planned(route[:k + 1], end, reach, poses[:k + 1])
                assert ended == ended_as_planned(route[:k + 1], end, reach)
