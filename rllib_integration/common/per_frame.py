"""What is read from a world once per simulator frame and shared by every hero of that world.

:class:`PerFrame` reads again only when asked for another frame; :class:`PerWorld` keeps one value per world
object (the heroes of one world share it) while that world exists.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Generic, TypeVar

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


class PerWorld(Generic[T]):
    """One value per world object, made by ``make()`` on first use and kept while the world is (a world that
    cannot be referenced weakly gets a new value at every call). A value must not refer to its world."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._values: "weakref.WeakKeyDictionary[Any, T]" = weakref.WeakKeyDictionary()

    def __call__(self, world: Any) -> T:
        try:
            value = self._values.get(world)
            if value is None:
                value = self._values[world] = self._make()
            return value
        except TypeError:
            return self._make()
