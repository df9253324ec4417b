"""One hero's part of a simulation: its actor, its sensors and its route.

:class:`HeroState` is what :class:`~rllib_integration.carla_core.CarlaCore` keeps for the hero of a
single-agent ``CarlaEnv``. :class:`AgentCore` is one hero among several in a world shared with others
(:class:`~rllib_integration.multi_agent_env.MultiAgentCarlaEnv`, :class:`~rllib_integration.vector_env.CarlaVectorEnv`):
what that hero's experiment sees as ``self.core``. Its hero, sensors and route are its own; the world, the
map, the client, the background traffic and the configuration are the shared core's, so an experiment
written for ``CarlaEnv`` reads ``self.core.hero``, ``self.core.route_progress`` and ``self.core.map`` unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Mapping, NamedTuple, Sequence

from .routes.progress import Route, RouteProgress
from .routes.progress_batch import route_rows
from .sensors import SensorFactory, SensorInterface


class HeroState:
    """A hero actor (or None), the sensor interface its sensors feed and the progress along its route."""

    hero: Any
    sensor_interface: SensorInterface
    route_progress: RouteProgress | None
    #: How many times the hero or the route of any hero state of this process changed: a :class:`Roster`'s lists
    #: hold until it moves.
    changes: ClassVar[int] = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ROSTER_FIELDS:
            HeroState.changes += 1
        object.__setattr__(self, name, value)

    @property
    def route(self) -> Route | None:
        """The hero's route this episode (``(carla.Waypoint, RoadOption)`` every metre), or None."""
        return self.route_progress.route if self.route_progress is not None else None

    def next_waypoints(self, count: int) -> Route:
        """The next ``count`` route points ahead of the hero, with their road options (empty
        without a route; fewer near its end)."""
        return self.route_progress.ahead(count) if self.route_progress is not None else []

    def equip(self, sensors: Mapping[str, Mapping[str, Any]], route: Route | None = None) -> None:
        """Attach ``sensors`` (name -> attributes) to the hero (their first data comes with the next tick)
        and start following ``route``."""
        for name, attributes in sensors.items():
            SensorFactory.spawn(name, attributes, self.sensor_interface, self.hero)
        if route is not None:
            self.route_progress = RouteProgress(route)
            self.route_progress.update(self.hero.get_location())
            self.sensor_interface.set_route(self.route_progress)

    def update_route(self) -> None:
        """Follow the hero along its route after a tick (nothing without a route)."""
        if self.route_progress is not None and self.hero is not None:
            self.route_progress.update(self.hero.get_location())

    def release_hero(self) -> None:
        """Destroy the hero and its sensors and forget its route (the next reset spawns a new hero)."""
        self.sensor_interface.destroy()
        if self.hero is not None:
            self.hero.destroy()
            self.hero = None
        self.route_progress = None

    def forget_hero(self) -> None:
        """Drop the handles of a hero and sensors that died with the simulator."""
        self.sensor_interface = SensorInterface(timeout=self.sensor_interface.timeout)
        self.hero = None
        self.route_progress = None


ROSTER_FIELDS = frozenset({"hero", "route_progress"})  # what a Roster reads of each hero state


class RosterView(NamedTuple):
    """A :class:`Roster`'s hero states as lists, in their order: each one's hero actor (or None), its id (-1 for
    none), its route progress (or None), and the states following a route (a hero and a route) with their heroes'
    ids and their progresses (the ids and progresses in tuples: the same tuples until the view changes, which the
    route rows' :meth:`~.routes.progress_batch.ProgressBatch.sync` answers by identity)."""

    heroes: list[Any]
    ids: tuple[int, ...]
    progresses: tuple[RouteProgress | None, ...]
    following: list[HeroState]
    following_ids: tuple[int, ...]
    following_progresses: tuple[RouteProgress, ...]


class Roster:
    """Hero states (a world's heroes) whose heroes, ids and routes are read as lists once, and again only after a
    hero or a route of any hero state changed (:attr:`HeroState.changes`: a respawn, a retirement): what a world's
    batched step reads every tick, one Python pass a hero each time otherwise. It is a sequence of the states."""

    def __init__(self, states: Sequence[HeroState]) -> None:
        self.states = list(states)
        self._view: RosterView | None = None
        self._stamp = -1  # HeroState.changes when the view was read (never, at first: the count starts at 0)

    def __len__(self) -> int:
        return len(self.states)

    def __iter__(self) -> Iterator[HeroState]:
        return iter(self.states)

    def __getitem__(self, index: Any) -> Any:
        return self.states[index]

    def read(self) -> RosterView:
        """The states' lists as they are now."""
        if self._stamp != HeroState.changes:
            heroes = [state.hero for state in self.states]
            progresses = [state.route_progress for state in self.states]
            following = [k for k, (hero, progress) in enumerate(zip(heroes, progresses))
                         if hero is not None and progress is not None]
            ids = tuple([-1 if hero is None else hero.id for hero in heroes])  # (tuples: the world's lookups' keys)
            self._view = RosterView(heroes, ids, tuple(progresses), [self.states[k] for k in following],
                                    tuple([ids[k] for k in following]), tuple([progresses[k] for k in following]))
            self._stamp = HeroState.changes
        return self._view


def update_routes(states: Sequence[HeroState] | Roster, world: Any) -> None:
    """:meth:`HeroState.update_route` of each of ``states`` after a tick; where there are several and the world reads
    their locations in one call (the embedded world's ``actor_locations``: the same 32-bit values as
    ``get_location``), advanced in one compiled call through the world's routes (``route_rows``)."""
    if isinstance(states, Roster):
        view = states.read()
        following, ids, progresses = view.following, view.following_ids, view.following_progresses
    else:
        following = [state for state in states if state.route_progress is not None and state.hero is not None]
        ids, progresses = None, None
    locations = getattr(world, "actor_locations", None)
    if len(following) < 2 or not callable(locations):
        for state in following:
            state.update_route()
        return
    if progresses is None:
        ids, progresses = [state.hero.id for state in following], [state.route_progress for state in following]
    route_rows(world).advance(progresses, locations(ids))


def _shared(name: str, doc: str) -> property:
    return property(lambda self: getattr(self.shared, name), doc=doc)


class AgentCore(HeroState):
    """One agent's view of a world shared with other heroes (see the module docstring)."""

    def __init__(self, shared: Any, agent_id: str) -> None:
        self.shared = shared
        self.agent_id = agent_id
        self.hero = None
        self.sensor_interface = SensorInterface(timeout=shared.config["timeout"])
        self.route_progress = None

    config = _shared("config", "The shared core's ``env_config.carla`` (with its defaults).")
    client = _shared("client", "The carla client of the shared world.")
    world = _shared("world", "The shared ``carla.World``.")
    map = _shared("map", "The loaded town's ``carla.Map``.")
    town = _shared("town", "The town loaded now.")
    towns = _shared("towns", "The experiment's towns.")
    traffic_manager = _shared("traffic_manager", "The shared traffic manager.")
    background = _shared("background", "The shared background traffic.")
    simulator = _shared("simulator", "Which simulator runs the world (embedded, launch or connect).")
    command = _shared("command", "The batch command module of the simulator's client.")
    restarts = _shared("restarts", "Recoveries of the shared simulator from failures.")
    recycles = _shared("recycles", "Planned restarts of the shared simulator.")
