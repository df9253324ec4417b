"""Procedural towns: synthetic OpenStreetMap data converted to OpenDRIVE by ``carla.Osm2Odr`` (:mod:`.osm`), and one
town written as OpenDRIVE directly.

Seven towns, each built in well under a second and cached per process:

- ``GridTown``: a 5x5 grid of blocks, 100 m apart, inside a 4-lane ring road; every second inner
  street is a 4-lane arterial (2+2), the others 2-lane streets (1+1); junctions where two arterials
  cross have traffic lights.
- ``Highway``: a 3 km dual carriageway, 3 lanes each way, gently curved, with ramps.
- ``RingTown``: a two-way 4-lane ring of 150 m radius with four spokes to the centre.
- ``CurveRoad``: a two-way 2-lane road, 200 m straight, a 90-degree curve of 40 m radius, 200 m
  straight: the sanity map on which tests check that an experiment's reward pays for following the lane;
- ``HighwayLoop`` and ``Boulevards``: two fixed random towns (:mod:`.random_towns`), a motorway loop with
  ramps around a town, and a town of multi-lane carriageways, a roundabout and parallel roads;
- ``BikeTown`` (:mod:`.bike_town`): a four-way junction of two-lane roads with biking lanes, which OSM's converter
  does not write (the Leaderboard 2.0's CrossingBicycleFlow rides one).

Besides these, ``RandomTown<N>`` (``RandomTown0`` ... ``RandomTown999999999``) is the random town of seed ``N``
(:func:`~.random_towns.town_spec`): as many different towns as a policy needs to generalise, a few seconds each
to build.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from .bike_town import bike_town_opendrive
from .osm import OsmBuilder, osm_to_opendrive
from .random_towns import TownSpec, random_town, random_town_opendrive, town_spec

def grid_town(rows: int = 5, cols: int = 5, spacing: float = 100.0, arterial_every: int = 2) -> str:
    """OSM of a grid town: a 4-lane ring road around ``rows`` x ``cols`` blocks (one closed way, so
    its corners are bends, not dead ends), crossed by inner streets; arterials (4 lanes) every
    ``arterial_every`` streets, signals where two arterials cross."""
    osm = OsmBuilder()
    ids = {}
    for r in range(rows + 1):
        for c in range(cols + 1):
            signal = r % arterial_every == 0 and c % arterial_every == 0 and 0 < r < rows and 0 < c < cols
            tags = {"highway": "traffic_signals"} if signal else {}
            ids[r, c] = osm.node(c * spacing, r * spacing, **tags)
    ring = ([ids[0, c] for c in range(cols + 1)] + [ids[r, cols] for r in range(1, rows + 1)] +
            [ids[rows, c] for c in range(cols - 1, -1, -1)] + [ids[r, 0] for r in range(rows - 1, -1, -1)])
    osm.way(ring, highway="primary", lanes="4", name="Ring")
    for r in range(1, rows):
        arterial = r % arterial_every == 0
        osm.way([ids[r, c] for c in range(cols + 1)], highway="primary" if arterial else "residential",
                lanes="4" if arterial else "2", name=f"Row {r}")
    for c in range(1, cols):
        arterial = c % arterial_every == 0
        osm.way([ids[r, c] for r in range(rows + 1)], highway="primary" if arterial else "residential",
                lanes="4" if arterial else "2", name=f"Column {c}")
    return osm.xml()


def highway(length: float = 3000.0, lanes: int = 3, amplitude: float = 60.0) -> str:
    """OSM of a curved dual carriageway with an exit and an entry ramp."""
    osm = OsmBuilder()
    steps = 60
    median = 12.0

    def centre(s: float) -> tuple[float, float]:
        return s, amplitude * math.sin(2.0 * math.pi * s / length)

    east, west = [], []
    for i in range(steps + 1):
        x, y = centre(length * i / steps)
        east.append(osm.node(x, y - median / 2))
        west.append(osm.node(x, y + median / 2))
    osm.way(east, highway="motorway", lanes=str(lanes), oneway="yes", name="Highway east")
    osm.way(list(reversed(west)), highway="motorway", lanes=str(lanes), oneway="yes", name="Highway west")
    exit_from, entry_to = east[steps // 3], east[2 * steps // 3]
    ex, ey = centre(length / 3 + 150.0)
    ramp_mid = osm.node(ex, ey - median / 2 - 60.0)
    nx, ny = centre(2 * length / 3 - 150.0)
    ramp_back = osm.node(nx, ny - median / 2 - 60.0)
    osm.way([exit_from, ramp_mid, ramp_back, entry_to], highway="motorway_link", oneway="yes",
            name="Service loop")
    return osm.xml()


def ring_town(radius: float = 150.0, lanes: int = 4, spokes: int = 4, points: int = 48) -> str:
    """OSM of a two-way ring road with spokes meeting at a signalised centre."""
    osm = OsmBuilder()
    ring = []
    spoke_every = points // spokes
    for i in range(points):
        angle = 2.0 * math.pi * i / points
        tags = {"highway": "traffic_signals"} if i % spoke_every == 0 else {}
        ring.append(osm.node(radius * math.cos(angle), radius * math.sin(angle), **tags))
    osm.way(ring + [ring[0]], highway="primary", lanes=str(lanes), name="Ring")
    hub = osm.node(0.0, 0.0)
    for k in range(spokes):
        osm.way([ring[k * spoke_every], hub], highway="residential", lanes="2", name=f"Spoke {k}")
    return osm.xml()


def curve_road(straight: float = 200.0, radius: float = 40.0, points: int = 12) -> str:
    """OSM of a two-way 2-lane road: ``straight`` metres along +x, a left curve of ``radius`` metres
    through 90 degrees, ``straight`` metres along +y."""
    osm = OsmBuilder()
    nodes = [osm.node(0.0, 0.0), osm.node(straight / 2, 0.0)]
    for i in range(points + 1):
        angle = -math.pi / 2 + (math.pi / 2) * i / points
        nodes.append(osm.node(straight + radius * math.cos(angle), radius + radius * math.sin(angle)))
    nodes += [osm.node(straight + radius, radius + straight / 2), osm.node(straight + radius, radius + straight)]
    osm.way(nodes, highway="residential", lanes="2", name="Curve road")
    return osm.xml()


def straight_motorway(length: float = 3000.0, lanes: int = 2) -> str:
    """OSM of a straight one-way motorway along +x (not a town of the list: calibration runs and
    tests of the vehicle dynamics use it, with room to reach top speed)."""
    osm = OsmBuilder()
    nodes = [osm.node(x, 0.0) for x in np.linspace(0.0, length, 4)]
    osm.way(nodes, highway="motorway", oneway="yes", lanes=str(lanes), name="Straight motorway")
    return osm.xml()


def highway_loop() -> str:
    """OSM of a highway town: a 3 by 3 grid of jittered streets (signals, lane ends), a one-way two-lane
    motorway loop 120 m around it with an exit and an entry ramp."""
    return random_town(TownSpec(rows=3, cols=3, spacing=110.0, jitter=0.12, seed=4, ring=True, highway=True,
                                lane_ends=True, signal_share=0.4))


def boulevards() -> str:
    """OSM of a town of multi-lane carriageways: a 3 by 4 grid of 2-6 lane and one-way streets, a
    roundabout, and a boulevard of two three-lane carriageways beside it (parallel roads with no junction
    for the town's width)."""
    return random_town(TownSpec(rows=3, cols=4, spacing=120.0, jitter=0.1, seed=11, ring=False, boulevard=True,
                                roundabout=True, lane_ends=True, signal_share=0.5))


#: Procedural town name -> OSM generator.
OSM_TOWNS = {"Boulevards": boulevards, "CurveRoad": curve_road, "GridTown": grid_town, "Highway": highway,
             "HighwayLoop": highway_loop, "RingTown": ring_town}
#: Procedural town name -> OpenDRIVE generator (what OSM cannot say: biking lanes).
OPENDRIVE_TOWNS = {"BikeTown": bike_town_opendrive}
#: Every named procedural town.
PROCEDURAL_TOWNS = {**OSM_TOWNS, **OPENDRIVE_TOWNS}


RANDOM_TOWN = re.compile(r"RandomTown(\d{1,9})")


def is_procedural(name: str) -> bool:
    """Whether ``name`` is a procedural town: one of :data:`PROCEDURAL_TOWNS` or ``RandomTown<N>``."""
    return name in PROCEDURAL_TOWNS or RANDOM_TOWN.fullmatch(name) is not None


@functools.lru_cache(maxsize=None)
def procedural_opendrive(name: str) -> str:
    """OpenDRIVE text of a procedural town (converted once per process)."""
    seed = RANDOM_TOWN.fullmatch(name)
    if seed is not None:
        return random_town_opendrive(town_spec(int(seed.group(1))))
    if name in OPENDRIVE_TOWNS:
        return OPENDRIVE_TOWNS[name]()
    return osm_to_opendrive(OSM_TOWNS[name]())
