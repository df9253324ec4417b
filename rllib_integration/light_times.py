"""``draw_light_times``: each traffic-light group's green, yellow and red times drawn from ranges
(``env_config.experiment.light_times``), through the carla API, so that a policy meets lights of many timings.

A group's lights share one draw (CARLA cycles a group's lights one after another, each with its own times: lights of
one junction that kept different times would give its directions unequal turns). Works on the embedded world and a
real server alike.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

PHASES = ("green", "yellow", "red")  # the keys of ``light_times``, and ``TrafficLight.set_<phase>_time``


def draws_light_times(times: Mapping[str, Any] | None) -> bool:
    """Whether ``times`` (``light_times``) asks for any phase's time to be drawn."""
    return bool(times) and any(times.get(phase) for phase in PHASES)


def draw_light_times(world: Any, times: Mapping[str, Any], rng: np.random.Generator) -> int:
    """Set every light group's times in ``world``, each phase of ``times`` given as ``[low, high]`` seconds drawn
    uniformly with ``rng`` for the group (phases given as ``[]`` keep their times); returns the groups set. The
    groups are drawn in the order of their first light's id (the same draws for the same ``rng``)."""
    lights = sorted(world.get_actors().filter("traffic.traffic_light*"), key=lambda light: light.id)
    done: set[int] = set()
    groups = 0
    for light in lights:
        if light.id in done:
            continue
        group = light.get_group_traffic_lights() or [light]
        done.update(member.id for member in group)
        drawn = {phase: float(rng.uniform(*times[phase])) for phase in PHASES if times.get(phase)}
        for member in group:
            for phase, seconds in drawn.items():
                getattr(member, f"set_{phase}_time")(seconds)
        groups += 1
    return groups
