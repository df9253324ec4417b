"""``BackgroundActivity``: the traffic the Leaderboard 2.0 keeps around the hero along its route, as
ScenarioRunner's ``BackgroundBehavior`` does (the project's own implementation, carla API only).

- **Road**: on each lane of the hero's road that runs its way, two vehicles ahead and two behind, 15 m apart.
  Those ahead drive at the hero's speed limit within ``(2 x 15 m + 1.7 s x the hero's speed)`` of it, slower
  further on and stand 15 m beyond, so they wait for it; those behind drive up to twice as fast to catch up. A
  source behind the hero on each lane follows it and adds a vehicle whenever the last one is 15 m away; the
  front-most goes when more than two are ahead.
- **Opposite lanes**: sources 80 m ahead on the route send a vehicle every 40 m towards the hero, ignoring lights;
  they go once 80 m behind.
- **Junctions**: within ``30 m + 1.5 s x speed`` of a junction on the route, sources 40 m out on its other
  entries (each active with 80 % probability) keep up to six vehicles coming, two wait on the route's exit, and
  the road behaviour starts again past it (:mod:`.junction_mode`).
- **Scenarios** ask it to make room (:meth:`leave_space_in_front`, :meth:`remove_road_lane`, :meth:`stop_front_vehicles`
  ...), as ScenarioRunner's scenarios do through the blackboard.

Every vehicle has ``role_name`` ``background``: the minimum-speed criterion compares the hero with them.
"""

from __future__ import annotations

import math
from typing import Any

import carla

from ...routes.progress import RouteProgress
from .fleet import Fleet
from .junction_mode import JunctionMode
from .lanes import Source, lane_key, opposite_direction_lanes, route_junctions, same_direction_lanes

ROAD, JUNCTION = "road", "junction"
ROAD_FRONT, ROAD_BACK, ROAD_SPACING = 2, 2, 15.0  # vehicles ahead and behind per lane, metres apart
RADIUS_PER_SPEED = 1.7  # metres the road radii grow per m/s of the hero
OPPOSITE_SOURCE_DISTANCE, OPPOSITE_SPACING = 80.0, 40.0  # metres
SOURCE_CLEARANCE = 20.0  # metres from the hero within which a source spawns nothing
NARROW_LANE = 2.25  # metres: lanes narrower than this (starting or ending) get no vehicles
BEHIND = -0.17  # cosine: a location more than about 100 degrees off the hero's heading is behind it


class BackgroundActivity:
    """The background traffic of one route (see the module docstring); :meth:`update` after every tick."""

    def __init__(self, world: Any, town_map: carla.Map, hero: Any, traffic_manager: Any, tm_port: int,
                 progress: RouteProgress, rng: Any) -> None:
        self.world, self.map, self.hero, self.tm, self.progress = world, town_map, hero, traffic_manager, progress
        traffic_manager.global_percentage_speed_difference(0.0)
        self.fleet = Fleet(world, hero, traffic_manager, tm_port, rng, self.forget)
        self.rng = rng
        self.route = [waypoint for waypoint, _ in progress.route]
        self.cumulative = progress.cumulative
        self.index = progress.index
        self.mode = ROAD
        self.junctions = JunctionMode(self, route_junctions(self.route, town_map))
        self.road: dict[str, Source] = {}
        self.opposite_sources: list[Source] = []
        self.opposite_actors: list[Any] = []
        self.stopped_front: list[Any] = []
        self.stopped_back: list[Any] = []
        # what scenarios change
        self.front, self.back, self.spacing, self.extra_space = ROAD_FRONT, ROAD_BACK, ROAD_SPACING, 0.0
        self.road_sources_active = True
        self.opposite_source_distance, self.opposite_spacing = OPPOSITE_SOURCE_DISTANCE, OPPOSITE_SPACING
        self.opposite_active = True
        self.junction_entry = False  # a junction scenario keeps the hero's entry clear
        self.removed_lane = False
        self.removed_lane_offset = 0
        self.min_radius = self.max_radius = 0.0
        self.opposite_index = self.checker_index = 0
        self.started = False
        self.speed_limit = 30.0

    # -- what the evaluator calls --------------------------------------------------------------------
    @property
    def vehicles(self) -> list[Any]:
        """The background vehicles alive now."""
        return [a for a in self.fleet.actors.values() if a.is_alive]

    def update(self) -> None:
        """After a tick: the hero's progress, the vehicles' speeds, spawning and removing."""
        previous = self.index
        self.index = self.progress.index
        self.speed_limit = self.hero.get_speed_limit()
        self._radii()
        if not self.started:
            self.started = True
            self._start()
        else:
            self.fleet.sweep()
        if self.mode == JUNCTION:
            self.junctions.monitor_exit()
        self.junctions.monitor_incoming()
        if self.mode == JUNCTION:
            self.junctions.update_actors()
            self.junctions.update_sources()
        else:
            self._update_road_actors()
            self._move_road_sources(previous)
            self._update_road_sources()
            self._monitor_road_changes(previous)
            self._move_opposite_sources(previous)
            self._update_opposite_sources()
        self._update_opposite_actors()
        self.fleet.apply_speeds(self.speed_limit)

    def destroy(self) -> None:
        self.fleet.destroy_all()

    def autopilot(self, actor: Any, on: bool = True) -> None:
        """A scenario's ``actor`` driven by the route's traffic manager (``on``) or no longer (ScenarioRunner's
        ``ChangeAutoPilot``); it stays the scenario's, not the background's."""
        self.fleet.hand_over(actor, on)

    # -- geometry ------------------------------------------------------------------------------------
    @property
    def hero_waypoint(self) -> carla.Waypoint:
        return self.route[self.index]

    def behind(self, location: carla.Location) -> bool:
        """Whether ``location`` lies behind the hero (by its route point's heading)."""
        transform = self.hero_waypoint.transform
        heading = transform.get_forward_vector()
        return heading.x * (location.x - transform.location.x) + heading.y * (location.y - transform.location.y) + \
            heading.z * (location.z - transform.location.z) < BEHIND

    def hero_speed(self) -> float:
        return self.hero.get_velocity().length()

    def _radii(self) -> None:
        speed = self.hero_speed()
        base = self.front * self.spacing + RADIUS_PER_SPEED * speed + self.extra_space
        self.min_radius, self.max_radius = base, base + self.spacing

    def route_index_ahead(self, metres: float, start: int) -> int:
        """The first route point at least ``metres`` past the hero, searched from ``start`` up to the next
        junction's entry (that entry where the junction is closer)."""
        last = self.junctions.next_entry_index()
        here = self.cumulative[self.index]
        for i in range(start, last):
            if self.cumulative[i] - here >= metres:
                return i
        return last

    def set_road_speed(self, actor: Any, location: carla.Location, multiplier: float = 1.0) -> None:
        """ScenarioRunner's road speeds: ahead, full within the inner radius and none past the outer; behind,
        up to twice to catch up (or, while a junction scenario keeps the entry clear, never past the hero)."""
        distance = location.distance(self.hero_waypoint.transform.location)
        band = self.max_radius - self.min_radius
        if not self.behind(location):
            percentage = min(100.0, max(0.0, (self.max_radius - distance) / band * 100.0 * multiplier))
        elif not self.junction_entry:
            percentage = min(200.0, max(0.0, distance / band * 100.0 + 100.0))
        else:  # ScenarioRunner divides the hero's speed (m/s) by its speed limit (km/h) here; kept for parity
            base = self.hero_speed() / self.speed_limit * 100.0 if self.speed_limit else 0.0
            percentage = min(100.0, max(0.0, (distance - self.spacing) / band * 100.0 + base))
        self.fleet.set_speed(actor, percentage)

    # -- road behaviour ------------------------------------------------------------------------------
    def _start(self) -> None:
        start = self.route[self.index]
        self.init_road(same_direction_lanes(start))
        self.init_opposite_sources()
        self.checker_index = self.route_index_ahead(self.max_radius, self.index)

    def init_road(self, lanes: list[carla.Waypoint]) -> None:
        """Vehicles ahead and behind on each of ``lanes`` (none into a junction) and a source behind."""
        for lane in lanes:
            places, back = self._places_around(lane, self.spacing)
            self.road[lane_key(lane)] = Source(back, self.fleet.spawn_many(places), active=self.road_sources_active)

    def _places_around(self, lane: carla.Waypoint, spacing: float) -> tuple[list[carla.Waypoint], carla.Waypoint]:
        """Places ``spacing`` metres apart on ``lane``: :attr:`front` ahead and :attr:`back` behind (the front-most
        first; none into a junction or past a fork), and the last one behind (where the lane's source goes)."""
        places, ahead, back = [], lane, lane
        for _ in range(self.front):
            following = ahead.next(spacing)
            if len(following) != 1 or following[0].is_junction:
                break
            ahead = following[0]
            places.insert(0, ahead)
        for _ in range(self.back):
            previous = back.previous(spacing)
            if len(previous) != 1 or previous[0].is_junction:
                break
            back = previous[0]
            places.append(back)
        return places, back

    def _update_road_actors(self) -> None:
        held = {a.id for a in self.stopped_front + self.stopped_back}
        for source in self.road.values():
            for actor in list(source.actors):
                if not actor.is_alive or actor.id in held:
                    continue
                location = actor.get_location()
                waypoint = self.map.get_waypoint(location)
                if waypoint.lane_width < NARROW_LANE:  # an ending lane: stand (the traffic manager changes no lanes)
                    following = waypoint.next(0.5)
                    if following and following[0].lane_width < waypoint.lane_width:
                        actor.set_target_velocity(carla.Vector3D(0.0, 0.0, 0.0))
                        self.fleet.set_speed(actor, 0.0)
                        continue
                self.set_road_speed(actor, location)

    def _move_road_sources(self, previous: int) -> None:
        """Sources follow the hero from behind, no nearer than the vehicles behind it need."""
        if previous == self.index:
            return
        keep = self.back * self.spacing
        hero_location = self.hero_waypoint.transform.location
        for source in self.road.values():
            last = source.actors[-1].get_location() if source.actors and source.actors[-1].is_alive else hero_location
            at = source.waypoint.transform.location
            if not self.behind(at):
                continue
            move = min(max(0.0, last.distance(at) - self.spacing), max(0.0, hero_location.distance(at) - keep))
            if move > 0:
                following = source.waypoint.next(move)
                if following:
                    source.waypoint = following[0]

    def _update_road_sources(self) -> None:
        for source in self.road.values():
            ahead = sum(1 for a in source.actors if a.is_alive and not self.behind(a.get_location()))
            if ahead > self.front and source.actors:
                self.fleet.destroy(source.actors[0])
            if not source.active or not self.behind(source.waypoint.transform.location) or \
                    len(source.actors) >= self.front + self.back:
                continue
            last = source.actors[-1] if source.actors else None
            location = last.get_location() if last is not None else self.hero_waypoint.transform.location
            if location.distance(source.waypoint.transform.location) <= self.spacing:
                continue
            actor = self.fleet.spawn(source.waypoint, self.spacing)
            if actor is None:
                continue
            speed = self.hero_speed() if last is None else min(self.hero_speed(), last.get_velocity().length())
            forward = source.waypoint.transform.get_forward_vector()
            actor.set_target_velocity(carla.Vector3D(speed * forward.x, speed * forward.y, speed * forward.z))
            source.actors.append(actor)

    def _monitor_road_changes(self, previous: int) -> None:
        """The hero moved onto another road (or lanes started or ended): the lanes' sources and vehicles are
        carried over to the new road's lanes nearest them."""
        if previous == self.index:
            return
        now, before = self.route[self.index], self.route[previous]
        if before.is_junction:
            return
        new_lanes, old_lanes = same_direction_lanes(now), same_direction_lanes(before)
        if now.road_id == before.road_id and len(new_lanes) == len(old_lanes):
            return
        reach = 1.1 * now.transform.location.distance(before.transform.location) + 0.5
        remapped: dict[str, Source] = {}
        unmapped = list(new_lanes)
        for old in old_lanes:
            match = next((w for w in unmapped if w.transform.location.distance(old.transform.location) < reach), None)
            if match is None or lane_key(old) not in self.road:
                continue
            unmapped.remove(match)
            remapped[lane_key(match)] = self.road.pop(lane_key(old))
        for key, source in list(self.road.items()):  # lanes that started ahead keep their sources
            remapped.setdefault(key, source)
        for lane in unmapped:  # a lane that starts here: a source for it
            remapped.setdefault(lane_key(lane), Source(lane, [], active=self.road_sources_active))
        self.road = remapped

    # -- opposite lanes ------------------------------------------------------------------------------
    def init_opposite_sources(self) -> None:
        self.opposite_index = self.route_index_ahead(self.opposite_source_distance, self.index)
        self.opposite_sources = [Source(w, [], active=self.opposite_active)
                                 for w in opposite_direction_lanes(self.route[self.opposite_index])]

    def _move_opposite_sources(self, previous: int) -> None:
        if previous == self.index:
            return
        index = self.route_index_ahead(self.opposite_source_distance, self.opposite_index)
        moved = self.cumulative[index] - self.cumulative[self.opposite_index]
        if moved <= 0:
            return
        lanes = opposite_direction_lanes(self.route[index])
        if len(lanes) != len(self.opposite_sources):
            sources = []
            for lane in lanes:
                match = next((s for s in self.opposite_sources if s.waypoint.transform.location.distance(
                    lane.transform.location) < 1.1 * moved), None)
                if match is not None:
                    self.opposite_sources.remove(match)
                    match.waypoint = lane
                    sources.append(match)
                else:
                    sources.append(Source(lane, [], active=self.opposite_active))
            self.opposite_sources = sources
        else:
            for source in self.opposite_sources:
                if not source.waypoint.is_junction:
                    previous_points = source.waypoint.previous(moved)
                    if previous_points:
                        source.waypoint = previous_points[0]
        self.opposite_index = index

    def _update_opposite_sources(self) -> None:
        for source in self.opposite_sources:
            if not source.active or source.waypoint.lane_width < NARROW_LANE:
                continue
            if source.actors:
                if not source.actors[-1].is_alive:
                    continue
                gap = source.waypoint.transform.location.distance(source.actors[-1].get_location())
            else:
                gap = self.opposite_source_distance + 1.0
            if gap > self.opposite_spacing:
                actor = self.fleet.spawn(source.waypoint, SOURCE_CLEARANCE)
                if actor is None:
                    continue
                self.tm.ignore_lights_percentage(actor, 100)
                self.tm.ignore_signs_percentage(actor, 100)
                self.opposite_actors.append(actor)
                source.actors.append(actor)

    def _update_opposite_actors(self) -> None:
        reach = max(self.opposite_source_distance, self.opposite_spacing)
        hero_location = self.hero_waypoint.transform.location
        for actor in list(self.opposite_actors):
            if not actor.is_alive:
                continue
            location = actor.get_location()
            if location.distance(hero_location) > reach and self.behind(location):
                self.fleet.destroy(actor)
            elif self.map.get_waypoint(location).lane_width < NARROW_LANE:
                self.fleet.set_speed(actor, 0.0)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def forget(self, actor: Any) -> None:
        """Remove ``actor`` from every list (the fleet destroyed it or found it gone)."""
        for source in self.road.values():
            if actor in source.actors:
                source.actors.remove(actor)
        for group in (self.opposite_actors, self.stopped_front, self.stopped_back):
            if actor in group:
                group.remove(actor)
        for source in self.opposite_sources:
            if actor in source.actors:
                source.actors.remove(actor)
        self.junctions.forget(actor)

    # -- what scenarios ask for (ScenarioRunner's blackboard requests) ---------------------------------
    def stop_front_vehicles(self) -> None:
        """The road vehicles ahead of the hero stand, braking (HardBreakRoute)."""
        for source in self.road.values():
            for actor in source.actors:
                if actor.is_alive and not self.behind(actor.get_location()):
                    self.stopped_front.append(actor)
                    self.fleet.set_speed(actor, 0.0)
                    self.tm.update_vehicle_lights(actor, False)
                    actor.set_light_state(carla.VehicleLightState(
                        int(actor.get_light_state()) | int(carla.VehicleLightState.Brake)))

    def start_front_vehicles(self) -> None:
        for actor in self.stopped_front:
            self.fleet.set_speed(actor, 100.0)
            self.tm.update_vehicle_lights(actor, True)
            actor.set_light_state(carla.VehicleLightState(
                int(actor.get_light_state()) & ~int(carla.VehicleLightState.Brake)))
        self.stopped_front = []

    def stop_back_vehicles(self) -> None:
        for source in self.road.values():
            for actor in source.actors:
                if actor.is_alive and self.behind(actor.get_location()):
                    self.fleet.set_speed(actor, 0.0)
                    self.stopped_back.append(actor)

    def start_back_vehicles(self) -> None:
        for actor in self.stopped_back:
            self.fleet.set_speed(actor, 100.0)
        self.stopped_back = []

    def leave_space_in_front(self, metres: float) -> None:
        """Move the vehicles ahead on the hero's lane on, so that the first is at least ``metres`` away."""
        source = self.road.get(lane_key(self.hero_waypoint))
        if source is None or self.junctions.active:
            return
        hero_location = self.hero_waypoint.transform.location
        ahead = [a for a in source.actors if a.is_alive and not self.behind(a.get_location())]
        nearest = min((a.get_location().distance(hero_location) for a in ahead), default=math.inf)
        if metres - nearest > 0:
            self.fleet.move_forward(ahead, self.map, metres - nearest)

    def leave_crossing_space(self, waypoint: carla.Waypoint) -> None:
        """Clear the opposite lane where something crosses at ``waypoint``: vehicles within 20 m go, within
        30 m stop."""
        opposite = waypoint.get_left_lane()
        if opposite is None:
            return
        at = opposite.transform.location
        for actor in list(self.opposite_actors):
            if not actor.is_alive:
                continue
            distance = actor.get_location().distance(at)
            if distance < 20.0:
                self.fleet.destroy(actor)
            elif distance < 30.0:
                actor.set_target_velocity(carla.Vector3D(0.0, 0.0, 0.0))

    def remove_road_lane(self, waypoint: carla.Waypoint) -> None:
        """No background vehicles on ``waypoint``'s lane (an obstacle takes it)."""
        self.removed_lane, self.removed_lane_offset = True, 0
        source = self.road.pop(lane_key(waypoint), None)
        if source is None:
            return
        for actor in list(source.actors):
            self.fleet.destroy(actor)

    def readd_road_lane(self, offset: int) -> None:
        """The lane ``offset`` lanes right (negative: left) of the hero's gets its vehicles back."""
        if not self.removed_lane:
            return
        offset += self.removed_lane_offset
        lane = self.hero_waypoint
        for _ in range(abs(offset)):
            lane = lane.get_right_lane() if offset > 0 else lane.get_left_lane()
            if lane is None:
                return
        if lane_key(lane) in self.road:
            return
        places, back = self._places_around(lane, self.spacing + 2.0 * self.hero_speed())
        actors = []
        for place in places:
            actor = self.fleet.spawn(place)
            if actor is not None:
                forward = place.transform.get_forward_vector()
                speed = self.hero_speed()
                actor.set_target_velocity(carla.Vector3D(speed * forward.x, speed * forward.y, 0.0))
                actors.append(actor)
        self.road[lane_key(lane)] = Source(back, actors, active=self.road_sources_active)
        self.removed_lane, self.removed_lane_offset = False, 0

    def set_max_speed(self, speed: float) -> None:
        """No background vehicle faster than ``speed`` km/h (0: no cap)."""
        self.fleet.max_speed = float(speed)

    def change_road_behavior(self, front: int | None = None, back: int | None = None, spacing: float | None = None,
                             extra_space: float | None = None) -> None:
        if front is not None:
            self.front = front
        if back is not None:
            self.back = back
        if spacing is not None:
            self.spacing = spacing
        if extra_space is not None:
            self.extra_space = extra_space

    def change_opposite_behavior(self, source_distance: float | None = None, spacing: float | None = None,
                                 active: bool | None = None) -> None:
        if source_distance is not None and source_distance >= self.junctions.source_distance:
            self.opposite_source_distance = source_distance
        if spacing is not None:
            self.opposite_spacing, self.opposite_source_distance = spacing, 2.0 * spacing
        if active is not None:
            self.opposite_active = active
            for source in self.opposite_sources:
                source.active = active

    def handle_junction_scenario(self, clear_junction: bool = False, clear_entry: bool = False,
                                 remove_entries: list[carla.Waypoint] = (), remove_exits: list[carla.Waypoint] = (),
                                 stop_entries: bool = False, extend_exit: float = 0.0) -> None:
        """Make room at the next junction for a scenario there (ScenarioRunner's ``HandleJunctionScenario``):
        empty its middle, the hero's way in, the entries and exits these lanes lead to; stop its other entries;
        have the vehicles on the route's exit wait ``extend_exit`` metres further on."""
        if clear_junction:
            self.junctions.clear_middle()
        if clear_entry:
            self.junctions.clear_entry()
        if remove_entries:
            self.junctions.remove_entries(list(remove_entries))
        if remove_exits:
            self.junctions.remove_exits(list(remove_exits))
        if stop_entries:
            self.junctions.stop_entries()
        if extend_exit:
            self.junctions.extend_exit(extend_exit)
        self.removed_lane, self.removed_lane_offset = False, 0

    def change_junction_behavior(self, source_distance: float | None = None, max_actors: int | None = None,
                                 spacing: float | None = None, source_percentage: float | None = None) -> None:
        """The junction sources' distance from their junction (no farther than the oncoming sources'), the vehicles
        each keeps, their spacing and the share of entries with one (per cent)."""
        junctions = self.junctions
        if source_distance is not None and source_distance <= self.opposite_source_distance:
            junctions.source_distance = source_distance
        if max_actors is not None:
            junctions.max_actors = max_actors
        if spacing:
            junctions.spacing = spacing
        if source_percentage is not None:
            junctions.source_share = source_percentage / 100.0

    def switch_route_sources(self, enabled: bool) -> None:
        """Switch the sources on the route's lanes (behind the hero, and its junction entries) on or off."""
        self.road_sources_active = enabled
        for source in self.road.values():
            source.active = enabled
        self.junctions.switch_route_sources(enabled)
