"""Collisions between actors, resolved once per tick after physics.

Every pair of overlapping boxes (vehicles, walkers and props) is a collision of the frame, recorded for
both actors with the impulse of a perfectly inelastic impact (reduced mass times the relative
velocity). The vehicles involved go back to their pose before the tick and stop; boxes that still
overlap there are pushed apart (along the axis of least overlap), so no vehicle stays stuck.
"""

from __future__ import annotations

from typing import Any

import math

import carla
import numpy as np

from . import geometry
from .actors import Prop
from .vehicle import Vehicle
from .dynamics import COLUMN, VehicleStates

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


def resolve_collisions(actors: list[Any], boxes: tuple[np.ndarray, ...], vehicles: VehicleStates,
                       before: np.ndarray) -> list[CollisionRecord]:
    """The collisions of this tick between ``actors`` with ``boxes`` (as ``Simulation.boxes()`` gives
    them); the vehicles involved are put back to their rows of ``before`` and stopped."""
    if len(actors) < 2:
        return []
    pairs = [(i, j) for i, j in geometry.overlapping_pairs(*boxes)
             if not (isinstance(actors[i], Prop) and isinstance(actors[j], Prop))]  # props never move
    records = []
    for i, j in pairs:
        a, b = actors[i], actors[j]
        va, vb = a.get_velocity(), b.get_velocity()
        mass_a, mass_b = mass_of(vehicles, a), mass_of(vehicles, b)
        reduced = mass_a * mass_b / (mass_a + mass_b)
        impulse = carla.Vector3D((vb.x - va.x) * reduced, (vb.y - va.y) * reduced, 0.0)
        records.append(CollisionRecord(a, b, impulse))
        records.append(CollisionRecord(b, a, carla.Vector3D(-impulse.x, -impulse.y, 0.0)))
    for actor in {actors[k] for pair in pairs for k in pair}:
        if isinstance(actor, Vehicle):
            row = vehicles.data[actor.slot]
            for name in ("x", "y", "yaw"):
                row[COLUMN[name]] = before[actor.slot, COLUMN[name]]
            row[COLUMN["speed"]] = 0.0
            row[COLUMN["yaw_rate"]] = 0.0
    for i, j in pairs:
        _separate(actors[i], actors[j], vehicles)
    return records


def _separate(a: Any, b: Any, vehicles: VehicleStates) -> None:
    """Push two boxes that still overlap at their poses before the tick apart (vehicles move; a
    walker or a prop does not), so that neither stays stuck in the other."""
    movers = [actor for actor in (a, b) if isinstance(actor, Vehicle)]
    if not movers:
        return
    boxes = []
    for actor in (a, b):
        t, e = actor.get_transform(), actor.bounding_box.extent
        boxes.append((t.location.x, t.location.y, math.radians(t.rotation.yaw), e.x, e.y))
    (xa, ya, yaw_a, ex_a, ey_a), (xb, yb, yaw_b, ex_b, ey_b) = boxes
    depth, ux, uy = geometry.penetration(xb - xa, yb - ya, yaw_a, ex_a, ey_a, yaw_b, ex_b, ey_b)
    if depth <= 0.0:
        return
    share = (depth + SEPARATION) / len(movers)
    for actor, sign in ((a, -1.0), (b, 1.0)):
        if isinstance(actor, Vehicle):
            row = vehicles.data[actor.slot]
            row[COLUMN["x"]] += sign * ux * share
            row[COLUMN["y"]] += sign * uy * share
