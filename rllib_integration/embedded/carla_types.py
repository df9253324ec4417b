"""The embedded world's objects are instances of CARLA's own classes.

Code written for a CARLA server checks types: ScenarioRunner spawns with ``isinstance(actor,
carla.Vehicle)``, CARLA's leaderboard sorts sensor data with ``isinstance(data, carla.Image)``. So
the embedded actors and measurements derive from ``carla.Actor``, ``carla.Vehicle``,
``carla.Image``... whose C++ part is never constructed: every member the embedded class defines
comes first, and :func:`adopt_carla_base` hides the C++ members it does not define, so they read as
absent (``AttributeError``, or the class's ``__getattr__``: a not-simulated method names itself)
rather than failing inside C++. The hiding descriptor is a non-data one, so a field the embedded
object keeps in its ``__dict__`` (``actor.id``) reads at plain attribute speed.
"""

from __future__ import annotations

from typing import Any

CARLA_MODULE = "carla.libcarla"


class _Hidden:
    """A C++ member of a CARLA base class that the embedded class does not define."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        raise AttributeError(f"{(owner or type(instance)).__name__!r} object has no attribute {self.name!r}")


def adopt_carla_base(cls: type) -> type:
    """Hide every public member of ``cls``'s CARLA base classes that ``cls`` does not define itself."""
    own = {name for klass in cls.__mro__ if klass.__module__ not in (CARLA_MODULE, "Boost.Python", "builtins")
           for name in vars(klass)}
    for klass in cls.__mro__:
        if klass.__module__ != CARLA_MODULE:
            continue
        for name in vars(klass):
            if name not in own and not name.startswith("__"):
                setattr(cls, name, _Hidden(name))
                own.add(name)
    return cls
