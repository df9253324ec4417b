"""CARLA 0.9.16's blueprints of vehicles, walkers, the walker AI controller and static props, with
their attributes (sensors' blueprints are :mod:`..sensors.catalog`'s).

- vehicles: ids, class and size from ``shared/reference/blueprints-0.9.16.md``; generation as CARLA's
  vehicle catalogue lists it; ``has_lights`` and ``has_dynamic_doors`` for generation-2 cars and vans
  (generation 1 meshes have neither); ``special_type`` ``emergency`` / ``taxi`` / ``electric``;
  ``driver_id`` for two-wheelers;
- walkers ``walker.pedestrian.0001``-``0052``: adults and children (smaller box), generation 1 for
  0001-0014 and 2 after; adults carry ``can_use_wheelchair`` and ``use_wheelchair``;
- static props (``static.prop.*``): common street furniture and road-work props with a ``size`` class
  and a box of plausible dimensions (CARLA gives no sizes; these are measured from photos of the
  props and documented as approximations).
"""

from __future__ import annotations

from typing import Iterable

from .blueprints import ActorAttribute, ActorBlueprint, BlueprintLibrary, Bool, Float, Int, RGBColor, String

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

#: CARLA's vehicle catalogue, generation 2.
GENERATION_2 = frozenset({
    "vehicle.dodge.charger_police_2020", "vehicle.mercedes.coupe_2020", "vehicle.lincoln.mkz_2020",
    "vehicle.mini.cooper_s_2021", "vehicle.ford.ambulance", "vehicle.dodge.charger_2020", "vehicle.ford.crown",
    "vehicle.nissan.patrol_2021", "vehicle.mercedes.sprinter", "vehicle.volkswagen.t2_2021",
    "vehicle.tesla.cybertruck", "vehicle.carlamotors.firetruck", "vehicle.mitsubishi.fusorosa"})

SPECIAL_TYPES = {
    "vehicle.ford.ambulance": "emergency", "vehicle.carlamotors.firetruck": "emergency",
    "vehicle.dodge.charger_police": "emergency", "vehicle.dodge.charger_police_2020": "emergency",
    "vehicle.ford.crown": "taxi", "vehicle.tesla.model3": "electric", "vehicle.tesla.cybertruck": "electric",
    "vehicle.audi.etron": "electric", "vehicle.micro.microlino": "electric"}

#: Children among the pedestrians (smaller box), as in CARLA 0.9.16.
CHILD_WALKERS = frozenset({"0009", "0010", "0011", "0012", "0013", "0014", "0048", "0049"})

#: Static props: id -> (size class, width, length, height) in metres.
PROPS: dict[str, tuple[str, float, float, float]] = {
    "static.prop.advertisement": ("medium", 0.3, 1.5, 2.5), "static.prop.atm": ("medium", 0.8, 0.7, 1.9),
    "static.prop.barrel": ("small", 0.6, 0.6, 0.9), "static.prop.bench01": ("medium", 0.6, 1.8, 0.9),
    "static.prop.bench02": ("medium", 0.6, 1.8, 0.9), "static.prop.bench03": ("medium", 0.6, 1.8, 0.9),
    "static.prop.bin": ("small", 0.6, 0.6, 1.0), "static.prop.box01": ("small", 0.6, 0.6, 0.6),
    "static.prop.box02": ("small", 0.6, 0.6, 0.6), "static.prop.box03": ("small", 0.6, 0.6, 0.6),
    "static.prop.busstop": ("big", 2.0, 4.5, 2.8), "static.prop.clothcontainer": ("medium", 1.2, 1.5, 1.8),
    "static.prop.constructioncone": ("small", 0.35, 0.35, 0.7), "static.prop.container": ("big", 1.4, 1.9, 1.6),
    "static.prop.creasedbox01": ("small", 0.5, 0.5, 0.4), "static.prop.dirtdebris01": ("medium", 1.5, 1.5, 0.1),
    "static.prop.dirtdebris02": ("medium", 1.5, 1.5, 0.1), "static.prop.dirtdebris03": ("medium", 1.5, 1.5, 0.1),
    "static.prop.chainbarrier": ("medium", 0.3, 1.9, 0.9), "static.prop.chainbarrierend": ("small", 0.3, 0.3, 0.9),
    "static.prop.foodcart": ("big", 1.5, 2.5, 2.2), "static.prop.busstoplb": ("big", 2.0, 4.5, 2.8),
    "static.prop.haybalelb": ("medium", 1.2, 1.2, 1.2),
    "static.prop.glasscontainer": ("medium", 1.2, 1.5, 1.8), "static.prop.gnome": ("tiny", 0.3, 0.3, 0.5),
    "static.prop.haybale": ("medium", 1.2, 1.2, 1.2), "static.prop.ironplank": ("medium", 1.2, 2.4, 0.05),
    "static.prop.kiosk_01": ("big", 2.0, 3.0, 2.6), "static.prop.mailbox": ("small", 0.5, 0.5, 1.2),
    "static.prop.plantpot01": ("small", 0.6, 0.6, 0.8), "static.prop.shoppingcart": ("small", 0.6, 1.0, 1.0),
    "static.prop.streetbarrier": ("medium", 0.4, 2.0, 1.1), "static.prop.streetsign": ("medium", 0.2, 0.6, 2.5),
    "static.prop.trafficcone01": ("small", 0.4, 0.4, 0.8), "static.prop.trafficcone02": ("small", 0.4, 0.4, 0.8),
    "static.prop.trafficwarning": ("big", 1.6, 2.4, 2.6), "static.prop.travelcase": ("small", 0.4, 0.6, 0.7),
    "static.prop.vendingmachine": ("medium", 0.8, 1.0, 1.9),
    "static.prop.warningaccident": ("big", 1.2, 1.6, 2.0), "static.prop.warningconstruction": ("big", 1.2, 1.6, 2.0),
}

_TWO_WHEELERS = ("bicycle", "motorcycle")
_COLORS = ["255,255,255", "0,0,0", "200,20,20", "20,60,200", "150,150,150", "240,200,20",
           "30,120,60", "110,70,30"]


def vehicle_blueprint(blueprint_id: str) -> ActorBlueprint:
    base_type, width, length, height = VEHICLES[blueprint_id]
    two_wheeler = base_type in _TWO_WHEELERS
    generation_2 = blueprint_id in GENERATION_2
    equipped = "true" if generation_2 and base_type in ("car", "van") else "false"
    attributes = [
        ActorAttribute("role_name", String, "autopilot", ["autopilot", "scenario", "ego_vehicle"]),
        ActorAttribute("color", RGBColor, _COLORS[sum(map(ord, blueprint_id)) % len(_COLORS)], _COLORS),
        ActorAttribute("sticky_control", Bool, "true", ["true"]),
        ActorAttribute("terramechanics", Bool, "false", ["false"]),
        ActorAttribute("number_of_wheels", Int, "2" if two_wheeler else "4", is_modifiable=False),
        ActorAttribute("base_type", String, base_type, is_modifiable=False),
        ActorAttribute("special_type", String, SPECIAL_TYPES.get(blueprint_id, ""), is_modifiable=False),
        ActorAttribute("generation", Int, "2" if generation_2 else "1", is_modifiable=False),
        ActorAttribute("object_type", String, "", is_modifiable=False),
        ActorAttribute("has_dynamic_doors", Bool, equipped, is_modifiable=False),
        ActorAttribute("has_lights", Bool, "true" if generation_2 else "false", is_modifiable=False),
    ]
    if two_wheeler:
        attributes.append(ActorAttribute("driver_id", Int, "0", ["0", "1", "2"], restrict_to_recommended=True))
    return ActorBlueprint(blueprint_id, attributes, (width, length, height))


def walker_blueprint(number: str) -> ActorBlueprint:
    child = number in CHILD_WALKERS
    attributes = [
        ActorAttribute("role_name", String, "pedestrian", ["pedestrian"]),
        ActorAttribute("is_invincible", Bool, "true", ["true"]),
        ActorAttribute("speed", Float, "1.4", ["0.0", "1.1", "2.2"] if child else ["0.0", "1.4", "2.8"]),
        ActorAttribute("age", String, "child" if child else "adult", is_modifiable=False),
        ActorAttribute("gender", String, "female" if int(number) % 2 else "male", is_modifiable=False),
        ActorAttribute("generation", Int, "1" if int(number) <= 14 else "2", is_modifiable=False),
    ]
    if not child:
        attributes += [ActorAttribute("can_use_wheelchair", Bool, "true", is_modifiable=False),
                       ActorAttribute("use_wheelchair", Bool, "false", ["false", "true"])]
    size = (0.5, 0.5, 1.1) if child else (0.375, 0.375, 1.86)
    return ActorBlueprint(f"walker.pedestrian.{number}", attributes, size)


def prop_blueprint(blueprint_id: str) -> ActorBlueprint:
    size_class, width, length, height = PROPS[blueprint_id]
    attributes = [ActorAttribute("role_name", String, "prop", ["prop"]),
                  ActorAttribute("size", String, size_class, is_modifiable=False)]
    return ActorBlueprint(blueprint_id, attributes, (width, length, height))


def build_library(extra: Iterable[ActorBlueprint] = ()) -> BlueprintLibrary:
    """The blueprint library of the embedded world: vehicles, walkers, the walker AI controller,
    static props and any ``extra`` blueprints (the sensors')."""
    blueprints = [vehicle_blueprint(blueprint_id) for blueprint_id in VEHICLES]
    blueprints += [walker_blueprint(f"{n:04d}") for n in range(1, 53)]
    blueprints.append(ActorBlueprint("controller.ai.walker", [ActorAttribute("role_name", String, "default",
                                                                             ["default"])]))
    blueprints += [prop_blueprint(blueprint_id) for blueprint_id in PROPS]
    blueprints += list(extra)
    return BlueprintLibrary(blueprints)
