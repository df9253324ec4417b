"""Flows at highway ramps and interurban junctions, and a cut-in from an entry ramp, as ScenarioRunner 0.9.16's
``actor_flow.py`` and ``highway_cut_in.py`` set them up from the route file's locations:

- ``EnterActorFlow(V2)``, ``MergerIntoSlowTraffic(V2)``, ``InterurbanActorFlow``, ``InterurbanAdvancedActorFlow``: a flow on every lane of the road at ``start_actor_flow`` (of the same
  direction), each planned to its lane at ``end_actor_flow``, one car every ``source_dist_interval`` metres
  (20-50) at ``flow_speed`` (10 m/s), the road already filled when the scenario starts; the hero merges into
  it, crosses it or leaves it. ``HighwayExit``: one flow, on ``start_actor_flow``'s lane, which the hero crosses to
  take the exit. The scenario ends 20 m after the hero's route parts from the flow's paths (or
  where the route passes the flow's end) and times out after 240 s;
- ``HighwayCutIn``: a car waiting at ``other_actor_location`` (on an entry ramp) is timed, as ScenarioRunner's
  ``SyncArrivalWithAgent`` times it, to be 10 m past the ramp's junction when the hero leaves the junction it enters
  from the trigger point (its speed: its distance to that point over the hero's time to its own); within 5 m of it,
  with the hero not yet out of its junction, it changes into the lane to its left as ``CutIn``'s ``BasicAgent`` does
  (0.3 s of its speed in its lane, the change over 2 s, 3 s in the new lane) at 80 % of the hero's speed, and is
  removed at the end of that path.
"""

from __future__ import annotations

import math

import carla
import numpy as np

from .background.lanes import same_direction_lanes
from .base import LIT_CAR, Scenario, ScenarioBuildError, forward, location_parameter
from .driving import Footprints, Path, drive_path, yaw_difference
from .flows import ActorFlow
from .junctions import JunctionScenario

PART_DISTANCE = 4.0  # metres between the hero's route and a flow's path that count as shared
END_PAST = 20.0  # route metres past the last shared point the scenario ends
CUT_IN_SPEED_SHARE = 0.8  # of the hero's speed the cut-in car changes lanes at
CUT_IN_DRIVE = 70.0  # route metres past the merge the scenario ends
CUT_IN_TARGET = 10.0  # metres past the ramp's junction the car is timed to reach
SYNC_END = 5.0  # metres from that point its timed approach ends
SAME_LANE_TIME, CHANGE_TIME, OTHER_LANE_TIME = 0.3, 2.0, 3.0  # seconds of its speed (ScenarioRunner's HighwayCutIn)


class LocatedFlow(Scenario):
    """Flows between the route file's ``start_actor_flow`` and ``end_actor_flow`` (see the module docstring)."""

    TIMEOUT = 240.0
    #: Whether every lane of the road at ``start_actor_flow`` has a flow (else only that lane: HighwayExit).
    EVERY_LANE = True
    # What ScenarioRunner's ``actor_flow.py`` asks of the background activity at the junction the flow crosses:
    CLEAR_JUNCTION = True  # no background vehicles in it
    CLEAR_EXITS = False  # none on the lanes at end_actor_flow
    EXTEND_EXIT = 20.0  # metres further on its vehicles wait on the route's exit
    ROUTE_SOURCES_OFF = True  # no new background vehicles behind the hero meanwhile
    OPPOSITE_OFF = False  # no oncoming background vehicles meanwhile

    def removed_entries(self) -> list[carla.Waypoint]:
        """Lanes whose entries into the junction get no background vehicles."""
        return [self.start]

    def make_room(self, background) -> None:
        background.handle_junction_scenario(
            clear_junction=self.CLEAR_JUNCTION, clear_entry=True, remove_entries=self.removed_entries(),
            remove_exits=same_direction_lanes(self.end) if self.CLEAR_EXITS else [], extend_exit=self.EXTEND_EXIT)
        if self.ROUTE_SOURCES_OFF:
            background.switch_route_sources(False)
        if self.OPPOSITE_OFF:
            background.change_opposite_behavior(active=False)

    def give_back_room(self, background) -> None:
        if self.ROUTE_SOURCES_OFF:
            background.switch_route_sources(True)
        if self.OPPOSITE_OFF:
            background.change_opposite_behavior(active=True)

    def build(self) -> float:
        start = self.map.get_waypoint(location_parameter(self.spec, "start_actor_flow"))
        end = self.map.get_waypoint(location_parameter(self.spec, "end_actor_flow"))
        self.start, self.end = start, end
        speed = self.spec.value("flow_speed", 10.0)
        entry = self.spec.parameters.get("source_dist_interval")
        gaps = (float(entry["from"]), float(entry["to"])) if entry else (20.0, 50.0)
        self.flows = []
        lanes = zip(same_direction_lanes(start), same_direction_lanes(end)) if self.EVERY_LANE else [(start, end)]
        for source, sink in lanes:
            try:
                path = [w for w, _ in self.planner.trace_route(source.transform.location, sink.transform.location)]
            except ValueError:
                continue
            if len(path) > 2:
                self.flows.append(ActorFlow(self, path, speed, gaps))
        if not self.flows:
            raise ScenarioBuildError("no lane of start_actor_flow leads to end_actor_flow")
        return self.shared_end()

    def shared_end(self) -> float:
        """Route metres past the trigger point where the scenario ends."""
        route = self.progress.points[self.trigger_index:, :2]
        flow = np.array([[w.transform.location.x, w.transform.location.y] for f in self.flows for w in f.path])
        near = [k for k in range(0, len(route), 2)
                if np.min(np.hypot(flow[:, 0] - route[k, 0], flow[:, 1] - route[k, 1])) < PART_DISTANCE]
        last = self.trigger_index + (near[-1] if near else 0)
        return self.progress.distance_between(self.trigger_index, last) + END_PAST

    def tick(self, now: float) -> None:
        if now == self.started_at:
            for flow in self.flows:
                length = sum(a.transform.location.distance(b.transform.location) for a, b in zip(flow.path, flow.path[1:]))
                flow.prefill(0.8 * length)
        others = Footprints(self.world.get_actors().filter("vehicle.*"))
        for flow in self.flows:
            flow.tick(others)


class HighwayCutIn(Scenario):
    """A car from the entry ramp cuts in front of the hero (see the module docstring)."""

    TIMEOUT = 120.0

    def build(self) -> float:
        start = self.map.get_waypoint(location_parameter(self.spec, "other_actor_location"))
        ramp = through_junction(start)
        if ramp is None:
            raise ScenarioBuildError("other_actor_location's lane reaches no junction")
        following = ramp[-1].next(CUT_IN_TARGET)
        if not following:
            raise ScenarioBuildError("other_actor_location's lane ends past its junction")
        ramp += [following[0]]
        self.target = following[0].transform
        hero_way = through_junction(self.trigger_waypoint())
        if hero_way is None:
            raise ScenarioBuildError("the trigger point's lane reaches no junction")
        self.reference = hero_way[-1].transform  # where the hero leaves the junction
        self.merge = ramp[-2].transform.location
        self.approach = Path([w.transform.location for w in ramp])
        self.cut_in: Path | None = None
        self.cut_in_speed = 0.0
        transform = start.transform
        self.car = self.spawn("vehicle.*", carla.Transform(transform.location + carla.Location(z=0.3),
                                                           transform.rotation), attributes=LIT_CAR)
        self.car.apply_control(carla.VehicleControl(brake=1.0))
        self.ramp_start = start
        index = self.progress.nearest_index(self.merge)
        return max(0.0, self.progress.distance_between(self.trigger_index, index)) + CUT_IN_DRIVE

    def make_room(self, background) -> None:
        background.handle_junction_scenario(clear_junction=True, remove_entries=[self.ramp_start], extend_exit=170.0)

    def tick(self, now: float) -> None:
        if not self.car.is_alive:
            return
        hero_location, car_location = self.hero.get_location(), self.car.get_location()
        if self.cut_in is None:
            to_target = car_location.distance(self.target.location)
            ahead = self.reference.get_forward_vector()
            still_before = (self.reference.location - hero_location).dot(ahead) > 0.0
            if to_target < SYNC_END and still_before:
                self.cut_in = self._lane_change_path()
                self.cut_in_speed = CUT_IN_SPEED_SHARE * self.hero.get_velocity().length()
            else:
                hero_speed = self.hero.get_velocity().length()
                time_left = hero_location.distance(self.reference.location) / hero_speed if hero_speed > 0 else math.inf
                self.car.apply_control(drive_path(self.car, self.approach, to_target / time_left))
                return
        if car_location.distance(self.cut_in[-1]) < 3.0:
            self.car.destroy()  # (ScenarioRunner removes it once its lane change is done)
            return
        self.car.apply_control(drive_path(self.car, self.cut_in, self.cut_in_speed))

    def _lane_change_path(self) -> Path:
        """``BasicAgent.lane_change('left', 0.3, 3, 2)``'s path from where the car is, a point a metre (its lane
        where there is none to its left)."""
        speed = self.car.get_velocity().length()
        waypoint = self.map.get_waypoint(self.car.get_location())
        points = [waypoint.transform.location]
        for _ in range(max(1, int(SAME_LANE_TIME * speed))):
            waypoint = forward(waypoint, 1.0, stop_at_junction=False)
            points.append(waypoint.transform.location)
        left = waypoint.get_left_lane()
        if left is None or left.lane_type != carla.LaneType.Driving or left.lane_id * waypoint.lane_id < 0:
            left = waypoint
        change = max(1.0, CHANGE_TIME * speed)
        landing = next(iter(left.next(change)), left)  # (BasicAgent's change: one jump of that length)
        begin, end = points[-1], landing.transform.location
        steps = int(change)
        points += [begin + (end - begin) * (k / steps) for k in range(1, steps + 1)]
        waypoint = landing
        for _ in range(max(1, int(OTHER_LANE_TIME * speed))):
            waypoint = forward(waypoint, 1.0, stop_at_junction=False)
            points.append(waypoint.transform.location)
        return Path(points)


def through_junction(waypoint: carla.Waypoint, limit: int = 600) -> list[carla.Waypoint] | None:
    """The lane from ``waypoint`` through the next junction (straight on where it splits), a point a metre, up to
    the first point past it (ScenarioRunner's ``generate_target_waypoint``); None where no junction comes."""
    way, reached = [waypoint], False
    while len(way) < limit:
        following = way[-1].next(1.0)
        if not following:
            return None
        if not reached and (len(following) > 1 or following[0].is_junction):
            reached = True
            heading = way[-1].transform.rotation.yaw
            following = sorted(following, key=lambda w: abs(yaw_difference(w.transform.rotation.yaw, heading)))
        way.append(following[0])
        if reached and not way[-1].is_junction:
            return way
    return None


class EnterActorFlow(LocatedFlow):
    """The hero enters a road with a flow on it."""


class EnterActorFlowV2(LocatedFlow):
    """The hero enters a highway with a flow on it (version 2 of the route files)."""

    CLEAR_JUNCTION, CLEAR_EXITS = False, True


class MergerIntoSlowTraffic(LocatedFlow):
    """The hero merges into slow traffic."""

    EXTEND_EXIT = 40.0


class MergerIntoSlowTrafficV2(LocatedFlow):
    """The hero merges into slow traffic (version 2 of the route files)."""

    CLEAR_JUNCTION, CLEAR_EXITS = False, True


class InterurbanActorFlow(LocatedFlow, JunctionScenario):
    """The hero turns across an interurban road's flow. As ScenarioRunner's, the junction's entries from the hero's
    lane, from beside the hero's exit (whose vehicles would turn into the flow or across the hero's way) and from the
    flow's lane get no background vehicles. Beside the exit: ScenarioRunner takes the lane left of the exit lane;
    on a town of one-way roads there is none, and the entry heading against the exit nearest it is the same lane
    where there is."""

    CLEAR_JUNCTION, EXTEND_EXIT, ROUTE_SOURCES_OFF, OPPOSITE_OFF = False, 0.0, False, True

    def build(self) -> float:
        end = super().build()
        self.find_junction()
        route = self.progress.route
        self.route_entry = next(iter(route[self.entry_index][0].previous(2.0)), route[self.entry_index][0])
        exit_lane = route[self.exit_index][0]
        against = [e for e in self.entries()
                   if abs(yaw_difference(e.transform.rotation.yaw, exit_lane.transform.rotation.yaw + 180.0)) < 45.0]
        if not against:
            raise ScenarioBuildError("no lane enters the junction from the route's exit")
        self.beside_exit = min(against, key=lambda e: e.transform.location.distance(exit_lane.transform.location))
        return end

    def removed_entries(self) -> list[carla.Waypoint]:
        return [self.route_entry, self.beside_exit, self.start]


class InterurbanAdvancedActorFlow(LocatedFlow):
    """The hero turns into an interurban road across its flows."""

    CLEAR_EXITS, OPPOSITE_OFF = True, True



class HighwayExit(LocatedFlow):
    """The hero crosses a highway lane's flow to take the exit (one flow, on ``start_actor_flow``'s lane)."""

    EVERY_LANE = False

    def make_room(self, background) -> None:
        background.remove_road_lane(self.start)

    def give_back_room(self, background) -> None:
        pass
