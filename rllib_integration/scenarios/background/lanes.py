"""The lanes and junctions the Leaderboard 2.0's background activity thinks in, through the carla API only.

A lane is named by its key, ``"road*lane"`` (ScenarioRunner's ``get_lane_key``); the lanes of a road that
run the way a waypoint's lane runs, and those that run against it, are found by walking left and right.
:func:`route_junctions` lists the junctions a dense route drives through, each with the lanes that enter
and leave it and which of them the route takes (:class:`RouteJunction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import carla

#: A turn's heading against the route's on entering a junction (degrees, 0-360) -> where the lane comes from.
DIRECTIONS = ((330.0, "ref"), (225.0, "right"), (135.0, "opposite"), (30.0, "left"), (0.0, "ref"))
STEP = 0.2  # metres walked out of a junction along a connecting lane
CONNECTED = 2.0  # metres between two junctions of a route below which they count as one


def lane_key(waypoint: carla.Waypoint | None) -> str:
    """The key of ``waypoint``'s lane (``""`` for none)."""
    return "" if waypoint is None else f"{waypoint.road_id}*{waypoint.lane_id}"


def same_direction_lanes(waypoint: carla.Waypoint) -> list[carla.Waypoint]:
    """The driving lanes of ``waypoint``'s road that run its way, from the left-most to the right-most."""
    lanes = [waypoint]
    side = waypoint
    while True:
        right = side.get_right_lane()
        if right is None or right.lane_type != carla.LaneType.Driving:
            break
        side = right
        lanes.append(side)
    side = waypoint
    while True:
        left = side.get_left_lane()
        if left is None or left.lane_type != carla.LaneType.Driving or left.lane_id * side.lane_id < 0:
            break
        side = left
        lanes.insert(0, side)
    return lanes


def opposite_direction_lanes(waypoint: carla.Waypoint) -> list[carla.Waypoint]:
    """The driving lanes of ``waypoint``'s road that run against it, from the centre outwards."""
    side = waypoint
    first = None
    for _ in range(20):
        left = side.get_left_lane()
        if left is None:
            break
        if left.lane_id * side.lane_id < 0:
            first = left
            break
        side = left
    lanes = []
    while first is not None and first.lane_type == carla.LaneType.Driving:
        lanes.append(first)
        first = first.get_right_lane()
    return lanes


def out_of_junction(waypoint: carla.Waypoint, backwards: bool) -> carla.Waypoint | None:
    """The lane's first point outside the junction ``waypoint`` lies in, walking back (or on)."""
    for _ in range(2000):
        if not waypoint.is_junction:
            return waypoint
        following = waypoint.previous(STEP) if backwards else waypoint.next(STEP)
        if not following:
            return None
        waypoint = following[0]
    return None


def direction(yaw: float, route_yaw: float) -> str:
    """Where a lane of heading ``yaw`` points against the route's heading ``route_yaw``."""
    difference = (yaw - route_yaw) % 360.0
    return next(name for bound, name in DIRECTIONS if difference > bound or bound == 0.0)


def closest(waypoint: carla.Waypoint, candidates: list[carla.Waypoint]) -> carla.Waypoint | None:
    """The candidate on ``waypoint``'s lane, else the nearest one."""
    key = lane_key(waypoint)
    for candidate in candidates:
        if lane_key(candidate) == key:
            return candidate
    location = waypoint.transform.location
    return min(candidates, key=lambda c: c.transform.location.distance(location), default=None)


@dataclass
class Source:
    """Where vehicles of a lane come from, and the vehicles it keeps (the front-most first)."""

    waypoint: carla.Waypoint
    actors: list[Any] = field(default_factory=list)
    active: bool = True
    entry: carla.Waypoint | None = None  # a junction source's entry lane
    previous_keys: list[str] = field(default_factory=list)


@dataclass
class ExitLane:
    """A lane leaving an active junction: the background vehicles on it and how many it holds."""

    reference: carla.Waypoint
    actors: list[Any] = field(default_factory=list)
    max_actors: int = 0
    max_distance: float = 0.0


@dataclass
class RouteJunction:
    """A junction (or junctions closer than :data:`CONNECTED`) the route drives through, its lanes and, while
    the background activity has it active, its state."""

    junction_ids: list[int]
    entry_index: int  # the route point before the junction
    exit_index: int | None = None  # the route's first point past it (None: the route ends in it)
    entry_wps: list[carla.Waypoint] = field(default_factory=list)
    exit_wps: list[carla.Waypoint] = field(default_factory=list)
    entry_keys: list[str] = field(default_factory=list)
    exit_keys: list[str] = field(default_factory=list)
    route_entry_keys: list[str] = field(default_factory=list)
    route_exit_keys: list[str] = field(default_factory=list)
    opposite_entry_keys: list[str] = field(default_factory=list)
    opposite_exit_keys: list[str] = field(default_factory=list)
    entry_directions: dict[str, list[str]] = field(default_factory=dict)
    exit_directions: dict[str, list[str]] = field(default_factory=dict)
    # state while active (and what scenarios asked for before it was)
    entry_sources: list[Any] = field(default_factory=list)
    exits: dict[str, ExitLane] = field(default_factory=dict)
    actors: dict[int, Any] = field(default_factory=dict)
    stop_non_route_entries: bool = False
    clear_middle: bool = False
    inactive_entry_keys: list[str] = field(default_factory=list)
    inactive_exit_keys: list[str] = field(default_factory=list)

    def contains(self, waypoint: carla.Waypoint) -> bool:
        return waypoint.is_junction and waypoint.junction_id in self.junction_ids


def route_junctions(route: list[carla.Waypoint], town_map: carla.Map) -> list[RouteJunction]:
    """The junctions ``route`` (its dense waypoints) drives through, in order, with their lanes; the one it
    starts in is left out."""
    start = next((i for i, w in enumerate(route) if not w.is_junction), len(route) - 1)
    found: list[RouteJunction] = []
    cumulative = [0.0]
    for a, b in zip(route[:-1], route[1:]):
        cumulative.append(cumulative[-1] + a.transform.location.distance(b.transform.location))
    current_id = None
    for i in range(start, len(route) - 1):
        following = route[i + 1]
        last = found[-1] if found else None
        if last is not None and last.exit_index is None:
            if not following.is_junction or following.junction_id != current_id:
                last.exit_index = i + 1
        elif following.is_junction:
            current_id = following.junction_id
            if last is not None and last.junction_ids[-1] == current_id and \
                    cumulative[i] - cumulative[last.exit_index] < CONNECTED:
                last.exit_index = None
                continue
            found.append(RouteJunction([current_id], i))
    for junction in found:
        _add_topology(junction, route, town_map)
    return found


def _add_topology(junction: RouteJunction, route: list[carla.Waypoint], town_map: carla.Map) -> None:
    """The lanes entering and leaving ``junction`` and which of them the route takes."""
    entries, exits = {}, {}
    for junction_id in junction.junction_ids:
        carla_junction = _junction(route, junction_id)
        if carla_junction is None:
            continue
        for entry, exit_ in carla_junction.get_waypoints(carla.LaneType.Driving):
            entry = out_of_junction(entry, backwards=True)
            if entry is not None:
                entries.setdefault(lane_key(entry), entry)
            exit_ = out_of_junction(exit_, backwards=False)
            if exit_ is not None:
                exits.setdefault(lane_key(exit_), exit_)
    # a lane that both leaves and enters (two junctions joined by it) is neither
    junction.entry_keys, junction.exit_keys = list(entries), list(exits)
    junction.entry_wps = [w for k, w in entries.items() if k not in exits]
    junction.exit_wps = [w for k, w in exits.items() if k not in entries]
    for wp in junction.exit_wps:
        junction.exits[lane_key(wp)] = ExitLane(wp)
    entry_route = route[junction.entry_index]
    for wp in same_direction_lanes(entry_route):
        match = closest(wp, junction.entry_wps)
        if match is not None:
            junction.route_entry_keys.append(lane_key(match))
    for wp in opposite_direction_lanes(entry_route):
        match = closest(wp, junction.exit_wps)
        if match is not None:
            junction.opposite_exit_keys.append(lane_key(match))
    if junction.exit_index is not None:
        exit_route = route[junction.exit_index]
        for wp in same_direction_lanes(exit_route):
            match = closest(wp, junction.exit_wps)
            if match is not None:
                junction.route_exit_keys.append(lane_key(match))
        for wp in opposite_direction_lanes(exit_route):
            match = closest(wp, junction.entry_wps)
            if match is not None:
                junction.opposite_entry_keys.append(lane_key(match))
    route_yaw = entry_route.transform.rotation.yaw
    junction.entry_directions = {name: [] for _, name in DIRECTIONS}
    junction.exit_directions = {name: [] for _, name in DIRECTIONS}
    for wp in junction.entry_wps:
        junction.entry_directions[direction(wp.transform.rotation.yaw, route_yaw)].append(lane_key(wp))
    for wp in junction.exit_wps:
        junction.exit_directions[direction(wp.transform.rotation.yaw, route_yaw)].append(lane_key(wp))


def _junction(route: list[carla.Waypoint], junction_id: int) -> Any:
    for waypoint in route:
        if waypoint.is_junction and waypoint.junction_id == junction_id:
            return waypoint.get_junction()
    return None
