"""Blueprints of the embedded world: ``carla.BlueprintLibrary``, ``carla.ActorBlueprint`` and
``carla.ActorAttribute`` with CARLA's semantics.

- An attribute converts as CARLA's does: ``int(a)``, ``float(a)``, ``bool(a)`` and ``as_int`` ...
  ``as_color`` raise ``RuntimeError`` ("bad attribute cast") unless the attribute has that type;
  ``as_str()`` gives the value of any attribute; ``a == 'car'`` compares the value text, ``a == 2``
  and ``a == True`` compare the number or flag; ``str(a)`` is CARLA's
  ``ActorAttribute(id=...,type=...,value=...)`` form, ``(const)`` marking a fixed attribute.
- ``set_attribute`` checks the value against the type (and against the recommended values where
  CARLA restricts them) and refuses fixed attributes.
- ``BlueprintLibrary.filter`` matches wildcards against ids and tags, ``find`` raises ``IndexError``
  for an unknown id; blueprints are copied when fetched, as a real server's are.

What blueprints exist and their attributes (CARLA 0.9.16's) is :mod:`.blueprint_catalog`'s.
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Iterator, Sequence

import carla

Bool, Int, Float, String, RGBColor = (carla.ActorAttributeType.Bool, carla.ActorAttributeType.Int,
                                      carla.ActorAttributeType.Float, carla.ActorAttributeType.String,
                                      carla.ActorAttributeType.RGBColor)

#: How ``str(attribute)`` names each type, as CARLA prints them.
_TYPE_NAMES = {Bool: "bool", Int: "int", Float: "float", String: "str", RGBColor: "Color"}


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(value)
    return lowered in ("true", "1")


def _parse_color(value: str) -> carla.Color:
    parts = [int(part) for part in value.split(",")]
    if len(parts) != 3 or not all(0 <= part <= 255 for part in parts):
        raise ValueError(value)
    return carla.Color(*parts)


_PARSERS = {Bool: _parse_bool, Int: int, Float: lambda value: float(value.rstrip("f")), RGBColor: _parse_color,
            String: str}


class ActorAttribute:
    """One attribute of a blueprint (``carla.ActorAttribute``)."""

    def __init__(self, attribute_id: str, attribute_type: carla.ActorAttributeType, value: str,
                 recommended_values: Sequence[str] = (), is_modifiable: bool = True,
                 restrict_to_recommended: bool = False) -> None:
        self._id = attribute_id
        self._type = attribute_type
        self._recommended = [str(v) for v in recommended_values]
        self._modifiable = bool(is_modifiable)
        self._restricted = bool(restrict_to_recommended)
        self._value = ""
        self.set_value(value)
        if not self._recommended and self._modifiable:  # CARLA's variations recommend their default
            self._recommended = [self._value]

    # -- read-only properties, as CARLA's ------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def type(self) -> carla.ActorAttributeType:
        return self._type

    @property
    def recommended_values(self) -> list[str]:
        return list(self._recommended)

    @property
    def is_modifiable(self) -> bool:
        return self._modifiable

    def set_value(self, value: object) -> None:
        """Check ``value`` against the type (and the recommended values if restricted) and keep it;
        used by ``ActorBlueprint.set_attribute``."""
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            _PARSERS[self._type](text)
        except (ValueError, TypeError):
            raise RuntimeError(f"{self._id}: invalid value '{text}' for an attribute of type "
                               f"{_TYPE_NAMES[self._type]}") from None
        if self._restricted and text not in self._recommended:
            raise RuntimeError(f"{self._id}: '{text}' is not one of its values {self._recommended}")
        self._value = text

    def copy(self) -> "ActorAttribute":
        return ActorAttribute(self._id, self._type, self._value, self._recommended, self._modifiable, self._restricted)

    # -- conversions -------------------------------------------------------------------------
    def _cast(self, wanted: carla.ActorAttributeType):
        if self._type != wanted:
            raise RuntimeError(f"{self._id}: bad attribute cast: cannot convert to {_TYPE_NAMES[wanted]} "
                               f"(the attribute is {_TYPE_NAMES[self._type]}; use as_str())")
        return _PARSERS[wanted](self._value)

    def as_bool(self) -> bool:
        return self._cast(Bool)

    def as_int(self) -> int:
        return self._cast(Int)

    def as_float(self) -> float:
        return self._cast(Float)

    def as_str(self) -> str:
        return self._value

    def as_color(self) -> carla.Color:
        return self._cast(RGBColor)

    def __int__(self) -> int:
        return self.as_int()

    def __float__(self) -> float:
        return self.as_float()

    def __bool__(self) -> bool:
        return self.as_bool()

    __nonzero__ = __bool__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ActorAttribute):
            return (self._id, self._type, self._value) == (other._id, other._type, other._value)
        if isinstance(other, str):
            return self._value == other
        if isinstance(other, bool):
            return self.as_bool() == other
        if isinstance(other, int):
            return (self.as_int() if self._type == Int else self.as_float()) == other
        if isinstance(other, float):
            return (float(self.as_int()) if self._type == Int else self.as_float()) == other
        if isinstance(other, carla.Color):
            return self.as_color() == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # mutable, compared by value

    def __str__(self) -> str:
        value = self._value
        if self._type == RGBColor:
            color = self.as_color()
            value = f"Color({color.r},{color.g},{color.b},{color.a})"
        suffix = "" if self._modifiable else "(const)"
        return f"ActorAttribute(id={self._id},type={_TYPE_NAMES[self._type]},value={value}{suffix})"

    __repr__ = __str__


class ActorBlueprint:
    """A blueprint (``carla.ActorBlueprint``): an id, tags and a set of attributes."""

    def __init__(self, blueprint_id: str, attributes: Iterable[ActorAttribute],
                 size: tuple[float, float, float] = (0.0, 0.0, 0.0), tags: Iterable[str] | None = None) -> None:
        self.id = blueprint_id
        self.tags = sorted(set(tags if tags is not None else blueprint_id.split(".")))
        self._attributes = {attribute.id: attribute for attribute in attributes}
        #: (width, length, height) in metres of what it spawns; not part of the carla API.
        self.size = size

    def has_tag(self, tag: str) -> bool:
        return tag in self.tags

    def match_tags(self, wildcard: str) -> bool:
        return any(fnmatch.fnmatchcase(tag, wildcard) for tag in self.tags)

    def has_attribute(self, attribute_id: str) -> bool:
        return attribute_id in self._attributes

    def get_attribute(self, attribute_id: str) -> ActorAttribute:
        """A copy of the attribute (raises ``IndexError`` naming the ones it has)."""
        if attribute_id not in self._attributes:
            raise IndexError(f"blueprint '{self.id}' has no attribute '{attribute_id}'; it has: "
                             f"{', '.join(sorted(self._attributes))}")
        return self._attributes[attribute_id].copy()

    def set_attribute(self, attribute_id: str, value: str) -> None:
        if attribute_id not in self._attributes:
            self.get_attribute(attribute_id)  # raises the IndexError
        attribute = self._attributes[attribute_id]
        if not attribute.is_modifiable:
            raise IndexError(f"attribute '{attribute_id}' of '{self.id}' is not modifiable")
        attribute = self._attributes[attribute_id] = attribute.copy()  # the copies it shares it with keep theirs
        attribute.set_value(value)

    def copy(self) -> "ActorBlueprint":
        """An independent copy (a real server copies blueprints when they are fetched). It shares the attributes
        until one is set (:meth:`set_attribute` sets a copy of it): copying a library of blueprints for a filter
        copies no attribute."""
        return ActorBlueprint(self.id, self._attributes.values(), self.size, self.tags)

    def attribute_values(self) -> dict[str, str]:
        """The ``actor.attributes`` dict an actor spawned from this blueprint carries."""
        return {key: attribute.as_str() for key, attribute in self._attributes.items()}

    def __iter__(self) -> Iterator[ActorAttribute]:
        return iter([a.copy() for a in self._attributes.values()])

    def __len__(self) -> int:
        return len(self._attributes)

    def __str__(self) -> str:
        return f"ActorBlueprint(id={self.id},tags={self.tags})"

    __repr__ = __str__


class BlueprintLibrary:
    """A list of blueprints (``carla.BlueprintLibrary``)."""

    def __init__(self, blueprints: Iterable[ActorBlueprint]) -> None:
        self._blueprints = list(blueprints)
        self._by_id: dict[str, ActorBlueprint] | None = None  # the first blueprint of each id, made when first found

    def filter(self, wildcard: str) -> "BlueprintLibrary":
        """Blueprints whose id or any tag matches ``wildcard`` (fnmatch rules, as CARLA)."""
        return BlueprintLibrary(b for b in self._blueprints
                                if fnmatch.fnmatchcase(b.id, wildcard) or b.match_tags(wildcard))

    def filter_by_attribute(self, name: str, value: str) -> "BlueprintLibrary":
        """Blueprints with attribute ``name`` equal to ``value`` (compared as text)."""
        return BlueprintLibrary(b for b in self._blueprints
                                if b.has_attribute(name) and b.get_attribute(name).as_str() == str(value))

    def find(self, blueprint_id: str) -> ActorBlueprint:
        if self._by_id is None:  # (a hero's and its sensors' blueprints are found at every respawn)
            self._by_id = {}
            for blueprint in self._blueprints:
                self._by_id.setdefault(blueprint.id, blueprint)
        blueprint = self._by_id.get(blueprint_id)
        if blueprint is None:
            raise IndexError(f"blueprint '{blueprint_id}' not found")
        return blueprint.copy()

    def __iter__(self) -> Iterator[ActorBlueprint]:
        return (b.copy() for b in self._blueprints)

    def __len__(self) -> int:
        return len(self._blueprints)

    def __getitem__(self, index: int) -> ActorBlueprint:
        return self._blueprints[index].copy()

    def __str__(self) -> str:
        return f"BlueprintLibrary({[b.id for b in self._blueprints]})"

    __repr__ = __str__
