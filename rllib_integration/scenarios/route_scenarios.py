"""All the scenarios of one route, driven alongside the evaluator's monitor.

:data:`SCENARIO_TYPES` names the Leaderboard 2.0 scenario types simulated here; a route's scenario of
another type is listed as ``not simulated`` in its results (and evaluate.py says so before driving).
:class:`RouteScenarios` builds and runs them tick by tick, hands the hero's infractions to the running
ones, adds a ``scenario_timeouts`` infraction for each that times out, and reports each one's outcome.
"""

from __future__ import annotations

from typing import Any

import carla
import numpy as np

from ..routes.planner import RoutePlanner
from ..routes.progress import RouteProgress
from ..routes.route_files import ScenarioSpec
from .base import RUNNING, Scenario
from .crossings import DynamicObjectCrossing, ParkingCrossingPedestrian
from .cut_ins import ParkingCutIn, StaticCutIn
from .emergency import YieldToEmergencyVehicle
from .highway import (EnterActorFlow, EnterActorFlowV2, HighwayCutIn, HighwayExit, InterurbanActorFlow,
                      InterurbanAdvancedActorFlow, MergerIntoSlowTraffic, MergerIntoSlowTrafficV2)
from .flows import (CrossingBicycleFlow, InvadingTurn, NonSignalizedJunctionLeftTurn, NonSignalizedJunctionRightTurn,
                    SignalizedJunctionLeftTurn, SignalizedJunctionRightTurn)
from .junctions import (BlockedIntersection, OppositeVehicleRunningRedLight, OppositeVehicleTakingPriority,
                        PedestrianCrossing, PriorityAtJunction, VehicleTurningRoute, VehicleTurningRoutePedestrian)
from .lane_events import ControlLoss, HardBreakRoute
from .parametrizer import BackgroundActivityParametrizer
from .parking_exit import ParkingExit
from .obstacles import (Accident, AccidentTwoWays, ConstructionObstacle, ConstructionObstacleTwoWays,
                        HazardAtSideLane, HazardAtSideLaneTwoWays, ParkedObstacle,
                        ParkedObstacleTwoWays, VehicleOpensDoorTwoWays)

#: Scenario type (as route files name them) -> its class.
SCENARIO_TYPES: dict[str, type[Scenario]] = {
    "Accident": Accident, "AccidentTwoWays": AccidentTwoWays,
    "ParkedObstacle": ParkedObstacle, "ParkedObstacleTwoWays": ParkedObstacleTwoWays,
    "ConstructionObstacle": ConstructionObstacle, "ConstructionObstacleTwoWays": ConstructionObstacleTwoWays,
    "DynamicObjectCrossing": DynamicObjectCrossing, "ParkingCrossingPedestrian": ParkingCrossingPedestrian,
    "HardBreakRoute": HardBreakRoute, "ControlLoss": ControlLoss,
    "OppositeVehicleRunningRedLight": OppositeVehicleRunningRedLight,
    "OppositeVehicleTakingPriority": OppositeVehicleTakingPriority,
    "PedestrianCrossing": PedestrianCrossing, "BlockedIntersection": BlockedIntersection,
    "SignalizedJunctionLeftTurn": SignalizedJunctionLeftTurn, "NonSignalizedJunctionLeftTurn": NonSignalizedJunctionLeftTurn,
    "SignalizedJunctionRightTurn": SignalizedJunctionRightTurn,
    "NonSignalizedJunctionRightTurn": NonSignalizedJunctionRightTurn,
    "ParkingCutIn": ParkingCutIn, "StaticCutIn": StaticCutIn,
    "VehicleTurningRoute": VehicleTurningRoute, "VehicleTurningRoutePedestrian": VehicleTurningRoutePedestrian,
    "YieldToEmergencyVehicle": YieldToEmergencyVehicle,
    "EnterActorFlow": EnterActorFlow, "EnterActorFlowV2": EnterActorFlowV2,
    "MergerIntoSlowTraffic": MergerIntoSlowTraffic, "MergerIntoSlowTrafficV2": MergerIntoSlowTrafficV2,
    "HighwayCutIn": HighwayCutIn,
    "InterurbanActorFlow": InterurbanActorFlow, "InterurbanAdvancedActorFlow": InterurbanAdvancedActorFlow,
    "InvadingTurn": InvadingTurn, "PriorityAtJunction": PriorityAtJunction,
    "HazardAtSideLane": HazardAtSideLane, "HazardAtSideLaneTwoWays": HazardAtSideLaneTwoWays,
    "VehicleOpensDoorTwoWays": VehicleOpensDoorTwoWays, "ParkingExit": ParkingExit, "HighwayExit": HighwayExit,
    "CrossingBicycleFlow": CrossingBicycleFlow, "BackgroundActivityParametrizer": BackgroundActivityParametrizer,
}
NOT_SIMULATED = "not simulated"
MIN_SPEED = "min_speed_infractions"  # the Leaderboard's name of the minimum-speed events (no scenario fails by them)


def unsimulated_types(specs: list[ScenarioSpec]) -> list[str]:
    """The scenario types of ``specs`` that are not simulated, sorted."""
    return sorted({spec.type for spec in specs if spec.type not in SCENARIO_TYPES})


class RouteScenarios:
    """The scenarios of a route for ``hero`` along ``progress``; ``seed`` draws their random choices."""

    def __init__(self, specs: list[ScenarioSpec], world: Any, town_map: carla.Map, hero: Any,
                 progress: RouteProgress, seed: int, planner: RoutePlanner | None = None, background: Any = None) -> None:
        """``background``: the route's background activity, which the scenarios ask to make room as ScenarioRunner's
        do (None: none runs)."""
        rng = np.random.default_rng(seed)
        self.specs = list(specs)
        self.scenarios: list[Scenario | None] = [
            SCENARIO_TYPES[spec.type](spec, world, town_map, hero, progress, rng, planner, background)
            if spec.type in SCENARIO_TYPES else None for spec in self.specs]
        for scenario in self.scenarios:
            if scenario is not None:
                scenario.build_before_start()

    def update(self, now: float, new_kinds: list[str]) -> list[tuple[Scenario, str]]:
        """After a tick: note the hero's new infraction kinds on the running scenarios (all but the minimum-speed
        events: a scenario is passed without infractions, as Bench2Drive counts its abilities' successes) and advance
        all; the scenarios' new events (``timeout``, ``yield``), each with its scenario."""
        events = []
        kinds = [kind for kind in new_kinds if kind != MIN_SPEED]  # (Bench2Drive's success ignores minimum speed)
        for scenario in self.scenarios:
            if scenario is None or scenario.done:
                continue
            for kind in kinds:
                scenario.note(kind)
            events += [(scenario, event) for event in scenario.update(now)]
        return events

    @property
    def wrong_way_allowed(self) -> bool:
        """Whether a running scenario lets the hero drive against the lane's direction unpenalised (the
        ``TwoWays`` obstacles, whose way round is the opposite lane)."""
        return any(s is not None and s.state == RUNNING and s.WRONG_WAY_ALLOWED for s in self.scenarios)

    @property
    def outside_lanes_allowed(self) -> bool:
        """Whether a running scenario lets the hero leave the route's lanes unpenalised (ParkingExit)."""
        return any(s is not None and s.state == RUNNING and s.OUTSIDE_LANES_ALLOWED for s in self.scenarios)

    def perturb(self, control: carla.VehicleControl | None) -> carla.VehicleControl | None:
        """The agent's control as the running scenarios change it."""
        if control is None:
            return None
        for scenario in self.scenarios:
            if scenario is not None:
                control = scenario.perturb(control)
        return control

    def results(self) -> list[dict[str, Any]]:
        """Each scenario's name, type and outcome (``passed``, ``failed`` with the infractions, ``timed out``,
        ``not reached``, ``not built`` with the reason, ``not simulated``)."""
        return [scenario.result() if scenario is not None else
                {"name": spec.name, "type": spec.type, "status": NOT_SIMULATED}
                for spec, scenario in zip(self.specs, self.scenarios)]

    def finish(self, route_completed: bool = False) -> None:
        """The route ended (``route_completed``: the hero got to its end): settle every scenario's outcome and
        remove their actors."""
        for scenario in self.scenarios:
            if scenario is not None:
                scenario.finish(route_completed)
                scenario.destroy()
