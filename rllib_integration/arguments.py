"""argparse types the scripts share: numbers with ranges, so a bad flag is one clear usage error."""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type, low: float, high: float) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if isinstance(value, float) and not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text} is out of range: use a value from {low:g} to {high:g}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    return _number(text, int, 1, 10 ** 12)


def non_negative_int(text: str) -> int:
    """A whole number of at least 0."""
    return _number(text, int, 0, 10 ** 12)


def positive_float(text: str) -> float:
    """A finite number above 0."""
    value = _number(text, float, 0.0, 1e15)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is out of range: use a number above 0")
    return value


def port(text: str) -> int:
    """A TCP port number (1024-65535: no privileged ports)."""
    return _number(text, int, 1024, 65535)
