"""The disk cache of maps: what a process builds from a town once (the walker navigation graph, the lane samples)
is read back by the next process, the same to the bit; a broken or unwritable cache costs a build, never an
error."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from rllib_integration.common import lane_index as lanes
from rllib_integration.common.map_cache import cached_arrays, map_stem
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.embedded.traffic import navigation


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RLLIB_INTEGRATION_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def counted(build):
    calls = []

    def wrapper():
        calls.append(1)
        return build()
    return wrapper, calls


def test_a_navigation_graph_read_back_is_the_graph_built_with_each_nodes_neighbours_in_order(cache):
    town_map = load_map(*resolve_town("GridTown"))
    built = navigation.Navigation(town_map)
    build, calls = counted(built.to_arrays)
    for _ in range(2):
        read = navigation.Navigation.from_arrays(cached_arrays(town_map, "navigation", navigation.VERSION, build))
    assert len(calls) == 1, "the second call reads the file"
    assert os.path.isfile(map_stem(town_map, "navigation", navigation.VERSION) + ".npz")
    assert np.array_equal(read.points, built.points) and read.points.dtype == np.float64
    # the neighbours' order decides Dijkstra's ties on a grid town: it is kept, and so are the lengths' bits
    assert [list(edges.items()) for edges in read.edges] == [list(edges.items()) for edges in built.edges]
    assert all(type(b) is int and type(length) is float for edges in read.edges for b, length in edges.items())
    rng = np.random.default_rng(3)
    for start, goal in rng.integers(0, len(built.points), size=(20, 2)):
        assert read.path(int(start), int(goal)) == built.path(int(start), int(goal))


def test_lane_samples_read_back_are_those_taken_from_the_map(cache):
    town_map = load_map(*resolve_town("RingTown"))
    taken = lanes.lane_samples(town_map)
    build, calls = counted(lambda: lanes.lane_samples(town_map))
    first = cached_arrays(town_map, "lanes", lanes.VERSION, build)
    second = cached_arrays(town_map, "lanes", lanes.VERSION, build)
    assert len(calls) == 1
    for arrays in (first, second):
        assert arrays.keys() == taken.keys()
        for key, values in taken.items():
            assert arrays[key].dtype == values.dtype and np.array_equal(arrays[key], values), key


def test_a_broken_cache_file_is_built_again_and_an_unwritable_cache_is_a_warning(cache, monkeypatch, caplog):
    town_map = load_map(*resolve_town("GridTown"))
    build, calls = counted(lambda: {"x": np.arange(3.0)})
    path = map_stem(town_map, "probe", "1") + ".npz"
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as stream:
        stream.write(b"PK\x03\x04 not a zip archive")  # a file cut short by a killed writer looks like this
    assert np.array_equal(cached_arrays(town_map, "probe", "1", build)["x"], np.arange(3.0)) and len(calls) == 1
    assert np.array_equal(cached_arrays(town_map, "probe", "1", build)["x"], np.arange(3.0)) and len(calls) == 1, \
        "the rebuilt file replaced the broken one"
    blocker = cache.parent / "not_a_folder"
    blocker.write_text("")
    monkeypatch.setenv("RLLIB_INTEGRATION_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING, logger="rllib_integration.common.map_cache"):
        assert np.array_equal(cached_arrays(town_map, "probe", "1", build)["x"], np.arange(3.0))
    assert len(calls) == 2 and "could not cache probe" in caplog.text
    assert not [name for name in os.listdir(os.path.dirname(path)) if ".tmp" in name], "no temporary file is left"


def test_a_second_process_reads_the_graph_and_the_lane_samples_the_first_built(cache):
    """What every training script, Ray worker and evaluation worker does with a town: the first builds, the next
    read."""
    code = ("import json\n"
            "from rllib_integration.common.lane_index import lane_index\n"
            "from rllib_integration.common.map_cache import COUNTS\n"
            "from rllib_integration.embedded.maps.towns import load_map, resolve_town\n"
            "from rllib_integration.embedded.traffic.navigation import navigation_for\n"
            "town_map = load_map(*resolve_town('GridTown'))\n"
            "nodes = len(navigation_for(town_map).points)\n"
            "samples = len(lane_index(town_map, 1.0, 90.0).x)\n"
            "print(json.dumps([COUNTS, nodes, samples]))\n")
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      timeout=300, env=dict(os.environ)).stdout) for _ in range(2)]
    assert runs[0][0] == {"built:navigation": 1, "built:lanes": 1, "built:lanes-settled": 1}
    assert runs[1][0] == {"read:navigation": 1, "read:lanes": 1, "read:lanes-settled": 1}
    assert runs[0][1:] == runs[1][1:] and runs[0][1] > 100 and runs[0][2] > 1000
