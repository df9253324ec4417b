"""The lane check's index (:mod:`rllib_integration.common.lane_index`) answers as the map does: every point, near the
lanes or off them, any heading, on CARLA's towns (Town07's parking lanes among them) and on random ones (hills,
ramps, roundabouts, lane ends); and it asks the map only where its samples cannot settle a point."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import shared_map
from rllib_integration.common import lane_index as lanes
from rllib_integration.embedded.maps.towns import load_map
from rllib_integration.evaluation.criteria import LaneCriterion
from test_random_towns import SETTINGS, TOWNS, town_map


def points_around_lanes(criterion: LaneCriterion, count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points scattered around the lane samples (up to several metres off, any heading), and wrong-way flags."""
    rng = np.random.default_rng(seed)
    index = criterion.index
    picked = rng.integers(len(index.x), size=count)
    xyz = np.stack([index.x[picked], index.y[picked], index.z[picked] + 0.3], axis=1)
    xyz[:, :2] += rng.normal(0.0, 2.5, (count, 2))
    return xyz, rng.uniform(-180.0, 180.0, count), rng.random(count) < 0.8


def assert_answers_as_the_map(town, count: int, seed: int) -> float:
    """Every point decided as the map decides it; returns the share the map was asked about."""
    criterion = LaneCriterion(town)
    xyz, yaws, counts = points_around_lanes(criterion, count, seed)
    asked = []
    decided = criterion.index.outside(xyz, yaws, counts, lambda k: asked.append(k) or criterion.exact(
        xyz[k], float(yaws[k]), bool(counts[k])))
    exact = np.array([criterion.exact(xyz[k], float(yaws[k]), bool(counts[k])) for k in range(count)])
    wrong = np.flatnonzero(decided != exact)
    assert not len(wrong), [(xyz[k].round(2).tolist(), round(float(yaws[k])), bool(counts[k])) for k in wrong[:5]]
    assert 0.05 < exact.mean() < 0.95, "the points fall on both sides of the check"
    return len(asked) / count


@pytest.mark.parametrize("name", ["Town01", "Town07", "Town10HD"])
def test_the_index_answers_as_the_map_on_carla_towns(name):
    town = load_map(name, shared_map(name).read_text())
    asked = assert_answers_as_the_map(town, 4000, seed=1)
    assert asked < 0.2, f"the map was asked about {asked:.0%} of the points"


@SETTINGS
@given(spec=TOWNS, seed=st.integers(0, 1000))
def test_the_index_answers_as_the_map_on_random_towns(spec, seed):
    assert_answers_as_the_map(town_map(spec), 1500, seed)


def test_a_hero_driving_its_lane_is_decided_without_asking_the_map():
    town = load_map("Town01", shared_map("Town01").read_text())
    criterion = LaneCriterion(town)
    index = criterion.index
    lane = np.flatnonzero(~index.junction)[:2000:20]
    xyz = np.stack([index.x[lane], index.y[lane], index.z[lane]], axis=1)
    asked = []
    decided = index.outside(xyz, index.yaw[lane], np.ones(len(lane), bool), lambda k: asked.append(k) or True)
    assert not decided.any() and not asked, "on its lane's centre, the right way: inside, from the samples alone"
    against = index.outside(xyz, index.yaw[lane] + 180.0, np.ones(len(lane), bool), lambda k: asked.append(k) or True)
    assert against.all(), "the wrong way on a lane outside junctions: outside"
    assert len(asked) < 0.2 * len(lane), "the map is asked only near a junction lane that would excuse the heading"


def assert_settled_cells_decide_as_the_samples(town, count: int, seed: int) -> float:
    """The settled table changes no answer: points near lane centres (headings along the lane, at the wrong-way
    limit) and points scattered around the lanes (any heading) are decided as the samples alone decide them, and the
    samples leave the same points to the map. Returns the share settled of the points near centres."""
    criterion = LaneCriterion(town)
    index = criterion.index
    rng = np.random.default_rng(seed)
    picked = rng.integers(len(index.x), size=count)
    centred = np.stack([index.x[picked], index.y[picked], index.z[picked] + 0.3], axis=1)
    centred[:, :2] += rng.normal(0.0, 0.6, (count, 2))
    along = index.yaw[picked] + rng.normal(0.0, 8.0, count)
    limit = index.yaw[picked] + rng.choice([-1.0, 1.0], count) * (index.wrong_way_angle + rng.normal(0.0, 3.0, count))
    scattered, anywhere, _ = points_around_lanes(criterion, count, seed)
    xyz = np.concatenate([centred, centred, scattered])
    yaws = np.concatenate([along, limit, anywhere])
    counts = rng.random(len(yaws)) < 0.8
    unsettled = copy.copy(index)
    unsettled.settled = np.zeros((0, 0), dtype=np.uint16)
    answers = {}
    for name, which in (("table", index), ("samples", unsettled)):
        asked: list[int] = []
        decided = which.outside(xyz, yaws, counts, lambda k: asked.append(k) or False)
        answers[name] = decided, asked
    assert answers["table"][1] == answers["samples"][1], "a settled point is one the samples decide alone"
    wrong = np.flatnonzero(answers["table"][0] != answers["samples"][0])
    assert not len(wrong), [(xyz[k].round(2).tolist(), round(float(yaws[k]), 1), bool(counts[k])) for k in wrong[:5]]
    settled = np.zeros(count, dtype=np.bool_)
    for k in range(count):
        row, column = (int((centred[k, axis] - index.origin[axis]) // index.settled_cell) for axis in (1, 0))
        settled[k] = 0 <= row < index.settled.shape[0] and 0 <= column < index.settled.shape[1] and \
            index.settled[row, column] != lanes.UNSETTLED
    return float(settled.mean())


@pytest.mark.parametrize("name", ["Town01", "Town07", "Town10HD"])
def test_settled_cells_decide_as_the_samples_on_carla_towns(name):
    town = load_map(name, shared_map(name).read_text())
    share = assert_settled_cells_decide_as_the_samples(town, 6000, seed=2)
    assert share > 0.6, f"only {share:.0%} of the points near lane centres lie in settled cells"


@SETTINGS
@given(spec=TOWNS, seed=st.integers(0, 1000))
def test_settled_cells_decide_as_the_samples_on_random_towns(spec, seed):
    assert_settled_cells_decide_as_the_samples(town_map(spec), 1500, seed)


def test_a_town_too_large_for_a_settled_table_is_decided_from_its_samples(monkeypatch, caplog):
    """A town whose settled table would pass ``SETTLED_MOST_CELLS`` (CARLA's kilometres-wide towns) gets none, says
    so in the log, and its points are answered as with a table."""
    town = load_map("Town01", shared_map("Town01").read_text())
    index = LaneCriterion(town).index
    monkeypatch.setattr(lanes, "SETTLED_MOST_CELLS", index.settled.size - 1)
    with caplog.at_level("INFO", logger=lanes.__name__):
        large = lanes.LaneIndex(town, index.allowed_out, index.wrong_way_angle)
    assert large.settled.size == 0 and "no settled cells" in caplog.text
    xyz, yaws, counts = points_around_lanes(LaneCriterion(town), 3000, seed=4)
    answers = [which.outside(xyz, yaws, counts, lambda k: False) for which in (index, large)]
    assert np.array_equal(*answers)
