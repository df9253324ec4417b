"""``CarlaCore``: the simulator (server and client) behind one ``CarlaEnv``.

It starts the simulator through its backend (:mod:`rllib_integration.simulators`: embedded, launch or
connect), connects in synchronous mode, loads the experiment's town and weather, spawns its
background traffic (:class:`~.background_traffic.BackgroundTraffic`), respawns the hero at every
reset, ticks the world, and releases everything it created on :meth:`CarlaCore.close`. It talks to the
world only through the carla API, so the embedded world and a real server take the same path.

When the simulator fails (the backend raises :class:`~.errors.SimulatorFailure`), the core restarts
it in place and says the episode is broken (:class:`~.errors.SimulatorRestartedError`); any other
error is a bug and surfaces unchanged.
"""

from __future__ import annotations

import difflib
import logging
import time
from types import ModuleType
from typing import Any, Mapping, Sequence

import carla
import numpy as np

from .background_traffic import BackgroundTraffic
from .config import BASE_CORE_CONFIG, join_dicts, validate
from .embedded import UnknownTownError
from .errors import ConfigError, SimulatorFailure, SimulatorRestartedError, SimulatorUnavailableError
from .hero_state import HeroState, Roster, update_routes
from .light_times import draw_light_times, draws_light_times
from .sensors import SensorInterface
from .routes.progress import Route, RouteProgress
from .simulators import create_backend
from .simulators.backend import as_failure
from .spawn_points import parse_spawn_points, to_transform

logger = logging.getLogger(__name__)

ROUTE_START_CLEARANCE = 10.0  # metres around a route's start cleared of background vehicles and walkers


class CarlaCore(HeroState):
    """Simulator connection, world set-up, hero respawn and ticking for one environment.

    Its own hero (``core.hero``, ``core.sensor_interface``, ``core.route_progress``) is a single-agent
    env's; several heroes of one world (:class:`~.hero_state.AgentCore`) are placed, equipped and ticked
    together with :meth:`begin_episode`, :meth:`place_hero`, :meth:`~.hero_state.HeroState.equip` and
    :meth:`tick_heroes`.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = dict(config or {})
        validate(config, BASE_CORE_CONFIG, "env_config.carla")
        self.config = join_dicts(BASE_CORE_CONFIG, config)
        self.client: Any = None
        self.world: Any = None
        self.map: carla.Map | None = None
        self.hero: Any = None
        self.sensor_interface = SensorInterface(timeout=self.config["timeout"])
        self.backend = create_backend(self.config)
        self.simulator = self.backend.kind
        self.background: BackgroundTraffic | None = None
        self.frame: int | None = None  # the frame of the last tick_heroes
        self.traffic_manager: Any = None
        self._spawn_points_config: list[Any] | None = None
        self._spawn_points: list[tuple[float, ...]] = []
        self._experiment_config: Mapping[str, Any] | None = None
        self._episodes = 0
        self._episodes_since_start = 0
        self._loads = 0  # towns loaded (a background's draws of its counts differ from load to load)
        self._no_sidewalks: set[str] = set()  # towns whose backgrounds said they have no sidewalks for walkers
        self.route_progress: RouteProgress | None = None
        self.town: str | None = None  # the town loaded now (one of the experiment's towns)
        self.restarts = 0  # recoveries from failures
        self.recycles = 0  # planned restarts (episode count, memory)
        try:
            self.backend.start()
            self.connect_client()
        except Exception:
            self.close()  # a server this core launched must not outlive the failure
            raise

    @property
    def port(self) -> int:
        """RPC port of the simulator."""
        return self.backend.port

    @property
    def tm_port(self) -> int:
        """Port of the traffic manager this core uses."""
        return self.backend.tm_port

    @property
    def command(self) -> ModuleType:
        """The batch command module for this simulator's client."""
        return self.backend.command

    # -- client -----------------------------------------------------------------------------
    def connect_client(self) -> None:
        """Connect and put the world in synchronous mode with the configured time step."""
        attempts = max(1, int(self.config["retries_on_error"]))
        for attempt in range(1, attempts + 1):
            try:
                with self.backend.failures():
                    self.client = self.backend.client()
                    self.client.set_timeout(self.config["timeout"])
                    self.world = self.client.get_world()
                    self._apply_sync_settings()
                    self.world.tick()
                return
            except SimulatorFailure as error:
                logger.warning("waiting for the server to be ready: %s (attempt %d of %d)", error, attempt, attempts)
                time.sleep(min(3.0, 0.5 * attempt))
        raise SimulatorUnavailableError(
            "cannot connect to the simulator. Fix: increase 'timeout' or 'retries_on_error' in env_config.carla.")

    def _apply_sync_settings(self) -> None:
        settings = self.world.get_settings()
        settings.no_rendering_mode = not self.config["enable_rendering"]
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = self.config["timestep"]
        self.world.apply_settings(settings)

    # -- experiment -------------------------------------------------------------------------
    def setup_experiment(self, experiment_config: Mapping[str, Any]) -> None:
        """Load the experiment's town (the first of a list) and weather, put its traffic manager in
        synchronous mode and spawn its background activity (once per environment, and again after a
        restart, which keeps the current town where the configuration lists it)."""
        self._experiment_config = experiment_config
        towns = self.towns
        self._load_town(self.town if self.town in towns else towns[0])

    @property
    def towns(self) -> list[str]:
        """The experiment's towns (``experiment.town``: one name or a list of names)."""
        town = self._experiment_config["town"]
        towns = [town] if isinstance(town, str) else list(town)
        if not towns or not all(isinstance(name, str) and name for name in towns):
            raise ConfigError(f"env_config.experiment.town: {town!r} is not a town name or a list of them. "
                              f"Fix: write 'town: Town01' or 'town: [RingTown, GridTown]'.")
        return towns

    def choose_town(self, rng: np.random.Generator) -> str:
        """Draw the next episode's town with ``rng`` where the experiment lists several, and load it if it
        is not the current one (the hero, its sensors and the background are respawned on it), then draw the
        light groups' times where ``light_times`` asks for them; returns the town. A real server takes seconds to
        load a town; the embedded world milliseconds."""
        towns = self.towns
        if len(towns) > 1:
            town = towns[int(rng.integers(len(towns)))]
            if town != self.town:
                self.release_hero()
                if self.background is not None:
                    self.background.destroy()
                self._load_town(town)
        times = self._experiment_config.get("light_times")
        if draws_light_times(times):
            draw_light_times(self.world, times, rng)
        return self.town

    def _load_town(self, town: str) -> None:
        experiment_config = self._experiment_config
        layers = carla.MapLayer.All if self.config["enable_map_assets"] else carla.MapLayer.NONE
        try:
            self.world = self.client.load_world(map_name=town, reset_settings=False, map_layers=layers)
        except UnknownTownError as error:
            raise ConfigError(f"env_config.experiment.town: {error}") from None
        self.town = town
        self.map = self.world.get_map()
        weather_name = experiment_config["weather"]
        weather = getattr(carla.WeatherParameters, weather_name, None)
        if not isinstance(weather, carla.WeatherParameters):
            presets = sorted(n for n in dir(carla.WeatherParameters)
                             if isinstance(getattr(carla.WeatherParameters, n), carla.WeatherParameters))
            raise ConfigError(f"env_config.experiment.weather: unknown weather '{weather_name}'. "
                              f"Fix: use one of {', '.join(presets)}.")
        self.world.set_weather(weather)
        self.traffic_manager = self.client.get_trafficmanager(self.tm_port)
        self._loads += 1
        self.background = BackgroundTraffic(self.client, self.world, self.command, self.traffic_manager,
                                            self.tm_port, experiment_config["background_activity"], draw=self._loads,
                                            no_sidewalks=self._no_sidewalks)
        self.background.spawn()

    def reset_hero(self, hero_config: Mapping[str, Any], rng: np.random.Generator,
                   route: Route | None = None) -> Any:
        """Respawn the hero and attach its sensors (their first data comes with the next tick);
        returns the hero actor. Without ``route`` it spawns at a spawn point drawn with ``rng``;
        with one (a list of ``(carla.Waypoint, RoadOption)``, see :mod:`.routes`) at the route's
        start (background vehicles standing there are removed), and the core follows the hero along
        it (:attr:`route_progress`, :meth:`next_waypoints`)."""
        self.begin_episode([self])
        self.place_hero(self, hero_config, rng, route)
        self.settle_hero()
        self.equip(hero_config["sensors"], route)
        return self.hero

    def begin_episode(self, heroes: Sequence[HeroState]) -> None:
        """What every episode starts with, before its heroes are placed: a planned recycle of the simulator
        when one is due, the heroes' old sensors destroyed, the background respawned where the
        configuration says so, and one tick."""
        if self._recycle_due():
            logger.info("recycling the simulator after %d episodes", self._episodes_since_start)
            self._restart()
            for hero in heroes:
                hero.forget_hero()
            self.recycles += 1
        self._episodes_since_start += 1
        for hero in heroes:
            hero.sensor_interface.destroy()
        if self.background.activity["respawn_per_episode"] and self._episodes > 0:
            self.background.respawn()
        self._episodes += 1
        self.world.tick()

    def place_hero(self, state: HeroState, hero_config: Mapping[str, Any], rng: np.random.Generator,
                   route: Route | None = None, required: bool = True, make_room: bool = True) -> Any:
        """Spawn ``state``'s hero (its old one destroyed) at the route's start, or without a route at a spawn
        point drawn with ``rng``; returns the actor. Background vehicles standing at a route's start are removed
        (with a tick) unless ``make_room`` is false (a hero respawned amid an episode: the others' ticks are
        theirs). Where no place is free it raises, or with ``required=False`` returns None (a caller placing
        several heroes draws another route)."""
        choice = hero_config["blueprint"]
        if isinstance(choice, (list, tuple)):  # a blueprint drawn for each episode
            if not choice:
                raise ConfigError("env_config.experiment.hero.blueprint: an empty list. Fix: give a vehicle id, or a "
                                  "list of them (one is drawn for each episode).")
            choice = choice[int(rng.integers(len(choice)))]
        blueprint = self._hero_blueprint(choice)
        if state.hero is not None:
            state.hero.destroy()
            state.hero = None
        state.route_progress = None
        if route is not None:
            state.hero = self._spawn_at_route_start(blueprint, route, required, make_room)
        else:
            transforms = self._spawn_transforms(hero_config["spawn_points"], rng)
            for index in rng.permutation(len(transforms)):
                state.hero = self.world.try_spawn_actor(blueprint, transforms[index])
                if state.hero is not None:
                    break
            else:
                if required:
                    raise RuntimeError(f"could not spawn the hero: all {len(transforms)} spawn points are "
                                       f"occupied. Fix: give more hero.spawn_points or fewer vehicles.")
        if state.hero is not None and logger.isEnabledFor(logging.DEBUG):  # (a transform read costs a respawn)
            logger.debug("hero %d spawned at %s", state.hero.id, state.hero.get_transform())
        return state.hero

    def _spawn_at_route_start(self, blueprint: Any, route: Route, required: bool, make_room: bool) -> Any:
        start = route[0][0].transform
        transform = carla.Transform(carla.Location(start.location.x, start.location.y, start.location.z + 0.5),
                                    start.rotation)
        hero = self.world.try_spawn_actor(blueprint, transform)
        if hero is None and make_room:  # background traffic stands there: make room, as the Leaderboard's start does
            self.background.clear_around(transform.location, ROUTE_START_CLEARANCE)
            self.world.tick()
            hero = self.world.try_spawn_actor(blueprint, transform)
        if hero is None and required:
            raise RuntimeError(f"could not spawn the hero at the route's start {start.location}: something "
                               f"other than background traffic stands there. Fix: move the route's first waypoint.")
        return hero

    def settle_hero(self) -> None:
        """Tick with no control for ``settle_time`` seconds after the hero spawned: it drops from the
        spawn point's height onto the road and its gearbox engages, as on a CARLA server, so the
        episode starts with a vehicle at rest on the ground (at least one tick)."""
        ticks = max(1, int(round(self.config["settle_time"] / self.config["timestep"])))
        for _ in range(ticks):
            self.world.tick()

    def _hero_blueprint(self, blueprint_id: str) -> Any:
        library = self.world.get_blueprint_library()
        try:
            blueprint = library.find(blueprint_id)
        except IndexError:
            ids = [bp.id for bp in library.filter("vehicle.*")]
            close = difflib.get_close_matches(blueprint_id, ids, n=3)
            raise ConfigError(f"env_config.experiment.hero.blueprint: unknown blueprint "
                              f"'{blueprint_id}'" + (f"; did you mean {', '.join(close)}?" if close else "")
                              + " Fix: use a vehicle id of the blueprint library.") from None
        if blueprint.has_attribute("role_name"):
            blueprint.set_attribute("role_name", "hero")
        return blueprint

    def _spawn_transforms(self, configured: list[Any], rng: np.random.Generator) -> list[carla.Transform]:
        if not configured:
            points = self.map.get_spawn_points()
            if not points:
                raise RuntimeError(f"the map {self.map.name} has no spawn points. Fix: set "
                                   f"hero.spawn_points.")
            return points
        if configured is not self._spawn_points_config:
            self._spawn_points = parse_spawn_points(configured)
            self._spawn_points_config = configured
        return [to_transform(point, self.map, rng) for point in self._spawn_points]

    # -- stepping ---------------------------------------------------------------------------
    def tick(self, control: carla.VehicleControl | None) -> dict[str, Any]:
        """Apply ``control`` (if any), advance one step and return the sensor data of the new
        frame: ``{name: (frame, data)}`` (see :class:`~.sensors.SensorInterface`).

        If the simulator fails (crash, no answer, a sensor that stalls), it is restarted in place
        and :class:`SimulatorRestartedError` tells the caller the episode is broken."""
        return self.tick_heroes([self], [control])[0]

    def tick_heroes(self, states: Sequence[HeroState] | Roster, controls: Sequence[carla.VehicleControl | None] = (),
                    control_rows: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Apply the heroes' controls, advance the world one step for all of them and return each hero's sensor data
        of the new frame, in the order of ``states`` (a :class:`~.hero_state.Roster` where the same heroes tick
        again and again: their lists read once). ``controls[k]`` is ``states[k]``'s control (None, or past the
        end of ``controls``: none this step); ``control_rows``: the throttle, steer and brake of the first
        ``len(control_rows)`` heroes as an (N, 3) array (a batched experiment's), applied in one call. A simulator
        failure restarts the simulator and raises :class:`SimulatorRestartedError` (the heroes given are
        forgotten: they died with it)."""
        with self.recovering(states):
            applied = [(state.hero, control) for state, control in zip(states, controls) if control is not None]
            if applied:
                self.backend.apply_controls(self.client, applied)
            if control_rows is not None and len(control_rows):
                count = len(control_rows)
                if isinstance(states, Roster):
                    view = states.read()
                    heroes, ids = view.heroes[:count], view.ids[:count]
                else:
                    heroes, ids = [state.hero for state in states[:count]], None
                self.backend.apply_control_rows(self.client, self.world, heroes, control_rows, ids)
            frame = self.frame = self.world.tick()
            update_routes(states, self.world)
            if self.config["enable_rendering"] and states:
                self.set_spectator_camera_view(states[0].hero)
            return [state.sensor_interface.get_data(frame) for state in states]

    def recovering(self, heroes: Sequence[HeroState] = ()) -> "Recovery":
        """A context for a block of simulator calls (an episode's start, a tick) in which a simulator failure
        restarts the simulator in place and raises :class:`SimulatorRestartedError` (``heroes`` other than
        the core's own are forgotten: they died with it). A block inside another is recovered once."""
        return Recovery(self, heroes)

    # -- recovery and recycling -------------------------------------------------------------
    def recover(self, error: Exception) -> None:
        """Restart (embedded, launch) or reconnect to (connect) the simulator with backoff and set the
        world up again; raises :class:`SimulatorUnavailableError` past ``max_restarts``."""
        if self.restarts >= self.config["max_restarts"]:
            raise SimulatorUnavailableError(
                f"the simulator failed again ({error}) after {self.restarts} restarts. Fix: check the server "
                f"logs, or raise env_config.carla.max_restarts.") from error
        logger.warning("simulator failure (%s): restarting", error)
        delay = 0.5
        for attempt in range(1, max(1, self.config["retries_on_error"]) + 1):
            try:
                self._restart()
                self.restarts += 1
                return
            except (SimulatorFailure, SimulatorUnavailableError) as again:
                logger.warning("restart attempt %d failed: %s", attempt, again)
                time.sleep(delay)
                delay = min(2.0 * delay, 10.0)
        raise SimulatorUnavailableError("the simulator could not be restarted. Fix: check the server logs.")

    def _restart(self) -> None:
        """A fresh server (or connection), synchronous settings and the experiment's world."""
        self._forget_actors()
        self.backend.restart()
        self.connect_client()
        if self._experiment_config is not None:
            with self.backend.failures():
                self.setup_experiment(self._experiment_config)
        self._episodes_since_start = 0

    def _forget_actors(self) -> None:
        """Drop the handles of actors that died with the simulator."""
        try:
            with self.backend.failures():
                self.sensor_interface.destroy()
        except SimulatorFailure:
            pass
        self.forget_hero()
        if self.background is not None:
            self.background.actor_ids = []

    def _recycle_due(self) -> bool:
        episodes = self.config["recycle_after_episodes"]
        if episodes and self._episodes_since_start >= episodes:
            return True
        limit = self.config["recycle_memory_mb"]
        return bool(limit and self.backend.memory_bytes() > limit * 2 ** 20)

    def set_spectator_camera_view(self, hero: Any = None) -> None:
        """Place the spectator 5 m behind and 3 m above the hero (or ``hero``), looking along it."""
        transform = (hero or self.hero).get_transform()
        forward = transform.get_forward_vector()
        location = carla.Location(transform.location.x - 5.0 * forward.x,
                                  transform.location.y - 5.0 * forward.y, transform.location.z + 3.0)
        self.world.get_spectator().set_transform(carla.Transform(location, transform.rotation))

    # -- teardown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Destroy what this core created and stop the server it started; safe to call twice."""
        self.sensor_interface.destroy()
        if self.hero is not None:
            self.hero.destroy()
            self.hero = None
        if self.background is not None and self.background.actor_ids and self.world is not None:
            self.background.destroy()
        if self.world is not None:
            self.backend.release(self.world, self.traffic_manager)
        self.backend.stop()
        self.client = self.world = None


class Recovery:
    """:meth:`CarlaCore.recovering`'s context (a class, not a generator: a step enters two, and a generator's
    context with the backend's inside it cost two microseconds more each)."""

    __slots__ = ("core", "heroes")

    def __init__(self, core: CarlaCore, heroes: Sequence[HeroState]) -> None:
        self.core, self.heroes = core, heroes

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: Any) -> bool:
        core = self.core
        failure = as_failure(core.backend, error)
        if failure is None:
            return False
        if failure is not error:
            failure.__cause__ = error  # (as the backend's failures() raises it)
        core.recover(failure)
        for state in self.heroes:
            if state is not core:
                state.forget_hero()
        raise SimulatorRestartedError(f"the simulator failed ({failure}); it was restarted (restart {core.restarts}) "
                                      f"and this episode is broken") from failure
