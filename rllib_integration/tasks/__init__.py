"""Tasks experiments share: route following (routes, progress, the evaluator's infractions as ends)."""

from .route_following import END_REASONS, HARD_KINDS, RouteFollowing, RouteStep

__all__ = ["END_REASONS", "HARD_KINDS", "RouteFollowing", "RouteStep"]
