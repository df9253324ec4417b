"""What a world's per-frame readers keep about its actors (:mod:`rllib_integration.common.per_frame`)."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from rllib_integration.common.per_frame import PerWorld, forget_gone


def test_what_is_kept_about_actors_gone_does_not_pile_up():
    """A reader keeps facts by actor id; as actors come and go (a respawn is a new id), forget_gone keeps at most
    about twice the present actors' facts, and never drops a present actor's."""
    kept: dict[int, str] = {}
    largest = 0
    rng = np.random.default_rng(0)
    present = set(range(40))
    next_id = 40
    for _ in range(5000):  # a world of 40 actors, one replaced each step
        gone = int(rng.choice(sorted(present)))
        present.discard(gone)
        present.add(next_id)
        next_id += 1
        forget_gone(kept, present)
        for actor_id in present:
            kept.setdefault(actor_id, f"facts of {actor_id}")
        largest = max(largest, len(kept))
        assert present <= kept.keys()
    assert largest <= 2 * len(present) + 64 + 1, largest
    forget_gone(kept, set())
    assert len(kept) <= 64


def test_each_world_has_its_own_value_kept_while_it_lives():
    """``PerWorld`` gives each world object its own value, the same at every call (the last world's answered without
    a weak key made), whatever the order worlds are asked in; a world that is gone takes its value with it, even the
    one asked last."""

    class World:  # a world object (weakly referenceable)
        pass

    class Value:
        pass

    per_world: PerWorld[Value] = PerWorld(Value)
    worlds = [World() for _ in range(3)]
    values = [per_world(world) for world in worlds]
    assert len({id(value) for value in values}) == 3
    for k in [0, 0, 2, 1, 1, 0, 2, 2]:
        assert per_world(worlds[k]) is values[k]
    last, first = weakref.ref(values[2]), weakref.ref(values[0])
    assert per_world(worlds[2]) is values[2]  # the last asked
    del worlds[2], values[2]
    gc.collect()
    assert last() is None, "the last world's value went with it"
    assert per_world(worlds[0]) is first()
    replacement = World()
    assert per_world(replacement) is not first() and per_world(replacement) is per_world(replacement)
