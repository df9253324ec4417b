"""The simulators ``CarlaCore`` can run on, one backend per kind behind one interface
(:class:`~.backend.SimulatorBackend`):

- ``embedded`` (:mod:`.embedded`): the in-process embedded world;
- ``launch`` (:mod:`.launch`): a CARLA server process started for the environment
  (:mod:`.server_manager` launches and supervises it);
- ``connect`` (:mod:`.connect`): a CARLA server that already runs.

``auto`` picks ``launch`` when ``CARLA_ROOT`` is set, else ``embedded``. Backends use the ``carla``
package (real servers) or :mod:`rllib_integration.embedded`, and the error types; ``CarlaCore`` is
their user, and it never asks which kind it holds.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from ..errors import ConfigError
from .backend import SimulatorBackend
from .connect import ConnectBackend
from .embedded import EmbeddedBackend
from .launch import LaunchBackend

logger = logging.getLogger(__name__)

BACKENDS: dict[str, type[SimulatorBackend]] = {"embedded": EmbeddedBackend, "launch": LaunchBackend,
                                               "connect": ConnectBackend}
SIMULATOR_MODES = ("auto", *BACKENDS)


def resolve_simulator(mode: str) -> str:
    """The simulator a mode stands for: ``auto`` is ``launch`` when ``CARLA_ROOT`` is set, else
    ``embedded``."""
    if mode not in SIMULATOR_MODES:
        raise ConfigError(f"env_config.carla.simulator: unknown simulator '{mode}'. Fix: use one "
                          f"of {', '.join(SIMULATOR_MODES)}.")
    if mode == "auto":
        mode = "launch" if os.environ.get("CARLA_ROOT") else "embedded"
        logger.info("simulator 'auto' selects '%s' (%s)", mode,
                    "CARLA_ROOT is set" if mode == "launch" else "CARLA_ROOT is not set")
    else:
        logger.info("simulator: %s", mode)
    return mode


def create_backend(config: Mapping[str, Any]) -> SimulatorBackend:
    """The backend for ``config["simulator"]`` (``env_config.carla``), not started yet."""
    return BACKENDS[resolve_simulator(config["simulator"])](config)


__all__ = ["BACKENDS", "SIMULATOR_MODES", "SimulatorBackend", "create_backend", "resolve_simulator"]
