"""Collisions between actors, resolved once per tick after physics.

Every pair of overlapping boxes (vehicles, walkers and props) is a collision of the frame, recorded for
both actors with the impulse exchanged. Overlapping boxes are pushed apart along the axis of least
overlap (the separating-axis test), as a rigid-body solver separates them:

- two vehicles share the push in inverse proportion to their masses and exchange an impulse along the
  contact normal (restitution :data:`~.contacts.RESTITUTION`) with friction across it: a rear-end
  shunt pushes the car ahead, a side scrape slows both; neither is held in place;
- a walker against a vehicle (CARLA's pedestrians are kinematic characters): the walker steps out of
  the vehicle's way, and the vehicle feels the impulse of a body of :data:`WALKER_MASS`;
- props, and vehicles whose physics is off, do not move: the other actor is pushed off them;
- ground clutter (a prop no taller than :data:`~.actors.Prop.OVERRUN_HEIGHT`: debris, planks) is driven
  and walked over, no collision (ScenarioRunner's ControlLoss puts dirt debris on the ego's lane to be
  driven through);
- two walkers pass each other (CARLA's crowd steers its agents apart; pushing instead let a walker shove one
  standing at its destination along the sidewalk, and off it into the road).
"""

from __future__ import annotations

import math
from typing import Any

import carla
import numpy as np

from . import geometry
from .actors import Prop, Walker
from .contacts import FRICTION, RESTITUTION, apply_velocity_change
from .dynamics import COLUMN, VehicleStates
from .vehicle import Vehicle

#: Mass given to actors that are not vehicles (walkers), kg.
WALKER_MASS = 70.0
#: Gap left between two boxes pushed apart after a collision, metres.
SEPARATION = 0.05


class CollisionRecord:
    """One collision of ``actor`` with ``other_actor`` during a tick."""

    def __init__(self, actor: Any, other_actor: Any, normal_impulse: carla.Vector3D) -> None:
        self.actor, self.other_actor, self.normal_impulse = actor, other_actor, normal_impulse


def mass_of(vehicles: VehicleStates, actor: Any) -> float:
    if isinstance(actor, Vehicle):
        return float(vehicles.data[actor.slot, COLUMN["mass"]])
    return getattr(actor, "mass", WALKER_MASS)


def _movable(vehicles: VehicleStates, actor: Any) -> bool:
    """Whether contacts move the actor: a vehicle under physics, or a walker."""
    if isinstance(actor, Vehicle):
        return vehicles.data[actor.slot, COLUMN["frozen"]] == 0.0
    return isinstance(actor, Walker)


def _collide(a: Any, b: Any) -> bool:
    """Whether two overlapping actors collide: props never move and clutter is passed over; walkers
    pass each other."""
    if isinstance(a, Prop) and (a.overrun or isinstance(b, Prop)) or isinstance(b, Prop) and b.overrun:
        return False
    return not (isinstance(a, Walker) and isinstance(b, Walker))


def resolve_collisions(actors: list[Any], boxes: np.ndarray, vehicles: VehicleStates
                       ) -> list[CollisionRecord]:
    """The collisions of this tick between ``actors`` with ``boxes`` (as ``Simulation.boxes()`` gives
    them), resolved (see the module docstring)."""
    if len(actors) < 2:
        return []
    pairs = [(i, j) for i, j in geometry.overlapping_pairs(boxes)
             if actors[i] is not actors[j] and _collide(actors[i], actors[j])]  # (a vehicle and its own open door)
    records = []
    for i, j in pairs:
        a, b = actors[i], actors[j]
        jx, jy = _resolve(a, b, vehicles, _row(boxes, i), _row(boxes, j))
        records.append(CollisionRecord(a, b, carla.Vector3D(-jx, -jy, 0.0)))
        records.append(CollisionRecord(b, a, carla.Vector3D(jx, jy, 0.0)))
    return records


def _row(boxes: np.ndarray, index: int) -> tuple[float, float, float, float, float]:
    """Box ``index``'s ``(x, y, yaw, ex, ey)`` (the body, or an open door, of its actor)."""
    return tuple(boxes[index, :5].tolist())


def _velocity(vehicles: VehicleStates, actor: Any) -> tuple[float, float]:
    if isinstance(actor, Vehicle):
        vx, vy, _ = vehicles.velocity(actor.slot)
        return vx, vy
    v = actor.get_velocity()
    return v.x, v.y


def _resolve(a: Any, b: Any, vehicles: VehicleStates, box_a: tuple[float, ...], box_b: tuple[float, ...]
             ) -> tuple[float, float]:
    """Push ``a`` and ``b`` (their overlapping boxes ``box_a``, ``box_b``) apart and exchange their impulse;
    returns the impulse on ``b`` (N·s)."""
    (xa, ya, yaw_a, ex_a, ey_a), (xb, yb, yaw_b, ex_b, ey_b) = box_a, box_b
    depth, ux, uy = geometry.penetration(xb - xa, yb - ya, yaw_a, ex_a, ey_a, yaw_b, ex_b, ey_b)
    if depth <= 0.0:
        return 0.0, 0.0
    move_a, move_b = _movable(vehicles, a), _movable(vehicles, b)
    if not (move_a or move_b):
        return 0.0, 0.0
    mass_a, mass_b = mass_of(vehicles, a), mass_of(vehicles, b)
    walker_a, walker_b = isinstance(a, Walker), isinstance(b, Walker)
    # who moves: a walker steps aside for a vehicle; otherwise in inverse proportion to mass
    if walker_a != walker_b and move_a and move_b:
        share_a = 1.0 if walker_a else 0.0
    elif move_a and move_b:
        share_a = mass_b / (mass_a + mass_b)
    else:
        share_a = 1.0 if move_a else 0.0
    push = depth + SEPARATION
    _move(a, vehicles, -ux * push * share_a, -uy * push * share_a)
    _move(b, vehicles, ux * push * (1.0 - share_a), uy * push * (1.0 - share_a))
    # the impulse along the normal (a -> b), with friction across it
    vax, vay = _velocity(vehicles, a)
    vbx, vby = _velocity(vehicles, b)
    closing = (vbx - vax) * ux + (vby - vay) * uy
    if closing >= 0.0:
        return 0.0, 0.0
    # a walker is kinematic (the impulse does not move it) but its body still gives the vehicle one
    inverse_a = 1.0 / mass_a if move_a else 0.0
    inverse_b = 1.0 / mass_b if move_b else 0.0
    if inverse_a + inverse_b <= 0.0:
        return 0.0, 0.0
    normal = -(1.0 + RESTITUTION) * closing / (inverse_a + inverse_b)
    tx, ty = (vbx - vax) - closing * ux, (vby - vay) - closing * uy
    slide = math.hypot(tx, ty)
    tangent = min(FRICTION * normal, slide / (inverse_a + inverse_b)) if slide > 1e-9 else 0.0
    jx = normal * ux - (tangent * tx / slide if slide > 1e-9 else 0.0)
    jy = normal * uy - (tangent * ty / slide if slide > 1e-9 else 0.0)
    contact = ((xa + xb) / 2.0, (ya + yb) / 2.0)
    for actor, sign, inverse in ((a, -1.0, inverse_a), (b, 1.0, inverse_b)):
        if isinstance(actor, Vehicle) and inverse > 0.0:
            scale = sign * inverse
            apply_velocity_change(vehicles.data[actor.slot], jx * scale, jy * scale, *contact)
    return jx, jy


def _move(actor: Any, vehicles: VehicleStates, dx: float, dy: float) -> None:
    if dx == 0.0 and dy == 0.0:
        return
    if isinstance(actor, Vehicle):
        row = vehicles.data[actor.slot]
        row[COLUMN["x"]] += dx
        row[COLUMN["y"]] += dy
    elif isinstance(actor, Walker):
        actor.push(dx, dy)
