"""``CarlaCore``: the simulator (server and client) behind one ``CarlaEnv``.

It picks the simulator (``env_config.carla.simulator``), connects in synchronous mode, loads the
experiment's town and weather, respawns the hero at every reset, ticks the world and releases
everything it created on :meth:`CarlaCore.close`. The code talks to the world only through the carla
API, so the embedded world and a real server take the same path.
"""

from __future__ import annotations

import difflib
import logging
import os
import time
from types import ModuleType
from typing import Any, Mapping

import carla
import numpy as np

from .config import BASE_CORE_CONFIG, ConfigError, join_dicts, validate
from .embedded import EmbeddedServer, UnknownTownError
from .embedded import Client as EmbeddedClient
from .embedded import command as embedded_command
from .sensors import SensorFactory, SensorInterface
from .server_manager import ServerLaunchError, ServerManager, port_is_free, probe
from .spawn_points import parse_spawn_points, to_transform

logger = logging.getLogger(__name__)

SIMULATOR_MODES = ("auto", "embedded", "launch", "connect")
TM_PORT = 8000  # traffic manager port of the embedded world (each in-process server has its own)


class SimulatorUnavailableError(RuntimeError):
    """The selected simulator cannot be used (mode not available, server unreachable)."""


class SimulatorRestartedError(RuntimeError):
    """The simulator failed during an episode and was restarted: the episode is broken."""


def resolve_simulator(mode: str) -> str:
    """The simulator a mode stands for: ``auto`` is ``launch`` when ``CARLA_ROOT`` is set, else
    ``embedded``."""
    if mode not in SIMULATOR_MODES:
        raise ConfigError(f"env_config.carla.simulator: unknown simulator '{mode}'. Fix: use one "
                          f"of {', '.join(SIMULATOR_MODES)}.")
    if mode == "auto":
        mode = "launch" if os.environ.get("CARLA_ROOT") else "embedded"
        logger.info("simulator 'auto' selects '%s' (%s)", mode,
                    "CARLA_ROOT is set" if mode == "launch" else "CARLA_ROOT is not set")
    else:
        logger.info("simulator: %s", mode)
    return mode


class CarlaCore:
    """Simulator connection, world set-up, hero respawn and ticking for one environment."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = dict(config or {})
        validate(config, BASE_CORE_CONFIG, "env_config.carla")
        self.config = join_dicts(BASE_CORE_CONFIG, config)
        self.client: Any = None
        self.world: Any = None
        self.map: carla.Map | None = None
        self.hero: Any = None
        self.command: ModuleType = embedded_command
        self.sensor_interface = SensorInterface(timeout=self.config["timeout"])
        self.simulator = resolve_simulator(self.config["simulator"])
        self._server: EmbeddedServer | None = None
        self.server: ServerManager | None = None  # the launched CARLA server (launch mode)
        self._client_class: Any = EmbeddedClient
        self._spawn_points_config: list[Any] | None = None
        self._spawn_points: list[tuple[float, ...]] = []
        self._activity: dict[str, Any] = {}
        self._episodes = 0
        self.npc_ids: list[int] = []
        self.traffic_manager: Any = None
        self.tm_port = TM_PORT
        self.restarts = 0  # recoveries from failures
        self.recycles = 0  # planned restarts (episode count, memory)
        self._episodes_since_start = 0
        self._experiment_config: Mapping[str, Any] | None = None
        try:
            self.init_server()
            self.connect_client()
        except Exception:
            self.close()  # a server this core launched must not outlive the failure
            raise

    # -- server and client ------------------------------------------------------------------
    def init_server(self) -> None:
        """Start the simulator this core talks to: an in-process world (embedded), a CARLA server
        process of its own (launch), or nothing (connect: a server already runs at host:port)."""
        if self.simulator == "embedded":
            self._server = EmbeddedServer.start(self.config["host"])
            self.port = self._server.port
            faults = self.config["fault_injection"]
            self._server.inject_faults(faults["mode"], faults["every_ticks"], delay=self.config["timeout"])
            return
        self._client_class, self.command = carla.Client, carla.command
        if self.simulator == "launch":
            gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
            try:
                self.server = ServerManager(
                    host=self.config["host"], quality_level=self.config["quality_level"],
                    show_display=self.config["show_display"],
                    resolution=(self.config["resolution_x"], self.config["resolution_y"]),
                    gpu=int(gpus[0]) if gpus[0].strip().isdigit() else None,
                    start_timeout=self.config["timeout"] * self.config["retries_on_error"])
                ports = self.server.start()
            except ServerLaunchError as error:
                raise SimulatorUnavailableError(str(error)) from None
            self.port, self.tm_port = ports.rpc, ports.traffic_manager
            return
        self.port = self.config["port"]
        if not probe(self.config["host"], self.port, timeout=min(2.0, self.config["timeout"])):
            raise SimulatorUnavailableError(
                f"no CARLA server answers at {self.config['host']}:{self.port}. Fix: start one there (e.g. "
                f"CarlaUE4.sh -RenderOffScreen -carla-rpc-port={self.port}) or set env_config.carla.host/port.")
        self.tm_port = next(p for p in range(TM_PORT, TM_PORT + 1000) if port_is_free(p))

    def connect_client(self) -> None:
        """Connect and put the world in synchronous mode with the configured time step."""
        attempts = max(1, int(self.config["retries_on_error"]))
        for attempt in range(1, attempts + 1):
            try:
                self.client = self._client_class(self.config["host"], self.port)
                self.client.set_timeout(self.config["timeout"])
                self.world = self.client.get_world()
                self._apply_sync_settings()
                self.world.tick()
                return
            except RuntimeError as error:
                logger.warning("waiting for the server to be ready: %s (attempt %d of %d)",
                               error, attempt, attempts)
                time.sleep(min(3.0, 0.5 * attempt))
        raise SimulatorUnavailableError(
            "cannot connect to the simulator. Fix: increase 'timeout' or 'retries_on_error' in "
            "env_config.carla.")

    def _apply_sync_settings(self) -> None:
        settings = self.world.get_settings()
        settings.no_rendering_mode = not self.config["enable_rendering"]
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = self.config["timestep"]
        self.world.apply_settings(settings)

    # -- experiment -------------------------------------------------------------------------
    def setup_experiment(self, experiment_config: Mapping[str, Any]) -> None:
        """Load the experiment's town and weather, put its traffic manager in synchronous mode and
        spawn its background activity (once per environment, and again after a restart)."""
        self._experiment_config = experiment_config
        layers = carla.MapLayer.All if self.config["enable_map_assets"] else carla.MapLayer.NONE
        try:
            self.world = self.client.load_world(map_name=experiment_config["town"],
                                                reset_settings=False, map_layers=layers)
        except UnknownTownError as error:
            raise ConfigError(f"env_config.experiment.town: {error}") from None
        self.map = self.world.get_map()
        weather_name = experiment_config["weather"]
        weather = getattr(carla.WeatherParameters, weather_name, None)
        if not isinstance(weather, carla.WeatherParameters):
            presets = sorted(n for n in dir(carla.WeatherParameters)
                             if isinstance(getattr(carla.WeatherParameters, n), carla.WeatherParameters))
            raise ConfigError(f"env_config.experiment.weather: unknown weather '{weather_name}'. "
                              f"Fix: use one of {', '.join(presets)}.")
        self.world.set_weather(weather)
        self._activity = dict(experiment_config["background_activity"])
        self.traffic_manager = self.client.get_trafficmanager(self.tm_port)
        self.traffic_manager.set_synchronous_mode(True)
        self.traffic_manager.set_hybrid_physics_mode(self._activity["tm_hybrid_mode"])
        seed = self._activity["seed"]
        self._npc_rng = np.random.default_rng(seed)
        if seed is not None:
            self.traffic_manager.set_random_device_seed(seed)
            self.world.set_pedestrians_seed(seed)
        self.spawn_npcs(self._activity["n_vehicles"], self._activity["n_walkers"])

    def spawn_npcs(self, n_vehicles: int, n_walkers: int) -> None:
        """Spawn autopilot vehicles at the map's spawn points and walkers with AI controllers at
        navigation points, in batches (warning on any shortfall)."""
        command, rng = self.command, self._npc_rng
        library = self.world.get_blueprint_library()
        points = self.map.get_spawn_points()
        if n_vehicles > len(points):
            logger.warning("%d vehicles requested but the map has %d spawn points", n_vehicles, len(points))
            n_vehicles = len(points)
        order = rng.permutation(len(points))[:n_vehicles]
        vehicle_blueprints = list(library.filter("vehicle.*"))
        batch = []
        for index in order:
            blueprint = vehicle_blueprints[int(rng.integers(len(vehicle_blueprints)))]
            if blueprint.has_attribute("color"):
                colors = blueprint.get_attribute("color").recommended_values
                blueprint.set_attribute("color", colors[int(rng.integers(len(colors)))])
            blueprint.set_attribute("role_name", "autopilot")
            t = points[index]
            spot = carla.Transform(carla.Location(t.location.x, t.location.y, t.location.z + 1.0), t.rotation)
            batch.append(command.SpawnActor(blueprint, spot).then(
                command.SetAutopilot(command.FutureActor, True, self.tm_port)))
        vehicles = [r.actor_id for r in self.client.apply_batch_sync(batch, True) if not r.has_error()]
        if len(vehicles) < n_vehicles:
            logger.warning("spawned %d of %d background vehicles", len(vehicles), n_vehicles)
        walkers = self._spawn_walkers(n_walkers, library) if n_walkers else []
        self.npc_ids = vehicles + walkers

    def _spawn_walkers(self, count: int, library: Any) -> list[int]:
        command, rng = self.command, self._npc_rng
        walker_blueprints = list(library.filter("walker.pedestrian.*"))
        batch, speeds = [], []
        for _ in range(count):
            location = self.world.get_random_location_from_navigation()
            if location is None:
                break
            blueprint = walker_blueprints[int(rng.integers(len(walker_blueprints)))]
            if blueprint.has_attribute("is_invincible"):
                blueprint.set_attribute("is_invincible", "false")
            speed = blueprint.get_attribute("speed").recommended_values if blueprint.has_attribute("speed") else []
            speeds.append(float(speed[1]) if len(speed) > 1 else 1.4)
            location.z += 1.0
            batch.append(command.SpawnActor(blueprint, carla.Transform(location)))
        results = self.client.apply_batch_sync(batch, True)
        walkers = [(r.actor_id, s) for r, s in zip(results, speeds) if not r.has_error()]
        if len(walkers) < count:
            logger.warning("spawned %d of %d walkers", len(walkers), count)
        controller = library.find("controller.ai.walker")
        results = self.client.apply_batch_sync(
            [command.SpawnActor(controller, carla.Transform(), walker_id) for walker_id, _ in walkers], True)
        controllers = []
        for response, (_, speed) in zip(results, walkers):
            if response.has_error():
                continue
            actor = self.world.get_actor(response.actor_id)
            actor.start()
            actor.go_to_location(self.world.get_random_location_from_navigation())
            actor.set_max_speed(speed)
            controllers.append(response.actor_id)
        if len(controllers) < len(walkers):
            logger.warning("spawned %d of %d walker controllers", len(controllers), len(walkers))
        self.world.tick()
        return [walker_id for walker_id, _ in walkers] + controllers

    def destroy_npcs(self) -> None:
        """Destroy the background vehicles, walkers and controllers this core spawned."""
        for actor_id in reversed(self.npc_ids):  # controllers first
            actor = self.world.get_actor(actor_id)
            if actor is not None and actor.type_id == "controller.ai.walker":
                actor.stop()
        self.client.apply_batch([self.command.DestroyActor(i) for i in reversed(self.npc_ids)])
        self.npc_ids = []

    def reset_hero(self, hero_config: Mapping[str, Any], rng: np.random.Generator) -> Any:
        """Respawn the hero at a spawn point drawn with ``rng`` and attach its sensors (their first
        data comes with the next tick); returns the hero actor."""
        if self._recycle_due():
            logger.info("recycling the simulator after %d episodes", self._episodes_since_start)
            self._restart()
            self.recycles += 1
        self._episodes_since_start += 1
        self.sensor_interface.destroy()
        if self._activity.get("respawn_per_episode") and self._episodes > 0:
            self.destroy_npcs()
            self.spawn_npcs(self._activity["n_vehicles"], self._activity["n_walkers"])
        self._episodes += 1
        self.world.tick()
        blueprint = self._hero_blueprint(hero_config["blueprint"])
        if self.hero is not None:
            self.hero.destroy()
            self.hero = None
        transforms = self._spawn_transforms(hero_config["spawn_points"], rng)
        for index in rng.permutation(len(transforms)):
            self.hero = self.world.try_spawn_actor(blueprint, transforms[index])
            if self.hero is not None:
                break
        else:
            raise RuntimeError(f"could not spawn the hero: all {len(transforms)} spawn points are "
                               f"occupied. Fix: give more hero.spawn_points or fewer vehicles.")
        logger.debug("hero %d spawned at %s", self.hero.id, self.hero.get_transform())
        self.world.tick()
        for name, attributes in hero_config["sensors"].items():
            SensorFactory.spawn(name, attributes, self.sensor_interface, self.hero)
        return self.hero

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
    def apply_hero_control(self, control: carla.VehicleControl) -> None:
        self.hero.apply_control(control)

    def tick(self, control: carla.VehicleControl | None) -> dict[str, Any]:
        """Apply ``control`` (if any), advance one step and return the sensor data of the new
        frame: ``{name: (frame, data)}`` (see :class:`~.sensors.SensorInterface`).

        If the simulator fails (crash, no answer, a sensor that stalls), it is restarted in place
        and :class:`SimulatorRestartedError` tells the caller the episode is broken."""
        try:
            if control is not None:
                self.apply_hero_control(control)
            frame = self.world.tick()
            if self.config["enable_rendering"]:
                self.set_spectator_camera_view()
            return self.sensor_interface.get_data(frame)
        except RuntimeError as error:
            self.recover(error)
            raise SimulatorRestartedError(f"the simulator failed ({error}); it was restarted (restart "
                                          f"{self.restarts}) and this episode is broken") from error

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
            except (RuntimeError, SimulatorUnavailableError) as again:
                logger.warning("restart attempt %d failed: %s", attempt, again)
                time.sleep(delay)
                delay = min(2.0 * delay, 10.0)
        raise SimulatorUnavailableError("the simulator could not be restarted. Fix: check the server logs.")

    def _restart(self) -> None:
        """A fresh server (or connection), synchronous settings and the experiment's world."""
        self._forget_actors()
        if self.simulator == "embedded":
            self._server.stop()
            self._server = None
            self.init_server()
        elif self.simulator == "launch":
            ports = self.server.restart()
            self.port, self.tm_port = ports.rpc, ports.traffic_manager
        self.connect_client()
        if self._experiment_config is not None:
            self.setup_experiment(self._experiment_config)
        self._episodes_since_start = 0

    def _forget_actors(self) -> None:
        """Drop the handles of actors that died with the simulator."""
        try:
            self.sensor_interface.destroy()
        except RuntimeError:
            self.sensor_interface = SensorInterface(timeout=self.config["timeout"])
        self.hero, self.npc_ids = None, []

    def _recycle_due(self) -> bool:
        episodes = self.config["recycle_after_episodes"]
        if episodes and self._episodes_since_start >= episodes:
            return True
        limit = self.config["recycle_memory_mb"]
        return bool(limit and self.server is not None and self.server.memory_bytes() > limit * 2 ** 20)

    def set_spectator_camera_view(self) -> None:
        """Place the spectator 5 m behind and 3 m above the hero, looking along it."""
        transform = self.hero.get_transform()
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
        if self.npc_ids and self.world is not None:
            self.destroy_npcs()
        if self.simulator == "connect" and self.world is not None:  # leave a shared server asynchronous
            settings = self.world.get_settings()
            settings.synchronous_mode, settings.fixed_delta_seconds = False, None
            self.world.apply_settings(settings)
            if self.traffic_manager is not None:
                self.traffic_manager.set_synchronous_mode(False)
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.client = self.world = None
