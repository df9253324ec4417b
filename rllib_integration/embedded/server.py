"""The in-process servers of the embedded world, where a CARLA server process would stand.

An :class:`EmbeddedServer` is addressed by ``(host, port)`` and owns the current world: it composes
the simulation kernel with the traffic subsystem and the ``carla.World`` facade (the one place
where the embedded world's parts are put together), keeps the frame counter across world loads,
and can fail on purpose like a crashing or hanging CARLA server (fault injection).
"""

from __future__ import annotations

import logging
import threading
import time

import carla

from .maps.towns import EmbeddedMap, load_map, resolve_town
from .recorder import Recorder, read_recording
from .replayer import Replayer
from .sensors.catalog import sensor_blueprints, sensor_spawners
from .sim.blueprint_catalog import build_library
from .sim.clock import DEFAULT_PERIOD, FreeRunningClock
from .sim.kernel import Simulation, copy_settings
from .traffic.traffic_manager import TrafficManager, TrafficManagers
from .traffic.walker_ai import WalkerAIController
from .world import World

logger = logging.getLogger(__name__)

#: What ``get_server_version`` reports: the carla API version the embedded world follows.
SERVER_VERSION = "0.9.16"
#: Town loaded when a server starts (a real server starts on Town10HD_Opt).
DEFAULT_TOWN = "GridTown"


class SimulatorCrash(RuntimeError):
    """The embedded server failed (fault injection), with the message a real client would show."""


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
        self.stopped = False  # stop() was called: clients get a time-out, as from a server that quit
        self._sim: Simulation | None = None
        self._traffic: TrafficManagers | None = None
        self._episode = 0
        self._frame = 0
        self.library = build_library(sensor_blueprints())
        self._spawners = {**sensor_spawners(), "controller.ai.walker": WalkerAIController}
        #: Whether asynchronous worlds tick on their own in real time (see :mod:`.sim.clock`).
        self.free_running = False
        self._clock: FreeRunningClock | None = None
        #: The recorder and the replayer (``client.start_recorder``, ``client.replay_file``).
        self.recorder, self.replayer = Recorder(), Replayer()

    @classmethod
    def at(cls, host: str, port: int) -> "EmbeddedServer":
        """The server at an address, started on first use."""
        key = (normalise_host(host), int(port))
        with cls._lock:
            if key not in cls._registry:
                logger.debug("starting an embedded server at %s:%d", *key)
                cls._registry[key] = cls(*key)
            return cls._registry[key]

    @classmethod
    def start(cls, host: str = "localhost", first_port: int = 2000) -> "EmbeddedServer":
        """Start a server on the first free in-process port from ``first_port`` on."""
        key_host = normalise_host(host)
        with cls._lock:
            port = first_port
            while (key_host, port) in cls._registry:
                port += 1
            server = cls._registry[(key_host, port)] = cls(key_host, port)
            return server

    def set_free_running(self, enabled: bool = True) -> None:
        """Let asynchronous worlds tick on their own in real time, as a CARLA server does (the
        script runner turns this on); off, an asynchronous world steps once per wait_for_tick."""
        self.free_running = bool(enabled)
        self._start_clock()

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.stop()
            self._clock = None

    def _start_clock(self) -> None:
        self._stop_clock()
        if self._sim is None:
            return
        sim = self._sim
        sim.free_running = self.free_running
        if self.free_running:
            self._clock = FreeRunningClock(sim.tick, lambda: not sim.settings.synchronous_mode,
                                           lambda: sim.settings.fixed_delta_seconds or DEFAULT_PERIOD, sim.lock).start()

    @classmethod
    def is_running(cls, host: str, port: int) -> bool:
        """Whether a server answers at ``(host, port)`` in this process."""
        return (normalise_host(host), int(port)) in cls._registry

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
        if self.crashed or self.stopped:
            raise SimulatorCrash(f"time-out of {int(self.fault_delay * 1000)}ms while waiting for the simulator, "
                                 f"make sure the simulator is ready and connected to {self.host}:{self.port}")

    def stop(self) -> None:
        """Destroy every actor and release the address."""
        self.stopped = True
        self._stop_clock()
        self.recorder.stop()
        self.replayer.stop(keep_actors=True)
        if self._sim is not None:
            self._sim.close()
            self._sim = self._traffic = self.world = None
        with self._lock:
            self._registry.pop((self.host, self.port), None)

    def load_world(self, town: str, reset_settings: bool = True,
                   map_layers: carla.MapLayer = carla.MapLayer.All) -> World:
        """Unload the current world (destroying its actors) and load ``town``."""
        name, opendrive = resolve_town(town)
        layered = town.rstrip("/").endswith("_Opt")  # as CARLA: only layered (_Opt) towns unload layers
        return self.load_map(load_map(name, opendrive), reset_settings, map_layers if layered else carla.MapLayer.All)

    def load_map(self, town_map: EmbeddedMap, reset_settings: bool = True,
                 map_layers: carla.MapLayer = carla.MapLayer.All) -> World:
        """Unload the current world and load one on ``town_map``."""
        settings, first_actor_id = carla.WorldSettings(), 1
        if self._sim is not None:
            if not reset_settings:
                settings = copy_settings(self._sim.settings)
            self._frame, first_actor_id = self._sim.frame, self._sim.next_actor_id
            self._stop_clock()
            if self.recorder.recording:
                logger.warning("load_world ended the recording %s (it holds the ticks until now); call "
                               "start_recorder again to record the new world", self.recorder.path)
            self.recorder.stop()
            self.replayer.stop(keep_actors=True)
            self._sim.close()
        self._episode += 1
        self._sim = Simulation(self._episode, town_map, settings, self._frame, self._spawners, fault_check=self.check,
                               layers=map_layers, first_actor_id=first_actor_id)
        self._sim.traffic = self._traffic = TrafficManagers(self._sim)
        self.world = World(self._sim, self.library)
        self._start_clock()
        logger.debug("embedded server %s:%d loaded %s", self.host, self.port, town_map.name)
        return self.world

    def start_recorder(self, filename: str, additional_data: bool = False) -> str:
        """Record the current world's ticks to ``filename`` (see :mod:`.recorder`); returns the path."""
        if self._sim is None:
            self.load_world(DEFAULT_TOWN)
        with self._sim.lock:
            return self.recorder.start(self._sim, filename, additional_data)

    def replay_file(self, name: str, start: float, duration: float, follow_id: int) -> str:
        """Play a recording into the current world (see :mod:`.replayer`)."""
        recording = read_recording(name)
        if self._sim is None:
            self.load_world(DEFAULT_TOWN)
        with self._sim.lock:
            return self.replayer.start(self._sim, self.library, recording, start, duration, follow_id)

    def traffic_manager(self, port: int) -> TrafficManager:
        """The traffic manager on ``port`` of the current world (created on first use)."""
        if self._traffic is None:
            self.load_world(DEFAULT_TOWN)
        return self._traffic.get(port)


def normalise_host(host: str) -> str:
    return "127.0.0.1" if host in ("localhost", "::1", "") else host
