"""Batch commands of the embedded world, with the names and fields of ``carla.command``.

``carla.command.SpawnActor`` only accepts a real server's blueprints, so code that spawns in
batches takes its command classes from the backend (this module, or ``carla.command`` on a real
server). ``Client.apply_batch`` also accepts real ``carla.command`` objects that address actors
by id (``DestroyActor``, ``SetAutopilot``, ``ApplyVehicleControl``, ...).
"""

from __future__ import annotations

from typing import Any


class FutureActor:
    """Placeholder for the id of the actor spawned by the enclosing ``SpawnActor``."""


def _actor_id(actor: Any) -> Any:
    return getattr(actor, "id", actor)


class _Command:
    def __init__(self) -> None:
        self.next_commands: list["_Command"] = []

    def then(self, command: "_Command") -> "_Command":
        """Run ``command`` after this one, with ``FutureActor`` bound to the spawned actor."""
        self.next_commands.append(command)
        return self


class SpawnActor(_Command):
    def __init__(self, blueprint: Any, transform: Any, parent: Any = None) -> None:
        super().__init__()
        self.blueprint, self.transform = blueprint, transform
        self.parent_id = _actor_id(parent) if parent is not None else 0


class DestroyActor(_Command):
    def __init__(self, actor: Any) -> None:
        super().__init__()
        self.actor_id = _actor_id(actor)


class SetAutopilot(_Command):
    def __init__(self, actor: Any, enabled: bool, tm_port: int = 8000) -> None:
        super().__init__()
        self.actor_id, self.enabled, self.tm_port = _actor_id(actor), enabled, tm_port


class ApplyVehicleControl(_Command):
    def __init__(self, actor: Any, control: Any) -> None:
        super().__init__()
        self.actor_id, self.control = _actor_id(actor), control


class ApplyWalkerControl(_Command):
    def __init__(self, actor: Any, control: Any) -> None:
        super().__init__()
        self.actor_id, self.control = _actor_id(actor), control


class ApplyTransform(_Command):
    def __init__(self, actor: Any, transform: Any) -> None:
        super().__init__()
        self.actor_id, self.transform = _actor_id(actor), transform


class ApplyTargetVelocity(_Command):
    def __init__(self, actor: Any, velocity: Any) -> None:
        super().__init__()
        self.actor_id, self.velocity = _actor_id(actor), velocity


class SetSimulatePhysics(_Command):
    def __init__(self, actor: Any, enabled: bool) -> None:
        super().__init__()
        self.actor_id, self.enabled = _actor_id(actor), enabled


class Response:
    """Result of one command of ``apply_batch_sync``: the actor id, or an error message."""

    def __init__(self, actor_id: int = 0, error: str = "") -> None:
        self.actor_id, self.error = actor_id, error

    def has_error(self) -> bool:
        return bool(self.error)

    def __repr__(self) -> str:
        return f"Response(actor_id={self.actor_id}, error={self.error!r})"
