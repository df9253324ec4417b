"""Blueprints of the embedded world: CARLA 0.9.16's ids, attributes and vehicle sizes.

Mirrors ``carla.BlueprintLibrary``, ``carla.ActorBlueprint`` and ``carla.ActorAttribute``:
``filter`` matches wildcards against ids and tags, ``find`` raises ``IndexError`` for an unknown id,
attributes carry recommended values and refuse values of the wrong type.
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Iterator, Sequence

import carla

Bool, Int, Float, String, RGBColor = (carla.ActorAttributeType.Bool, carla.ActorAttributeType.Int,
                                      carla.ActorAttributeType.Float, carla.ActorAttributeType.String,
                                      carla.ActorAttributeType.RGBColor)

#: CARLA 0.9.16 vehicles: id -> (class, width, length, height) in metres.
VEHICLES: dict[str, tuple[str, float, float, float]] = {
    "vehicle.audi.a2": ("car", 1.789, 3.705, 1.549),
    "vehicle.audi.etron": ("car", 2.033, 4.856, 1.649),
    "vehicle.audi.tt": ("car", 1.994, 4.181, 1.385),
    "vehicle.bh.crossbike": ("bicycle", 0.866, 1.509, 1.612),
    "vehicle.bmw.grandtourer": ("car", 2.242, 4.611, 1.667),
    "vehicle.carlamotors.carlacola": ("truck", 2.627, 5.204, 2.467),
    "vehicle.carlamotors.european_hgv": ("truck", 2.891, 7.936, 3.462),
    "vehicle.carlamotors.firetruck": ("truck", 2.891, 8.468, 3.827),
    "vehicle.chevrolet.impala": ("car", 2.033, 5.357, 1.411),
    "vehicle.citroen.c3": ("car", 1.851, 3.988, 1.617),
    "vehicle.diamondback.century": ("bicycle", 0.582, 1.656, 1.620),
    "vehicle.dodge.charger_2020": ("car", 1.882, 5.008, 1.535),
    "vehicle.dodge.charger_police": ("car", 2.038, 4.974, 1.542),
    "vehicle.dodge.charger_police_2020": ("car", 1.930, 5.237, 1.638),
    "vehicle.ford.ambulance": ("van", 2.351, 6.366, 2.431),
    "vehicle.ford.crown": ("car", 1.801, 5.366, 1.575),
    "vehicle.ford.mustang": ("car", 1.895, 4.718, 1.301),
    "vehicle.gazelle.omafiets": ("bicycle", 0.659, 1.843, 1.776),
    "vehicle.harley-davidson.low_rider": ("motorcycle", 0.766, 2.350, 1.649),
    "vehicle.jeep.wrangler_rubicon": ("car", 1.905, 3.866, 1.878),
    "vehicle.kawasaki.ninja": ("motorcycle", 0.797, 2.044, 1.523),
    "vehicle.lincoln.mkz_2017": ("car", 2.128, 4.902, 1.511),
    "vehicle.lincoln.mkz_2020": ("car", 1.837, 4.892, 1.490),
    "vehicle.mercedes.coupe": ("car", 2.151, 5.027, 1.651),
    "vehicle.mercedes.coupe_2020": ("car", 1.812, 4.674, 1.442),
    "vehicle.mercedes.sprinter": ("van", 1.988, 5.915, 2.561),
    "vehicle.micro.microlino": ("car", 1.481, 2.207, 1.376),
    "vehicle.mini.cooper_s": ("car", 1.970, 3.806, 1.475),
    "vehicle.mini.cooper_s_2021": ("car", 2.097, 4.553, 1.767),
    "vehicle.mitsubishi.fusorosa": ("bus", 3.944, 10.273, 4.253),
    "vehicle.nissan.micra": ("car", 1.845, 3.633, 1.501),
    "vehicle.nissan.patrol": ("car", 1.932, 4.604, 1.855),
    "vehicle.nissan.patrol_2021": ("car", 2.150, 5.566, 2.045),
    "vehicle.seat.leon": ("car", 1.816, 4.193, 1.474),
    "vehicle.tesla.cybertruck": ("truck", 2.390, 6.274, 2.098),
    "vehicle.tesla.model3": ("car", 2.163, 4.792, 1.488),
    "vehicle.toyota.prius": ("car", 2.007, 4.513, 1.525),
    "vehicle.vespa.zx125": ("motorcycle", 0.866, 1.817, 1.590),
    "vehicle.volkswagen.t2": ("van", 2.069, 4.480, 2.038),
    "vehicle.volkswagen.t2_2021": ("van", 1.775, 4.442, 1.987),
    "vehicle.yamaha.yzf": ("motorcycle", 0.866, 2.191, 1.530),
}

#: Children among the pedestrians (smaller box), as in CARLA 0.9.16.
CHILD_WALKERS = frozenset({"0009", "0010", "0011", "0012", "0013", "0014", "0048", "0049"})

_TWO_WHEELERS = ("bicycle", "motorcycle")
_COLORS = ["255,255,255", "0,0,0", "200,20,20", "20,60,200", "150,150,150", "240,200,20",
           "30,120,60", "110,70,30"]


class ActorAttribute:
    """One attribute of a blueprint (``carla.ActorAttribute``)."""

    def __init__(self, attribute_id: str, attribute_type: carla.ActorAttributeType, value: str,
                 recommended_values: Sequence[str] = (), is_modifiable: bool = True) -> None:
        self.id = attribute_id
        self.type = attribute_type
        self.recommended_values = list(recommended_values)
        self.is_modifiable = is_modifiable
        self._value = ""
        self._set(value)

    @property
    def value(self) -> str:
        return self._value

    def _set(self, value: str) -> None:
        value = str(value)
        converters = {Bool: self._parse_bool, Int: int, Float: float, RGBColor: self._parse_color}
        if self.type in converters:
            try:
                converters[self.type](value)
            except (ValueError, TypeError):
                raise RuntimeError(f"invalid value '{value}' for {self.type} attribute "
                                   f"'{self.id}'") from None
        self._value = value

    @staticmethod
    def _parse_bool(value: str) -> bool:
        lowered = value.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError(value)
        return lowered in ("true", "1")

    @staticmethod
    def _parse_color(value: str) -> carla.Color:
        r, g, b = (int(part) for part in value.split(","))
        return carla.Color(r, g, b)

    def as_bool(self) -> bool:
        return self._parse_bool(self._value)

    def as_int(self) -> int:
        return int(self._value)

    def as_float(self) -> float:
        return float(self._value)

    def as_str(self) -> str:
        return self._value

    def as_color(self) -> carla.Color:
        return self._parse_color(self._value)

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"ActorAttribute(id={self.id},type={self.type},value={self._value})"


class ActorBlueprint:
    """A blueprint (``carla.ActorBlueprint``): an id, tags and a set of attributes."""

    def __init__(self, blueprint_id: str, attributes: Iterable[ActorAttribute],
                 size: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        self.id = blueprint_id
        self.tags = sorted(set(blueprint_id.split(".")))
        self._attributes = {attribute.id: attribute for attribute in attributes}
        self.size = size  # (width, length, height) in metres; not part of the carla API

    def has_tag(self, tag: str) -> bool:
        return tag in self.tags

    def match_tags(self, wildcard: str) -> bool:
        return any(fnmatch.fnmatchcase(tag, wildcard) for tag in self.tags)

    def has_attribute(self, attribute_id: str) -> bool:
        return attribute_id in self._attributes

    def get_attribute(self, attribute_id: str) -> ActorAttribute:
        if attribute_id not in self._attributes:
            raise IndexError(f"blueprint '{self.id}' has no attribute '{attribute_id}'")
        return self._attributes[attribute_id]

    def set_attribute(self, attribute_id: str, value: str) -> None:
        attribute = self.get_attribute(attribute_id)
        if not attribute.is_modifiable:
            raise IndexError(f"attribute '{attribute_id}' of '{self.id}' is not modifiable")
        attribute._set(value)

    def copy(self) -> "ActorBlueprint":
        """An independent copy (a real server copies blueprints when they are fetched)."""
        attributes = [ActorAttribute(a.id, a.type, a.value, a.recommended_values, a.is_modifiable)
                      for a in self._attributes.values()]
        return ActorBlueprint(self.id, attributes, self.size)

    def attribute_values(self) -> dict[str, str]:
        """The ``actor.attributes`` dict an actor spawned from this blueprint carries."""
        return {key: attribute.value for key, attribute in self._attributes.items()}

    def __iter__(self) -> Iterator[ActorAttribute]:
        return iter(self._attributes.values())

    def __len__(self) -> int:
        return len(self._attributes)

    def __repr__(self) -> str:
        return f"ActorBlueprint(id={self.id},tags={self.tags})"


class BlueprintLibrary:
    """A list of blueprints (``carla.BlueprintLibrary``)."""

    def __init__(self, blueprints: Iterable[ActorBlueprint]) -> None:
        self._blueprints = list(blueprints)

    def filter(self, wildcard: str) -> "BlueprintLibrary":
        """Blueprints whose id or any tag matches ``wildcard`` (fnmatch rules, as CARLA)."""
        return BlueprintLibrary(b for b in self._blueprints
                                if fnmatch.fnmatchcase(b.id, wildcard) or b.match_tags(wildcard))

    def filter_by_attribute(self, name: str, value: str) -> "BlueprintLibrary":
        return BlueprintLibrary(b for b in self._blueprints
                                if b.has_attribute(name) and b.get_attribute(name).value == value)

    def find(self, blueprint_id: str) -> ActorBlueprint:
        for blueprint in self._blueprints:
            if blueprint.id == blueprint_id:
                return blueprint.copy()
        raise IndexError(f"blueprint '{blueprint_id}' not found")

    def __iter__(self) -> Iterator[ActorBlueprint]:
        return (b.copy() for b in self._blueprints)

    def __len__(self) -> int:
        return len(self._blueprints)

    def __getitem__(self, index: int) -> ActorBlueprint:
        return self._blueprints[index].copy()

    def __repr__(self) -> str:
        return f"BlueprintLibrary({[b.id for b in self._blueprints]})"


def _vehicle_blueprint(blueprint_id: str, base_type: str, size: tuple[float, float, float]):
    wheels = "2" if base_type in _TWO_WHEELERS else "4"
    attributes = [
        ActorAttribute("role_name", String, "autopilot"),
        ActorAttribute("color", RGBColor, _COLORS[sum(map(ord, blueprint_id)) % len(_COLORS)], _COLORS),
        ActorAttribute("number_of_wheels", Int, wheels, is_modifiable=False),
        ActorAttribute("base_type", String, base_type, is_modifiable=False),
        ActorAttribute("generation", Int, "2" if "20" in blueprint_id else "1", is_modifiable=False),
        ActorAttribute("object_type", String, "", is_modifiable=False),
        ActorAttribute("sticky_control", Bool, "true"),
        ActorAttribute("terramechanics", Bool, "false"),
        ActorAttribute("has_dynamic_doors", Bool, "false", is_modifiable=False),
        ActorAttribute("has_lights", Bool, "true", is_modifiable=False),
        ActorAttribute("special_type", String, "", is_modifiable=False),
    ]
    if wheels == "2":
        attributes.append(ActorAttribute("driver_id", Int, "0", ["0", "1", "2"]))
    return ActorBlueprint(blueprint_id, attributes, size)


def _walker_blueprint(number: str):
    child = number in CHILD_WALKERS
    attributes = [
        ActorAttribute("role_name", String, "walker"),
        ActorAttribute("is_invincible", Bool, "true"),
        ActorAttribute("speed", Float, "1.4", ["0.0", "1.4", "2.8"] if not child else ["0.0", "1.1", "2.2"]),
        ActorAttribute("age", String, "child" if child else "adult", is_modifiable=False),
        ActorAttribute("gender", String, "female" if int(number) % 2 else "male", is_modifiable=False),
        ActorAttribute("generation", Int, "2", is_modifiable=False),
        ActorAttribute("can_use_wheelchair", Bool, "false", is_modifiable=False),
    ]
    size = (0.5, 0.5, 1.1) if child else (0.375, 0.375, 1.86)
    return ActorBlueprint(f"walker.pedestrian.{number}", attributes, size)


def build_library(extra: Iterable[ActorBlueprint] = ()) -> BlueprintLibrary:
    """The blueprint library of the embedded world: vehicles, walkers, the walker AI controller
    and any ``extra`` blueprints (sensors register theirs)."""
    blueprints = [_vehicle_blueprint(bp_id, base, (w, l, h))
                  for bp_id, (base, w, l, h) in VEHICLES.items()]
    blueprints += [_walker_blueprint(f"{n:04d}") for n in range(1, 53)]
    blueprints.append(ActorBlueprint("controller.ai.walker", [ActorAttribute("role_name", String, "")]))
    blueprints += list(extra)
    return BlueprintLibrary(blueprints)
