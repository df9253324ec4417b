"""``simulator: embedded``: an in-process :mod:`rllib_integration.embedded` world."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Mapping, Sequence

from .. import embedded
from .backend import SimulatorBackend


class EmbeddedBackend(SimulatorBackend):
    """An embedded server on the first free in-process port from ``port`` on; it fails only when
    ``fault_injection`` says so."""

    kind = "embedded"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.server: embedded.EmbeddedServer | None = None

    @property
    def command(self) -> ModuleType:
        return embedded.command

    def start(self) -> None:
        self.server = embedded.EmbeddedServer.start(self.host)
        self.port = self.server.port
        faults = self.config["fault_injection"]
        self.server.inject_faults(faults["mode"], faults["every_ticks"], delay=self.config["timeout"])

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self) -> embedded.Client:
        return embedded.Client(self.host, self.port)

    def apply_controls(self, client: Any, controls: Sequence[tuple[Any, Any]]) -> None:
        """Each vehicle's own ``apply_control`` (in process there is no round trip to save, and it checks the
        values)."""
        for vehicle, control in controls:
            vehicle.apply_control(control)

    def is_failure(self, error: BaseException) -> bool:
        return isinstance(error, embedded.SimulatorCrash)
