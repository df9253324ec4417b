"""The client side of the embedded world: ``Client`` and the in-process servers it talks to.

An :class:`EmbeddedServer` stands where a CARLA server process would: it owns the current
:class:`~.world.World`, its settings and the frame counter, and is addressed by ``(host, port)``.
``Client(host, port)`` reaches the server registered at that address, starting one on first use,
so code written for ``carla.Client`` runs unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable

import carla

from . import command as embedded_command
from .blueprints import build_library
from .sensors import sensor_blueprints
from .towns import available_towns, load_map, resolve_town
from .world import World, copy_settings

logger = logging.getLogger(__name__)

#: What ``get_server_version`` reports: the carla API version the embedded world follows.
SERVER_VERSION = "0.9.16"
#: Town loaded when a server starts (a real server starts on Town10HD_Opt).
DEFAULT_TOWN = "GridTown"


class EmbeddedServer:
    """An in-process simulator reachable at ``(host, port)``."""

    _registry: dict[tuple[str, int], "EmbeddedServer"] = {}
    _lock = threading.Lock()

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.world: World | None = None
        self.fault_mode, self.fault_every, self.fault_delay = "none", 0, 0.0
        self.ticks = 0
        self.crashed = False
        self._episode = 0
        self._frame = 0
        self.library = build_library(sensor_blueprints())

    @classmethod
    def at(cls, host: str, port: int) -> "EmbeddedServer":
        """The server at an address, started on first use."""
        key = (_normalise_host(host), int(port))
        with cls._lock:
            if key not in cls._registry:
                logger.debug("starting an embedded server at %s:%d", *key)
                cls._registry[key] = cls(*key)
            return cls._registry[key]

    @classmethod
    def start(cls, host: str = "localhost", first_port: int = 2000) -> "EmbeddedServer":
        """Start a server on the first free in-process port from ``first_port`` on."""
        key_host = _normalise_host(host)
        with cls._lock:
            port = first_port
            while (key_host, port) in cls._registry:
                port += 1
            server = cls._registry[(key_host, port)] = cls(key_host, port)
            return server

    def inject_faults(self, mode: str, every_ticks: int, delay: float = 0.0) -> None:
        """Fail every ``every_ticks`` ticks, as a crashing (``raise``) or hanging (``hang``: answers
        nothing for ``delay`` seconds) CARLA server would; a failed server fails every call after."""
        if mode not in ("none", "raise", "hang"):
            raise ValueError(f"unknown fault mode {mode!r}; use none, raise or hang")
        self.fault_mode, self.fault_every, self.fault_delay = mode, int(every_ticks), float(delay)

    def check(self) -> None:
        """Called by the world before each tick: raise as a failed server would."""
        if not self.crashed and self.fault_mode != "none" and self.fault_every > 0:
            self.ticks += 1
            if self.ticks % self.fault_every == 0:
                self.crashed = True
                if self.fault_mode == "hang":
                    time.sleep(self.fault_delay)
        if self.crashed:
            raise RuntimeError(f"time-out of {int(self.fault_delay * 1000)}ms while waiting for the simulator, "
                               f"make sure the simulator is ready and connected to {self.host}:{self.port}")

    def stop(self) -> None:
        """Destroy every actor and release the address."""
        if self.world is not None:
            self.world._close()
            self.world = None
        with self._lock:
            self._registry.pop((self.host, self.port), None)

    def load_world(self, town: str, reset_settings: bool = True,
                   map_layers: carla.MapLayer = carla.MapLayer.All) -> World:
        """Unload the current world (destroying its actors) and load ``town``."""
        name, opendrive = resolve_town(town)
        return self._load(load_map(name, opendrive), reset_settings, map_layers)

    def _load(self, town_map, reset_settings: bool, map_layers: carla.MapLayer) -> World:
        settings = carla.WorldSettings()
        if self.world is not None:
            if not reset_settings:
                settings = copy_settings(self.world.get_settings())
            self._frame = self.world._frame
            self.world._close()
        self._episode += 1
        self.world = World(self._episode, town_map, self.library, settings, self._frame, map_layers)
        self.world._server_check = self.check
        logger.debug("embedded server %s:%d loaded %s", self.host, self.port, town_map.name)
        return self.world


def _normalise_host(host: str) -> str:
    return "127.0.0.1" if host in ("localhost", "::1", "") else host


class Client:
    """``carla.Client`` for the embedded world."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2000, worker_threads: int = 0) -> None:
        self._server = EmbeddedServer.at(host, port)
        self._timeout = 5.0

    def set_timeout(self, seconds: float) -> None:
        self._timeout = float(seconds)

    def get_client_version(self) -> str:
        return SERVER_VERSION

    def get_server_version(self) -> str:
        return SERVER_VERSION

    def get_world(self) -> World:
        if self._server.world is None:
            self._server.load_world(DEFAULT_TOWN)
        return self._server.world

    def get_available_maps(self) -> list[str]:
        return available_towns()

    def load_world(self, map_name: str, reset_settings: bool = True,
                   map_layers: carla.MapLayer = carla.MapLayer.All) -> World:
        return self._server.load_world(map_name, reset_settings, map_layers)

    def reload_world(self, reset_settings: bool = True) -> World:
        town_map = self.get_world().get_map()
        return self._server._load(town_map, reset_settings, carla.MapLayer.All)

    def generate_opendrive_world(self, opendrive: str, parameters: Any = None,
                                 reset_settings: bool = True) -> World:
        """Load a world from OpenDRIVE text (``parameters`` are accepted and ignored)."""
        return self._server._load(load_map("OpenDriveMap", opendrive), reset_settings, carla.MapLayer.All)

    def get_trafficmanager(self, port: int = 8000) -> Any:
        """The traffic manager on ``port`` of the current world."""
        return self.get_world().traffic_manager(port)

    def apply_batch(self, commands: Iterable[Any], do_tick: bool = False) -> None:
        """Run commands in order, ignoring their errors; tick afterwards if ``do_tick``."""
        self.apply_batch_sync(commands, do_tick)

    def apply_batch_sync(self, commands: Iterable[Any], do_tick: bool = False) -> list[embedded_command.Response]:
        """Run commands in order; one :class:`~.command.Response` per command."""
        world = self.get_world()
        responses = [self._run(world, cmd, None) for cmd in commands]
        if do_tick:
            world.tick()
        return responses

    def _run(self, world: World, cmd: Any, future_id: int | None) -> embedded_command.Response:
        name = type(cmd).__name__
        try:
            if name == "SpawnActor":
                parent = world.get_actor(cmd.parent_id) if getattr(cmd, "parent_id", 0) else None
                actor = world.spawn_actor(cmd.blueprint, cmd.transform, attach_to=parent)
                for follow_up in getattr(cmd, "next_commands", []):
                    response = self._run(world, follow_up, actor.id)
                    if response.has_error():
                        return embedded_command.Response(actor.id, response.error)
                return embedded_command.Response(actor.id)
            actor_id = cmd.actor_id
            if actor_id is embedded_command.FutureActor or (future_id is not None and actor_id == 0):
                actor_id = future_id
            actor = world.get_actor(actor_id)
            if actor is None:
                return embedded_command.Response(0, f"actor {actor_id} not found")
            if name == "DestroyActor":
                actor.destroy()
            elif name == "SetAutopilot":
                actor.set_autopilot(cmd.enabled, cmd.tm_port)
            elif name in ("ApplyVehicleControl", "ApplyWalkerControl"):
                actor.apply_control(cmd.control)
            elif name == "ApplyTransform":
                actor.set_transform(cmd.transform)
            elif name == "ApplyTargetVelocity":
                actor.set_target_velocity(cmd.velocity)
            elif name == "SetSimulatePhysics":
                actor.set_simulate_physics(cmd.enabled)
            else:
                return embedded_command.Response(actor_id, f"command {name} is not supported "
                                                           f"by the embedded world")
            return embedded_command.Response(actor_id)
        except RuntimeError as error:
            return embedded_command.Response(0, str(error))
