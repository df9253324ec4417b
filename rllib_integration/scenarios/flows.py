"""Traffic flows the hero must find a gap in at a junction (Leaderboard 2.0's ``SignalizedJunctionLeftTurn``,
``NonSignalizedJunctionLeftTurn``, ``SignalizedJunctionRightTurn``, ``NonSignalizedJunctionRightTurn``), as
ScenarioRunner's ``signalized_junction_left_turn.py`` and ``..._right_turn.py`` set them up: vehicles enter
``4 x flow_speed`` (left turn; right turn ``5 x``) metres before the junction on the lane coming from the
opposite direction (left turn) or from the left (right turn), one every ``source_dist_interval`` metres (25-50 by
default), drive straight across at ``flow_speed`` (m/s, 20 by default) and leave ``2.5 x`` (``3 x``)
``flow_speed`` past it. At a signalized junction the flow's light is green throughout and the hero's turns green
after 5 s (ScenarioRunner's ``green_light_delay``); the scenario ends 10 m past the junction and times out after
240 s. ``InvadingTurn``'s oncoming flow drives over the centre line (see the class).
"""

from __future__ import annotations

from typing import Any

import carla
import numpy as np

from .base import Scenario, ScenarioBuildError, beside, forward, location_parameter, matching_blueprints
from .driving import Footprints, Path, Poses, drive_paths
from .background.lanes import same_direction_lanes
from .junctions import JunctionScenario, straight_through

GREEN_DELAY = 5.0  # seconds the hero's light stays red while the flow has green
FLOW_END = 10.0  # route metres past the junction's exit the scenario ends
FLOW_GAP = 12.0  # metres a flow vehicle keeps to whatever is ahead of it on its way
FLOW_SIDE = 0.5  # metres past its side a corner of something counts as on its way
FLOW_BRAKING = 6.0  # m/s² a flow vehicle plans to stop with: it keeps at least its stopping distance (from the
# flow's speed) plus...
FLOW_STANDSTILL = 8.0  # ...this many metres to what stands in its way (FLOW_GAP where that is more)
FLOW_CLOSING = 0.5  # m/s: what goes its way no slower than it by this much (and moves) is not in its way (a flow
# car ahead)...
FLOW_HEADWAY = 0.5  # ...beyond FLOW_STANDSTILL plus this many seconds of its speed (a flow car that followed the
# hero 5 m behind at its speed could not stop when the hero slowed)
FLOW_CAR_ATTRIBUTES = {"has_lights": True, "special_type": ""}  # ScenarioRunner's ActorFlow's attribute filter
CLEAR_BEHIND_TIME, CLEAR_AHEAD = 3.0, 10.0  # a flow filled at the start leaves the hero's lane free from this many
# seconds of the flow's speed behind the hero to this many metres ahead of it (ScenarioRunner would spawn a car into it)
ONCOMING_KEEP, ONCOMING_KEEP_PER_SPEED = 10.0, 1.6  # metres (plus s x speed) an oncoming flow car stops before things


class ActorFlow:
    """Vehicles spawned at the start of ``path`` every few metres, driven along it at ``speed`` (stopping for
    whatever stands in their way within ``keep`` metres of their front, or their stopping distance from ``speed`` plus
    :data:`FLOW_STANDSTILL` where that is more: from their own speed, a car slowed down let go of what it braked for
    and sped up into it), and removed at its end."""

    def __init__(self, scenario: Any, path: list[carla.Waypoint], speed: float, gaps: tuple[float, float],
                 keep: float = FLOW_GAP, base_type: str = "car", role: str = "scenario",
                 points: list[carla.Location] | None = None, launched: bool = True) -> None:
        """``keep``: metres each keeps to whatever is ahead on its way (0: nothing stops it); ``base_type``: the
        vehicles' blueprints' (``car``, ``bicycle``); ``role``: their ``role_name``; ``points``: what they steer
        along (default: the path's waypoints); ``launched``: they enter at ``speed`` (else from a standstill)."""
        self.scenario, self.path, self.speed, self.gaps, self.keep = scenario, path, speed, gaps, keep
        self.role, self.launched = role, launched
        # cars as ScenarioRunner's ActorFlow draws them: with lights, and no emergency vehicle (a police car in the
        # flow behind made the autopilot pull over for it, off the lane the exit of HighwayExit needs: seed 2)
        self.blueprints = matching_blueprints(scenario.world, "vehicle.*", base_type,
                                              FLOW_CAR_ATTRIBUTES if base_type == "car" else None)
        self.points = Path(points if points is not None else [w.transform.location for w in path])
        self.vehicles: list[Any] = []
        self.gap = self._draw_gap()

    def prefill(self, metres: float) -> None:
        """Vehicles already along the first ``metres`` of the path (ScenarioRunner's ``initial_actors``)."""
        travelled, next_at = 0.0, self.gap
        for previous, waypoint in zip(self.path, self.path[1:]):
            travelled += previous.transform.location.distance(waypoint.transform.location)
            if travelled > metres:
                break
            if travelled >= next_at and not self._on_the_heros_heels(waypoint.transform):
                self._spawn(waypoint.transform)
                next_at = travelled + self._draw_gap()
        self.vehicles.reverse()  # the one nearest the source last (the spawning checks its distance)

    def _on_the_heros_heels(self, transform: carla.Transform) -> bool:
        """Whether a vehicle placed at ``transform`` would stand on the hero's lane within
        :data:`CLEAR_BEHIND_TIME` seconds of the flow's speed behind it or :data:`CLEAR_AHEAD` metres ahead."""
        hero = getattr(self.scenario, "hero", None)
        if hero is None or not hero.is_alive:
            return False
        here = hero.get_transform()
        ahead, location = here.get_forward_vector(), transform.location
        dx, dy = location.x - here.location.x, location.y - here.location.y
        along, across = dx * ahead.x + dy * ahead.y, -dx * ahead.y + dy * ahead.x
        return abs(across) < 2.0 and -CLEAR_BEHIND_TIME * self.speed < along < CLEAR_AHEAD

    def _spawn(self, transform: carla.Transform) -> None:
        vehicle = self.scenario.world.try_spawn_actor(self._blueprint(), carla.Transform(
            transform.location + carla.Location(z=0.3), transform.rotation))
        if vehicle is not None:
            self.scenario.actors.append(vehicle)
            self.vehicles.append(vehicle)
            if not self.launched:
                return
            forward = transform.get_forward_vector()
            vehicle.set_target_velocity(carla.Vector3D(forward.x * self.speed, forward.y * self.speed, 0.0))

    def _draw_gap(self) -> float:
        low, high = self.gaps
        return float(self.scenario.rng.uniform(low, high))

    def tick(self, others: Footprints | None = None) -> None:
        """Spawn, drive and remove this tick's vehicles; ``others``: the vehicles' footprints this tick (read here
        where not given: a scenario of several flows reads them once for all)."""
        source = self.path[0].transform
        self.vehicles = [v for v in self.vehicles if v.is_alive]
        last = self.vehicles[-1] if self.vehicles else None
        if last is None or last.get_location().distance(source.location) > self.gap:
            count = len(self.vehicles)
            self._spawn(source)
            if len(self.vehicles) > count:
                self.gap = self._draw_gap()
        if not self.vehicles:
            return
        end = self.path[-1].transform.location
        if others is None:
            others = Footprints(self.scenario.world.get_actors().filter("vehicle.*"))
        poses = Poses(self.vehicles)
        arrived = np.linalg.norm(poses.xyz - (end.x, end.y, end.z), axis=1) < 3.0
        # (from the front: the vehicles' half lengths added to the distances Footprints measures from their centres)
        keep = max(self.keep, self.speed ** 2 / (2.0 * FLOW_BRAKING) + FLOW_STANDSTILL) + poses.extents[:, 0] \
            if self.keep > 0.0 else 0.0
        stops = others.blocked(poses, keep, FLOW_SIDE, slower_than=np.maximum(poses.speed - FLOW_CLOSING, FLOW_CLOSING))
        if self.keep > 0.0:  # whatever is ahead, nearer than a short headway: a car the flow closes on no faster
            headway = FLOW_STANDSTILL + FLOW_HEADWAY * poses.speed + poses.extents[:, 0]
            stops |= others.blocked(poses, headway, FLOW_SIDE)
        controls = drive_paths(poses, self.points, np.where(stops, 0.0, self.speed))
        for vehicle, done, control in zip(self.vehicles, arrived, controls):
            if done:
                vehicle.destroy()
            else:
                vehicle.apply_control(control)

    def _blueprint(self) -> Any:
        blueprint = self.blueprints[int(self.scenario.rng.integers(len(self.blueprints)))]
        if blueprint.has_attribute("role_name"):
            blueprint.set_attribute("role_name", self.role)
        return blueprint


def interval(spec: Any, name: str, default: tuple[float, float]) -> tuple[float, float]:
    """The route file's ``<name from=".." to=".."/>`` interval of a scenario (``default`` where it has none)."""
    entry = spec.parameters.get(name)
    if not entry:
        return default
    try:
        return float(entry["from"]), float(entry["to"])
    except (KeyError, ValueError):
        raise ScenarioBuildError(f"<{name}> needs numeric from and to attributes") from None


class OppositeFlow:
    """ScenarioRunner's ``OppositeActorFlow`` beside a ``TwoWays`` obstacle: vehicles down the opposite lane
    ``reference`` (the lane the hero goes round by), from ``1.5 x the speed limit (km/h) + 30`` metres ahead of the
    obstacle to as far behind it, one every ``frequency`` metres (drawn from 20-100 for each), at the hero's speed
    limit, each entering from a standstill and stopping for what stands on its way within ``10 m + 1.6 s x its
    speed`` (ScenarioRunner spawns them at rest and drives them with CARLA's ``BasicAgent`` and those settings).
    Nothing where there is no opposite lane."""

    def __init__(self, scenario: Any, reference: carla.Waypoint | None, spec: Any) -> None:
        self.flow = None
        if reference is None or reference.lane_type != carla.LaneType.Driving:
            return
        speed = scenario.hero.get_speed_limit()
        reach = 1.5 * speed + 30.0
        source, sink = _walk(reference, reach, backwards=True), _walk(reference, reach, backwards=False)
        path = lane_path(source, sink, 1.5)
        if len(path) > 2:
            self.flow = ActorFlow(scenario, path, speed / 3.6, interval(spec, "frequency", (20.0, 100.0)),
                                  keep=ONCOMING_KEEP + ONCOMING_KEEP_PER_SPEED * speed / 3.6, launched=False)

    def tick(self) -> None:
        if self.flow is not None:
            self.flow.tick()


def lane_path(source: carla.Waypoint, sink: carla.Waypoint, near: float, limit: int = 2000) -> list[carla.Waypoint]:
    """Points every metre along ``source``'s lane until one is within ``near`` metres of ``sink`` (or the lane ends)."""
    path = [source]
    while len(path) < limit and path[-1].transform.location.distance(sink.transform.location) > near:
        following = path[-1].next(1.0)
        if not following:
            break
        path.append(following[0])
    return path


def _walk(waypoint: carla.Waypoint, metres: float, backwards: bool) -> carla.Waypoint:
    """``metres`` along the lane (1 m steps) or back along it, stopping before a junction."""
    for _ in range(int(metres)):
        following = waypoint.previous(1.0) if backwards else waypoint.next(1.0)
        if not following or following[0].is_junction:
            break
        waypoint = following[0]
    return waypoint


class JunctionTurn(JunctionScenario):
    """A flow across the junction from :attr:`FROM` while the hero turns through it."""

    TIMEOUT = 240.0
    FROM = "opposite"
    SOURCE_FACTOR, SINK_FACTOR = 4.0, 2.5  # source and sink distances, in flow_speed seconds
    SIGNALIZED = False

    def build(self) -> float:
        self.find_junction()
        speed = self.spec.value("flow_speed", 20.0)
        gaps = self.interval("source_dist_interval", (25.0, 50.0))
        ego_entry = self.progress.route[self.entry_index][0]
        entry = self.entry_from(self.FROM, ego_entry)
        source = entry
        for _ in range(int(self.SOURCE_FACTOR * speed / 5.0)):
            previous = source.previous(5.0)
            if not previous or previous[0].is_junction:
                break
            source = previous[0]
        path = [source]
        while path[-1].transform.location.distance(entry.transform.location) > 1.0 and len(path) < 500:
            following = path[-1].next(1.0)
            if not following:
                break
            path.append(following[0])
        self.flow = ActorFlow(self, path + straight_through(entry, self.SINK_FACTOR * speed)[1:], speed, gaps)
        self.source_lane, self.sink_lane = source, self.flow.path[-1]
        self.sink_distance = self.SINK_FACTOR * speed
        if self.SIGNALIZED:
            self.lights = self.junction_lights("use the NonSignalized version")
            self.ego_light, self.flow_light = self.light_of(self.lights, ego_entry), self.light_of(self.lights, entry)
        return self.progress.distance_between(self.trigger_index, self.exit_index) + FLOW_END

    #: Whether the background's flow through the junction's exit is cleared (the left turns: the flow leaves there).
    CLEARS_EXIT = True

    def make_room(self, background) -> None:
        background.handle_junction_scenario(
            clear_junction=True, clear_entry=True, remove_entries=same_direction_lanes(self.source_lane),
            remove_exits=same_direction_lanes(self.sink_lane) if self.CLEARS_EXIT else [],
            stop_entries=not self.SIGNALIZED, extend_exit=self.sink_distance + 20.0)
        if self.CLEARS_EXIT:  # (ScenarioRunner's left turns stop the background's oncoming lanes meanwhile)
            background.change_opposite_behavior(active=False)

    def give_back_room(self, background) -> None:
        if self.CLEARS_EXIT:
            background.change_opposite_behavior(active=True)

    def interval(self, name: str, default: tuple[float, float]) -> tuple[float, float]:
        return interval(self.spec, name, default)

    def tick(self, now: float) -> None:
        if self.SIGNALIZED:  # the flow's light green throughout, the hero's after GREEN_DELAY
            ego_green = now - self.started_at >= GREEN_DELAY
            self.hold({light: carla.TrafficLightState.Green if light.id == self.flow_light.id or
                       (light.id == self.ego_light.id and ego_green) else carla.TrafficLightState.Red
                       for light in self.lights})
        self.flow.tick()


class SignalizedJunctionLeftTurn(JunctionTurn):
    """The hero turns left across the opposite flow, both on green."""

    SIGNALIZED = True


class NonSignalizedJunctionLeftTurn(JunctionTurn):
    """The hero turns left across the opposite flow at a junction without lights."""


class SignalizedJunctionRightTurn(JunctionTurn):
    """The hero turns right into a flow from its left, both on green."""

    FROM = "left"
    SOURCE_FACTOR, SINK_FACTOR = 5.0, 3.0
    SIGNALIZED = True
    CLEARS_EXIT = False


class NonSignalizedJunctionRightTurn(SignalizedJunctionRightTurn):
    """The hero turns right into a flow from its left at a junction without lights."""

    SIGNALIZED = False


class InvadingTurn(Scenario):
    """Oncoming cars over the centre line (``invading_turn.py``): from ``distance`` + 30 m past the trigger point
    on the opposite lane to beside the trigger point, one every 40 m at 10 m/s, each ``offset`` (0.25 m) plus half
    a lane less 0.7 m towards the hero's lane, kept there by cones along the opposite lane's far edge for the
    first half of the stretch; the scenario ends when the hero is past the flow's source."""

    TIMEOUT = 240.0
    SPEED, GAP = 10.0, 40.0

    def build(self) -> float:
        reference = self.trigger_waypoint()
        distance = self.spec.value("distance", 100.0)
        far = forward(reference, distance + 30.0, stop_at_junction=False)
        source, sink = far.get_left_lane(), reference.get_left_lane()
        if source is None or sink is None or source.lane_type != carla.LaneType.Driving or \
                source.lane_id * far.lane_id > 0:
            raise ScenarioBuildError("no opposite lane beside the route for the invading flow")
        offset = -(self.spec.value("offset", 0.25) + sink.lane_width / 2.0 - 0.7)  # (negative: to its left)
        path = lane_path(source, sink, 2.0)
        shifted = []
        for waypoint in path:
            right = waypoint.transform.get_right_vector()
            location = waypoint.transform.location
            shifted.append(carla.Location(location.x + offset * right.x, location.y + offset * right.y, location.z))
        self.flow = ActorFlow(self, path, self.SPEED, (self.GAP, self.GAP), points=shifted)
        for step in range(0, int(0.5 * distance), 5):  # the cones that push it over
            cone = forward(source, 10.0 + step, stop_at_junction=False)
            self.spawn("static.prop.constructioncone", beside(cone, 0.8 * cone.lane_width / 2.0, z=0.1),
                       physics=False)
        index = self.progress.nearest_index(far.transform.location)
        return max(0.0, self.progress.distance_between(self.trigger_index, index))

    def make_room(self, background) -> None:
        background.remove_road_lane(self.trigger_waypoint())
        background.change_opposite_behavior(active=False)

    def give_back_room(self, background) -> None:
        background.readd_road_lane(0)
        background.change_opposite_behavior(active=True)

    def tick(self, now: float) -> None:
        self.flow.tick()


class CrossingBicycleFlow(JunctionScenario):
    """Bicycles ride a biking lane straight across the junction the hero turns at (``cross_bicycle_flow.py``): from
    the biking lane at ``start_actor_flow`` through the first junction past the trigger point to 40 m past it, one
    every ``source_dist_interval`` metres (20-50), at ``flow_speed`` m/s (10), stopping for nothing (ScenarioRunner's
    riders ignore vehicles), the lane already filled when the scenario starts. At a signalized junction every light is
    red for 5 s, then the hero's green and the others red. The scenario ends 10 m past the junction and times out
    after 240 s. Only towns with biking lanes have it (here ``BikeTown``; CARLA's Town12 and Town13)."""

    TIMEOUT = 240.0
    PAST_JUNCTION = 40.0  # metres the flow rides on past the junction

    def build(self) -> float:
        self.find_junction()
        start = location_parameter(self.spec, "start_actor_flow")
        source = self.map.get_waypoint(start, project_to_road=True, lane_type=carla.LaneType.Biking)
        if source is None or source.transform.location.distance(start) > 10.0:
            raise ScenarioBuildError("no biking lane within 10 m of start_actor_flow")
        path, crossed, exit_at = [source], False, None
        while len(path) < 1000:
            following = path[-1].next(2.0)
            if not following:
                raise ScenarioBuildError("the biking lane from start_actor_flow ends before it is 40 m past a junction")
            path.append(following[0])
            crossed = crossed or following[0].is_junction
            if crossed and exit_at is None and not following[0].is_junction:
                exit_at = following[0].transform.location
            if exit_at is not None and exit_at.distance(following[0].transform.location) > self.PAST_JUNCTION:
                break
        self.flow = ActorFlow(self, path, self.spec.value("flow_speed", 10.0),
                              interval(self.spec, "source_dist_interval", (20.0, 50.0)), keep=0.0,
                              base_type="bicycle", role="scenario no lights")
        self.before_junction = next(k for k, w in enumerate(path) if w.is_junction) * 2.0
        self.lights = list(self.world.get_traffic_lights_in_junction(self.junction.id))
        if self.lights:
            self.ego_light = self.light_of(self.lights, self.progress.route[self.entry_index][0])
        return self.progress.distance_between(self.trigger_index, self.exit_index) + FLOW_END

    def make_room(self, background) -> None:
        background.handle_junction_scenario(clear_junction=True, clear_entry=True, stop_entries=True)

    def tick(self, now: float) -> None:
        if now == self.started_at:
            self.flow.prefill(self.before_junction)
        if self.lights:  # all red for GREEN_DELAY, then the hero's green
            ego_green = now - self.started_at >= GREEN_DELAY
            self.hold({light: carla.TrafficLightState.Green if ego_green and light.id == self.ego_light.id else
                       carla.TrafficLightState.Red for light in self.lights})
        self.flow.tick()
