"""The background activity at the junctions of the route (ScenarioRunner's junction mode).

When the hero comes within ``30 m + 1.5 s x its speed`` of the next junction on its route, the road behaviour
stops: its vehicles become the junction's, a source 40 m out on each of the junction's other entries keeps up
to six vehicles coming (each source active with 80 % probability), and two vehicles wait on the route's exit,
30 m and 45 m past the junction. A vehicle is tracked from entry through the junction to its exit lane; past
the exit's reach it stands unless it is on the route's exit, where it drives on as a road vehicle ahead. Once
the hero is past the junction, the vehicles ahead on the route's exit become the road's, those coming the other
way the opposite lanes', and the rest go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import carla

from .lanes import RouteJunction, Source, lane_key

ENTRY, MIDDLE, EXIT, EXIT_ROAD, EXIT_INACTIVE = "entry", "middle", "exit", "exit_road", "exit_inactive"
DETECTION, DETECTION_PER_SPEED = 30.0, 1.5  # metres, metres per m/s of the hero
SOURCE_DISTANCE, SOURCE_MIN_DISTANCE, SOURCE_STEP = 40.0, 15.0, 5.0  # metres from the junction
SPACING, MAX_ACTORS, SOURCE_SHARE = 15.0, 6, 0.8  # metres, vehicles per source, share of sources active
REUSE_DISTANCE = 10.0  # metres: a vehicle this close to a source, coming down its lane, joins it
EXIT_ROAD_MULTIPLIER = 1.5


@dataclass
class JunctionActor:
    """A background vehicle of an active junction."""

    state: str = ENTRY
    exit_key: str = ""
    at_opposite_entry: bool = False  # on the lane of the route's exit road coming the other way


class JunctionMode:
    """The route's junctions: those ahead (``pending``) and those active now (``active``)."""

    def __init__(self, activity: Any, junctions: list[RouteJunction]) -> None:
        """``activity``: the :class:`~.activity.BackgroundActivity` whose junctions these are."""
        self.activity = activity
        self.pending = junctions
        self.active: list[RouteJunction] = []
        self.source_distance, self.spacing, self.max_actors, self.source_share = (SOURCE_DISTANCE, SPACING,
                                                                                  MAX_ACTORS, SOURCE_SHARE)

    def next_entry_index(self) -> int:
        """The route point before the next junction (the route's last where none is left)."""
        return self.pending[0].entry_index if self.pending else len(self.activity.route) - 1

    def nearest(self) -> RouteJunction | None:
        """The junction a scenario's request is for: the active one, else the next."""
        return self.active[0] if self.active else (self.pending[0] if self.pending else None)

    # -- modes ---------------------------------------------------------------------------------------
    def monitor_incoming(self) -> None:
        a = self.activity
        if not self.pending:
            return
        detection = DETECTION + DETECTION_PER_SPEED * a.hero_speed()
        if a.cumulative[self.pending[0].entry_index] - a.cumulative[a.index] >= detection:
            return
        junction = self.pending.pop(0)
        if a.mode == "road":
            self._switch_to_junction(junction)
        self._init_sources(junction)
        self._init_exits(junction)
        if self.active:  # the vehicles leaving the last junction along the route enter this one
            previous = self.active[-1]
            for key in previous.route_exit_keys:
                for actor in list(previous.exits[key].actors):
                    a.forget(actor)
                    junction.actors[actor.id] = JunctionActor()
                    a.fleet.set_speed(actor, 100.0)
        self.active.append(junction)
        a.removed_lane, a.removed_lane_offset = False, 0

    def _switch_to_junction(self, junction: RouteJunction) -> None:
        a = self.activity
        a.mode = "junction"
        held = {actor.id for actor in a.stopped_front}
        for source in a.road.values():
            for actor in source.actors:
                junction.actors[actor.id] = JunctionActor()
                if actor.id not in held:
                    a.fleet.set_speed(actor, 100.0)
        for source in a.road.values():
            key = lane_key(source.waypoint)
            if key not in junction.route_entry_keys:
                continue
            entry = Source(source.waypoint, source.actors, source.active, entry=source.waypoint)
            junction.entry_sources.append(entry)
            if key in junction.inactive_entry_keys:
                for actor in list(source.actors):
                    a.fleet.destroy(actor)
                entry.active = False
                junction.inactive_entry_keys.remove(key)
        a.road.clear()
        a.opposite_sources.clear()

    def _init_sources(self, junction: RouteJunction) -> None:
        a = self.activity
        for entry in junction.entry_wps:
            key = lane_key(entry)
            if key in junction.route_entry_keys:
                continue
            moved, back = 0.0, entry
            while moved < self.source_distance:
                previous = back.previous(SOURCE_STEP)
                if not previous or previous[0].is_junction:
                    break
                back = previous[0]
                moved += SOURCE_STEP
            if moved < SOURCE_MIN_DISTANCE:
                continue
            source = Source(back, [], entry=entry)
            if key in junction.inactive_entry_keys:
                source.active = False
                junction.inactive_entry_keys.remove(key)
            junction.entry_sources.append(source)
        for source in junction.entry_sources:  # not every entry of a real junction has traffic
            if 100.0 * a.rng.random() > 100.0 * self.source_share:
                source.active = False

    def _init_exits(self, junction: RouteJunction) -> None:
        a = self.activity
        for exit_wp in junction.exit_wps:
            key = lane_key(exit_wp)
            exit_lane = junction.exits[key]
            distance, count, places, ahead = exit_lane.max_distance, 0, [], exit_wp
            if distance > 0:
                following = ahead.next(distance)
                if not following:
                    continue
                ahead = following[0]
            for i in range(max(a.front, 1)):
                step = 2 * self.spacing if i == 0 else self.spacing
                following = ahead.next(step)
                if not following:
                    break
                ahead = following[0]
                if count > 0 and ahead.is_junction:
                    break
                count += 1
                distance += step
                places.insert(0, ahead)
            exit_lane.reference, exit_lane.max_actors, exit_lane.max_distance = exit_wp, count, distance
            if key in junction.inactive_exit_keys or key not in junction.route_exit_keys:
                continue
            exit_lane.actors = a.fleet.spawn_many(places)
            for actor in exit_lane.actors:
                junction.actors[actor.id] = JunctionActor(EXIT, key)

    def monitor_exit(self) -> None:
        """The hero left the first active junction: back to the road behaviour past it (or the next junction's)."""
        junction = self.active[0]
        if junction.exit_index is not None and self.activity.index >= junction.exit_index:
            self._end(junction)

    def _end(self, junction: RouteJunction) -> None:
        a = self.activity
        self.active.pop(0)
        for exit_wp in junction.exit_wps:
            key = lane_key(exit_wp)
            if key not in junction.route_exit_keys:
                continue
            if self.active:
                self.active[0].entry_sources.append(Source(exit_wp, [], a.road_sources_active, entry=exit_wp))
            else:
                a.road[key] = Source(exit_wp, [], a.road_sources_active)
        actors = dict(a.fleet.actors)
        for actor_id, info in list(junction.actors.items()):
            actor = actors.get(actor_id)
            if actor is None:
                continue
            if not actor.is_alive or a.behind(actor.get_location()):
                a.fleet.destroy(actor)
                continue
            a.fleet.set_speed(actor, 100.0)
            if info.at_opposite_entry:
                a.opposite_actors.append(actor)
                a.tm.ignore_lights_percentage(actor, 100)
                a.tm.ignore_signs_percentage(actor, 100)
            elif info.exit_key in junction.route_exit_keys:
                if not self.active:
                    a.road[info.exit_key].actors.append(actor)
                else:
                    for source in self.active[0].entry_sources:
                        if lane_key(source.waypoint) == info.exit_key:
                            source.actors.append(actor)
                            break
            else:
                a.fleet.destroy(actor)
        a.junction_entry = False
        if not self.active:
            a.mode = "road"
            a.init_opposite_sources()
            a.checker_index = a.route_index_ahead(a.max_radius, a.index)

    # -- every tick ----------------------------------------------------------------------------------
    def update_sources(self) -> None:
        a = self.activity
        for junction in self.active:
            for source in junction.entry_sources:
                if not source.active:
                    continue
                at_opposite = lane_key(source.entry) in junction.opposite_entry_keys
                self._add_incoming(junction, source, at_opposite)
                if len(source.actors) >= self.max_actors:
                    continue
                last = source.actors[-1] if source.actors else a.hero
                if not last.is_alive:
                    continue
                if last.get_location().distance(source.waypoint.transform.location) <= self.spacing:
                    continue
                actor = a.fleet.spawn(source.waypoint, self.spacing)
                if actor is None:
                    continue
                if junction.stop_non_route_entries and lane_key(source.entry) not in junction.route_entry_keys:
                    a.fleet.set_speed(actor, 0.0)
                junction.actors[actor.id] = JunctionActor(at_opposite_entry=at_opposite)
                source.actors.append(actor)

    def _add_incoming(self, junction: RouteJunction, source: Any, at_opposite: bool) -> None:
        """A background vehicle about to pass the source along its lane joins it (one a tick)."""
        a = self.activity
        if not source.previous_keys:
            source.previous_keys = [lane_key(w) for w in source.waypoint.previous(REUSE_DISTANCE)]
            source.previous_keys.append(lane_key(source.waypoint))
        at = source.waypoint.transform.location
        for actor in list(a.fleet.actors.values()):
            if actor in source.actors or not actor.is_alive:
                continue
            location = actor.get_location()
            if at.distance(location) > REUSE_DISTANCE or \
                    lane_key(a.map.get_waypoint(location)) not in source.previous_keys:
                continue
            a.forget(actor)
            a.fleet.set_speed(actor, 100.0)
            source.actors.append(actor)
            junction.actors[actor.id] = JunctionActor(at_opposite_entry=at_opposite)
            return

    def update_actors(self) -> None:
        a = self.activity
        fleet = a.fleet
        for i, junction in enumerate(self.active):
            held = set()
            if a.junction_entry:
                for source in junction.entry_sources:
                    if lane_key(source.waypoint) in junction.route_entry_keys:
                        held.update(actor.id for actor in source.actors)
            for actor_id, info in list(junction.actors.items()):
                actor = fleet.actors.get(actor_id)
                if actor is None or actor_id not in junction.actors or not actor.is_alive:
                    continue
                location = actor.get_location()
                if actor_id in held:
                    a.set_road_speed(actor, location)
                elif info.state == ENTRY:
                    waypoint = a.map.get_waypoint(location)
                    if waypoint.is_junction and junction.contains(waypoint):
                        if junction.clear_middle:
                            fleet.destroy(actor)
                            continue
                        info.state = MIDDLE
                elif info.state == MIDDLE:
                    self._leaving(i, junction, actor, info, a.map.get_waypoint(location))
                elif info.state == EXIT:
                    exit_lane = junction.exits[info.exit_key]
                    if location.distance(exit_lane.reference.transform.location) > exit_lane.max_distance:
                        if info.exit_key in junction.route_exit_keys:
                            info.state = EXIT_ROAD
                        else:
                            fleet.set_speed(actor, 0.0)
                            info.state = EXIT_INACTIVE
                elif info.state == EXIT_ROAD:
                    a.set_road_speed(actor, location, EXIT_ROAD_MULTIPLIER)

    def _leaving(self, i: int, junction: RouteJunction, actor: Any, info: JunctionActor,
                 waypoint: carla.Waypoint) -> None:
        """A vehicle in the junction that may have reached an exit lane."""
        key = lane_key(waypoint)
        if waypoint.is_junction or key not in junction.exits:
            return
        a = self.activity
        if i < len(self.active) - 1 and key in junction.route_exit_keys:  # on into the next junction of the route
            a.forget(actor)
            self.active[i + 1].actors[actor.id] = JunctionActor()
        elif i > 0 and key in junction.opposite_exit_keys:
            other = self.active[i - 1]
            if actor.id not in other.actors:
                a.forget(actor)
                other.actors[actor.id] = JunctionActor(at_opposite_entry=True)
        else:
            exit_lane = junction.exits[key]
            exit_lane.reference = waypoint
            info.state, info.exit_key = EXIT, key
            if exit_lane.actors and len(exit_lane.actors) >= exit_lane.max_actors:
                a.fleet.destroy(exit_lane.actors[0])
            exit_lane.actors.append(actor)

    def forget(self, actor: Any) -> None:
        for junction in self.active:
            junction.actors.pop(actor.id, None)
            for source in junction.entry_sources:
                if actor in source.actors:
                    source.actors.remove(actor)
            for exit_lane in junction.exits.values():
                if actor in exit_lane.actors:
                    exit_lane.actors.remove(actor)

    # -- what junction scenarios ask for -------------------------------------------------------------
    def switch_route_sources(self, enabled: bool) -> None:
        for junction in self.active:
            for source in junction.entry_sources:
                if lane_key(source.entry) in junction.route_entry_keys:
                    source.active = enabled

    def clear_middle(self) -> None:
        """No background vehicles in the junction (those in it go, those entering go as they enter)."""
        junction = self.nearest()
        if junction is None:
            return
        if self.active:
            for actor_id, info in list(junction.actors.items()):
                if info.state == MIDDLE and actor_id in self.activity.fleet.actors:
                    self.activity.fleet.destroy(self.activity.fleet.actors[actor_id])
        junction.clear_middle = True

    def clear_entry(self) -> None:
        """No background vehicles ahead of the hero on its way into the junction; those behind never pass it."""
        a = self.activity
        a.junction_entry = True
        groups = [s for s in self.active[0].entry_sources] if self.active else list(a.road.values())
        for source in groups:
            for actor in list(source.actors):
                if actor.is_alive and not a.behind(actor.get_location()):
                    a.fleet.destroy(actor)
            if not self.active:
                source.active = False

    def remove_entries(self, waypoints: list[carla.Waypoint]) -> None:
        """The junction's entries these lanes lead into get no vehicles."""
        junction = self.nearest()
        if junction is None:
            return
        for waypoint in waypoints:
            key = self._follow(waypoint, junction.entry_keys, forward=True)
            if key is None:
                continue
            if self.active:
                for source in junction.entry_sources:
                    if lane_key(source.waypoint) == key:
                        for actor in list(source.actors):
                            self.activity.fleet.destroy(actor)
                        source.active = False
            else:
                junction.inactive_entry_keys.append(key)

    def remove_exits(self, waypoints: list[carla.Waypoint]) -> None:
        """The junction's exits these lanes lie on get no vehicles."""
        junction = self.nearest()
        if junction is None:
            return
        for waypoint in waypoints:
            key = self._follow(waypoint, list(junction.exits), forward=True)
            if key is None:
                continue
            if self.active:
                for actor in list(junction.exits[key].actors):
                    self.activity.fleet.destroy(actor)
            else:
                junction.inactive_exit_keys.append(key)

    def stop_entries(self) -> None:
        """Vehicles on the junction's other entries stand."""
        if self.active:
            junction = self.active[0]
            for source in junction.entry_sources:
                if lane_key(source.entry) in junction.route_entry_keys:
                    continue
                for actor in source.actors:
                    info = junction.actors.get(actor.id)
                    if info is not None and info.state == ENTRY:
                        self.activity.fleet.set_speed(actor, 0.0)
        elif self.pending:
            self.pending[0].stop_non_route_entries = True

    def extend_exit(self, metres: float) -> None:
        """The vehicles waiting on the route's exit wait ``metres`` further on."""
        junction = self.nearest()
        if junction is None:
            return
        a = self.activity
        for key in junction.route_exit_keys:
            exit_lane = junction.exits[key]
            exit_lane.max_distance += metres
            a.fleet.move_forward(exit_lane.actors, a.map, metres)
            for actor in exit_lane.actors:
                info = junction.actors.get(actor.id)
                if info is not None and info.state == EXIT_ROAD:
                    a.fleet.set_speed(actor, 100.0)
                    info.state = EXIT

    @staticmethod
    def _follow(waypoint: carla.Waypoint, keys: list[str], forward: bool) -> str | None:
        """The first of ``keys`` met walking ``waypoint``'s lane (1 m steps) up to a junction."""
        while not waypoint.is_junction:
            key = lane_key(waypoint)
            if key in keys:
                return key
            following = waypoint.next(1.0) if forward else waypoint.previous(1.0)
            if not following:
                return None
            waypoint = following[0]
        return None
