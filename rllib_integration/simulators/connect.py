"""``simulator: connect``: a CARLA server that runs already at ``host:port`` (Docker, another
machine); this environment never starts or stops it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import carla

from ..errors import SimulatorUnavailableError
from .backend import TM_PORT, SimulatorBackend, is_server_error
from .server_manager import port_is_free, probe


class ConnectBackend(SimulatorBackend):
    """Connects to the server at ``host:port``; after a failure it waits for the server to answer
    again (whoever runs it restarts it)."""

    kind = "connect"

    @property
    def command(self) -> ModuleType:
        return carla.command

    def start(self) -> None:
        if not probe(self.host, self.port, timeout=min(2.0, self.config["timeout"])):
            raise SimulatorUnavailableError(
                f"no CARLA server answers at {self.host}:{self.port}. Fix: start one there (e.g. "
                f"CarlaUE4.sh -RenderOffScreen -carla-rpc-port={self.port}) or set env_config.carla.host/port.")
        self.tm_port = next(p for p in range(TM_PORT, TM_PORT + 1000) if port_is_free(p))

    def restart(self) -> None:
        """Nothing to restart here: the next connection attempt waits for the server."""

    def stop(self) -> None:
        """The server is not ours to stop."""

    def client(self) -> carla.Client:
        return carla.Client(self.host, self.port)

    def is_failure(self, error: BaseException) -> bool:
        """carla's client raises ``RuntimeError`` for every failure of the server or the connection (a
        time-out, a refused or broken connection, an RPC the server did not answer)."""
        return is_server_error(error)

    def release(self, world: Any, traffic_manager: Any) -> None:
        """Leave the shared server asynchronous, as it was found."""
        settings = world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = False, None
        world.apply_settings(settings)
        if traffic_manager is not None:
            traffic_manager.set_synchronous_mode(False)
