"""The CARLA Leaderboard's route files, read and written in both formats.

- 1.0: ``<routes><route id="0" town="Town01"><waypoint x y z pitch roll yaw/>…</route></routes>``
- 2.0: ``<routes><route id="0" town="Town12"><weathers>…</weathers><waypoints><position x y z/>…
  </waypoints><scenarios>…</scenarios></route></routes>``

A 2.0 file's scenarios are kept on the :class:`RouteSpec` as :class:`ScenarioSpec` (name, type, trigger
point and parameters, as ScenarioRunner reads them); :mod:`rllib_integration.scenarios` simulates them.
Weathers are kept as raw attributes.
"""

from __future__ import annotations

import pathlib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any

import carla


@dataclass(frozen=True)
class ScenarioSpec:
    """One ``<scenario>`` of a 2.0 route: its name, type, trigger point ``(x, y, z, yaw)`` and parameters,
    each ``{attribute: value}`` as written (``<distance value="40"/>`` is ``{"distance": {"value": "40"}}``)."""

    name: str
    type: str
    trigger: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, name: str, default: Any, kind: type = float) -> Any:
        """A parameter's ``value`` as ``kind``, or ``default`` where the route does not give it."""
        entry = self.parameters.get(name)
        if entry is None or "value" not in entry:
            return default
        try:
            return kind(entry["value"])
        except ValueError:
            raise RouteFileError(f"scenario {self.name}: <{name} value={entry['value']!r}> is not a "
                                 f"{kind.__name__}") from None


@dataclass
class RouteSpec:
    """One route of a route file: its id, town and sparse waypoints (CARLA world coordinates)."""

    route_id: str
    town: str
    waypoints: list[carla.Location]
    yaws: list[float] = field(default_factory=list)  # 1.0 files: the heading at each waypoint
    weathers: list[dict[str, str]] = field(default_factory=list)
    scenarios: list[ScenarioSpec] = field(default_factory=list)
    leaderboard: int = 1  # the Leaderboard version of the file it came from (2: a 2.0 file, scored with 2.0's metrics)


class RouteFileError(ValueError):
    """A route file that cannot be read, with what is wrong and where."""


def _float(element: ElementTree.Element, key: str, where: str, default: float | None = None) -> float:
    value = element.get(key)
    if value is None:
        if default is not None:
            return default
        raise RouteFileError(f"{where}: <{element.tag}> has no {key!r}. Fix: give x, y and z of every point")
    try:
        return float(value)
    except ValueError:
        raise RouteFileError(f"{where}: <{element.tag} {key}={value!r}> is not a number") from None


def _scenario(element: ElementTree.Element, where: str) -> ScenarioSpec:
    """A ``<scenario>``: its trigger point (the route's start where absent) and its parameters."""
    name = element.get("name", "")
    point = element.find("trigger_point")
    where = f"{where} scenario {name or element.get('type', '?')}"
    trigger = (0.0, 0.0, 0.0, 0.0) if point is None else \
        tuple(_float(point, key, where, 0.0 if key in ("z", "yaw") else None) for key in ("x", "y", "z", "yaw"))
    parameters = {child.tag: dict(child.attrib) for child in element if child.tag != "trigger_point"}
    return ScenarioSpec(name, element.get("type", ""), trigger, parameters)


def read_routes(path: str | pathlib.Path) -> list[RouteSpec]:
    """Every route of a Leaderboard route file (1.0 or 2.0)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise RouteFileError(f"route file {path} not found")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise RouteFileError(f"{path}: not XML ({error})") from None
    if root.tag != "routes":
        raise RouteFileError(f"{path}: the root element is <{root.tag}>, a route file's is <routes>")
    routes = []
    for number, route in enumerate(root.findall("route")):
        where = f"{path} route {route.get('id', number)}"
        town = route.get("town") or route.get("map")
        if not town:
            raise RouteFileError(f"{where}: no town attribute. Fix: <route id=\"0\" town=\"Town01\">")
        points = route.findall("waypoint")  # 1.0
        positions = route.findall("waypoints/position")  # 2.0
        elements = points or positions
        if len(elements) < 2:
            raise RouteFileError(f"{where}: a route needs at least two waypoints, found {len(elements)}")
        waypoints = [carla.Location(_float(e, "x", where), _float(e, "y", where), _float(e, "z", where, 0.0))
                     for e in elements]
        yaws = [_float(e, "yaw", where, 0.0) for e in points]
        weathers = [dict(w.attrib) for w in route.findall("weathers/weather")]
        scenarios = [_scenario(s, where) for s in route.findall("scenarios/scenario")]
        routes.append(RouteSpec(route.get("id", str(number)), town, waypoints, yaws, weathers, scenarios,
                                leaderboard=1 if points else 2))
    if not routes:
        raise RouteFileError(f"{path}: no <route> elements")
    return routes


def write_routes(path: str | pathlib.Path, routes: list[RouteSpec], version: int = 1) -> None:
    """Write routes as a Leaderboard 1.0 (``version=1``) or 2.0 (``version=2``) file."""
    if version not in (1, 2):
        raise ValueError(f"route file version must be 1 or 2, got {version}")
    root = ElementTree.Element("routes")
    for spec in routes:
        route = ElementTree.SubElement(root, "route", id=str(spec.route_id), town=spec.town)
        if version == 1:
            for k, loc in enumerate(spec.waypoints):
                yaw = spec.yaws[k] if k < len(spec.yaws) else 0.0
                ElementTree.SubElement(route, "waypoint", x=f"{loc.x:.3f}", y=f"{loc.y:.3f}", z=f"{loc.z:.3f}",
                                       pitch="0.0", roll="0.0", yaw=f"{yaw:.3f}")
        else:
            if spec.weathers:
                weathers = ElementTree.SubElement(route, "weathers")
                for weather in spec.weathers:
                    ElementTree.SubElement(weathers, "weather", **weather)
            positions = ElementTree.SubElement(route, "waypoints")
            for loc in spec.waypoints:
                ElementTree.SubElement(positions, "position", x=f"{loc.x:.3f}", y=f"{loc.y:.3f}", z=f"{loc.z:.3f}")
            scenarios = ElementTree.SubElement(route, "scenarios")
            for scenario in spec.scenarios:
                element = ElementTree.SubElement(scenarios, "scenario", name=scenario.name, type=scenario.type)
                x, y, z, yaw = scenario.trigger
                ElementTree.SubElement(element, "trigger_point", x=f"{x:.3f}", y=f"{y:.3f}", z=f"{z:.3f}",
                                       yaw=f"{yaw:.3f}")
                for tag, attributes in scenario.parameters.items():
                    ElementTree.SubElement(element, tag, **attributes)
    ElementTree.indent(root)
    pathlib.Path(path).write_text(ElementTree.tostring(root, encoding="unicode") + "\n", encoding="utf-8")
