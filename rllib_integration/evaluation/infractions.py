"""Infraction kinds, their penalty factors and route end statuses, named as in the CARLA Leaderboard's
``results.json`` (see ``leaderboard-metrics.md`` in the project's references).

Per route the infraction penalty starts at 1.0 and is multiplied by :data:`PENALTIES` for every
event (Leaderboard 2.0's minimum-speed events by their percentage, see :data:`MIN_SPEED_FACTOR`), and by
``1 - percentage / 100`` for the share of the route driven outside its lanes; the
driving score is ``route completion x penalty``. Route deviations, blocks and timeouts end the route
(recorded, no factor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COLLISION_PEDESTRIAN = "collisions_pedestrian"
COLLISION_VEHICLE = "collisions_vehicle"
COLLISION_LAYOUT = "collisions_layout"
RED_LIGHT = "red_light"
STOP_SIGN = "stop_infraction"
OUTSIDE_LANES = "outside_route_lanes"
ROUTE_DEVIATION = "route_dev"
BLOCKED = "vehicle_blocked"
TIMEOUT = "route_timeout"
YIELD_EMERGENCY = "yield_emergency_vehicle_infractions"
SCENARIO_TIMEOUT = "scenario_timeouts"
MIN_SPEED = "min_speed_infractions"

#: Every kind in results.json order.
KINDS = (COLLISION_PEDESTRIAN, COLLISION_VEHICLE, COLLISION_LAYOUT, RED_LIGHT, STOP_SIGN, OUTSIDE_LANES,
         ROUTE_DEVIATION, BLOCKED, TIMEOUT, YIELD_EMERGENCY, SCENARIO_TIMEOUT, MIN_SPEED)
#: Multiplicative factor of one event of each kind.
PENALTIES = {COLLISION_PEDESTRIAN: 0.50, COLLISION_VEHICLE: 0.60, COLLISION_LAYOUT: 0.65, RED_LIGHT: 0.70,
             STOP_SIGN: 0.80, YIELD_EMERGENCY: 0.70, SCENARIO_TIMEOUT: 0.70}
#: Leaderboard 2.0: a minimum-speed event of ``percentage`` (the hero's mean speed as a share of the
#: traffic's) multiplies the penalty by ``1 - (1 - MIN_SPEED_FACTOR) * (1 - percentage / 100)``.
MIN_SPEED_FACTOR = 0.7
#: Kinds that end the route.
ENDING = (ROUTE_DEVIATION, BLOCKED, TIMEOUT)
#: Short column names for printed tables.
SHORT_NAMES = {COLLISION_PEDESTRIAN: "ped", COLLISION_VEHICLE: "veh", COLLISION_LAYOUT: "static",
               RED_LIGHT: "red", STOP_SIGN: "stop", OUTSIDE_LANES: "off_lane", ROUTE_DEVIATION: "dev",
               BLOCKED: "blocked", TIMEOUT: "timeout", YIELD_EMERGENCY: "yield", SCENARIO_TIMEOUT: "scen_to",
               MIN_SPEED: "min_spd"}

STATUS_COMPLETED = "Completed"
STATUS_FAILED = "Failed"
#: Status of a route that ended early, by the kind that ended it.
END_STATUS = {ROUTE_DEVIATION: "Failed - Agent deviated from the route", BLOCKED: "Failed - Agent got blocked",
              TIMEOUT: "Failed - Agent timed out"}

# route end rules
DEVIATION_LIMIT = 30.0  # metres from the route
BLOCKED_SPEED, BLOCKED_TIME = 0.1, 180.0  # m/s, seconds
SECONDS_PER_METRE, EXTRA_SECONDS = 0.8, 5.0  # time limit: 0.8 s per metre of route + 5 s
# Leaderboard 2.0's time limit (RouteTimeoutBehavior): 300 s, plus, for each metre completed, the time it takes at
# 10 % of the hero's speed limit there
ROUTE_TIMEOUT_2, TIMEOUT_SPEED_SHARE = 300.0, 0.1
COMPLETION_SHARE, COMPLETION_DISTANCE = 0.99, 10.0  # past 99 % and within 10 m of the end: completed


def time_limit(route_length: float) -> float:
    """Simulated seconds a route of ``route_length`` metres may take."""
    return SECONDS_PER_METRE * route_length + EXTRA_SECONDS


@dataclass
class Infraction:
    """One event: its kind, when and where, a message as the Leaderboard writes it, and facts."""

    kind: str
    time: float  # simulated seconds since the route started
    location: tuple[float, float, float]
    message: str
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "time": round(self.time, 3), "location": [round(v, 2) for v in self.location],
                "message": self.message, **self.facts}


def penalty(infractions: list[Infraction], outside_percentage: float) -> float:
    """The infraction penalty of a route: the product of its events' factors (a minimum-speed event's by its
    percentage) and the outside-lanes factor ``1 - outside_percentage / 100``."""
    factor = 1.0
    for infraction in infractions:
        if infraction.kind == MIN_SPEED:
            factor *= 1.0 - (1.0 - MIN_SPEED_FACTOR) * (1.0 - min(100.0, infraction.facts["percentage"]) / 100.0)
        else:
            factor *= PENALTIES.get(infraction.kind, 1.0)
    return factor * max(0.0, 1.0 - outside_percentage / 100.0)
