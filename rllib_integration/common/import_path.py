"""Objects named by import paths in configurations and flags: ``"package.module:name"`` (or ``"package.module.name"``
where ``dotted`` is allowed)."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str, dotted: bool = False) -> Any:
    """The object ``path`` names: ``"package.module:name"``, or with ``dotted`` also ``"package.module.name"``.
    Raises ImportError, AttributeError or ValueError (an empty module name) where it names nothing."""
    module_name, _, name = path.partition(":") if ":" in path or not dotted else path.rpartition(".")
    if not module_name or not name:
        raise ValueError(f"'{path}' is no import path of the form package.module:name")
    return getattr(importlib.import_module(module_name), name)
