"""Checks of a set of routes before any is driven, so an evaluation never stops half way on a route that
could not have been driven: every problem of every route is reported at once, each naming its route.

- ids: no two routes share an id, nor a file name of their outputs (``a/b`` and ``a_b`` both write
  ``route_a_b.mp4``);
- waypoints: at least two, every coordinate finite, the start and the goal apart;
- towns (when the town can be read here, as the embedded world reads it): the town exists, every waypoint
  lies near a driving lane, and the route can be planned through its waypoints along the lanes.
"""

from __future__ import annotations

import math
import re
from typing import Callable

from ..embedded.maps.towns import UnknownTownError, load_map, resolve_town
from ..errors import ConfigError
from ..routes.planner import RoutePlanner
from ..routes.route_files import RouteSpec
from ..routes.route_sets import dense_route

OFF_LANE = 10.0  # metres: a waypoint farther than this from every driving lane is off the map
MIN_SPAN = 1.0  # metres between a route's start and its goal
SHOWN = 10  # problems listed in the error (the count says how many more)


def output_name(route_id: str) -> str:
    """The part of a route's output file names (videos, state logs) that comes from its id."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(route_id))


def route_problems(routes: list[RouteSpec], offline_towns: bool = True) -> list[str]:
    """Every problem of ``routes`` (see the module docstring), one line each; ``offline_towns``: read the
    towns here (the embedded world; a CARLA server's towns are checked by the server when loaded)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for spec in routes:
        name = output_name(spec.route_id)
        if name in seen:
            other = seen[name]
            problems.append(f"route {spec.route_id!r}: the same id as another route" if other == spec.route_id else
                            f"route {spec.route_id!r}: its outputs would overwrite route {other!r}'s (both write "
                            f"route_{name}.*)")
        seen.setdefault(name, spec.route_id)
    planners: dict[str, RoutePlanner | str] = {}
    for spec in routes:
        problem = _waypoint_problem(spec)
        if problem is None and offline_towns:
            problem = _town_problem(spec, lambda town: _planner(planners, town))
        if problem:
            problems.append(f"route {spec.route_id!r} ({_short(spec.town)}): {problem}")
    return problems


def check_routes(routes: list[RouteSpec], source: str, offline_towns: bool = True) -> None:
    """Raise :class:`~..errors.ConfigError` listing every problem of ``routes`` (read from ``source``)."""
    problems = route_problems(routes, offline_towns)
    if problems:
        more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise ConfigError(f"{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''} with the routes, none driven:\n  " +
                          "\n  ".join(problems[:SHOWN]) + more +
                          "\nFix: correct or leave out those routes (--route-ids picks the others).")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def _waypoint_problem(spec: RouteSpec) -> str | None:
    points = spec.waypoints
    if len(points) < 2:
        return f"{len(points)} waypoint(s); a route needs a start and a goal"
    for k, p in enumerate(points):
        if not all(math.isfinite(v) for v in (p.x, p.y, p.z)):
            return f"waypoint {k} is not finite ({p.x!r:.12}, {p.y!r:.12}, {p.z!r:.12})"
    if points[0].distance(points[-1]) < MIN_SPAN:
        return f"its start and its goal are the same place ({points[0].x:.1f}, {points[0].y:.1f})"
    return None


def _planner(planners: dict[str, RoutePlanner | str], town: str) -> RoutePlanner | str:
    """The planner of a town, or why its town cannot be read (each town read once)."""
    if town not in planners:
        try:
            planners[town] = RoutePlanner(load_map(*resolve_town(town)))
        except UnknownTownError as error:
            planners[town] = str(error).split(". Fix:")[0]
    return planners[town]


def _town_problem(spec: RouteSpec, planner_of: Callable[[str], RoutePlanner | str]) -> str | None:
    planner = planner_of(spec.town)
    if isinstance(planner, str):
        return planner
    for k, p in enumerate(spec.waypoints):
        lane = planner.map.get_waypoint(p)
        if lane is None or lane.transform.location.distance(p) > OFF_LANE:
            return f"waypoint {k} ({p.x:.1f}, {p.y:.1f}) is off the map (more than {OFF_LANE:g} m from any lane)"
    try:
        dense_route(planner, spec)
    except ValueError as error:
        return f"cannot be planned along the lanes: {error}"
    return None
