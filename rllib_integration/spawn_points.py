"""Hero spawn points from the configuration, in both of the original's string forms.

- ``"x,y,z"``: the location as given, oriented along the lane: the rotation of the waypoint a
  random 0-5 m behind the map waypoint at that location;
- ``"x,y,z,roll,pitch,yaw"``: location and rotation as given.

Lists of 3 or 6 numbers are accepted too.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import carla
import numpy as np

from .errors import ConfigError

_KEY = "env_config.experiment.hero.spawn_points"
MAX_COORDINATE = 1e6  # metres (and degrees): CARLA's largest towns span a few kilometres


def parse_spawn_points(values: Sequence[Any]) -> list[tuple[float, ...]]:
    """Parse configured spawn points into tuples of 3 or 6 floats; :class:`ConfigError` names
    the bad entry."""
    parsed = []
    for index, value in enumerate(values):
        parts = value.split(",") if isinstance(value, str) else value
        try:
            numbers = tuple(float(part) for part in parts)
        except (TypeError, ValueError):
            numbers = ()
        if len(numbers) not in (3, 6):
            raise ConfigError(f"{_KEY}[{index}]: {value!r} is not a spawn point. Fix: write "
                              f"\"x,y,z\" or \"x,y,z,roll,pitch,yaw\" (metres, degrees).")
        if not all(math.isfinite(n) and abs(n) <= MAX_COORDINATE for n in numbers):
            raise ConfigError(f"{_KEY}[{index}]: {value!r} has a number that is not finite or beyond "
                              f"{MAX_COORDINATE:g}. Fix: give the point's metres and degrees as plain numbers.")
        parsed.append(numbers)
    return parsed


def to_transform(point: tuple[float, ...], town_map: carla.Map, rng: np.random.Generator) -> carla.Transform:
    """The transform of a parsed spawn point (3-value points take the lane's orientation)."""
    location = carla.Location(*point[:3])
    if len(point) == 6:
        roll, pitch, yaw = point[3:]
        return carla.Transform(location, carla.Rotation(pitch=pitch, yaw=yaw, roll=roll))
    waypoint = town_map.get_waypoint(location)
    back = float(rng.uniform(0.0, 5.0))
    if back > 0.01:
        previous = waypoint.previous(back)
        waypoint = previous[0] if previous else waypoint
    return carla.Transform(location, waypoint.transform.rotation)
