"""A Leaderboard 2.0 scenario on a route: when it is built, when it starts, what it does each tick and how
it ends, through the carla API only (so the same code runs on the embedded world and on a CARLA server).

A :class:`Scenario` is built (its actors spawned) once the hero is within :data:`BUILD_DISTANCE` route
metres of its trigger point (one that sets the route's start, as ParkingExit, before the route's first tick:
:attr:`Scenario.BUILT_BEFORE_START`), starts when the hero reaches the trigger point, and ends when the hero is
past its end (``end_index``, a route point: passed, unless an infraction happened meanwhile), when it
times out (``timeout`` seconds after starting: a ``scenario_timeouts`` infraction, as the Leaderboard's
``ScenarioTimeoutTest``), or when the route ends first.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import carla

from ..routes.planner import RoutePlanner
from ..routes.progress import RouteProgress
from ..routes.route_files import ScenarioSpec

logger = logging.getLogger(__name__)

BUILD_DISTANCE = 60.0  # route metres before the trigger point the scenario's actors appear
START_DISTANCE = 2.0  # metres from the trigger point (along the route) the scenario starts

# events a scenario reports (the monitor records them as the Leaderboard 2.0's infractions)
TIMEOUT_EVENT, YIELD_EVENT = "timeout", "yield"

# a scenario's outcome
WAITING, RUNNING, PASSED, FAILED, TIMED_OUT, NOT_REACHED, NOT_BUILT = (
    "waiting", "running", "passed", "failed", "timed out", "not reached", "not built")


class ScenarioBuildError(RuntimeError):
    """A scenario's actors could not be placed (no room, no lane beside, a junction in the way)."""


class Scenario:
    """Base class: subclasses set :attr:`TIMEOUT`, build their actors in :meth:`build` (returning the route
    metres past the trigger point where the scenario ends) and act in :meth:`tick`."""

    #: Seconds from the start the hero may take to get past the scenario (None: no scenario timeout).
    TIMEOUT: float | None = None
    #: Whether driving against the lane's direction is not counted outside the route's lanes while it runs.
    WRONG_WAY_ALLOWED = False
    #: Whether leaving the route's lanes is not counted at all while it runs (ParkingExit's start off them).
    OUTSIDE_LANES_ALLOWED = False
    #: Whether it is built before the route's first tick, so that the background activity's first vehicles find its
    #: actors in place (a scenario at the route's start; the leaderboard builds every near scenario before it ticks).
    BUILT_BEFORE_START = False

    def __init__(self, spec: ScenarioSpec, world: Any, town_map: carla.Map, hero: Any,
                 progress: RouteProgress, rng: Any, planner: RoutePlanner | None = None, background: Any = None) -> None:
        """``planner``: the town's route planner, where the caller has one (scenarios that plan paths);
        ``background``: the route's :class:`~.background.BackgroundActivity` (None where none runs)."""
        self.spec, self.world, self.map, self.hero, self.progress, self.rng = spec, world, town_map, hero, progress, rng
        self.background = background
        self._planner = planner
        x, y, z, yaw = spec.trigger
        self.trigger = carla.Transform(carla.Location(x, y, z), carla.Rotation(yaw=yaw))
        self.trigger_index = progress.nearest_index(self.trigger.location)
        self.end_index = self.trigger_index
        self.state = WAITING
        self.started_at: float | None = None
        self.actors: list[Any] = []
        self.infractions: list[str] = []
        self.events: list[str] = []  # what tick() found (a failure to yield), handed out by update()
        self.reason = ""

    # -- what subclasses write ---------------------------------------------------------------------
    def build(self) -> float:
        """Spawn the scenario's actors; the route metres past the trigger point where it ends."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Act once per world tick while running (the actors' behaviour)."""

    def perturb(self, control: carla.VehicleControl) -> carla.VehicleControl:
        """The hero's control as the scenario changes it (ControlLoss's noise); unchanged by default."""
        return control

    def make_room(self, background: Any) -> None:
        """The scenario started: ask the route's background activity for room as ScenarioRunner's scenario does
        (leave space ahead, take a lane out, clear a junction); nothing by default."""

    def give_back_room(self, background: Any) -> None:
        """The scenario ended: undo what :meth:`make_room` asked; nothing by default."""

    # -- the life cycle ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state not in (WAITING, RUNNING)

    def route_metres_to_trigger(self) -> float:
        return self.progress.distance_between(self.progress.index, self.trigger_index)

    def update(self, now: float) -> list[str]:
        """Advance after a tick; the scenario's new events (:data:`TIMEOUT_EVENT`, :data:`YIELD_EVENT`: the
        caller records them as infractions)."""
        if self.state == WAITING:
            if not self.actors and self.reason == "" and self.route_metres_to_trigger() <= BUILD_DISTANCE:
                self._build()
                if self.done:
                    return []
            if self.progress.index >= self.trigger_index or \
                    self.hero.get_location().distance(self.trigger.location) < START_DISTANCE:
                self.state, self.started_at = RUNNING, now
                logger.debug("scenario %s started at %.1f s", self.spec.name, now)
                if self.background is not None:
                    self.make_room(self.background)
        if self.state != RUNNING:
            return []
        self.tick(now)
        events, self.events = self.events, []
        if self.progress.index >= self.end_index:
            self.state = FAILED if self.infractions else PASSED
        elif self.TIMEOUT is not None and now - self.started_at > self.TIMEOUT:
            self.state = TIMED_OUT
            events.append(TIMEOUT_EVENT)
        if self.done:  # ScenarioRunner removes a finished scenario's actors: the hero may go on
            self.destroy()
            if self.background is not None and self.started_at is not None:
                self.give_back_room(self.background)
        return events

    def build_before_start(self) -> None:
        """Build the scenario's actors now, before the route's first tick, where :attr:`BUILT_BEFORE_START`."""
        if self.BUILT_BEFORE_START and not self.actors and self.reason == "":
            self._build()

    def _build(self) -> None:
        try:
            metres = self.build()
        except ScenarioBuildError as error:
            logger.warning("scenario %s (%s) not built: %s", self.spec.name, self.spec.type, error)
            self.state, self.reason = NOT_BUILT, str(error)
            self.destroy()
            return
        self.end_index = self.progress.index_after(self.trigger_index, metres)

    def note(self, infraction_kind: str) -> None:
        """An infraction of the hero while this scenario runs: it is not passed."""
        if self.state == RUNNING:
            self.infractions.append(infraction_kind)

    def finish(self, route_completed: bool = False) -> None:
        """The route ended: a scenario still waiting was not reached; a running one is passed (without an
        infraction) if the hero completed the route (its end lies past the route's), failed otherwise."""
        if self.state == WAITING:
            self.state = NOT_REACHED
        elif self.state == RUNNING and route_completed:
            self.state = FAILED if self.infractions else PASSED
        elif self.state == RUNNING:
            self.state, self.reason = FAILED, "the route ended before the hero got past it"

    def destroy(self) -> None:
        for actor in self.actors:
            if actor is not None and actor.is_alive:
                actor.destroy()
        self.actors = []

    def result(self) -> dict[str, Any]:
        """The scenario's entry of the route's results.json record."""
        entry = {"name": self.spec.name, "type": self.spec.type, "status": self.state}
        if self.infractions:
            entry["infractions"] = sorted(set(self.infractions))
        if self.reason:
            entry["reason"] = self.reason
        return entry

    # -- helpers for subclasses ------------------------------------------------------------------------
    def spawn(self, blueprint_id: str, transform: carla.Transform, role: str = "scenario",
              physics: bool = True, attributes: Mapping[str, Any] | None = None) -> Any:
        """An actor of ``blueprint_id`` (a pattern: a seeded pick among the matches, cars (``base_type``) for
        ``vehicle.*``, those whose attributes have the values ``attributes`` gives, as ScenarioRunner's
        ``attribute_filter``) at ``transform``, kept for clean-up; :class:`ScenarioBuildError` where it cannot be
        placed."""
        matches = matching_blueprints(self.world, blueprint_id, "car" if blueprint_id == "vehicle.*" else None,
                                      attributes)
        if not matches:
            wanted = f" with {dict(attributes)}" if attributes else ""
            raise ScenarioBuildError(f"no blueprint {blueprint_id}{wanted}")
        blueprint = matches[int(self.rng.integers(len(matches)))]
        if blueprint.has_attribute("role_name"):
            blueprint.set_attribute("role_name", role)
        actor = self.world.try_spawn_actor(blueprint, transform)
        if actor is None:
            raise ScenarioBuildError(f"{blueprint.id} could not be spawned at "
                                     f"({transform.location.x:.1f}, {transform.location.y:.1f}): the place is taken")
        if not physics:
            actor.set_simulate_physics(False)
        self.actors.append(actor)
        return actor

    @property
    def planner(self) -> RoutePlanner:
        """The town's route planner (built on first use where the caller gave none)."""
        if self._planner is None:
            self._planner = RoutePlanner(self.map)
        return self._planner

    def route_junction(self) -> tuple[int, int]:
        """Route indices of the point before the route's first junction past the trigger point and of its first point
        after it."""
        route = self.progress.route
        start = next((k for k in range(self.trigger_index, len(route)) if route[k][0].is_junction), None)
        if start is None:
            raise ScenarioBuildError("the route enters no junction after the trigger point")
        end = next((k for k in range(start, len(route)) if not route[k][0].is_junction), len(route) - 1)
        return max(start - 1, 0), end

    def trigger_waypoint(self) -> carla.Waypoint:
        waypoint = self.map.get_waypoint(self.trigger.location)
        if waypoint is None:
            raise ScenarioBuildError("the trigger point is on no driving lane")
        return waypoint


#: ScenarioRunner's attribute filters for the cars its scenarios spawn.
GENERATION_2_CAR = {"base_type": "car", "generation": 2}
LIT_CAR = {"base_type": "car", "has_lights": True}


def matching_blueprints(world: Any, blueprint_id: str, base_type: str | None = None,
                        attributes: Mapping[str, Any] | None = None) -> list[carla.ActorBlueprint]:
    """The blueprints matching the pattern ``blueprint_id``, of ``base_type`` (where given) and whose attributes have
    the values ``attributes`` gives (ScenarioRunner's ``attribute_filter``)."""
    return [b for b in world.get_blueprint_library().filter(blueprint_id)
            if (base_type is None or b.has_attribute("base_type")
                and b.get_attribute("base_type").as_str().lower() == base_type)
            and all(has_value(b, name, value) for name, value in (attributes or {}).items())]


def has_value(blueprint: carla.ActorBlueprint, name: str, value: Any) -> bool:
    """Whether ``blueprint``'s attribute ``name`` has ``value`` (compared as its type, as ScenarioRunner's
    ``CarlaDataProvider.create_blueprint`` does)."""
    if not blueprint.has_attribute(name):
        return False
    attribute = blueprint.get_attribute(name)
    if isinstance(value, bool):
        return attribute.as_bool() == value
    if isinstance(value, int):
        return attribute.as_int() == value
    if isinstance(value, float):
        return attribute.as_float() == value
    return attribute.as_str() == value


def location_parameter(spec, name: str) -> carla.Location:
    """A ``<name x=".." y=".." z=".."/>`` parameter as a location."""
    entry = spec.parameters.get(name)
    try:
        return carla.Location(float(entry["x"]), float(entry["y"]), float(entry.get("z", 0.0)))
    except (TypeError, KeyError, ValueError):
        raise ScenarioBuildError(f"<{name}> needs numeric x, y (and z) attributes") from None


def forward(waypoint: carla.Waypoint, distance: float, stop_at_junction: bool = True) -> carla.Waypoint:
    """The lane's point ``distance`` metres on (1 m steps), stopping before a junction as ScenarioRunner does."""
    travelled = 0.0
    while travelled < distance:
        following = waypoint.next(1.0)
        if not following or (stop_at_junction and following[0].is_junction):
            break
        waypoint = following[0]
        travelled += 1.0
    return waypoint


def beside(waypoint: carla.Waypoint, metres: float, z: float = 0.2, yaw: float = 0.0) -> carla.Transform:
    """A transform ``metres`` to the right of the lane centre (negative: to the left), turned by ``yaw``."""
    transform = waypoint.transform
    right = transform.get_right_vector()
    location = transform.location + carla.Location(x=metres * right.x, y=metres * right.y, z=z)
    return carla.Transform(location, carla.Rotation(yaw=transform.rotation.yaw + yaw))


def outermost(waypoint: carla.Waypoint, right: bool,
              lane_types: tuple = (carla.LaneType.Driving, carla.LaneType.Parking)) -> carla.Waypoint:
    """The last lane of ``lane_types`` going right (or left) from ``waypoint``'s."""
    for _ in range(10):
        other = waypoint.get_right_lane() if right else waypoint.get_left_lane()
        if other is None or other.lane_type not in lane_types or other.lane_id * waypoint.lane_id <= 0:
            break
        waypoint = other
    return waypoint


def heading(a: carla.Location, b: carla.Location) -> carla.Vector3D:
    """The unit vector from ``a`` to ``b`` (planar)."""
    dx, dy = b.x - a.x, b.y - a.y
    norm = math.hypot(dx, dy) or 1.0
    return carla.Vector3D(dx / norm, dy / norm, 0.0)
