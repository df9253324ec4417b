"""Leaderboard 2.0 scenarios simulated by the evaluator itself (no ScenarioRunner needed): see
:mod:`.route_scenarios` for the types covered and :mod:`.base` for a scenario's life cycle."""

from .base import TIMEOUT_EVENT, YIELD_EVENT
from .route_scenarios import NOT_SIMULATED, SCENARIO_TYPES, RouteScenarios, unsimulated_types

__all__ = ["NOT_SIMULATED", "SCENARIO_TYPES", "TIMEOUT_EVENT", "YIELD_EVENT", "RouteScenarios", "unsimulated_types"]
