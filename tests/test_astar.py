"""The compiled A* (:mod:`rllib_integration.routes.astar`) finds the paths ``networkx.astar_path`` finds, ties and
re-expansions included, and its heuristic is ``math.dist`` bit for bit: on random graphs (hypothesis), on random
towns' route graphs, and on CARLA's towns where ../shared/maps has them."""

from __future__ import annotations

import math
import random

import networkx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rllib_integration.embedded.maps.random_towns import TownSpec, random_town_opendrive
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.routes.astar import GraphArrays, planar_distance
from rllib_integration.routes.planner import RoutePlanner

from conftest import shared_map

#: coordinates from 1e-150 to 1e150 in size, or 0 (bit for bit there; see planar_distance)
FLOATS = st.one_of(st.just(0.0), st.floats(1e-150, 1e150), st.floats(-1e150, -1e-150))


def networkx_path(graph: networkx.DiGraph, source: int, target: int) -> list[int] | None:
    locations = networkx.get_node_attributes(graph, "location")
    try:
        return networkx.astar_path(graph, source, target, weight="length",
                                   heuristic=lambda a, b: math.dist(locations[a][:2], locations[b][:2]))
    except networkx.NetworkXNoPath:
        return None


def compiled_path(arrays: GraphArrays, source: int, target: int) -> list[int] | None:
    try:
        return arrays.astar_path(source, target)
    except networkx.NetworkXNoPath:
        return None


@given(points=st.lists(st.tuples(FLOATS, FLOATS, FLOATS, FLOATS), min_size=1, max_size=200))
@settings(max_examples=50, deadline=None, derandomize=True)
def test_planar_distance_is_math_dist_bit_for_bit(points):
    for ax, ay, bx, by in points:
        expected = math.dist((ax, ay), (bx, by))
        got = planar_distance(ax, ay, bx, by)
        assert got == expected or (math.isinf(got) and math.isinf(expected)), (ax, ay, bx, by, got, expected)


def test_planar_distance_on_town_coordinates_and_edge_cases():
    rng = np.random.default_rng(7)
    a, b = np.round(rng.uniform(-3000.0, 3000.0, (20000, 2)), 1), np.round(rng.uniform(-3000.0, 3000.0, (20000, 2)), 1)
    mismatches = [(p, q) for p, q in zip(a.tolist(), b.tolist())
                  if planar_distance(p[0], p[1], q[0], q[1]) != math.dist(p, q)]
    assert not mismatches  # (the C library's hypot differs from math.dist on about 0.5 % of these)
    assert planar_distance(1.0, 2.0, 1.0, 2.0) == 0.0
    assert planar_distance(0.0, 0.0, 3.0, 4.0) == 5.0
    assert math.isinf(planar_distance(math.inf, 0.0, 0.0, 0.0))
    assert math.isnan(planar_distance(math.nan, 0.0, 0.0, 0.0))
    assert planar_distance(5e-324, 0.0, 0.0, 0.0) == math.dist((5e-324, 0.0), (0.0, 0.0))


@st.composite
def graphs(draw) -> networkx.DiGraph:
    """Small random digraphs with whole-number lengths (ties everywhere) and lengths shorter than the straight
    line now and then (an inconsistent heuristic: nodes queued again and expanded again)."""
    count = draw(st.integers(2, 14))
    graph = networkx.DiGraph()
    for node in range(count):
        graph.add_node(node, location=(draw(st.integers(0, 6)) * 1.0, draw(st.integers(0, 6)) * 1.0, 0.0))
    for _ in range(draw(st.integers(1, 3 * count))):
        a, b = draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))
        if a != b:
            graph.add_edge(a, b, length=float(draw(st.integers(1, 8))))
    return graph


@given(graph=graphs(), data=st.data())
@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
def test_paths_are_networkx_paths_on_random_graphs(graph, data):
    arrays = GraphArrays.of(graph)
    for _ in range(4):
        source = data.draw(st.integers(0, graph.number_of_nodes() - 1))
        target = data.draw(st.integers(0, graph.number_of_nodes() - 1))
        assert compiled_path(arrays, source, target) == networkx_path(graph, source, target)


def test_an_unreachable_node_raises_networkx_no_path():
    graph = networkx.DiGraph()
    graph.add_node(0, location=(0.0, 0.0, 0.0))
    graph.add_node(1, location=(5.0, 0.0, 0.0))
    graph.add_edge(1, 0, length=5.0)
    with pytest.raises(networkx.NetworkXNoPath, match="Node 1 not reachable from 0"):
        GraphArrays.of(graph).astar_path(0, 1)
    assert GraphArrays.of(graph).astar_path(1, 0) == [1, 0]
    assert GraphArrays.of(graph).astar_path(0, 0) == [0]


def test_nodes_must_be_numbered_from_zero():
    graph = networkx.DiGraph()
    graph.add_node(3, location=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="0..N-1"):
        GraphArrays.of(graph)


def town_maps():
    yield "GridTown", load_map(*resolve_town("GridTown"))
    yield "Boulevards", load_map(*resolve_town("Boulevards"))
    spec = TownSpec(rows=3, cols=4, spacing=90.0, jitter=0.15, seed=11, ring=True, boulevard=True,
                    roundabout=True, highway=True, lane_ends=True, signal_share=0.4, hills=2.5)
    yield "a random town", load_map("Random_11", random_town_opendrive(spec))


@pytest.mark.parametrize("name", ["GridTown", "Boulevards", "a random town", "Town10HD", "Town07"])
def test_route_graphs_search_as_networkx_does(name):
    if name.startswith("Town"):
        town = load_map(name, shared_map(name).read_text())
    else:
        town = dict(town_maps())[name]
    planner = RoutePlanner(town)
    graph, arrays = planner.graph, GraphArrays.of(planner.graph)
    rng = random.Random(0)
    nodes = list(graph.nodes)
    unreachable = 0
    for _ in range(400):
        source, target = rng.choice(nodes), rng.choice(nodes)
        expected = networkx_path(graph, source, target)
        unreachable += expected is None
        assert compiled_path(arrays, source, target) == expected, (name, source, target)
    assert unreachable < 400
