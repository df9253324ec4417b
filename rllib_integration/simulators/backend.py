"""The interface every simulator kind offers ``CarlaCore``.

A backend starts, restarts and stops one simulator (an in-process embedded world, a CARLA server
process of its own, or a server someone else runs), gives clients connected to it, and says which
errors mean that the simulator failed: :meth:`SimulatorBackend.failures` turns those into
:class:`~rllib_integration.errors.SimulatorFailure`, the only error that triggers recovery.
"""

from __future__ import annotations

import abc
from types import ModuleType
from typing import Any, Mapping, Sequence

import carla
import numpy as np

from ..errors import SimulatorFailure, SimulatorRestartedError, SimulatorUnavailableError

#: Traffic manager port of an embedded world, and the first one tried next to a real server.
TM_PORT = 8000


def is_server_error(error: BaseException) -> bool:
    """Whether ``error`` is what carla's client raises when a real server fails: a ``RuntimeError``
    (the library's own error types excepted)."""
    return isinstance(error, RuntimeError) and not isinstance(error, (SimulatorRestartedError, SimulatorUnavailableError))


class SimulatorBackend(abc.ABC):
    """One simulator behind a ``CarlaCore``: its life cycle, its clients and its failures."""

    #: ``embedded``, ``launch`` or ``connect``.
    kind: str = ""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.host: str = config["host"]
        self.port: int = config["port"]
        self.tm_port: int = TM_PORT

    @property
    @abc.abstractmethod
    def command(self) -> ModuleType:
        """The module of batch commands for this simulator's client (``carla.command`` or the embedded one)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Make the simulator reachable at ``host:port`` (raises ``SimulatorUnavailableError``)."""

    @abc.abstractmethod
    def restart(self) -> None:
        """A fresh simulator (or connection) after a failure or for recycling."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Release what :meth:`start` made; safe to call twice."""

    @abc.abstractmethod
    def client(self) -> Any:
        """A new client of the simulator (``carla.Client`` API), timeout not yet set."""

    @abc.abstractmethod
    def is_failure(self, error: BaseException) -> bool:
        """Whether ``error``, raised by a call to the simulator, means that the simulator failed."""

    def apply_controls(self, client: Any, controls: Sequence[tuple[Any, Any]]) -> None:
        """Apply each ``(vehicle, carla.VehicleControl)`` of ``controls`` for the next tick: several in one request
        (``apply_batch_sync``: N heroes' controls cost a server one round trip, not N); an error answered for one
        raises ``RuntimeError`` naming it."""
        if len(controls) == 1:
            vehicle, control = controls[0]
            vehicle.apply_control(control)
            return
        responses = client.apply_batch_sync([self.command.ApplyVehicleControl(vehicle.id, control)
                                             for vehicle, control in controls], False)
        errors = [(vehicle.id, response.error) for (vehicle, _), response in zip(controls, responses)
                  if response.has_error()]
        if errors:
            raise RuntimeError(f"applying the heroes' controls: actor {errors[0][0]}: {errors[0][1]}")

    def apply_control_rows(self, client: Any, world: Any, vehicles: Sequence[Any], rows: Any,
                           ids: Sequence[int] | None = None) -> None:
        """:meth:`apply_controls` with ``carla.VehicleControl(throttle, steer, brake)`` from each vehicle's row of
        ``rows`` (N, 3): many heroes' controls computed as arrays (on the embedded world one write to its vehicle
        table, ``world.apply_vehicle_controls``, with ``apply_control``'s checks); ``ids``: the vehicles' ids, where
        the caller has them."""
        fast = getattr(world, "apply_vehicle_controls", None)
        if callable(fast):
            fast([vehicle.id for vehicle in vehicles] if ids is None else ids, rows)
            return
        self.apply_controls(client, [(vehicle, carla.VehicleControl(throttle=throttle, steer=steer, brake=brake))
                                     for vehicle, (throttle, steer, brake) in zip(vehicles, np.asarray(rows).tolist())])

    def failures(self) -> "FailureGuard":
        """A context in which errors that mean the simulator failed are raised as :class:`SimulatorFailure`; others
        pass unchanged."""
        return FailureGuard(self)

    def memory_bytes(self) -> int:
        """Memory of the simulator's processes (0 where it is not known)."""
        return 0

    def release(self, world: Any, traffic_manager: Any) -> None:
        """Hand the world back when the core closes (a shared server is left asynchronous)."""


class FailureGuard:
    """:meth:`SimulatorBackend.failures`' context (a class, not a generator: a world's tick enters a few of these,
    and a generator's context costs a microsecond more each)."""

    __slots__ = ("backend",)

    def __init__(self, backend: SimulatorBackend) -> None:
        self.backend = backend

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: Any) -> bool:
        failure = as_failure(self.backend, error)
        if failure is not None and failure is not error:
            raise failure from error
        return False


def as_failure(backend: SimulatorBackend, error: BaseException | None) -> SimulatorFailure | None:
    """``error`` as a :class:`SimulatorFailure` where it means that ``backend``'s simulator failed (itself where it is
    one), else None."""
    if error is None or isinstance(error, SimulatorFailure):
        return error
    if isinstance(error, Exception) and backend.is_failure(error):
        return SimulatorFailure(str(error))
    return None
