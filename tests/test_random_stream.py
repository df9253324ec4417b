"""The scenarios' and background activity's draws follow ScenarioRunner's: one numpy ``RandomState`` per route,
seeded as ``CarlaDataProvider`` seeds it, drawn from as ``CarlaDataProvider.create_blueprint`` draws."""

from __future__ import annotations

import numpy as np

from rllib_integration.embedded.sim.blueprint_catalog import build_library
from rllib_integration.scenarios.random_stream import LEADERBOARD_SEED, pick, prepared_blueprint, route_stream


def test_pick_draws_as_random_state_choice_does():
    ours, theirs = route_stream(), np.random.RandomState(LEADERBOARD_SEED)
    for size in (37, 1, 5, 2, 1, 80, 3):
        items = [f"item{k}" for k in range(size)]
        assert pick(ours, items) == theirs.choice(items)  # (no draw for a single item, as choice)
    assert ours.randint(0, 10 ** 6) == theirs.randint(0, 10 ** 6)


def test_a_blueprint_is_drawn_then_its_colour_unless_it_is_the_hero():
    library = build_library()
    cars = [b for b in library.filter("vehicle.*") if b.has_attribute("color")]
    stream, reference = route_stream(), np.random.RandomState(LEADERBOARD_SEED)
    blueprint = prepared_blueprint(stream, cars, "background")
    expected = reference.choice([b.id for b in cars])
    colour = reference.choice(next(b for b in cars if b.id == expected).get_attribute("color").recommended_values)
    assert blueprint.id == expected and blueprint.get_attribute("role_name").as_str() == "background"
    assert blueprint.get_attribute("color").as_str() == colour
    hero = prepared_blueprint(stream, cars, "hero")  # a hero keeps its colour: one draw only
    assert hero.id == reference.choice([b.id for b in cars])
    assert stream.randint(0, 10 ** 6) == reference.randint(0, 10 ** 6)


def test_each_seed_is_a_stream_of_its_own_and_seed_0_is_the_leaderboards():
    assert route_stream(0).randint(0, 10 ** 9) == np.random.RandomState(2000).randint(0, 10 ** 9)
    assert route_stream(1).randint(0, 10 ** 9) != route_stream(0).randint(0, 10 ** 9)
