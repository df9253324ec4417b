"""``BikeTown``: a four-way junction of two-lane roads with a biking lane between each driving lane and its
sidewalk, written directly as OpenDRIVE (``carla.Osm2Odr`` writes no biking lanes).

It is the town of the Leaderboard 2.0's ``CrossingBicycleFlow`` here: bicycles ride a biking lane straight across
a junction while the hero turns across it (CARLA's Town12 and Town13 have such lanes; the other procedural towns
do not). Each arm is a road from the junction's edge outwards, :data:`ARM` metres long: right lanes -1 (driving),
-2 (biking), -3 (sidewalk) run outwards, left lanes 1, 2, 3 towards the junction; at its end a one-lane loop (a
junction of its own) turns the traffic back (lanes that end nowhere have no place in CARLA's topology, so no route
could leave the junction). Inside the junction, every arm
connects to the three others (straight on: the driving and the biking lane; turns: the driving lane, on arcs of
:data:`EDGE` metres radius about the reference line). A traffic light (an OpenDRIVE signal, as in CARLA's towns,
so that landmarks find it) on the sidewalk at each arm's end of the junction controls its incoming driving lane.
"""

from __future__ import annotations

import math

ARM = 200.0  # metres from the junction's edge to an arm's end
EDGE = 12.0  # metres from the junction's centre to where the arms begin
DRIVING, BIKING, SIDEWALK = 3.5, 1.5, 2.5  # lane widths, metres
JUNCTION_ID = 100
LIGHT_S = 1.0  # metres from the junction's edge (along the arm) the lights stand
LOOP_SMALL, LOOP_LARGE = 10.0, 15.0  # radii (metres) of an arm's turning loop's arcs
PROJECTION = "+proj=tmerc +lat_0=0 +lon_0=0 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
#: The arms: road id and outward heading (radians, OpenDRIVE's: anticlockwise from east).
ARMS = ((1, 0.0), (2, math.pi / 2.0), (3, math.pi), (4, -math.pi / 2.0))


def _lane(lane_id: int, kind: str, width: float, mark: str = "none", link: tuple[int | None, int | None] = (None, None)
          ) -> str:
    predecessor, successor = link
    links = ""
    if predecessor is not None or successor is not None:
        links = "<link>" + (f'<predecessor id="{predecessor}"/>' if predecessor is not None else "") + \
            (f'<successor id="{successor}"/>' if successor is not None else "") + "</link>"
    return (f'<lane id="{lane_id}" type="{kind}" level="false">{links}'
            f'<width sOffset="0" a="{width}" b="0" c="0" d="0"/>'
            f'<roadMark sOffset="0" type="{mark}" weight="standard" color="standard" width="0.15"/></lane>')


def _arm(road_id: int, heading: float) -> str:
    """An arm road: from the junction's edge outwards."""
    x, y = EDGE * math.cos(heading), EDGE * math.sin(heading)
    left = (_lane(3, "sidewalk", SIDEWALK) + _lane(2, "biking", BIKING, "solid") +
            _lane(1, "driving", DRIVING, "solid"))
    right = (_lane(-1, "driving", DRIVING, "solid") + _lane(-2, "biking", BIKING, "solid") +
             _lane(-3, "sidewalk", SIDEWALK))
    return (f'<road name="Arm {road_id}" length="{ARM}" id="{road_id}" junction="-1">'
            f'<link><predecessor elementType="junction" elementId="{JUNCTION_ID}"/>'
            f'<successor elementType="junction" elementId="{JUNCTION_ID + road_id}"/></link>'
            f'<type s="0" type="town"><speed max="40" unit="km/h"/></type>'
            f'<planView><geometry s="0" x="{x:.6f}" y="{y:.6f}" hdg="{heading:.9f}" length="{ARM}"><line/></geometry>'
            f'</planView><elevationProfile/><lateralProfile/>'
            f'<lanes><laneSection s="0"><left>{left}</left>'
            f'<center><lane id="0" type="none" level="false"><roadMark sOffset="0" type="solid" weight="standard" '
            f'color="yellow" width="0.15"/></lane></center>'
            f'<right>{right}</right></laneSection></lanes>'
            f'<objects/><signals><signal name="Signal_3Light_Post01" id="{road_id}" s="{LIGHT_S}" '
            f't="{DRIVING + BIKING + SIDEWALK / 2.0}" zOffset="0" hOffset="0" roll="0" pitch="0" orientation="-" '
            f'dynamic="yes" country="OpenDRIVE" type="1000001" subtype="-1" value="-1" text="" height="1.16" '
            f'width="0.52"><validity fromLane="1" toLane="1"/></signal></signals></road>')


def _connection(road_id: int, source: tuple[int, float], target: tuple[int, float], turn: int) -> str:
    """A connecting road from arm ``source`` (entered by its lane 1) to arm ``target`` (left by its lane -1); ``turn``
    -1 right, 0 straight (with the biking lane too), 1 left."""
    (from_id, from_heading), (to_id, _) = source, target
    x, y = EDGE * math.cos(from_heading), EDGE * math.sin(from_heading)
    heading = from_heading + math.pi
    if turn == 0:
        length, shape = 2.0 * EDGE, "<line/>"
    else:
        length, shape = EDGE * math.pi / 2.0, f'<arc curvature="{turn / EDGE:.9f}"/>'
    lanes = _lane(-1, "driving", DRIVING, "none", (1, -1))
    if turn == 0:
        lanes += _lane(-2, "biking", BIKING, "none", (2, -2))
    return (f'<road name="Connection {road_id}" length="{length:.9f}" id="{road_id}" junction="{JUNCTION_ID}">'
            f'<link><predecessor elementType="road" elementId="{from_id}" contactPoint="start"/>'
            f'<successor elementType="road" elementId="{to_id}" contactPoint="start"/></link>'
            f'<type s="0" type="town"><speed max="40" unit="km/h"/></type>'
            f'<planView><geometry s="0" x="{x:.6f}" y="{y:.6f}" hdg="{heading:.9f}" length="{length:.9f}">{shape}'
            f'</geometry></planView><elevationProfile/><lateralProfile/>'
            f'<lanes><laneSection s="0"><center><lane id="0" type="none" level="false"/></center>'
            f'<right>{lanes}</right></laneSection></lanes></road>')


def _loop(road_id: int, arm: tuple[int, float]) -> tuple[str, str]:
    """The turning loop at the end of ``arm``, and its junction: a teardrop (right :data:`LOOP_SMALL`-radius arc,
    left :data:`LOOP_LARGE`-radius arc round, right arc back) from the arm's outward lane to its inward one."""
    arm_id, heading = arm
    reach = EDGE + ARM
    x, y = reach * math.cos(heading), reach * math.sin(heading)
    turn = math.acos(LOOP_SMALL / (LOOP_SMALL + LOOP_LARGE))
    pieces = ((LOOP_SMALL * turn, -1.0 / LOOP_SMALL), (LOOP_LARGE * (math.pi + 2.0 * turn), 1.0 / LOOP_LARGE),
              (LOOP_SMALL * turn, -1.0 / LOOP_SMALL))
    geometry, s, hdg = [], 0.0, heading
    for length, curvature in pieces:
        geometry.append(f'<geometry s="{s:.9f}" x="{x:.9f}" y="{y:.9f}" hdg="{hdg:.9f}" length="{length:.9f}">'
                        f'<arc curvature="{curvature:.9f}"/></geometry>')
        # the end of the arc: the chord at half the heading change
        change = length * curvature
        chord = 2.0 * math.sin(change / 2.0) / curvature
        x, y = x + chord * math.cos(hdg + change / 2.0), y + chord * math.sin(hdg + change / 2.0)
        s, hdg = s + length, hdg + change
    junction = JUNCTION_ID + arm_id
    road = (f'<road name="Loop {arm_id}" length="{s:.9f}" id="{road_id}" junction="{junction}">'
            f'<link><predecessor elementType="road" elementId="{arm_id}" contactPoint="end"/>'
            f'<successor elementType="road" elementId="{arm_id}" contactPoint="end"/></link>'
            f'<type s="0" type="town"><speed max="40" unit="km/h"/></type>'
            f'<planView>{"".join(geometry)}</planView><elevationProfile/><lateralProfile/>'
            f'<lanes><laneSection s="0"><center><lane id="0" type="none" level="false"/></center>'
            f'<right>{_lane(-1, "driving", DRIVING, "none", (-1, 1))}</right></laneSection></lanes></road>')
    return road, (f'<junction id="{junction}" name="Loop {arm_id}"><connection id="0" incomingRoad="{arm_id}" '
                  f'connectingRoad="{road_id}" contactPoint="start"><laneLink from="-1" to="-1"/></connection>'
                  f'</junction>')


def bike_town_opendrive() -> str:
    """OpenDRIVE text of ``BikeTown`` (see the module docstring)."""
    roads = [_arm(road_id, heading) for road_id, heading in ARMS]
    connections, junction = [], []
    next_id = 10
    for k, source in enumerate(ARMS):
        for turn, offset in ((-1, 1), (0, 2), (1, 3)):  # the arm to the right, across, to the left
            target = ARMS[(k + offset) % 4]
            connections.append(_connection(next_id, source, target, turn))
            links = '<laneLink from="1" to="-1"/>' + ('<laneLink from="2" to="-2"/>' if turn == 0 else "")
            junction.append(f'<connection id="{len(junction)}" incomingRoad="{source[0]}" connectingRoad="{next_id}" '
                            f'contactPoint="start">{links}</connection>')
            next_id += 1
    loops = [_loop(30 + k, arm) for k, arm in enumerate(ARMS)]
    extent = EDGE + ARM + 2.0 * (LOOP_SMALL + LOOP_LARGE)
    return ('<?xml version="1.0" standalone="yes"?>\n<OpenDRIVE>'
            f'<header revMajor="1" revMinor="4" name="BikeTown" version="1.00" north="{extent}" south="{-extent}" '
            f'east="{extent}" west="{-extent}"><geoReference><![CDATA[{PROJECTION}]]></geoReference></header>' +
            "".join(roads) + "".join(connections) + "".join(road for road, _ in loops) +
            f'<junction id="{JUNCTION_ID}" name="BikeTown junction">' + "".join(junction) + '</junction>' +
            "".join(loop_junction for _, loop_junction in loops) + '</OpenDRIVE>\n')
