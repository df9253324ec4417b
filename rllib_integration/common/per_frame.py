"""What is read from a world once per simulator frame and shared by every hero of that world.

:class:`PerFrame` reads again only when asked for another frame; :class:`PerWorld` keeps one value per world
object (the heroes of one world share it) while that world exists. :func:`forget_gone` keeps what such a value keeps
about each actor of its world from piling up as actors come and go; :func:`same_ids` tells whether they did.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Collection, Generic, TypeVar

import numpy as np

T = TypeVar("T")


class PerFrame:
    """Facts of one world at one frame: a subclass implements :meth:`read`."""

    frame: int | None = None

    def at(self, world: Any, frame: int | None) -> "PerFrame":
        """These facts at ``frame`` (read now unless they already are; ``None``: always read)."""
        if frame is None or frame != self.frame:
            self.read(world)
            self.frame = frame
        return self

    def read(self, world: Any) -> None:
        """Read the facts of ``world`` as they are now."""
        raise NotImplementedError


def forget_gone(by_actor: dict[int, Any], present: Collection[int]) -> None:
    """Drop from ``by_actor`` (what is kept about each actor, by id) the actors not ``present``, once it holds more
    than twice as many as are present: every respawn is a new actor id, so what is kept about the actors gone would
    otherwise grow all through a run (a hero's respawns, hundreds a minute in a world of many heroes)."""
    if len(by_actor) > 2 * len(present) + 64:
        present = set(present)  # (made only now: most calls keep everything)
        for actor_id in [actor_id for actor_id in by_actor if actor_id not in present]:
            del by_actor[actor_id]


def same_ids(known: np.ndarray, ids: np.ndarray) -> bool:
    """Whether ``ids`` are the ``known`` ones (the very array where the world hands out one, read-only, while no
    actor came or went: the embedded world's ``actor_poses``)."""
    return ids is known or (len(ids) == len(known) and bool((ids == known).all()))


class PerWorld(Generic[T]):
    """One value per world object, made by ``make()`` on first use and kept while the world is (a world that
    cannot be referenced weakly gets a new value at every call). A value must not refer to its world."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._values: "weakref.WeakKeyDictionary[Any, T]" = weakref.WeakKeyDictionary()
        self._last: tuple[weakref.ref, T] | None = None  # the world last asked for (weakly) and its value

    def __call__(self, world: Any) -> T:
        last = self._last
        if last is not None and last[0]() is world:  # (the same world as the last call: no weak key made)
            return last[1]
        try:
            value = self._values.get(world)
            if value is None:
                value = self._values[world] = self._make()
            self._last = (weakref.ref(world, self._forget_last), value)
            return value
        except TypeError:
            return self._make()

    def _forget_last(self, _: weakref.ref) -> None:
        """The last world asked for is gone: its value goes with it."""
        self._last = None
