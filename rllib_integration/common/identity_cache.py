"""``IdentityCache``: what was computed from an object, kept for the very same object (not an equal one);
``SequenceCache``: the same for a sequence of objects (the very same ones, in that order).

For derived data of objects that are neither hashable nor cheap to compare (a ``carla.Map``, a rendered map
layer): a town's route planner or masks are built once and shared by every hero of a world.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Generic, Sequence, TypeVar

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


class SequenceCache(Generic[T]):
    """The values built for the last ``size`` sequences of objects asked for (most recently used kept), by the
    objects' identities: each entry holds its objects, so their ids are theirs while it is kept (a batch's per-hero
    arrays, made again only when its heroes' objects change)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: "OrderedDict[tuple[int, ...], tuple[tuple, T]]" = OrderedDict()

    def get(self, objects: Sequence[Any], build: Callable[[Sequence[Any]], T]) -> T:
        """The value for ``objects`` (these very objects, in this order), built with ``build(objects)`` the first
        time."""
        key = tuple(map(id, objects))
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = (tuple(objects), build(objects))
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return entry[1]
