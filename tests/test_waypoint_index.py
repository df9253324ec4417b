"""The waypoint index (:mod:`rllib_integration.common.waypoint_index`) answers ``carla.Map.get_waypoint`` as the map
does, to the bit: the same road, lane section, lane and ``s`` (or None), with and without ``project_to_road``, for
any lane types, on CARLA's towns and on random ones (hills, ramps, roundabouts, lane ends, highways); and it asks
the map itself about few points."""

from __future__ import annotations

import carla
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import shared_map
from rllib_integration.common.waypoint_index import WaypointIndex, get_waypoints, lane_sections, waypoint_index
from rllib_integration.embedded.maps.procedural import PROCEDURAL_TOWNS
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from test_random_towns import SETTINGS, TOWNS, town_map

LANE_TYPES = (carla.LaneType.Any, carla.LaneType.Driving, carla.LaneType.Driving | carla.LaneType.Parking,
              carla.LaneType.Sidewalk)


def points_around_lanes(town: carla.Map, count: int, seed: int) -> np.ndarray:
    """Points (x, y, z) up to several metres off the driving lanes' centres, a little below or above them."""
    rng = np.random.default_rng(seed)
    centres = town.generate_waypoints(2.0)
    picked = [centres[k].transform.location for k in rng.integers(len(centres), size=count)]
    xyz = np.array([(p.x, p.y, p.z) for p in picked]) + np.column_stack(
        [rng.normal(0.0, 4.0, (count, 2)), rng.uniform(-0.3, 0.8, count)])
    return xyz.astype(np.float32)


def key(waypoint: carla.Waypoint | None) -> tuple | None:
    return None if waypoint is None else (waypoint.road_id, waypoint.section_id, waypoint.lane_id, waypoint.s)


def assert_answers_as_the_map(town: carla.Map, count: int, seed: int) -> float:
    """Every answer the map's own, to the bit; returns the share of points the map was asked about."""
    index = waypoint_index(town)
    assert index is not None, "the map's lanes are reproduced"
    xyz = points_around_lanes(town, count, seed)
    for project in (False, True):
        for lane_type in LANE_TYPES:
            answers = index.waypoints(xyz, project, lane_type)
            wrong = [(p.tolist(), key(a), key(town.get_waypoint(carla.Location(*map(float, p)), project, lane_type)))
                     for p, a in zip(xyz, answers)
                     if key(a) != key(town.get_waypoint(carla.Location(*map(float, p)), project, lane_type))]
            assert not wrong, (project, lane_type, wrong[:3])
            if project and lane_type == carla.LaneType.Any:
                assert all(a is not None for a in answers), "a point is always projected onto some lane"
    inside = [a is not None for a in index.waypoints(xyz, False, carla.LaneType.Driving)]
    assert 0.1 < np.mean(inside) < 0.9, "the points fall both within the lanes and outside them"
    chord, _, _ = index.nearest_chords(xyz, carla.LaneType.Any)
    return float(np.mean(chord < 0))


@pytest.mark.parametrize("name", ["Town01", "Town02", "Town07", "Town10HD"])
def test_the_index_answers_as_the_map_on_carla_towns(name):
    town = load_map(name, shared_map(name).read_text())
    asked = assert_answers_as_the_map(town, 400, seed=1)
    assert asked < 0.1, f"the map was asked about {asked:.0%} of the points"


@pytest.mark.parametrize("name", sorted(PROCEDURAL_TOWNS))
def test_the_index_answers_as_the_map_on_the_built_in_towns(name):
    asked = assert_answers_as_the_map(load_map(*resolve_town(name)), 200, seed=2)
    assert asked < 0.05, f"the map was asked about {asked:.0%} of the points"


@SETTINGS
@given(spec=TOWNS, seed=st.integers(0, 1000))
def test_the_index_answers_as_the_map_on_random_towns(spec, seed):
    asked = assert_answers_as_the_map(town_map(spec), 150, seed)
    assert asked < 0.2, f"the map was asked about {asked:.0%} of the points"


def test_the_chords_are_the_maps_lanes_cut_where_they_turn():
    town = load_map("Town01", shared_map("Town01").read_text())
    index = WaypointIndex(town)
    sections = lane_sections(town.to_opendrive())
    assert sum(len(s.lanes) for s in sections) == len({(w.road_id, w.section_id, w.lane_id) for w in index.starts}), \
        "every lane of every section has chords (Town01 has no lane of type none)"
    assert index.exact.mean() > 0.95, "the chords start and end at the map's own waypoints, nearly everywhere"
    lengths = np.abs(index.end_s - index.start_s)
    straight = {(s.road, s.index) for s in sections if s.straight}
    curved = np.array([(w.road_id, w.section_id) not in straight for w in index.starts])
    assert lengths[curved].max() <= 101.0, "a curved lane's chords are at most 100 m of s (and one step)"
    def turn(a: carla.Waypoint, b: carla.Waypoint) -> float:
        return abs((a.transform.rotation.yaw - b.transform.rotation.yaw + 180.0) % 360.0 - 180.0)

    before_end = [turn(a, a.next(span - 1.0)[0]) for a, span, c in zip(index.starts, lengths, curved) if c and span > 1.5]
    assert max(before_end) <= 1.8 + 1e-3, "a curved lane's chord ends at the first step past 1.8 degrees of turn"
    assert sum(turn(a, b) > 1.8 for a, b, c in zip(index.starts, index.ends, curved) if c) > 10, \
        "Town01's bends are cut into chords"


def test_points_far_from_every_lane_and_lists_of_locations_go_to_the_map():
    town = load_map("Town01", shared_map("Town01").read_text())
    far = [carla.Location(-500.0, -500.0, 0.0), carla.Location(0.0, 0.0, 40.0)]
    assert [key(w) for w in get_waypoints(town, far, project_to_road=True)] == \
        [key(town.get_waypoint(p, project_to_road=True)) for p in far]
    assert get_waypoints(town, far[:1], project_to_road=False) == [None]


def test_a_map_whose_lanes_cannot_be_rebuilt_answers_every_query_itself(caplog):
    class OpaqueMap:  # a map object without its OpenDRIVE (as a stand-in server's may be)
        name = "Opaque"

        def get_waypoint(self, location, project_to_road=True, lane_type=carla.LaneType.Driving):
            return (round(location.x, 3), round(location.y, 3), project_to_road, int(lane_type))

    town = OpaqueMap()
    with caplog.at_level("WARNING"):
        answers = get_waypoints(town, [carla.Location(1.0, 2.0, 0.0), carla.Location(3.0, 4.0, 0.0)], False,
                                carla.LaneType.Any)
    assert answers == [(1.0, 2.0, False, int(carla.LaneType.Any)), (3.0, 4.0, False, int(carla.LaneType.Any))]
    assert waypoint_index(town) is None
    assert "waypoint queries go to the map one by one" in caplog.text
