"""What a world's per-frame readers keep about its actors (:mod:`rllib_integration.common.per_frame`)."""

from __future__ import annotations

import numpy as np

from rllib_integration.common.per_frame import forget_gone


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
