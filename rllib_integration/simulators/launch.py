"""``simulator: launch``: a CARLA server process of this environment's own
(:class:`~.server_manager.ServerManager`), on the GPU Ray gave it."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any, Mapping

import carla

from ..errors import SimulatorUnavailableError
from .backend import SimulatorBackend, is_server_error
from .server_manager import ServerLaunchError, ServerManager


class LaunchBackend(SimulatorBackend):
    """Launches ``$CARLA_ROOT/CarlaUE4.sh`` on free ports and restarts it on failure."""

    kind = "launch"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.server: ServerManager | None = None

    @property
    def command(self) -> ModuleType:
        return carla.command

    def start(self) -> None:
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
        try:
            self.server = ServerManager(
                host=self.host, quality_level=self.config["quality_level"],
                show_display=self.config["show_display"],
                resolution=(self.config["resolution_x"], self.config["resolution_y"]),
                gpu=int(gpus[0]) if gpus[0].strip().isdigit() else None,
                start_timeout=self.config["timeout"] * self.config["retries_on_error"])
            self._adopt(self.server.start())
        except ServerLaunchError as error:
            raise SimulatorUnavailableError(str(error)) from None

    def restart(self) -> None:
        try:
            self._adopt(self.server.restart())
        except ServerLaunchError as error:
            raise SimulatorUnavailableError(str(error)) from None

    def _adopt(self, ports: Any) -> None:
        self.port, self.tm_port = ports.rpc, ports.traffic_manager

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self) -> carla.Client:
        return carla.Client(self.host, self.port)

    def is_failure(self, error: BaseException) -> bool:
        """carla's client raises ``RuntimeError`` for every failure of the server or the connection (a
        time-out, a refused or broken connection, an RPC the server did not answer)."""
        return is_server_error(error)

    def memory_bytes(self) -> int:
        return self.server.memory_bytes() if self.server is not None else 0
