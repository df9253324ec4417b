"""Gridlock resolution of the traffic manager.

Rules that never block a junction make gridlock rare, not impossible: turning vehicles that swing
into the queue of the next approach, chains of short roads between junctions, a queue that reaches
back into the junction behind it. CARLA's traffic manager ends such a standstill by destroying a
vehicle idle for 90 s (180 s before a red light), one every 10 s. The embedded one ends it sooner
and keeps the number of vehicles: a vehicle that has stood still for :data:`STUCK_TIME` and whose
wait has gone nowhere for the last :data:`SETTLED` seconds is moved to a free spawn point (away
from the hero; a hero on autopilot is never moved), at most one every :data:`RELOCATION_PERIOD`.

A vehicle's wait goes nowhere when following it (to the vehicle ahead, or to the vehicle it gives
way to at a junction) reaches no vehicle that moves, no stop sign, no red light before which a
vehicle has waited less than a cycle of the light (it did not go at its last green) and nothing the
traffic manager does not drive (the hero, a parked car: the user's business), but comes back to a
vehicle already seen or ends at one that stands for no reason it can wait out (room beyond a
junction that never frees, a wheel against a curb).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .hybrid import HERO_ROLES, hero_location, relocate

if TYPE_CHECKING:
    from .autopilot_state import AutopilotState

logger = logging.getLogger(__name__)

STUCK_TIME = 25.0  # seconds of standstill before a vehicle in a gridlock is moved
SETTLED = 3.0  # seconds its wait must have gone nowhere without a break (not a vehicle about to go)
RELOCATION_PERIOD = 2.0  # seconds between two relocations
CLOSE_BEHIND = 12.0  # metres: a vehicle this close behind another waits on it
AWAY_FROM_HERO = 60.0  # metres: relocated vehicles reappear at least this far from the hero


class GridlockBreaker:
    """Finds vehicles of one traffic manager in a wait that goes nowhere and moves them."""

    def __init__(self) -> None:
        self._last = self._checked = -math.inf
        self._since: dict[int, float] = {}  # vehicle id -> since when its wait goes nowhere

    def step(self, sim: Any, vehicles: dict[int, "AutopilotState"], now: float, rng: np.random.Generator,
             release: Callable[["AutopilotState"], None]) -> None:
        """Once a second: note whose wait goes nowhere; move the one that has stood still longest."""
        if now - self._checked < 1.0:
            return
        self._checked = now
        since, chains = {}, {}
        for state in vehicles.values():
            if state.vehicle.attributes.get("role_name") in HERO_ROLES:
                continue  # a hero on autopilot stays where it is (its episode, its route)
            if now - state.moved_at > STUCK_TIME - SETTLED:
                chain = self._chain(state, vehicles, now)
                if chain is not None:
                    key = state.vehicle.id
                    since[key], chains[key] = self._since.get(key, now), chain
        self._since = since
        if not since or now - self._last < RELOCATION_PERIOD:
            return
        ready = [k for k in since if now - since[k] >= SETTLED and now - vehicles[k].moved_at >= STUCK_TIME]
        if not ready:
            return
        key = min(ready, key=lambda k: vehicles[k].moved_at)
        state = vehicles[key]
        hero = hero_location(sim)
        if relocate(sim, rng, state, hero, AWAY_FROM_HERO if hero else 0.0, math.inf):
            logger.debug("vehicle %d stood still %.0f s in a gridlock (%s): moved to a free spawn point",
                         key, now - state.moved_at, " -> ".join(chains[key]))
            release(state)
            state.moved_at = now
            self._last = now
            del self._since[key]

    @staticmethod
    def _chain(state: "AutopilotState", vehicles: dict[int, "AutopilotState"], now: float) -> list[str] | None:
        """The wait of a stuck vehicle, vehicle by vehicle, if it goes nowhere (else None)."""
        seen: set[int] = set()
        chain: list[str] = []
        current = state
        while True:
            seen.add(current.vehicle.id)
            close = current.leader_id is not None and current.leader[0] < CLOSE_BEHIND
            idle = now - current.moved_at
            if idle < 1.0 or current.wait_kind == "light" and idle < current.wait_cycle + 5.0 or \
                    current.wait_kind == "sign" and not close:
                return None  # progress somewhere, or a wait that ends by itself
            if current.wait_kind == "junction" and current.wait_on is not None:
                following, why = current.wait_on, current.waiting_for
            elif close:
                following, why = current.leader_id, "behind"
            else:  # stands still before room that never frees, or for nothing at all
                chain.append(f"{current.vehicle.id} ({current.waiting_for or 'no reason'})")
                return chain
            chain.append(f"{current.vehicle.id} ({why})")
            if following in seen:
                return chain + [str(following)]  # a circle of vehicles waiting on each other
            if following not in vehicles:
                return None  # waits on what the traffic manager does not drive
            current = vehicles[following]
