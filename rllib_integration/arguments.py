"""argparse types the scripts share: numbers with ranges, so a bad flag is one clear usage error."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

import yaml


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


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def setting(text: str) -> tuple[tuple[str, ...], Any]:
    """``KEY=VALUE``: a dotted key of a training YAML (``training.lr``, ``run.anchor_kl_coeff``,
    ``env_config.experiment.heroes``) and the value as YAML reads it (``true``, ``[a, b]``, ``0.5``), where a number
    in exponent notation without a dot (``5e-5``, which YAML 1.1 reads as text) is a number."""
    key, equals, value = text.partition("=")
    parts = tuple(key.strip().split("."))
    if not equals or not all(part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE with KEY a dotted path such as training.lr=5e-5")
    if _EXPONENT.fullmatch(value.strip()):
        return tuple(part.strip() for part in parts), float(value)
    try:
        return tuple(part.strip() for part in parts), yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: the value is not YAML ({getattr(error, 'problem', error)})") \
            from None
