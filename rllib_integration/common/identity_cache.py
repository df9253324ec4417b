"""``IdentityCache``: what was computed from an object, kept for the very same object (not an equal one).

For derived data of objects that are neither hashable nor cheap to compare (a ``carla.Map``, a rendered map
layer): a town's route planner or masks are built once and shared by every hero of a world.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class IdentityCache(Generic[T]):
    """The values built for the last ``size`` objects asked for (most recently used kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: list[tuple[Any, T]] = []

    def get(self, key: Any, build: Callable[[Any], T]) -> T:
        """The value for ``key`` (this object), built with ``build(key)`` the first time."""
        for index, (known, value) in enumerate(self._entries):
            if known is key:
                self._entries.append(self._entries.pop(index))
                return value
        value = build(key)
        self._entries.append((key, value))
        del self._entries[:-self.size]
        return value
