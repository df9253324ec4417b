"""Random towns: road networks drawn from a :class:`TownSpec` (property-based tests draw the specs
with hypothesis; :func:`town_spec` draws one from a seed), converted to OpenDRIVE by ``carla.Osm2Odr``
like the named procedural towns of :mod:`.procedural` (two of which are random towns of fixed specs).

A town is a grid of streets over jittered nodes (junctions meet at uneven angles), each street of its
own kind: two-way with 1+1, 2+2 or 3+3 lanes, or one-way with 1-3 lanes; some streets lose lanes half
way (a lane ends); optionally a ring road around it, a boulevard (two one-way carriageways of three lanes
running beside the town's northern edge street, parallel roads with no junction for the town's width), a
roundabout in place of a node and a highway loop around the town (``motorway``, one way, two lanes) joined
to it by an exit and an entry ramp. Signals stand at some nodes; some streets have stop signs' priority
rules (Osm2Odr's defaults). The embedded world's ground holds one surface per place, so random towns have no
overpasses; their terrain is hilly (:func:`hilly`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from xml.etree import ElementTree

import carla

from .osm import OsmBuilder, osm_to_opendrive

#: The street kinds: (OSM tags).
STREET_KINDS = (
    {"highway": "residential", "lanes": "2"},
    {"highway": "primary", "lanes": "4"},
    {"highway": "primary", "lanes": "6"},
    {"highway": "secondary", "lanes": "1", "oneway": "yes"},
    {"highway": "secondary", "lanes": "2", "oneway": "yes"},
    {"highway": "primary", "lanes": "3", "oneway": "yes"},
)


@dataclass(frozen=True)
class TownSpec:
    """What a random town holds (see the module docstring)."""

    rows: int = 3  # blocks down
    cols: int = 3  # blocks across
    spacing: float = 110.0  # metres between grid nodes
    jitter: float = 0.15  # of the spacing: how far nodes move off the grid
    seed: int = 0  # street kinds, signals, jitter
    ring: bool = True
    boulevard: bool = False
    roundabout: bool = False
    highway: bool = False
    lane_ends: bool = True
    signal_share: float = 0.4
    hills: float = 0.0  # metres of amplitude of the terrain's waves (0: flat)

    def describe(self) -> str:
        extras = [name for name in ("ring", "boulevard", "roundabout", "highway", "lane_ends")
                  if getattr(self, name)]
        hills = [f"hills of {self.hills:.1f} m"] if self.hills else []
        return f"{self.rows}x{self.cols} blocks of {self.spacing:.0f} m, seed {self.seed}, " + \
            (", ".join(extras + hills) or "plain")


def town_spec(seed: int) -> TownSpec:
    """A random town specification from ``seed``."""
    rng = random.Random(seed)
    return TownSpec(rows=rng.randint(2, 4), cols=rng.randint(2, 4), spacing=rng.uniform(80.0, 150.0),
                    jitter=rng.uniform(0.0, 0.2), seed=seed, ring=rng.random() < 0.6, boulevard=rng.random() < 0.4,
                    roundabout=rng.random() < 0.4, highway=rng.random() < 0.4,
                    lane_ends=rng.random() < 0.5, signal_share=rng.uniform(0.0, 0.6),
                    hills=rng.choice([0.0, rng.uniform(1.0, 6.0)]))


def random_town_opendrive(spec: TownSpec) -> str:
    """The OpenDRIVE of the town ``spec`` describes, its hills applied."""
    opendrive = osm_to_opendrive(random_town(spec))
    return hilly(opendrive, spec.hills, 240.0, spec.seed) if spec.hills else opendrive


def hilly(opendrive: str, amplitude: float, wavelength: float, seed: int) -> str:
    """``opendrive`` with every road's elevation profile following the terrain ``amplitude * sin(x) cos(y)``
    (waves of ``wavelength`` metres, phases from ``seed``): linear pieces every 2 m along each road, from
    the heights under its lane nearest the reference line, so roads meeting at a junction meet at the
    terrain's height (slopes stay under 2 pi amplitude / wavelength)."""
    rng = random.Random(seed)
    phase_x, phase_y = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)

    def height(x: float, y: float) -> float:
        return amplitude * math.sin(2 * math.pi * x / wavelength + phase_x) * math.cos(2 * math.pi * y / wavelength + phase_y)
    lanes: dict[int, dict[int, list[tuple[float, float]]]] = {}
    for waypoint in carla.Map("flat", opendrive).generate_waypoints(2.0):
        at = waypoint.transform.location
        lanes.setdefault(waypoint.road_id, {}).setdefault(waypoint.lane_id, []).append((waypoint.s, height(at.x, at.y)))
    root = ElementTree.fromstring(opendrive)
    for road in root.iter("road"):
        profile = road.find("elevationProfile")
        samples = lanes.get(int(road.get("id", "-1")))
        if profile is None or not samples:
            continue
        points = sorted(samples[min(samples, key=abs)])
        if len(points) == 1:
            points.append((points[0][0] + 1.0, points[0][1]))
        for child in list(profile):
            profile.remove(child)
        for k, (s0, h0) in enumerate(points[:-1]):
            s1, h1 = points[k + 1]
            slope = (h1 - h0) / max(s1 - s0, 1e-6)
            start = 0.0 if k == 0 else s0
            ElementTree.SubElement(profile, "elevation", s=f"{start:.4f}", a=f"{h0 - slope * (s0 - start):.5f}",
                                   b=f"{slope:.6f}", c="0", d="0")
    return "<?xml version=\"1.0\" standalone=\"yes\"?>\n" + ElementTree.tostring(root, encoding="unicode")


def random_town(spec: TownSpec) -> str:
    """OSM XML of the town ``spec`` describes."""
    rng = random.Random(spec.seed)
    osm = OsmBuilder()
    rows, cols, step = spec.rows, spec.cols, spec.spacing
    centre = (rows // 2, cols // 2) if spec.roundabout and rows >= 2 and cols >= 2 else None
    ids: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], tuple[float, float]] = {}
    for r in range(rows + 1):
        for c in range(cols + 1):
            edge = r in (0, rows) or c in (0, cols)
            dx, dy = (0.0, 0.0) if edge else (rng.uniform(-1, 1) * spec.jitter * step, rng.uniform(-1, 1) * spec.jitter * step)
            x, y = c * step + dx, r * step + dy
            where[r, c] = (x, y)
            tags = {"highway": "traffic_signals"} if not edge and rng.random() < spec.signal_share else {}
            if (r, c) != centre:
                ids[r, c] = osm.node(x, y, **tags)
    if centre is not None:
        _roundabout(osm, ids, where, centre, min(step * 0.18, 22.0))
    for r in range(1, rows):
        kind = dict(rng.choice(STREET_KINDS))
        nodes = [ids[r, c] for c in range(cols + 1)] if (r, cols // 2) != centre else None
        if nodes is None:  # the roundabout's row: a street on each side (its arms join them to the circle)
            _halves(osm, [ids[r, c] for c in range(cols // 2)], [ids[r, c] for c in range(cols // 2 + 1, cols + 1)],
                    kind, f"Row {r}")
            continue
        _street(osm, nodes, where, [(r, c) for c in range(cols + 1)], kind, spec.lane_ends and rng.random() < 0.5,
                f"Row {r}")
    for c in range(1, cols):
        kind = dict(rng.choice(STREET_KINDS))
        if (rows // 2, c) == centre:
            _halves(osm, [ids[r, c] for r in range(rows // 2)], [ids[r, c] for r in range(rows // 2 + 1, rows + 1)],
                    kind, f"Column {c}")
            continue
        nodes = [ids[r, c] for r in range(rows + 1)]
        _street(osm, nodes, where, [(r, c) for r in range(rows + 1)], kind, spec.lane_ends and rng.random() < 0.5,
                f"Column {c}")
    if spec.ring:
        ring = ([ids[0, c] for c in range(cols + 1)] + [ids[r, cols] for r in range(1, rows + 1)] +
                [ids[rows, c] for c in range(cols - 1, -1, -1)] + [ids[r, 0] for r in range(rows - 1, -1, -1)])
        osm.way(ring, highway="primary", lanes="4", name="Ring")
    else:  # the outer streets, two-way
        for r in (0, rows):
            osm.way([ids[r, c] for c in range(cols + 1)], highway="secondary", lanes="2", name=f"Edge row {r}")
        for c in (0, cols):
            osm.way([ids[r, c] for r in range(rows + 1)], highway="secondary", lanes="2", name=f"Edge column {c}")
    if spec.boulevard:
        _boulevard(osm, ids, where, 0, cols, step)
    if spec.highway:
        _highway_loop(osm, ids, where, rows, cols, step)
    return osm.xml()


def _street(osm: OsmBuilder, nodes: list[int], where: dict, keys: list, kind: dict, lane_end: bool,
            name: str) -> None:
    """A street along ``nodes``; with ``lane_end`` a two-way street of 4 or 6 lanes narrows to 2 half
    way along its middle block (a node is added there)."""
    lanes = int(kind["lanes"])
    if not lane_end or kind.get("oneway") or lanes < 4 or len(nodes) < 3:
        osm.way(nodes, **kind, name=name)
        return
    middle = len(nodes) // 2
    (x0, y0), (x1, y1) = where[keys[middle - 1]], where[keys[middle]]
    split = osm.node((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    osm.way(nodes[:middle] + [split], **kind, name=f"{name} wide")
    osm.way([split] + nodes[middle:], **{**kind, "lanes": "2"}, name=f"{name} narrow")


def _halves(osm: OsmBuilder, before: list[int], after: list[int], kind: dict, name: str) -> None:
    """The two parts of a street cut by a roundabout (a part of one node is only the roundabout's arm)."""
    for part, side in ((before, "a"), (after, "b")):
        if len(part) >= 2:
            osm.way(part, **kind, name=f"{name} {side}")


def _roundabout(osm: OsmBuilder, ids: dict, where: dict, centre: tuple[int, int], radius: float) -> None:
    """A one-way circle of ``radius`` at a grid node, an arm from it to each neighbouring node."""
    cx, cy = where[centre]
    points = 16
    circle = [osm.node(cx + radius * math.cos(2 * math.pi * k / points), cy + radius * math.sin(2 * math.pi * k / points))
              for k in range(points)]
    osm.way(circle + [circle[0]], highway="primary", lanes="1", oneway="yes", junction="roundabout", name="Roundabout")
    r, c = centre
    for (dr, dc), k in (((0, 1), 0), ((1, 0), 4), ((0, -1), 8), ((-1, 0), 12)):
        if (r + dr, c + dc) in ids:
            osm.way([circle[k], ids[r + dr, c + dc]], highway="secondary", lanes="2", name=f"Roundabout arm {k}")


def _boulevard(osm: OsmBuilder, ids: dict, where: dict, r: int, cols: int, step: float) -> None:
    """Two one-way carriageways of three lanes north of row ``r`` (the northern edge), splitting at a node
    40 m north of each of the row's ends (a two-way street joins it to the grid there) and running
    apart (30 and 50 m north of the row) with no junction between: parallel roads for the town's width."""
    (xw, yw), (xe, ye) = where[r, 0], where[r, cols]
    west_end, east_end = osm.node(xw - 40.0, yw - 40.0), osm.node(xe + 40.0, ye - 40.0)
    osm.way([west_end, ids[r, 0]], highway="secondary", lanes="2", name="Boulevard west link")
    osm.way([east_end, ids[r, cols]], highway="secondary", lanes="2", name="Boulevard east link")
    east = [west_end] + [osm.node(xw + (xe - xw) * k / 4.0, yw - 30.0) for k in range(5)] + [east_end]
    west = [east_end] + [osm.node(xe + (xw - xe) * k / 4.0, ye - 50.0) for k in range(5)] + [west_end]
    osm.way(east, highway="primary", lanes="3", oneway="yes", name="Boulevard east")
    osm.way(west, highway="primary", lanes="3", oneway="yes", name="Boulevard west")


def _highway_loop(osm: OsmBuilder, ids: dict, where: dict, rows: int, cols: int, step: float) -> None:
    """A one-way two-lane motorway loop 120 m around the town, an exit ramp to the north-west corner and
    an entry ramp from the south-east corner."""
    margin = 120.0
    x0, y0 = -margin, -margin
    x1, y1 = cols * step + margin, rows * step + margin
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    loop = []
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1]):
        for k in range(4):  # rounded a little: no hairpin corners
            t = k / 4.0
            loop.append(osm.node(ax + (bx - ax) * t, ay + (by - ay) * t))
    osm.way(loop + [loop[0]], highway="motorway", lanes="2", oneway="yes", name="Highway loop")
    exit_from, entry_to = loop[1], loop[9]
    osm.way([exit_from, ids[0, 0]], highway="motorway_link", lanes="1", oneway="yes", name="Exit")
    osm.way([ids[rows, cols], entry_to], highway="motorway_link", lanes="1", oneway="yes", name="Entry")
