"""``lane_facts`` (:mod:`rllib_integration.common.lane_facts`) gives, for many points at once, what
``carla.Map.get_waypoint(location, project_to_road=False, lane_type=Any)`` answers as a lane check reads it (whether
there is a waypoint, its lane type, whether in a junction, its yaw), every answer the map's own, on CARLA's towns, the
built-in ones and random ones (hills, ramps, roundabouts, lane ends, highways), making a waypoint for the points on
bends alone (and those about half a lane from their waypoint)."""

from __future__ import annotations

import carla
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import shared_map
from rllib_integration.common.lane_facts import lane_facts
from rllib_integration.common.waypoint_index import WaypointIndex
from rllib_integration.embedded.maps.procedural import PROCEDURAL_TOWNS
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from test_random_towns import SETTINGS, TOWNS, town_map
from test_waypoint_index import points_around_lanes


def assert_facts_as_the_map(town: carla.Map, count: int, seed: int, monkeypatch) -> tuple[float, float]:
    """Every point's facts the map's own, and with ``junction_yaws=False`` the same but for yaws left out (NaN) in
    junctions; returns the share of points a waypoint was made for (by the index, or by the map) and the share settled
    without a yaw."""
    asked: list[int] = []
    real = WaypointIndex.answers

    def counted(index, points, *args):
        asked.append(len(points))
        return real(index, points, *args)

    monkeypatch.setattr(WaypointIndex, "answers", counted)
    xyz = points_around_lanes(town, count, seed)
    facts = lane_facts(town, xyz)
    made = sum(asked)
    asked.clear()
    without = lane_facts(town, xyz, junction_yaws=False)
    wrong, unsure = [], 0
    for row, point in enumerate(xyz.tolist()):
        waypoint = town.get_waypoint(carla.Location(*point), project_to_road=False, lane_type=carla.LaneType.Any)
        expected = (False, 0, False, 0.0) if waypoint is None else \
            (True, int(waypoint.lane_type), waypoint.is_junction, waypoint.transform.rotation.yaw)
        got = (bool(facts.found[row]), int(facts.lane_type[row]), bool(facts.junction[row]), float(facts.yaw[row]))
        if got != expected:
            wrong.append((point, got, expected))
        got = (bool(without.found[row]), int(without.lane_type[row]), bool(without.junction[row]),
               float(without.yaw[row]))
        unsure += np.isnan(got[3])
        if got != expected and not (np.isnan(got[3]) and got[:3] == expected[:3] and expected[2]):
            wrong.append(("junction_yaws=False", point, got, expected))
    assert not wrong, wrong[:3]
    assert 0.1 < facts.found.mean() < 0.95, "the points fall both within the lanes and outside them"
    assert sum(asked) <= made, "without the junctions' yaws no more waypoints are made"
    return made / count, unsure / count


@pytest.mark.parametrize("name", ["Town01", "Town02", "Town07", "Town10HD"])
def test_the_facts_are_the_maps_on_carla_towns(name, monkeypatch):
    town = load_map(name, shared_map(name).read_text())
    asked, without_yaw = assert_facts_as_the_map(town, 600, seed=3, monkeypatch=monkeypatch)
    assert asked < 0.8, f"a waypoint was made for {asked:.0%} of the points"
    assert without_yaw > 0.05, "points within a junction's bends are settled without a waypoint where no yaw is read"


#: The most points a waypoint is made for on built-in towns of straight roads (within 4 m of a driving lane's centre,
#: so many on bends and on lanes whose widths change); on the others' bends every point needs one.
STRAIGHT = {"BikeTown": 0.3, "GridTown": 0.4}


@pytest.mark.parametrize("name", sorted(PROCEDURAL_TOWNS))
def test_the_facts_are_the_maps_on_the_built_in_towns(name, monkeypatch):
    asked, _ = assert_facts_as_the_map(load_map(*resolve_town(name)), 400, seed=4, monkeypatch=monkeypatch)
    assert asked <= STRAIGHT.get(name, 1.0), f"a waypoint was made for {asked:.0%} of the points"


@SETTINGS
@given(spec=TOWNS, seed=st.integers(0, 1000))
def test_the_facts_are_the_maps_on_random_towns(spec, seed):
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_facts_as_the_map(town_map(spec), 200, seed, monkeypatch)


def test_no_points_and_points_far_from_every_lane():
    town = load_map(*resolve_town("GridTown"))
    empty = lane_facts(town, np.zeros((0, 3)))
    assert all(len(values) == 0 for values in empty)
    far = lane_facts(town, np.array([[-5000.0, -5000.0, 0.0]]))
    assert not far.found.any() and not far.lane_type.any()
