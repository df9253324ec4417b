"""``carla.Client`` of the embedded world.

``Client(host, port)`` reaches the in-process :class:`~.server.EmbeddedServer` registered at that
address, starting one on first use, so code written for ``carla.Client`` runs unchanged.
"""

from __future__ import annotations

from typing import Any, Iterable

import carla

from ..common.finite import finite_number
from . import command as embedded_command
from . import recorder
from .maps.towns import available_towns, load_map
from .not_simulated import refuse
from .server import DEFAULT_TOWN, SERVER_VERSION, EmbeddedServer
from .world import World


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
        if self._server.stopped:  # a script's clean-up after the runner stopped the server
            self._server.check()
        if self._server.world is None:
            self._server.load_world(DEFAULT_TOWN)
        return self._server.world

    def get_available_maps(self) -> list[str]:
        return available_towns()

    def load_world(self, map_name: str, reset_settings: bool = True,
                   map_layers: carla.MapLayer = carla.MapLayer.All) -> World:
        return self._server.load_world(map_name, reset_settings, map_layers)

    def load_world_if_different(self, map_name: str, reset_settings: bool = True,
                                map_layers: carla.MapLayer = carla.MapLayer.All) -> World | None:
        """Load ``map_name`` unless the current world already runs it (then None)."""
        current = self.get_world().get_map().name.split("/")[-1]
        if current == map_name.rstrip("/").split("/")[-1].removesuffix(".xodr"):
            return None
        return self.load_world(map_name, reset_settings, map_layers)

    def __getattr__(self, name: str) -> Any:
        refuse(["Client"], name)

    def reload_world(self, reset_settings: bool = True) -> World:
        return self._server.load_map(self.get_world().get_map(), reset_settings)

    def generate_opendrive_world(self, opendrive: str, parameters: Any = None,
                                 reset_settings: bool = True) -> World:
        """Load a world from OpenDRIVE text (``parameters`` are accepted and ignored)."""
        return self._server.load_map(load_map("OpenDriveMap", opendrive), reset_settings)

    # -- recorder and replayer (see .recorder and .replayer) --------------------------------------
    def start_recorder(self, filename: str, additional_data: bool = False) -> str:
        """Record every tick to ``filename`` (a plain name goes to the recordings folder); returns
        the file's path."""
        return self._server.start_recorder(filename, additional_data)

    def stop_recorder(self) -> None:
        self._server.recorder.stop()

    def replay_file(self, name: str, start: float, duration: float, follow_id: int,
                    replay_sensors: bool = False) -> str:
        """Replay a recording from ``start`` s (negative: from its end) for ``duration`` s (0: all),
        the spectator following actor ``follow_id`` (0: none); sensors are not replayed."""
        start = finite_number(start, "replay_file: start")
        duration = finite_number(duration, "replay_file: duration", 0.0)
        return self._server.replay_file(name, start, duration, follow_id)

    def stop_replayer(self, keep_actors: bool) -> None:
        self._server.replayer.stop(keep_actors)

    def set_replayer_time_factor(self, time_factor: float = 1.0) -> None:
        self._server.replayer.time_factor = finite_number(time_factor, "set_replayer_time_factor", 0.0, 1.0e4)

    def set_replayer_ignore_hero(self, ignore_hero: bool) -> None:
        self._server.replayer.ignore_hero = bool(ignore_hero)

    def set_replayer_ignore_spectator(self, ignore_spectator: bool) -> None:
        self._server.replayer.ignore_spectator = bool(ignore_spectator)

    def show_recorder_file_info(self, filename: str, show_all: bool = False) -> str:
        return recorder.file_info(recorder.read_recording(filename), show_all)

    def show_recorder_collisions(self, filename: str, category1: str, category2: str) -> str:
        return recorder.collisions_table(recorder.read_recording(filename), category1, category2)

    def show_recorder_actors_blocked(self, filename: str, min_time: float = 60.0, min_distance: float = 100.0) -> str:
        """Actors that moved less than ``min_distance`` centimetres in ``min_time`` seconds."""
        return recorder.blocked_table(recorder.read_recording(filename), min_time, min_distance)

    def get_trafficmanager(self, port: int = 8000) -> Any:
        """The traffic manager on ``port`` of the current world."""
        return self._server.traffic_manager(port)

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
            effect = embedded_command.EFFECTS.get(name)
            if effect is None:
                return embedded_command.Response(0, f"command {name} is not a carla.command")
            actor_id = cmd.actor_id
            if future_id is not None and actor_id == embedded_command.FutureActor:
                actor_id = future_id
            actor = world.get_actor(actor_id)
            if actor is None:
                return embedded_command.Response(0, f"actor {actor_id} not found")
            effect(actor, cmd)
            return embedded_command.Response(actor_id)
        except (RuntimeError, AttributeError, NotImplementedError, ValueError) as error:  # ValueError: not finite
            return embedded_command.Response(0, f"{name}: {error}")
