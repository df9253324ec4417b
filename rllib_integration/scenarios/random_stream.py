"""The random draws of a route's scenarios and background activity, made as ScenarioRunner makes them.

ScenarioRunner's ``CarlaDataProvider`` holds one ``numpy.random.RandomState`` seeded 2000, made anew for every
route, and every scenario and the background activity draw from it: ``create_blueprint`` picks one of the matching
blueprints (``choice``: no draw where only one matches) and then, for any actor but the hero, one of the
blueprint's recommended colours; the background draws whether a junction source spawns, ControlLoss its noise, a
flow its gaps. One such stream per route, drawn in the leaderboard's order (the scenarios near the route's start
are built before its first tick, the background's first vehicles after it), gives the embedded world's evaluator
the cars the leaderboard spawns there.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import numpy as np

#: ``CarlaDataProvider._random_seed``: the leaderboard never changes it.
LEADERBOARD_SEED = 2000

T = TypeVar("T")


def route_stream(seed: int = 0) -> np.random.RandomState:
    """A route's stream: the leaderboard's for ``seed`` 0, another one for each other seed."""
    return np.random.RandomState((LEADERBOARD_SEED + seed) % 2 ** 32)


def pick(rng: np.random.RandomState, items: Sequence[T]) -> T:
    """``rng.choice(items)`` as ScenarioRunner draws it (one draw; none for a single item)."""
    if not items:
        raise ValueError("nothing to pick from")
    return items[int(rng.randint(0, len(items)))]


def prepared_blueprint(rng: np.random.RandomState, blueprints: Sequence[Any], role: str) -> Any:
    """One of ``blueprints`` made ready as ``CarlaDataProvider.create_blueprint`` makes it, with its draws: the
    blueprint, then (any role but ``hero``) one of its recommended colours, then its ``role_name``."""
    blueprint = pick(rng, blueprints)
    if blueprint.has_attribute("color") and role != "hero":
        blueprint.set_attribute("color", pick(rng, blueprint.get_attribute("color").recommended_values))
    if blueprint.has_attribute("role_name"):
        blueprint.set_attribute("role_name", role)
    return blueprint
