"""Batch commands of the embedded world: every class of ``carla.command`` (0.9.16), same names,
fields and ``FutureActor`` (0, the id of the actor its enclosing ``SpawnActor`` makes).

``carla.command.SpawnActor`` is a compiled class that only takes a real server's blueprints, so
code that spawns in batches takes its command classes from the backend (this module, or
``carla.command`` on a real server); the runner (``python -m rllib_integration.embedded run``)
puts these classes into ``carla.command`` so unmodified scripts work. ``Client.apply_batch`` also
accepts real ``carla.command`` objects that address actors by id (``DestroyActor(actor_id)``, ...).
"""

from __future__ import annotations

from typing import Any, Callable

FutureActor = 0  # as carla.command.FutureActor: "the actor the enclosing SpawnActor spawned"


def _actor_id(actor: Any) -> int:
    return int(getattr(actor, "id", actor))


class Command:
    """A command for one actor (``actor_id``); ``then`` chains follow-ups of a ``SpawnActor``."""

    def __init__(self, actor: Any = FutureActor) -> None:
        self.actor_id = _actor_id(actor)


class SpawnActor:
    """Spawn ``blueprint`` at ``transform`` (attached to ``parent``); ``.then(command)`` runs
    ``command`` with ``FutureActor`` standing for the new actor."""

    def __init__(self, blueprint: Any, transform: Any, parent: Any = None,
                 attachment_type: Any = None, socket_name: str = "") -> None:
        self.blueprint, self.transform = blueprint, transform
        self.parent_id = _actor_id(parent) if parent is not None else 0
        self.attachment_type, self.socket_name = attachment_type, socket_name
        self.next_commands: list[Command] = []

    def then(self, command: Command) -> "SpawnActor":
        self.next_commands.append(command)
        return self


def _command(name: str, fields: tuple[str, ...], doc: str) -> type:
    """A command class with CARLA's constructor ``(actor, *fields)``."""

    def __init__(self, actor: Any, *values: Any) -> None:
        Command.__init__(self, actor)
        if len(values) > len(fields):
            raise TypeError(f"{name}(actor, {', '.join(fields)}) takes {len(fields) + 1} arguments")
        for field, value in zip(fields, values):
            setattr(self, field, value)

    return type(name, (Command,), {"__init__": __init__, "__doc__": doc})


DestroyActor = _command("DestroyActor", (), "Destroy the actor.")
ApplyVehicleControl = _command("ApplyVehicleControl", ("control",), "Apply a carla.VehicleControl.")
ApplyVehicleAckermannControl = _command("ApplyVehicleAckermannControl", ("control",),
                                        "Apply a carla.VehicleAckermannControl.")
ApplyWalkerControl = _command("ApplyWalkerControl", ("control",), "Apply a carla.WalkerControl.")
ApplyVehiclePhysicsControl = _command("ApplyVehiclePhysicsControl", ("physics_control",),
                                      "Apply a carla.VehiclePhysicsControl.")
ApplyTransform = _command("ApplyTransform", ("transform",), "Teleport the actor.")
ApplyWalkerState = _command("ApplyWalkerState", ("transform", "speed"), "Place a walker and set its speed.")
ApplyTargetVelocity = _command("ApplyTargetVelocity", ("velocity",), "Set the actor's velocity.")
ApplyTargetAngularVelocity = _command("ApplyTargetAngularVelocity", ("angular_velocity",),
                                      "Set the actor's angular velocity.")
ApplyImpulse = _command("ApplyImpulse", ("impulse",), "Add an impulse at the centre of mass.")
ApplyForce = _command("ApplyForce", ("force",), "Add a force for the next tick.")
ApplyAngularImpulse = _command("ApplyAngularImpulse", ("impulse",), "Add an angular impulse.")
ApplyTorque = _command("ApplyTorque", ("torque",), "Add a torque for the next tick.")
SetSimulatePhysics = _command("SetSimulatePhysics", ("enabled",), "Turn the actor's physics on or off.")
SetEnableGravity = _command("SetEnableGravity", ("enabled",), "Turn gravity on or off for the actor.")
SetAutopilot = _command("SetAutopilot", ("enabled", "tm_port"), "Hand the vehicle to a traffic manager.")
SetVehicleLightState = _command("SetVehicleLightState", ("light_state",), "Set a vehicle's lights.")
ShowDebugTelemetry = _command("ShowDebugTelemetry", ("enabled",), "Show a vehicle's telemetry.")

def _walker_state(walker: Any, command: Any) -> None:
    walker.set_transform(command.transform)
    control = walker.get_control()
    control.direction, control.speed = command.transform.get_forward_vector(), float(command.speed)
    walker.apply_control(control)


#: What each command does to its actor: command name -> (actor, command) -> None. Real
#: ``carla.command`` objects have the same names and fields, so both kinds run through this table.
EFFECTS: dict[str, Callable[[Any, Any], None]] = {
    "DestroyActor": lambda actor, c: actor.destroy(),
    "ApplyVehicleControl": lambda actor, c: actor.apply_control(c.control),
    "ApplyVehicleAckermannControl": lambda actor, c: actor.apply_ackermann_control(c.control),
    "ApplyWalkerControl": lambda actor, c: actor.apply_control(c.control),
    "ApplyVehiclePhysicsControl": lambda actor, c: actor.apply_physics_control(c.physics_control),
    "ApplyTransform": lambda actor, c: actor.set_transform(c.transform),
    "ApplyWalkerState": _walker_state,
    "ApplyTargetVelocity": lambda actor, c: actor.set_target_velocity(c.velocity),
    "ApplyTargetAngularVelocity": lambda actor, c: actor.set_target_angular_velocity(c.angular_velocity),
    "ApplyImpulse": lambda actor, c: actor.add_impulse(c.impulse),
    "ApplyForce": lambda actor, c: actor.add_force(c.force),
    "ApplyAngularImpulse": lambda actor, c: actor.add_angular_impulse(c.impulse),
    "ApplyTorque": lambda actor, c: actor.add_torque(c.torque),
    "SetSimulatePhysics": lambda actor, c: actor.set_simulate_physics(c.enabled),
    "SetEnableGravity": lambda actor, c: actor.set_enable_gravity(c.enabled),
    "SetAutopilot": lambda actor, c: actor.set_autopilot(c.enabled, getattr(c, "tm_port", 8000)),
    "SetVehicleLightState": lambda actor, c: actor.set_light_state(c.light_state),
    "ShowDebugTelemetry": lambda actor, c: actor.show_debug_telemetry(c.enabled),
}


class Response:
    """Result of one command of ``apply_batch_sync``: the actor id, or an error message."""

    def __init__(self, actor_id: int = 0, error: str = "") -> None:
        self.actor_id, self.error = actor_id, error

    def has_error(self) -> bool:
        return bool(self.error)

    def __repr__(self) -> str:
        return f"Response(actor_id={self.actor_id}, error={self.error!r})"
