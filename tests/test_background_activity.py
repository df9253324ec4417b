"""The Leaderboard 2.0's background activity in evaluate.py (rllib_integration.scenarios.background): vehicles ahead
of and behind the hero on its lanes that wait for it, oncoming ones, junction traffic, room made for scenarios,
and the 2.0 criteria that read it (minimum speed, the route's time limit)."""

from __future__ import annotations

import carla
import pytest

from rllib_integration.evaluation import EvaluationSettings, RouteRunner
from rllib_integration.evaluation.agents import AutopilotAgent, ConstantAgent
from rllib_integration.evaluation.infractions import MIN_SPEED
from rllib_integration.routes.planner import RoutePlanner
from rllib_integration.routes.route_files import RouteSpec, ScenarioSpec
from rllib_integration.routes.route_sets import dense_route
from rllib_integration.scenarios.background.lanes import lane_key, route_junctions


def along(hero: carla.Actor, actor: carla.Actor) -> float:
    """Metres ``actor`` is ahead of ``hero`` along its heading (negative: behind)."""
    transform = hero.get_transform()
    forward = transform.get_forward_vector()
    d = actor.get_location() - transform.location
    return d.x * forward.x + d.y * forward.y


def background(world) -> list:
    return [v for v in world.get_actors().filter("vehicle.*") if v.attributes.get("role_name") == "background"]


class Enough(Exception):
    """Raised by a probe that has seen enough steps."""


class Probe:
    """Wraps an agent: after each step, what ``look(core)`` sees (for ``limit`` steps at most: then :class:`Enough`)."""

    def __init__(self, agent, look, limit: int | None = None) -> None:
        self.agent, self.look, self.seen, self.limit = agent, look, [], limit

    def start(self, core) -> None:
        self.core = core
        if hasattr(self.agent, "start"):
            self.agent.start(core)

    def set_global_plan(self, route) -> None:
        if hasattr(self.agent, "set_global_plan"):
            self.agent.set_global_plan(route)

    def run_step(self, data, timestamp):
        if self.limit is not None and len(self.seen) >= self.limit:
            raise Enough
        self.seen.append(self.look(self.core))
        return self.agent.run_step(data, timestamp)

    def destroy(self) -> None:
        if hasattr(self.agent, "destroy"):
            self.agent.destroy()


def straight_route(runner: RouteRunner, town: str, metres: float, junction_free: bool = True) -> RouteSpec:
    """A Leaderboard 2.0 route of ``metres`` along a lane from a spawn point (with no junction where asked)."""
    runner.load_town(town, "0")
    town_map = runner.core.map
    for transform in town_map.get_spawn_points():
        start = town_map.get_waypoint(transform.location)
        ahead = start.next(metres)
        if not ahead or not start.previous(35.0):
            continue
        points = [start.next(float(d))[0] for d in range(5, int(metres), 5)] + \
            [start.previous(float(d))[0] for d in range(5, 36, 5)]
        if junction_free and any(w.is_junction for w in points):
            continue
        return RouteSpec("0", town, [start.transform.location, ahead[0].transform.location], leaderboard=2)
    raise AssertionError(f"no straight {metres} m lane on {town}")


def test_vehicles_wait_for_the_hero_ahead_and_follow_it_behind():
    """Two vehicles 15 m apart ahead on the hero's lane and two behind at the start; with the hero standing, those
    ahead stand within the outer radius (2 x 15 m + 15 m) instead of driving off; oncoming ones come."""
    standing = ConstantAgent()
    standing.setup({"throttle": 0.0, "brake": 1.0})

    def look(core):
        lane = lane_key(core.map.get_waypoint(core.hero.get_location()))
        mine = [v for v in background(core.world) if lane_key(core.map.get_waypoint(v.get_location())) == lane]
        others = [v for v in background(core.world) if v not in mine]
        return sorted(along(core.hero, v) for v in mine), len(others)

    probe = Probe(standing, look, limit=800)  # 40 s
    runner = RouteRunner(EvaluationSettings(agent="constant"), agent=probe)
    try:
        with pytest.raises(Enough):
            runner.run(0, straight_route(runner, "BikeTown", 120.0))  # (two-way roads: oncoming lanes)
    finally:
        runner.close()
    first, _ = probe.seen[1]
    assert len([d for d in first if d > 0]) == 2 and len([d for d in first if d < 0]) == 2, first
    assert all(abs(abs(d) - k) < 3.0 for d, k in zip(sorted(first, key=abs), (15.0, 15.0, 30.0, 30.0))), first
    ahead, _ = probe.seen[-1]
    assert ahead and max(d for d in ahead) < 50.0, "those ahead wait for the hero at the outer radius"
    assert max(n for _, n in probe.seen) >= 1, "oncoming vehicles come down the other lane"


class SlowAutopilot(AutopilotAgent):
    """The autopilot at 30 % of the speed limit."""

    def start(self, core) -> None:
        super().start(core)
        core.traffic_manager.vehicle_percentage_speed_difference(core.hero, 70.0)


def percentages(record: dict) -> list[float]:
    return [float(m.split("is ")[1].split("%")[0]) for m in record["infractions"][MIN_SPEED]]


def test_the_min_speed_criterion_compares_the_hero_with_the_background():
    """The autopilot, which drives with the background's vehicles, keeps within 15 % of their speed on every
    stretch; at 30 % of the speed limit it falls further behind (less: the vehicles ahead wait for the hero, as
    the Leaderboard's do). Each route's last stretch under 100 % counts twice, as the Leaderboard counts it."""
    runner = RouteRunner(EvaluationSettings(agent="autopilot"))
    try:
        spec = straight_route(runner, "Boulevards", 150.0)
        driven = runner.run(0, spec)
        runner.agent = SlowAutopilot()
        slow = runner.run(1, spec)
    finally:
        runner.close()
    assert driven["status"] == slow["status"] == "Completed", driven["meta"]["events"]
    assert percentages(driven) and min(percentages(driven)) >= 85.0, driven["infractions"][MIN_SPEED]
    assert min(percentages(slow)) < min(percentages(driven)), (percentages(slow), percentages(driven))
    for record in (driven, slow):
        assert percentages(record)[-1] == percentages(record)[-2]


def test_junction_traffic_comes_from_the_other_entries_and_the_road_behaviour_resumes_past_it():
    runner = RouteRunner(EvaluationSettings(agent="autopilot"))
    try:
        runner.load_town("GridTown", "0")
        planner = RoutePlanner(runner.core.map)
        town_map = runner.core.map
        light = next(iter(runner.core.world.get_actors().filter("traffic.traffic_light*")))
        entry = light.get_stop_waypoints()[0]
        before, after = entry.previous(60.0)[0], entry
        while not after.is_junction:
            after = after.next(2.0)[0]
        while after.is_junction:
            after = after.next(2.0)[0]
        after = after.next(80.0)[0]
        spec = RouteSpec("j", "GridTown", [before.transform.location, after.transform.location], leaderboard=2)
        (junction,) = route_junctions([w for w, _ in dense_route(planner, spec)], town_map)
        other_entries = [k for k in junction.entry_keys if k not in junction.route_entry_keys]
        assert junction.route_entry_keys and junction.route_exit_keys and other_entries

        def look(core):
            keys = [lane_key(core.map.get_waypoint(v.get_location())) for v in background(core.world)]
            ahead = [along(core.hero, v) for v in background(core.world)]
            return {k for k in keys}, core.route_progress.index, ahead

        runner.agent = Probe(AutopilotAgent(), look)
        record = runner.run(0, spec)
    finally:
        runner.close()
    assert record["status"] == "Completed", record["meta"]["events"]
    exit_index = junction.exit_index
    during = set().union(*(keys for keys, index, _ in runner.agent.seen if index < exit_index))
    assert during & set(other_entries), "vehicles come down the junction's other entries"
    past = [ahead for _, index, ahead in runner.agent.seen if index > exit_index + 20]
    assert past and any(any(0.0 < d < 60.0 for d in ahead) for ahead in past), "vehicles ahead on the exit road"


def test_hard_break_route_stops_the_background_ahead_of_the_hero():
    """With a background activity, HardBreakRoute is the Leaderboard's: its vehicles ahead of the hero brake to a
    stop at the trigger point and drive on 10 s later (no car of the scenario's own)."""
    runner = RouteRunner(EvaluationSettings(agent="autopilot"))

    def look(core):
        lane = lane_key(core.map.get_waypoint(core.hero.get_location()))
        ahead = [v for v in background(core.world) if 0.0 < along(core.hero, v) < 50.0
                 and lane_key(core.map.get_waypoint(v.get_location())) == lane]
        scenario = [v for v in core.world.get_actors().filter("vehicle.*") if v.attributes.get("role_name") == "scenario"]
        return max((v.get_velocity().length() for v in ahead), default=None), len(scenario), core.route_progress.index

    try:
        spec = straight_route(runner, "Boulevards", 200.0)
        planner = RoutePlanner(runner.core.map)
        route = dense_route(planner, spec)
        trigger = route[40][0].transform
        spec.scenarios = [ScenarioSpec("HardBreakRoute_1", "HardBreakRoute",
                                       (trigger.location.x, trigger.location.y, 0.0, trigger.rotation.yaw), {})]
        runner.agent = Probe(AutopilotAgent(), look)
        record = runner.run(0, spec)
    finally:
        runner.close()
    (scenario,) = record["meta"]["scenarios"]
    assert scenario["status"] == "passed", record["meta"]["events"]
    seen = runner.agent.seen
    assert all(n == 0 for _, n, _ in seen), "the scenario spawns no car of its own"
    started = next(k for k, (_, _, index) in enumerate(seen) if index >= 40)
    stopped = [speed for speed, _, _ in seen[started + 60:started + 180] if speed is not None]
    assert stopped and max(stopped) < 0.5, "the vehicles ahead stand"
    moving = [speed for speed, _, _ in seen[started + 300:] if speed is not None]
    assert moving and max(moving) > 3.0, "and drive on after 10 s"


@pytest.mark.parametrize("background_flag, expected", [("off", False), ("auto", True)])
def test_background_on_leaderboard_2_routes_by_default(background_flag, expected):
    runner = RouteRunner(EvaluationSettings(agent="autopilot", background=background_flag))
    try:
        spec = straight_route(runner, "GridTown", 80.0)
        record = runner.run(0, spec)
        seen_after = background(runner.core.world)
    finally:
        runner.close()
    assert record["meta"]["background_activity"] is expected
    assert not seen_after, "the route's background vehicles go with it"
    assert bool(record["infractions"][MIN_SPEED]) <= expected


def test_a_route_changes_the_background_with_a_parametrizer():
    """BackgroundActivityParametrizer (route 38 of the scenario routes, on BikeTown: opposite_active 0 at its trigger point,
    20 m on): no oncoming vehicle is spawned once the hero has passed it, as ScenarioRunner's ChangeOppositeBehavior
    does (the procedural towns from OSM have one road per direction: no lane of the hero's road runs against it)."""
    from rllib_integration.routes.route_files import read_routes
    import pathlib
    (spec,) = [r for r in read_routes(pathlib.Path(__file__).parent / "routes" / "leaderboard2_scenarios.xml")
               if r.route_id == "38"]

    def look(core):
        heading = core.hero.get_transform().rotation.yaw
        oncoming = {v.id for v in background(core.world)
                    if abs((v.get_transform().rotation.yaw - heading + 180.0) % 360.0 - 180.0) > 150.0}
        return core.route_progress.index, oncoming

    runner = RouteRunner(EvaluationSettings(agent="autopilot"), agent=Probe(AutopilotAgent(), look))
    try:
        record = runner.run(0, spec)
    finally:
        runner.close()
    (scenario,) = record["meta"]["scenarios"]
    assert scenario["status"] == "passed"
    seen = runner.agent.seen
    trigger = next(k for k, (index, _) in enumerate(seen) if index >= 20)
    before = set().union(*(ids for _, ids in seen[:trigger]))
    after = set().union(*(ids for index, ids in seen[trigger + 5:] if index < 110))  # (the junction's own are not)
    assert before, "oncoming vehicles before the trigger point"
    assert not after - before, "none spawned after it, on the way to the junction"


def test_interurban_actor_flow_keeps_the_background_off_the_entries_scenario_runner_removes():
    """InterurbanActorFlow (route 26 of the scenario routes, GridTown, seed 19): as ScenarioRunner's, the junction's
    entry from the lane beside the hero's exit gets no background vehicles while the hero crosses the flow. One from
    there turned into the flow in front of a flow car; the two stood against each other, and the hero, waiting for
    the junction the background car held, for the rest of the route (8 of 32 seeds)."""
    from rllib_integration.routes.route_files import read_routes
    import pathlib
    (spec,) = [r for r in read_routes(pathlib.Path(__file__).parent / "routes" / "leaderboard2_scenarios.xml")
               if r.route_id == "26"]
    runner = RouteRunner(EvaluationSettings(agent="autopilot", seed=19))
    runner.load_town("GridTown", "26")
    route = [w for w, _ in dense_route(RoutePlanner(runner.core.map), spec)]
    (junction, *_) = route_junctions(route, runner.core.map)
    beside_exit = lane_key(route[junction.exit_index].next(10.0)[0].get_left_lane())
    entry = route[junction.exit_index].transform.location

    def look(core):
        coming = [v for v in background(core.world) if lane_key(core.map.get_waypoint(v.get_location())) == beside_exit
                  and v.get_location().distance(entry) < 40.0]
        return core.route_progress.index, len(coming)

    runner.agent = Probe(AutopilotAgent(), look)
    try:
        record = runner.run(0, spec)
    finally:
        runner.close()
    (scenario,) = record["meta"]["scenarios"]
    assert scenario["status"] == "passed" and record["status"] == "Completed", record["meta"]["events"]
    trigger = min(range(len(route)), key=lambda k: route[k].transform.location.distance(
        carla.Location(*spec.scenarios[0].trigger[:2])))
    crossing = [n for index, n in runner.agent.seen if trigger + 10 <= index <= junction.exit_index]
    assert crossing and not any(crossing), "no background vehicle waits to come out beside the hero's exit"
