"""Actors of the embedded world, mirroring ``carla.Actor``, ``carla.Vehicle`` and ``carla.Walker``.

Each actor is a facade with CARLA's API over the simulation kernel (:class:`~.kernel.Simulation`)
that created it. Vehicles (:mod:`.vehicle`) keep their state in the kernel's vehicle table; other
actors keep a transform of their own, and actors attached to a parent follow it rigidly. Units and axes are CARLA's: metres, degrees,
left-handed yaw.
"""

from __future__ import annotations

import fnmatch
import math
import struct
from typing import Any, Iterable, Iterator, Protocol

import carla
import numpy as np

from ...common.finite import finite_number, finite_transform, finite_vector
from ..carla_types import adopt_carla_base
from ..not_simulated import NotSimulatedError, refuse
from .clock import serialised, unlocked
from .dynamics import VehicleStates


class ActorHost(Protocol):
    """What actors use of the kernel that created them (:class:`~.kernel.Simulation` provides it)."""

    world: Any  # the carla.World facade, for get_world()
    vehicles: VehicleStates  # the state table vehicles read and write their row of
    traffic: Any  # the traffic managers by port, for set_autopilot()
    speed_limits: Any  # ``at(location)`` in km/h, for get_speed_limit()
    signals: Any  # the traffic lights and signs
    lock: Any  # the re-entrant lock every public actor method runs under (see :mod:`.clock`)

    def destroy(self, actor: "Actor") -> bool: ...

    def traffic_light_of(self, slot: int) -> Any: ...


def compose(parent: carla.Transform, child: carla.Transform) -> carla.Transform:
    """World transform of ``child`` given relative to ``parent``."""
    rotation = child.rotation
    if rotation.pitch == 0.0 and rotation.yaw == 0.0 and rotation.roll == 0.0:  # most sensors: no turn of their own
        location = carla.Location(child.location.x, child.location.y, child.location.z)
        return carla.Transform(parent.transform(location), parent.rotation)
    matrix = np.array(parent.get_matrix()) @ np.array(child.get_matrix())
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, matrix[2, 0]))))
    yaw = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    roll = math.degrees(math.atan2(-matrix[2, 1], matrix[2, 2]))
    return carla.Transform(carla.Location(*matrix[:3, 3]), carla.Rotation(pitch=pitch, yaw=yaw, roll=roll))


@adopt_carla_base
@serialised
class Actor(carla.Actor):
    """Any actor: identity, attributes, transform and motion getters, ``destroy``. A ``carla.Actor``
    (and each kind its ``carla.Vehicle``, ``carla.Walker``...: see :mod:`..carla_types`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        serialised(cls)  # every actor's methods run under the simulation lock
        adopt_carla_base(cls)

    def __getattr__(self, name: str) -> Any:
        refuse([cls.__name__ for cls in type(self).__mro__], name)

    @property
    def is_dormant(self) -> bool:
        """Whether the actor sleeps beyond the active distance of a large map (never: towns are small)."""
        return False

    def __init__(self, sim: ActorHost, actor_id: int, type_id: str, attributes: dict[str, str],
                 transform: carla.Transform, extent: carla.Vector3D | None = None,
                 parent: "Actor | None" = None) -> None:
        self._sim = sim
        self.simulation_lock = sim.lock  # what every public method runs under (see .clock)
        self.id = actor_id
        self.type_id = type_id
        self.attributes = dict(attributes)
        self.parent = parent
        self.is_alive = True
        self.semantic_tags: list[int] = []
        extent = extent or carla.Vector3D(0.0, 0.0, 0.0)
        self.bounding_box = carla.BoundingBox(carla.Location(0.0, 0.0, extent.z), extent)
        self._transform = carla.Transform(transform.location, transform.rotation)
        self._velocity = carla.Vector3D()
        self._simulate_physics = True

    # -- identity ---------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.is_alive

    @property
    def actor_state(self) -> carla.ActorState:
        return carla.ActorState.Active if self.is_alive else carla.ActorState.Invalid

    def get_world(self) -> Any:
        """The ``carla.World`` facade of the world this actor lives in."""
        return self._sim.world

    # -- pose and motion --------------------------------------------------------------------
    def get_transform(self) -> carla.Transform:
        if not self.is_alive:  # CARLA reads a destroyed actor's state as an all-zero snapshot
            return carla.Transform()
        if self.parent is not None:
            return compose(self.parent.get_transform(), self._transform)
        return carla.Transform(self._transform.location, self._transform.rotation)

    def get_location(self) -> carla.Location:
        return self.get_transform().location

    @unlocked
    def pose(self) -> tuple[float, float, float, float]:
        """``(x, y, z, yaw degrees)`` of :meth:`get_transform`, read without making a ``carla.Transform`` (the
        simulation reads every walker's and prop's each tick, under its lock)."""
        if not self.is_alive or self.parent is not None:
            t = self.get_transform()
            return t.location.x, t.location.y, t.location.z, t.rotation.yaw
        location = self._transform.location
        return location.x, location.y, location.z, self._transform.rotation.yaw

    @unlocked
    def speed(self) -> float:
        """``get_velocity().length()`` (m/s), read without copying the velocity (the simulation reads every walker's
        each time the traffic manager plans, under its lock)."""
        if not self.is_alive or self.parent is not None:
            return self.get_velocity().length()
        return self._velocity.length()

    def get_velocity(self) -> carla.Vector3D:
        if not self.is_alive:
            return carla.Vector3D()
        if self.parent is not None:
            return self.parent.get_velocity()
        return carla.Vector3D(self._velocity.x, self._velocity.y, self._velocity.z)

    def get_angular_velocity(self) -> carla.Vector3D:
        return carla.Vector3D()

    def get_acceleration(self) -> carla.Vector3D:
        return carla.Vector3D()

    def set_transform(self, transform: carla.Transform) -> None:
        finite_transform(transform, f"{self.type_id}.set_transform")
        self._transform = carla.Transform(transform.location, transform.rotation)

    def set_location(self, location: carla.Location) -> None:
        self.set_transform(carla.Transform(location, self.get_transform().rotation))

    def set_target_velocity(self, velocity: carla.Vector3D) -> None:
        finite_vector(velocity, f"{self.type_id}.set_target_velocity")
        self._velocity = carla.Vector3D(velocity.x, velocity.y, velocity.z)

    def set_target_angular_velocity(self, angular_velocity: carla.Vector3D) -> None:
        """Accepted for compatibility; only vehicles rotate in the embedded world."""
        finite_vector(angular_velocity, f"{self.type_id}.set_target_angular_velocity")

    def set_simulate_physics(self, enabled: bool = True) -> None:
        self._simulate_physics = bool(enabled)

    def set_enable_gravity(self, enabled: bool = True) -> None:
        """Accepted for compatibility; gravity always applies to vehicles."""

    def add_impulse(self, impulse: carla.Vector3D) -> None:
        raise NotSimulatedError(f"{self.type_id}: only vehicles respond to forces in the embedded world")

    add_force = add_angular_impulse = add_torque = enable_constant_velocity = add_impulse

    def disable_constant_velocity(self) -> None:
        """Nothing to disable: only vehicles keep a constant velocity."""

    def destroy(self) -> bool:
        """Remove the actor (and the actors attached to it); False if it was already gone."""
        return self._sim.destroy(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Actor) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Actor(id={self.id}, type={self.type_id})"

    __str__ = __repr__


#: A walker control's direction (x, y, z) and speed as ``carla.WalkerControl`` holds them: 32-bit floats.
_SINGLES = struct.Struct("4f")


class Walker(Actor, carla.Walker):
    """A pedestrian moved by ``apply_control(carla.WalkerControl)`` in straight lines. As in
    CARLA, its location is the centre of its box (vehicles': the bottom centre)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.bounding_box = carla.BoundingBox(carla.Location(), self.bounding_box.extent)
        # the control's values, as the carla.WalkerControl it was given holds them (32-bit floats)
        self._direction, self._speed, self._jump = (1.0, 0.0, 0.0), 0.0, False

    def apply_control(self, control: carla.WalkerControl) -> None:
        direction = control.direction
        finite_vector(direction, f"{self.type_id}.apply_control: direction")
        speed = finite_number(control.speed, f"{self.type_id}.apply_control: speed")
        x, y, z, speed = _SINGLES.unpack(_SINGLES.pack(direction.x, direction.y, direction.z, speed))
        self._direction, self._speed, self._jump = (x, y, z), speed, bool(control.jump)

    def get_control(self) -> carla.WalkerControl:
        return carla.WalkerControl(carla.Vector3D(*self._direction), self._speed, self._jump)

    @unlocked
    def steer(self, dx: float, dy: float, speed: float) -> None:
        """``apply_control(carla.WalkerControl(carla.Vector3D(dx, dy, 0.0), speed))`` for the simulation's own
        walker AI, within its tick: the same control (rounded to 32-bit floats as that control holds them), checked
        only for being finite (the checks and the control objects cost a walker a few microseconds a tick)."""
        if not (math.isfinite(dx) and math.isfinite(dy) and math.isfinite(speed)):
            self.apply_control(carla.WalkerControl(carla.Vector3D(dx, dy, 0.0), speed))  # raises, naming the value
        dx, dy, _, speed = _SINGLES.unpack(_SINGLES.pack(dx, dy, 0.0, speed))
        self._direction, self._speed, self._jump = (dx, dy, 0.0), speed, False

    def push(self, dx: float, dy: float) -> None:
        """Step ``dx, dy`` metres aside (out of a vehicle's way: the kernel's collision response)."""
        loc = self._transform.location
        self._transform = carla.Transform(carla.Location(loc.x + dx, loc.y + dy, loc.z), self._transform.rotation)

    @unlocked
    def advance(self, dt: float) -> None:
        """Walk for ``dt`` seconds under the current control (called by the kernel's tick). The pose is written in
        place (no one else holds it: ``get_transform`` gives copies), as 32-bit floats, as a new one would hold it."""
        (dx, dy, _), speed = self._direction, self._speed
        norm = math.hypot(dx, dy)
        if not self._simulate_physics or norm < 1e-9 or speed <= 0.0:
            self._velocity = carla.Vector3D()
            return
        vx, vy = dx / norm * speed, dy / norm * speed
        location, rotation = self._transform.location, self._transform.rotation
        location.x, location.y = location.x + vx * dt, location.y + vy * dt
        rotation.pitch, rotation.yaw, rotation.roll = 0.0, math.degrees(math.atan2(vy, vx)), 0.0
        self._velocity = carla.Vector3D(vx, vy, 0.0)


class Prop(Actor):
    """A static prop (``static.prop.*``): an immovable box standing on the ground that vehicles and
    walkers collide with and sensors see (semantic tag Static). Like a vehicle, its location is the
    bottom centre of its box."""

    #: Mass by the blueprint's ``size`` class, kg (for collision impulses).
    MASSES = {"tiny": 2.0, "small": 10.0, "medium": 100.0, "big": 1000.0, "huge": 10000.0}
    #: Props up to this tall (m) lie on the ground: wheels and feet go over them (no collision).
    OVERRUN_HEIGHT = 0.12

    @classmethod
    def lies_flat(cls, height: float) -> bool:
        """Whether a prop this tall (m) is ground clutter that vehicles and walkers pass over."""
        return height <= cls.OVERRUN_HEIGHT

    @property
    def overrun(self) -> bool:
        """Whether vehicles and walkers pass over the prop (debris, planks) instead of hitting it."""
        return self.lies_flat(2.0 * self.bounding_box.extent.z)

    @property
    def mass(self) -> float:
        return self.MASSES.get(self.attributes.get("size", "medium"), 100.0)

    def set_target_velocity(self, velocity: carla.Vector3D) -> None:
        """Props do not move (their physics is off, as a spawned CARLA prop's by default)."""


class ActorList:
    """A list of actors (``carla.ActorList``) with ``filter`` and ``find``."""

    def __init__(self, actors: Iterable[Actor]) -> None:
        self._actors = list(actors)

    def filter(self, wildcard: str) -> "ActorList":
        return ActorList(a for a in self._actors if fnmatch.fnmatchcase(a.type_id, wildcard))

    def find(self, actor_id: int) -> Actor | None:
        return next((a for a in self._actors if a.id == actor_id), None)

    def __iter__(self) -> Iterator[Actor]:
        return iter(self._actors)

    def __len__(self) -> int:
        return len(self._actors)

    def __getitem__(self, index: int) -> Actor:
        return self._actors[index]

    def __repr__(self) -> str:
        return f"ActorList({self._actors})"
