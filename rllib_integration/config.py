"""Configuration layering and validation.

Three layers exist, as in the original project: the YAML file (itself the RLlib config), the
simulator part ``env_config.carla`` merged onto :data:`BASE_CORE_CONFIG`, and the experiment part
``env_config.experiment`` merged onto :data:`BASE_EXPERIMENT_CONFIG` (plus the experiment class's
own defaults). Merging follows :func:`join_dicts`: mappings merge recursively, lists and scalars
replace.

Every user-supplied layer is validated against its defaults: an unknown key (with the nearest valid
one suggested), a value of the wrong type, a number outside its range (:data:`RANGES`, plus an
experiment's own ``CONFIG_RANGES``) or a word outside its choices (:data:`CHOICES`) raises
:class:`ConfigError` naming the source, the key path and the fix. YAML files with a key given twice
are refused too.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import reprlib
from collections.abc import Mapping
from typing import Any, Iterable

import yaml

from .errors import ConfigError

#: Simulator part of ``env_config`` (``env_config.carla``): the original's keys and defaults, plus
#: ``simulator`` (which world to use) and ``port`` (RPC port of a server in ``connect`` mode).
BASE_CORE_CONFIG: dict[str, Any] = {
    "host": "localhost",  # host the client connects to
    "timeout": 10.0,  # client RPC timeout, seconds
    "timestep": 0.05,  # fixed_delta_seconds of the synchronous simulation (20 Hz)
    "retries_on_error": 10,  # connection attempts to a freshly launched server
    "resolution_x": 600,  # server window width (only with show_display)
    "resolution_y": 600,  # server window height (only with show_display)
    "quality_level": "Low",  # -quality-level= of a launched server: Low or Epic
    "enable_map_assets": False,  # True: all map layers; False: roads only (_Opt towns)
    "enable_rendering": True,  # False: no_rendering_mode and no spectator updates
    "show_display": False,  # True: windowed server
    "simulator": "auto",  # auto | embedded | launch | connect
    "port": 2000,  # RPC port of the server in connect mode
    "max_restarts": 20,  # recoveries from a crashed or hung server before giving up
    "recycle_after_episodes": 0,  # restart the server every N episodes (0: never)
    "recycle_memory_mb": 0,  # restart a launched server whose memory exceeds this (0: never)
    "fault_injection": {"mode": "none", "every_ticks": 0},  # embedded only: none | raise | hang
    "settle_time": 1.0,  # seconds ticked after the hero spawns, before the episode starts (it drops and settles)
}

#: Experiment part of ``env_config`` (``env_config.experiment``): the original's keys and defaults.
BASE_EXPERIMENT_CONFIG: dict[str, Any] = {
    "hero": {
        "blueprint": "vehicle.lincoln.mkz_2017",  # or a list of blueprint ids: one drawn for each episode of a hero
        "sensors": {},  # name -> {type: <blueprint id or "sensor.birdview">, <attribute>: value}
        "spawn_points": [],  # "x,y,z" or "x,y,z,roll,pitch,yaw"; empty -> the map's spawn points
    },
    "background_activity": {
        "n_vehicles": 0,  # or [low, high]: a count drawn each time the background is spawned
        "n_walkers": 0,  # (the same)
        "tm_hybrid_mode": True,
        "seed": None,
        "respawn_per_episode": False,  # new: destroy and respawn the NPCs at every reset
        "vehicle_filter": "vehicle.*",  # blueprint wildcard of the vehicles
        "vehicle_attributes": {},  # and the attributes they must have, e.g. {base_type: car}
    },
    "town": "Town05_Opt",  # or a list of towns: one is drawn per episode (CarlaCore.choose_town)
    "weather": "ClearNoon",  # attribute name of carla.WeatherParameters
    # seconds of each traffic-light group's green, yellow and red, each [low, high]: drawn for every group each time
    # the town is drawn (an episode of CarlaEnv, a world's reset or town change); empty: the simulator's own
    "light_times": {"green": [], "yellow": [], "red": []},
    # CarlaVectorEnv: every this many steps of a world, its heroes' episodes are truncated (end reason
    # "town_change") and the world's town drawn again from `town` (0: only at reset)
    "town_change_steps": 0,
    # several heroes in one world (MultiAgentCarlaEnv's agents, CarlaVectorEnv's sub-environments): a number of
    # heroes configured as `hero`, or a list of hero configurations, each merged onto `hero`; CarlaEnv drives 1
    "heroes": 1,
    "worlds": 1,  # CarlaVectorEnv: its envs spread over this many worlds of ``heroes`` heroes each
    "agents_respawn": False,  # MultiAgentCarlaEnv: an agent that ends is replaced by a new agent (a new id)
    "episode_steps": 0,  # MultiAgentCarlaEnv: every agent is truncated after this many steps (0: no limit)
    # CarlaVectorEnv, MultiAgentCarlaEnv: step a world's heroes through the experiment's batched twin where it has one
    # (BaseExperiment.BATCH)
    "batched": True,
}

#: Allowed types for keys whose default does not tell (``None`` defaults), by dotted path.
EXPLICIT_TYPES: dict[str, tuple[type, ...]] = {
    "background_activity.seed": (int, type(None)),
    "town": (str, list),
    "hero.blueprint": (str, list),
    "blueprint": (str, list),  # (a hero of a list of hero configurations)
    "background_activity.n_vehicles": (int, list),
    "background_activity.n_walkers": (int, list),
    **{f"light_times.{phase}": (list,) for phase in ("green", "yellow", "red")},
    "type": (type, str),
    "heroes": (int, list),
}

#: Key paths whose children are free-form (validated by their own consumer).
FREE_FORM_PATHS: frozenset[str] = frozenset({"hero.sensors", "background_activity.vehicle_attributes"})

#: Numeric ranges ``(lowest, highest)`` (both allowed) of the base keys, by dotted path relative to
#: ``env_config.carla`` or ``env_config.experiment``.
RANGES: dict[str, tuple[float, float]] = {
    "timeout": (0.1, 3600.0),
    "timestep": (0.001, 1.0),  # CARLA's physics sub-stepping breaks down beyond 0.1; 1 s is the hard limit
    "retries_on_error": (1, 1000),
    "resolution_x": (16, 7680),
    "resolution_y": (16, 4320),
    "port": (1024, 65533),  # the server also takes port + 1 and port + 2
    "max_restarts": (0, 100000),
    "recycle_after_episodes": (0, 10 ** 9),
    "recycle_memory_mb": (0, 10 ** 7),
    "fault_injection.every_ticks": (0, 10 ** 9),
    "settle_time": (0.0, 60.0),
    "background_activity.n_vehicles": (0, 2000),
    "background_activity.n_walkers": (0, 2000),
    "background_activity.seed": (0, 2 ** 32 - 1),
    "heroes": (1, 1024),
    "worlds": (1, 64),
    "episode_steps": (0, 10 ** 9),
    "town_change_steps": (0, 10 ** 9),
    "light_times.green": (0.1, 3600.0),
    "light_times.yellow": (0.1, 3600.0),
    "light_times.red": (0.1, 3600.0),
}

#: Keys that may be ``[low, high]`` (or, where their type allows it, one number): each bound within :data:`RANGES`,
#: low at most high.
RANGE_PAIRS: frozenset[str] = frozenset({"background_activity.n_vehicles", "background_activity.n_walkers",
                                         "light_times.green", "light_times.yellow", "light_times.red"})

#: Allowed words of the base keys, by dotted path (as :data:`RANGES`).
CHOICES: dict[str, tuple[str, ...]] = {
    "quality_level": ("Low", "Epic"),
    "simulator": ("auto", "embedded", "launch", "connect"),
    "fault_injection.mode": ("none", "raise", "hang"),
}


def join_dicts(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overrides`` onto ``defaults`` into a new dict.

    Mappings merge recursively; lists and scalars replace the default wholesale; keys only in
    ``overrides`` are added. Neither argument is modified, and the result shares no mutable
    state with them.
    """
    result = copy.deepcopy(dict(defaults))
    for key, value in overrides.items():
        default = result.get(key)
        if isinstance(value, Mapping) and isinstance(default, Mapping):
            result[key] = join_dicts(default, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _type_name(types: Iterable[type]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", type(None): "null", type: "a class"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _expected_types(default: Any) -> tuple[type, ...]:
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return (int, float)
    if isinstance(default, (list, tuple)):
        return (list, tuple)
    return (type(default),)


def _matches(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # YAML's true/false is never a number here
    return isinstance(value, types)


def validate(config: Any, defaults: Mapping[str, Any], source: str, prefix: str = "",
             shallow: bool = False, ranges: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Check ``config`` against the keys and value types of ``defaults``, and its numbers and words
    against :data:`RANGES`, :data:`CHOICES` and ``ranges`` (more ranges by relative key path).

    ``source`` names where the values came from (a file path, ``env_config.carla``) and
    ``prefix`` is the key path of ``config`` inside it; both appear in the error message.
    With ``shallow`` only the keys are checked, not their values. Raises :class:`ConfigError` on the
    first unknown key, wrong type, number out of range or unknown word.
    """
    where = prefix.rstrip(".") or "top level"
    if not isinstance(config, Mapping):
        raise ConfigError(f"{source}: {where}: expected a mapping of keys to values, got "
                          f"{type(config).__name__} {quoted(config)}. Fix: write it as 'key: value' lines.")
    for key, value in config.items():
        path = f"{prefix}{key}"
        relative = path.split(".", 2)[-1] if prefix.startswith("env_config.") else path
        if key not in defaults:
            valid = sorted(str(k) for k in defaults)
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{source}: {path}: unknown key; {hint}valid keys here are: "
                              f"{', '.join(valid)}. Fix: rename or remove '{key}'.")
        if shallow:
            continue
        default = defaults[key]
        explicit = EXPLICIT_TYPES.get(relative) or EXPLICIT_TYPES.get(str(key))
        if isinstance(default, Mapping) and explicit is None:
            if relative in FREE_FORM_PATHS or path in FREE_FORM_PATHS:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{source}: {path}: expected a mapping, got "
                                      f"{type(value).__name__} {quoted(value)}. Fix: write it as "
                                      f"'name: {{...}}' entries or '{{}}'.")
                continue
            validate(value, default, source, f"{path}.", ranges=ranges)
            continue
        types = explicit or _expected_types(default)
        if not _matches(value, types):
            expected = _type_name(types).replace("a list", "a range [low, high]") if relative in RANGE_PAIRS \
                else _type_name(types)
            raise ConfigError(f"{source}: {path}: expected {expected}, got {type(value).__name__} {quoted(value)}. "
                              f"Fix: set it to {expected} (default: {quoted(default)}).")
        check_value(value, relative, path, source, {**RANGES, **(ranges or {})}, default)


def check_value(value: Any, relative: str, path: str, source: str, ranges: Mapping[str, tuple[float, float]],
                default: Any = None) -> None:
    """A number within ``ranges[relative]`` (finite), a word among :data:`CHOICES`, or :class:`ConfigError`."""
    if relative in CHOICES and value not in CHOICES[relative]:
        raise ConfigError(f"{source}: {path}: {quoted(value)} is not one of {', '.join(CHOICES[relative])}. "
                          f"Fix: use one of them (default: {quoted(default)}).")
    if relative in RANGE_PAIRS and isinstance(value, (list, tuple)):
        check_pair(value, relative, path, source, ranges, default)
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{source}: {path}: {quoted(value)} is not a finite number. Fix: give a number.")
        if relative in ranges:
            low, high = ranges[relative]
            if not low <= value <= high:
                raise ConfigError(f"{source}: {path}: {quoted(value)} is out of range. Fix: use a value from {low:g} to "
                                  f"{high:g} (default: {quoted(default)}).")


def check_pair(value: Any, relative: str, path: str, source: str, ranges: Mapping[str, tuple[float, float]],
               default: Any = None) -> None:
    """``value`` is ``[low, high]`` (or empty where the default is): two numbers within ``ranges[relative]``, low
    at most high (whole numbers where the default is one), or :class:`ConfigError`."""
    if not value and isinstance(default, (list, tuple)):
        return
    whole = isinstance(default, int) and not isinstance(default, bool)
    kind = "whole numbers" if whole else "numbers"
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) \
            or (whole and not all(isinstance(v, int) for v in value)) or value[0] > value[1]:
        raise ConfigError(f"{source}: {path}: {quoted(value)} is not a range [low, high] of {kind}. Fix: write "
                          f"two {kind}, the lower first, e.g. [{'10, 30' if whole else '5.0, 20.0'}]"
                          + (" or one number." if whole else ", or [] for the simulator's own."))
    for bound in value:
        check_value(bound, relative, path, source, ranges, default)


#: YAML aliases (``*name``) a configuration may use: more is refused (a "billion laughs" file of 1.3 kB
#: otherwise expands to gigabytes when anything walks it).
MAX_ALIASES = 40
_QUOTER = reprlib.Repr()
_QUOTER.maxlevel, _QUOTER.maxlist, _QUOTER.maxdict, _QUOTER.maxstring, _QUOTER.maxother = 2, 4, 4, 60, 60
QUOTED_LENGTH = 160  # characters of a value an error message shows at most


def quoted(value: Any) -> str:
    """``repr(value)``, cut to a few elements and :data:`QUOTED_LENGTH` characters (an error message never
    embeds a huge value)."""
    text = _QUOTER.repr(value)
    return text if len(text) <= QUOTED_LENGTH else text[:QUOTED_LENGTH - 3] + "..."


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that gives a key twice (PyYAML keeps the last silently) and a
    document of more than :data:`MAX_ALIASES` aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases = getattr(self, "aliases", 0) + 1
            if self.aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name)",
                                                  self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                line = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            if line != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' given twice (first at line {line})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping from ``path``, with a clear :class:`ConfigError` for a missing file,
    invalid YAML or a file that is not a mapping."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: configuration file not found (working directory "
                          f"{os.getcwd()}). Fix: pass the path of an existing YAML file, e.g. "
                          f"dqn_example/dqn_config.yaml.")
    with open(path, encoding="utf-8") as stream:
        try:
            data = yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or str(error)
            raise ConfigError(f"{path}: invalid YAML{at}: {problem}. Fix: correct the syntax "
                              f"there (indentation, ':' after keys, closed brackets).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got "
                          f"{type(data).__name__}. Fix: write the file as 'key: value' lines.")
    return data


def apply_settings(data: dict[str, Any], settings: Iterable[tuple[tuple[str, ...], Any]], source: str) -> None:
    """Set each of ``settings`` (a dotted key's parts, the value) in ``data``, a training YAML read from ``source``;
    the mappings on a key's way are made where missing."""
    for parts, value in settings:
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{source}: --set {'.'.join(parts)}: {'.'.join(parts[:depth + 1])} is "
                                  f"{quoted(child)}, not a mapping of keys. Fix: set a key that the file's layout has.")
            node = child
        node[parts[-1]] = value


def validate_env_config(env_config: Any, source: str, experiment_defaults: Mapping[str, Any],
                        prefix: str = "env_config.", experiment_ranges: Mapping[str, tuple[float, float]] | None = None
                        ) -> None:
    """Validate an ``env_config`` mapping: its ``carla`` and ``experiment`` sections (the experiment's own
    keys against ``experiment_ranges``)."""
    sections = {"carla": (BASE_CORE_CONFIG, None), "experiment": (experiment_defaults, experiment_ranges)}
    validate(env_config, {name: {} for name in sections}, source, prefix, shallow=True)
    for name, (defaults, ranges) in sections.items():
        if name in env_config:
            validate(env_config[name], defaults, source, f"{prefix}{name}.", ranges=ranges)
