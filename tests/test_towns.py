"""Towns: procedural towns, real CARLA towns by path or CARLA_ROOT, spawn points, drivable routes."""

import hashlib
import shutil
import subprocess
import sys
import time

import carla
import pytest

from conftest import shared_map
from rllib_integration.embedded import Client, UnknownTownError
from rllib_integration.embedded.maps.osm import osm_to_opendrive
from rllib_integration.embedded.maps.procedural import OSM_TOWNS
from rllib_integration.embedded.maps.towns import resolve_town


def assert_drivable(world, routes=10, length=300.0):
    """From several spawn points, a route of ``length`` metres follows the lanes without a dead end."""
    town_map = world.get_map()
    points = town_map.get_spawn_points()
    assert len(points) >= 50
    for transform in points[:: max(1, len(points) // routes)][:routes]:
        assert transform.location.z == pytest.approx(town_map.get_waypoint(transform.location).transform.location.z + 0.5)
        waypoint = town_map.get_waypoint(transform.location, project_to_road=False)
        assert waypoint is not None and waypoint.lane_type == carla.LaneType.Driving
        assert abs((waypoint.transform.rotation.yaw - transform.rotation.yaw + 180) % 360 - 180) < 1.0
        travelled = 0.0
        while travelled < length:
            following = waypoint.next(2.0)
            assert following, f"dead end after {travelled:.0f} m from {transform.location}"
            waypoint = following[len(following) // 2]
            travelled += 2.0


@pytest.mark.parametrize("town", sorted(set(OSM_TOWNS) - {"CurveRoad"}))  # CurveRoad ends (below)
def test_procedural_towns_build_fast_and_are_drivable(server, town):
    started = time.perf_counter()
    opendrive = osm_to_opendrive(OSM_TOWNS[town]())
    assert time.perf_counter() - started < 1.0
    world = Client("localhost", server.port).load_world(town)
    assert world.get_map().to_opendrive() == resolve_town(town)[1]
    assert len(opendrive) > 10000
    assert_drivable(world, length=150.0 if town == "Highway" else 300.0)


def test_random_towns_by_name_are_the_random_towns_of_their_seeds(server):
    from rllib_integration.embedded.maps.random_towns import town_spec
    client = Client("localhost", server.port)
    world = client.load_world("RandomTown6")
    assert world.get_map().name == "RandomTown6"
    assert world.get_map().to_opendrive() == resolve_town("RandomTown6")[1]
    roads = world.get_map().get_topology()
    spec = town_spec(6)
    assert len(roads) > 4 * spec.rows * spec.cols, "a street each way between every two nodes of the grid, at least"
    assert_drivable(world)
    assert len(carla.Map("other", resolve_town("RandomTown7")[1]).get_topology()) != len(roads), "another seed"
    for name in ("RandomTown", "RandomTown-3", "RandomTownX", "randomtown6"):
        with pytest.raises(UnknownTownError, match=r"RandomTown<N> \(a random town of seed N\)"):
            resolve_town(name)


def test_a_procedural_towns_text_is_the_same_in_every_process_and_second():
    """The caches of a town's derived data (static world, BirdView layers) are keyed by its OpenDRIVE text: were the
    converter's time stamps left in, every process would rebuild them and leave another copy on disk."""
    towns = ("RingTown", "GridTown", "RandomTown3")
    script = ("import hashlib; from rllib_integration.embedded.maps.towns import resolve_town; "
              f"print(*(hashlib.sha1(resolve_town(t)[1].encode()).hexdigest() for t in {towns!r}))")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    time.sleep(1.1)  # the time stamps had a resolution of a second
    assert other == [hashlib.sha1(resolve_town(town)[1].encode()).hexdigest() for town in towns]
    assert "generated on" not in resolve_town("RingTown")[1]


def test_curve_road_is_a_straight_a_quarter_turn_and_a_straight(server):
    world = Client("localhost", server.port).load_world("CurveRoad")
    town_map = world.get_map()
    starts = [w for w in town_map.generate_waypoints(2.0) if not w.previous(2.0)]
    assert len(starts) == 2, "one lane each way, each with a beginning"
    for waypoint in starts:
        yaws, travelled = [waypoint.transform.rotation.yaw], 0.0
        while (following := waypoint.next(2.0)):
            waypoint, travelled = following[0], travelled + 2.0
            yaws.append(waypoint.transform.rotation.yaw)
        assert 440.0 < travelled < 480.0, travelled  # 2 x 200 m + a quarter of a 40 m circle
        turn = (yaws[-1] - yaws[0] + 180.0) % 360.0 - 180.0
        assert abs(abs(turn) - 90.0) < 2.0, turn


def test_grid_town_has_two_and_four_lane_roads_and_signals(server):
    world = Client("localhost", server.port).load_world("GridTown")
    town_map = world.get_map()
    lanes_per_road = {}
    for waypoint in town_map.generate_waypoints(5.0):
        if not waypoint.is_junction:
            lanes_per_road.setdefault(waypoint.road_id, set()).add(waypoint.lane_id)
    assert {len(lanes) for lanes in lanes_per_road.values()} == {1, 2}, "1+1 streets and 2+2 arterials"
    lights = [lm for lm in town_map.get_all_landmarks() if lm.type == "1000001"]
    assert len(lights) >= 12


def test_highway_has_three_lanes_each_way(server):
    world = Client("localhost", server.port).load_world("Highway")
    counts = {}
    for waypoint in world.get_map().generate_waypoints(20.0):
        if not waypoint.is_junction:
            counts.setdefault(waypoint.road_id, set()).add(waypoint.lane_id)
    assert max(len(lanes) for lanes in counts.values()) >= 3


def test_real_town01_loads_by_path(server):
    path = shared_map("Town01")
    world = Client("localhost", server.port).load_world(str(path))
    assert world.get_map().name == "Town01"
    assert len(world.get_map().get_spawn_points()) > 150
    assert_drivable(world)


def test_carla_town_names_resolve_under_carla_root(server, tmp_path, monkeypatch):
    source = shared_map("Town01")
    folder = tmp_path / "CarlaUE4" / "Content" / "Carla" / "Maps" / "OpenDrive"
    folder.mkdir(parents=True)
    shutil.copy(source, folder / "Town01.xodr")
    monkeypatch.setenv("CARLA_ROOT", str(tmp_path))
    client = Client("localhost", server.port)
    assert "Carla/Maps/Town01" in client.get_available_maps()
    for name in ("Town01", "Town01_Opt", "/Game/Carla/Maps/Town01"):
        assert client.load_world(name).get_map().name == "Carla/Maps/Town01"
    with pytest.raises(UnknownTownError, match="no Town05.xodr under"):
        client.load_world("Town05_Opt")


def test_unknown_town_lists_the_available_ones(server, no_carla_root):
    with pytest.raises(UnknownTownError) as error:
        Client("localhost", server.port).load_world("Town05_Opt")
    message = str(error.value)
    assert "unknown town 'Town05_Opt'" in message and "no CARLA_ROOT" in message
    assert "BikeTown, Boulevards, CurveRoad, GridTown, Highway, HighwayLoop, RingTown" in message
    with pytest.raises(UnknownTownError, match="not found"):
        resolve_town("missing/town.xodr")


def test_bike_town_has_biking_lanes_across_its_junction_and_routes_between_every_two_arms(server):
    """BikeTown (written as OpenDRIVE: OSM's converter writes no biking lanes): a biking lane rides straight across
    the junction, every arm leads to every other (its turning loops keep lanes from ending nowhere, so CARLA's
    topology has them all), and each arm's light is an OpenDRIVE signal a waypoint finds as a landmark."""
    from rllib_integration.routes.planner import RoutePlanner
    world = Client("localhost", server.port).load_world("BikeTown")
    town_map = world.get_map()
    bike = town_map.get_waypoint(carla.Location(x=-60.0, y=4.25), lane_type=carla.LaneType.Biking)
    assert bike.lane_type == carla.LaneType.Biking
    crossed, waypoint = [], bike
    for _ in range(60):
        waypoint = waypoint.next(2.0)[0]
        crossed.append(waypoint.is_junction)
        assert waypoint.lane_type == carla.LaneType.Biking
    assert any(crossed) and not crossed[-1], "straight across the junction and out on the far arm's biking lane"
    planner = RoutePlanner(town_map)
    into = {"east": (150.0, -1.75), "north": (-1.75, -150.0), "west": (-150.0, 1.75), "south": (1.75, 150.0)}
    out_of = {"east": (150.0, 1.75), "north": (1.75, -150.0), "west": (-150.0, -1.75), "south": (-1.75, 150.0)}
    for a, (x, y) in into.items():
        for b, (gx, gy) in out_of.items():
            if a != b:
                goal = carla.Location(x=gx, y=gy)
                route = planner.trace_route(carla.Location(x=x, y=y), goal)
                assert route[-1][0].transform.location.distance(goal) < 2.0, (a, b)
                assert any(w.is_junction for w, _ in route), (a, b)
    lights = list(world.get_actors().filter("traffic.traffic_light*"))
    assert len(lights) == 4
    landmarks = town_map.get_waypoint(carla.Location(x=150.0, y=-1.75)).get_landmarks_of_type(200.0, "1000001")
    assert landmarks and world.get_traffic_light(landmarks[0]) is not None
    assert_drivable(world, length=150.0)
