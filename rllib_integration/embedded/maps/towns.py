"""Towns of the embedded world: name resolution, the map object and its static derived data.

A town is given as:

- a procedural town name (``GridTown``, ``Highway``, ``RingTown``, ``RandomTown<N>``; see :mod:`.procedural`);
- a CARLA town name (``Town01`` ... ``Town10HD``, with or without ``_Opt``, or a path such as
  ``/Game/Carla/Maps/Town01``), resolved to the ``.xodr`` of the CARLA install under ``CARLA_ROOT``;
- a path to any OpenDRIVE file.

:class:`EmbeddedMap` is a real ``carla.Map`` whose ``get_spawn_points()`` returns spawn points
derived from the waypoints (an OpenDRIVE file carries none). Maps and their derived data are
static: they are built once per process and OpenDRIVE text.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import math
import os
import re
from xml.etree import ElementTree

import carla

from .procedural import PROCEDURAL_TOWNS, is_procedural, procedural_opendrive

_OPENDRIVE_DIR = os.path.join("CarlaUE4", "Content", "Carla", "Maps", "OpenDrive")


class UnknownTownError(ValueError):
    """The town name resolves to no procedural town, CARLA town or OpenDRIVE file."""


def carla_town_files(carla_root: str | None = None) -> dict[str, str]:
    """CARLA town name -> ``.xodr`` path for the install under ``carla_root`` (``$CARLA_ROOT``)."""
    root = carla_root if carla_root is not None else os.environ.get("CARLA_ROOT", "")
    if not root:
        return {}
    pattern = os.path.join(root, _OPENDRIVE_DIR, "*.xodr")
    return {os.path.splitext(os.path.basename(p))[0]: p for p in sorted(glob.glob(pattern))}


def available_towns() -> list[str]:
    """Names ``load_world`` accepts besides file paths: procedural towns and CARLA towns found."""
    return sorted(PROCEDURAL_TOWNS) + sorted(f"Carla/Maps/{name}" for name in carla_town_files())


def resolve_town(name: str) -> tuple[str, str]:
    """``(map name, OpenDRIVE text)`` for a town name or file path.

    Raises :class:`UnknownTownError` listing the available towns.
    """
    if is_procedural(name):
        return name, procedural_opendrive(name)
    if name.endswith(".xodr") or os.path.sep in name and os.path.isfile(name):
        if not os.path.isfile(name):
            raise UnknownTownError(f"OpenDRIVE file '{name}' not found. Fix: give an existing "
                                   f"path (relative to {os.getcwd()}) or a town name.")
        return os.path.splitext(os.path.basename(name))[0], read_opendrive(name)
    base = re.sub(r"_Opt$", "", name.rstrip("/").split("/")[-1])
    files = carla_town_files()
    if base in files:
        return f"Carla/Maps/{base}", read_opendrive(files[base])
    where = ("no CARLA_ROOT is set" if not os.environ.get("CARLA_ROOT")
             else f"no {base}.xodr under $CARLA_ROOT/{_OPENDRIVE_DIR}")
    raise UnknownTownError(f"unknown town '{name}' ({where}). Available towns: "
                           f"{', '.join(available_towns())}, RandomTown<N> (a random town of seed N), or the path "
                           f"of an .xodr file. Fix: set 'town' to one of those.")


def read_opendrive(path: str) -> str:
    """The text of an OpenDRIVE file, checked to be UTF-8 XML whose root is ``OpenDRIVE``; raises
    :class:`UnknownTownError` naming the file and what is wrong."""
    try:
        with open(path, "rb") as stream:
            text = stream.read().decode("utf-8")
        root = ElementTree.fromstring(text)
    except UnicodeDecodeError as error:
        raise UnknownTownError(f"{path}: not an OpenDRIVE file (not UTF-8 text: {error.reason} at byte "
                               f"{error.start}). Fix: give the path of a .xodr file.") from None
    except ElementTree.ParseError as error:
        line, column = error.position
        raise UnknownTownError(f"{path}: not valid OpenDRIVE XML (line {line}, column {column + 1}: "
                               f"{str(error).split(':')[0]}); a truncated or damaged file? Fix: give a complete "
                               f".xodr file.") from None
    except OSError as error:
        raise UnknownTownError(f"{path}: cannot be read ({error.strerror}). Fix: give a readable .xodr file.") from None
    if root.tag != "OpenDRIVE":
        raise UnknownTownError(f"{path}: the XML's root is <{root.tag}>, not <OpenDRIVE>. Fix: give a .xodr file.")
    return text


class EmbeddedMap(carla.Map):
    """A real ``carla.Map`` built from OpenDRIVE text, with derived spawn points."""

    def __init__(self, name: str, opendrive: str) -> None:
        super().__init__(name, opendrive)
        self.opendrive_hash = hashlib.sha1(opendrive.encode("utf-8")).hexdigest()
        self._spawn_points: list[tuple[float, ...]] | None = None

    def get_spawn_points(self) -> list[carla.Transform]:
        """Spawn points derived from the lanes (see :func:`derive_spawn_points`)."""
        if self._spawn_points is None:
            self._spawn_points = derive_spawn_points(self)
        return [carla.Transform(carla.Location(x, y, z), carla.Rotation(yaw=yaw))
                for x, y, z, yaw in self._spawn_points]


@functools.lru_cache(maxsize=16)
def load_map(name: str, opendrive: str) -> EmbeddedMap:
    """The map for an OpenDRIVE text, built once per process; :class:`UnknownTownError` when libcarla
    cannot build it."""
    try:
        return EmbeddedMap(name, opendrive)
    except RuntimeError as error:
        raise UnknownTownError(f"town {name}: libcarla could not build a map from its OpenDRIVE ({error}). Fix: "
                               f"give a complete OpenDRIVE 1.4+ file with roads and lanes.") from None


def derive_spawn_points(town_map: carla.Map, spacing: float = 10.0) -> list[tuple[float, ...]]:
    """Spawn points as ``(x, y, z, yaw)``, derived from the driving lanes.

    Waypoints every ``spacing`` metres on driving lanes at least 2.5 m wide, away from junctions
    (none within 12 m ahead or 6 m behind) and from road ends (the lane goes on for 12 m), thinned to ``spacing`` metres apart, lifted 0.5 m
    like CARLA's own spawn points, sorted by road, section, lane and s so the order is stable.
    """
    kept: dict[tuple[int, int], list[tuple[float, float]]] = {}
    points = []
    candidates = sorted(town_map.generate_waypoints(spacing),
                        key=lambda w: (w.road_id, w.section_id, w.lane_id, w.s))
    for wp in candidates:
        if wp.lane_type != carla.LaneType.Driving or wp.lane_width < 2.5 or wp.is_junction:
            continue
        ahead = [n for d in (4.0, 8.0, 12.0) for n in wp.next(d)]
        behind = wp.previous(6.0)
        if len(ahead) < 3 or any(n.is_junction for n in ahead) or any(p.is_junction for p in behind):
            continue
        loc = wp.transform.location
        cell = (int(loc.x // spacing), int(loc.y // spacing))
        neighbours = (kept.get((cell[0] + i, cell[1] + j), ()) for i in (-1, 0, 1) for j in (-1, 0, 1))
        if any(math.hypot(loc.x - x, loc.y - y) < spacing for group in neighbours for x, y in group):
            continue
        kept.setdefault(cell, []).append((loc.x, loc.y))
        points.append((loc.x, loc.y, loc.z + 0.5, wp.transform.rotation.yaw))
    return points
