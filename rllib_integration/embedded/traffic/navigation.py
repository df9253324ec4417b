"""Pedestrian navigation of the embedded world: the sidewalk graph, built once per map.

The navigation graph has a node every 2 m along every sidewalk lane beside the driving lanes (but none on or
within 0.5 m of a driving lane: Osm2Odr junctions can draw a sidewalk over another road's lanes, where a walker
sent there would stand in traffic),
edges along each sidewalk, between sidewalk nodes within 2.5 m of each other (corners), and
crossings: the map's crosswalks, and straight links between sidewalk nodes facing each other
across the road (at most 20 m) at or within 25 m of a junction; sidewalk islands within 15 m of the main
network are joined to it at their nearest point. ``world.get_random_location_from_navigation``
draws nodes with the world's pedestrian RNG (``world.set_pedestrians_seed``); a walker AI controller
(:mod:`.walker_ai`) walks its walker along the shortest path to ``go_to_location``. The graph is kept in the disk
cache of maps (:mod:`~rllib_integration.common.map_cache`): a town's takes seconds to build, in every process.
"""

from __future__ import annotations

import heapq
import math
import sys

import carla
import numpy as np

from ...common.map_cache import cached_arrays, source_version
from ..maps.towns import EmbeddedMap

NODE_STEP = 2.0
CORNER_LINK = 4.0
CROSSING_LINK = 20.0
JOIN_LINK = 15.0  # sidewalk islands this close to the main network get a crossing at their nearest point
LANE_CLEARANCE = 0.5  # metres between a node and the nearest driving lane (a walker standing there stays off it)


def _near_driving_lane(town_map: carla.Map, location: carla.Location) -> bool:
    """Whether a driving lane lies under ``location`` or within :data:`LANE_CLEARANCE` of it."""
    return any(town_map.get_waypoint(carla.Location(location.x + dx, location.y + dy, location.z),
                                     project_to_road=False, lane_type=carla.LaneType.Driving) is not None
               for dx, dy in ((0.0, 0.0), (LANE_CLEARANCE, 0.0), (-LANE_CLEARANCE, 0.0), (0.0, LANE_CLEARANCE),
                              (0.0, -LANE_CLEARANCE)))


class Navigation:
    """Sidewalk nodes (``points``, shape (N, 3)) and their neighbours with edge lengths."""

    def __init__(self, town_map: carla.Map) -> None:
        points, lanes = [], {}
        for waypoint in town_map.generate_waypoints(NODE_STEP):
            for step in (carla.Waypoint.get_right_lane, carla.Waypoint.get_left_lane):
                lane, depth = step(waypoint), 0
                while lane is not None and lane.lane_type != carla.LaneType.Driving and depth < 4:
                    if lane.lane_type == carla.LaneType.Sidewalk:
                        key = (lane.road_id, lane.section_id, lane.lane_id)
                        loc = lane.transform.location
                        if _near_driving_lane(town_map, loc):
                            break  # a junction's sidewalk drawn over another road's lanes: no place to walk to
                        lanes.setdefault(key, []).append((lane.s, len(points)))
                        points.append((loc.x, loc.y, loc.z))
                        break
                    lane, depth = step(lane), depth + 1
        self.points = np.array(points) if points else np.zeros((0, 3))
        self.edges: list[dict[int, float]] = [dict() for _ in points]
        for nodes in lanes.values():  # along each sidewalk
            nodes.sort()
            for (_, a), (_, b) in zip(nodes, nodes[1:]):
                self._link(a, b)
        self._link_near(CORNER_LINK, lambda a, b: True)
        for a, b in self._crosswalk_ends(town_map):
            self._link(a, b)
        self._link_near(CROSSING_LINK, self._junction_test(town_map))
        self._join_components(JOIN_LINK)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Navigation:
        """The graph that :meth:`to_arrays` wrote (each node's neighbours in the same order)."""
        navigation = cls.__new__(cls)
        navigation.points = arrays["points"]
        starts = arrays["starts"].tolist()
        neighbours, lengths = arrays["neighbours"].tolist(), arrays["lengths"].tolist()
        navigation.edges = [dict(zip(neighbours[a:b], lengths[a:b])) for a, b in zip(starts, starts[1:])]
        return navigation

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The points and the edges as arrays: node ``k``'s neighbours are ``neighbours[starts[k]:starts[k + 1]]``
        at ``lengths`` metres."""
        starts = np.cumsum([0] + [len(edges) for edges in self.edges], dtype=np.int64)
        neighbours = np.array([b for edges in self.edges for b in edges], dtype=np.int64)
        lengths = np.array([length for edges in self.edges for length in edges.values()], dtype=np.float64)
        return {"points": self.points, "starts": starts, "neighbours": neighbours, "lengths": lengths}

    def components(self) -> np.ndarray:
        """The connected component of each node (the index of its first node)."""
        label = np.full(len(self.points), -1)
        for start in range(len(self.points)):
            if label[start] >= 0:
                continue
            label[start], stack = start, [start]
            while stack:
                for neighbour in self.edges[stack.pop()]:
                    if label[neighbour] < 0:
                        label[neighbour] = start
                        stack.append(neighbour)
        return label

    def _join_components(self, reach: float) -> None:
        """Link every other component to the largest one by its closest pair of nodes, if within
        ``reach`` metres (a crossing where the map offers none), until none is that close."""
        while len(self.points):
            label = self.components()
            main = np.bincount(label).argmax()
            inside, outside = np.flatnonzero(label == main), np.flatnonzero(label != main)
            if len(outside) == 0:
                return
            gaps = np.linalg.norm(self.points[outside, None, :2] - self.points[None, inside, :2], axis=2)
            a, b = np.unravel_index(np.argmin(gaps), gaps.shape)
            if gaps[a, b] > reach:
                return
            self._link(int(outside[a]), int(inside[b]))

    def _link(self, a: int, b: int) -> None:
        if a != b:
            length = float(np.linalg.norm(self.points[a, :2] - self.points[b, :2]))
            self.edges[a][b] = self.edges[b][a] = length

    def _link_near(self, radius: float, accept) -> None:
        if len(self.points) < 2:
            return
        cells: dict[tuple[int, int], list[int]] = {}
        for index, (x, y, _) in enumerate(self.points):
            cells.setdefault((int(x // radius), int(y // radius)), []).append(index)
        for (cx, cy), members in cells.items():
            near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in cells.get((cx + dx, cy + dy), ())]
            for a in members:
                for b in near:
                    if a < b and np.linalg.norm(self.points[a, :2] - self.points[b, :2]) <= radius and accept(a, b):
                        self._link(a, b)

    def _junction_test(self, town_map: carla.Map):
        """Whether two nodes face each other across a road (the link is nearly perpendicular to the
        driving lane it crosses) within 25 m of a junction."""
        def accept(a: int, b: int) -> bool:
            if b in self.edges[a]:
                return False
            lane = None
            for fraction in (0.4, 0.6):  # not the midpoint: it can fall on the line between two roads
                point = self.points[a] + fraction * (self.points[b] - self.points[a])
                lane = lane or town_map.get_waypoint(carla.Location(*point), project_to_road=False)
            if lane is None:
                return False
            yaw = math.radians(lane.transform.rotation.yaw)
            link = self.points[b, :2] - self.points[a, :2]
            if abs(link[0] * math.cos(yaw) + link[1] * math.sin(yaw)) > 0.3 * np.linalg.norm(link):
                return False
            return lane.is_junction or any(w.is_junction for d in (5.0, 10.0, 15.0, 20.0, 25.0)
                                           for w in lane.next(d) + lane.previous(d))
        return accept

    def _crosswalk_ends(self, town_map: carla.Map) -> list[tuple[int, int]]:
        """Pairs of sidewalk nodes joined by the map's crosswalk polygons."""
        corners = town_map.get_crosswalks()
        pairs: list[tuple[int, int]] = []
        if not len(self.points):
            return pairs  # crosswalks but no sidewalk beside a driving lane (highway towns): nothing to join
        for start in range(0, len(corners) - 4, 5):  # polygons of 4 corners + the first repeated
            quad = np.array([(c.x, c.y) for c in corners[start:start + 4]])
            ends = [(quad[0] + quad[1]) / 2.0, (quad[2] + quad[3]) / 2.0]
            nodes = [int(np.argmin(np.linalg.norm(self.points[:, :2] - end, axis=1))) for end in ends]
            if nodes[0] != nodes[1] and all(np.linalg.norm(self.points[n, :2] - e) < 8.0 for n, e in zip(nodes, ends)):
                pairs.append((nodes[0], nodes[1]))
        return pairs

    def nearest(self, location: carla.Location) -> int:
        return int(np.argmin(np.hypot(self.points[:, 0] - location.x, self.points[:, 1] - location.y)))

    def path(self, start: int, goal: int) -> list[int]:
        """Shortest path of node indices (Dijkstra) to ``goal``, or, where the graph does not
        connect them, to the reachable node nearest to it."""
        distance, previous, queue = {start: 0.0}, {}, [(0.0, start)]
        while queue:
            d, node = heapq.heappop(queue)
            if node == goal:
                break
            if d > distance[node]:
                continue
            for neighbour, length in self.edges[node].items():
                if d + length < distance.get(neighbour, math.inf):
                    distance[neighbour], previous[neighbour] = d + length, node
                    heapq.heappush(queue, (d + length, neighbour))
        if goal not in distance:
            reachable = np.array(list(distance))
            gaps = np.linalg.norm(self.points[reachable, :2] - self.points[goal, :2], axis=1)
            goal = int(reachable[int(np.argmin(gaps))])
        route = [goal]
        while route[-1] != start:
            route.append(previous[route[-1]])
        return route[::-1]


_NAVIGATION: dict[str, Navigation] = {}
VERSION = source_version(sys.modules[__name__])  # part of the disk cache's file names


def navigation_for(town_map: EmbeddedMap) -> Navigation:
    """The pedestrian navigation graph of a map: from this process's cache, else from the disk cache, else built."""
    if town_map.opendrive_hash not in _NAVIGATION:
        arrays = cached_arrays(town_map, "navigation", VERSION, lambda: Navigation(town_map).to_arrays())
        _NAVIGATION[town_map.opendrive_hash] = Navigation.from_arrays(arrays)
    return _NAVIGATION[town_map.opendrive_hash]
