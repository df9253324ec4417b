"""Checks of numbers at the carla API's boundary: a NaN, an infinity or a position beyond the world never
enters a simulation (one NaN location made every later tick of the embedded world quadratic in the number
of actors; a NaN control silently held a vehicle), it is refused with a ``ValueError`` naming the call and
the value."""

from __future__ import annotations

import math
from typing import Any

#: Metres from the origin beyond which a position is outside any world (CARLA's single-precision worlds
#: lose centimetres far before).
WORLD_LIMIT = 1.0e7


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finite_number(value: Any, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a float when it is finite (and within ``low``-``high``), else ``ValueError`` naming ``what``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {_shown(value)} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what}: {_shown(value)} is not a finite number")
    if not low <= number <= high:
        raise ValueError(f"{what}: {number:g} is outside {low:g} to {high:g}")
    return number


def finite_vector(vector: Any, what: str, limit: float = math.inf) -> None:
    """Raise ``ValueError`` unless x, y and z of ``vector`` are finite (and within +-``limit``)."""
    for axis in ("x", "y", "z"):
        finite_number(getattr(vector, axis), f"{what}.{axis}", -limit, limit)


def finite_transform(transform: Any, what: str) -> None:
    """Raise ``ValueError`` unless a transform's location lies in a world and its rotation is finite."""
    finite_vector(transform.location, f"{what}.location", WORLD_LIMIT)
    for axis in ("pitch", "yaw", "roll"):
        finite_number(getattr(transform.rotation, axis), f"{what}.rotation.{axis}")
