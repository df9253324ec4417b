"""The library's error types.

- :class:`ConfigError`: bad configuration, found before anything starts; the message names the source,
  the key path and the fix.
- :class:`SimulatorFailure`: the simulator failed (crashed, stopped answering, a sensor stalled).
  Simulator backends raise it, and it is the only error that makes ``CarlaCore`` restart the
  simulator; any other error (a bug in an experiment, a sensor or the library) surfaces at once.
- :class:`SimulatorUnavailableError`: the simulator cannot be used at all (not installed, unreachable,
  failing again after ``max_restarts`` restarts).
- :class:`SimulatorRestartedError`: the simulator failed during an episode and was restarted; the
  episode is broken (``CarlaEnv`` turns it into RLlib's ``StepFailedRecreateEnvError``).
- :class:`EnvUsageError`: ``CarlaEnv`` called out of order (``step`` before ``reset`` or after
  ``close``) or with an action outside its action space.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, with the source, the key path and the fix in its message."""


class SimulatorFailure(RuntimeError):
    """The simulator failed; the only error that triggers recovery."""


class SimulatorUnavailableError(RuntimeError):
    """The selected simulator cannot be used (mode not available, server unreachable)."""


class SimulatorRestartedError(RuntimeError):
    """The simulator failed during an episode and was restarted: the episode is broken."""


class EnvUsageError(RuntimeError):
    """``CarlaEnv`` used out of order or with an action outside its action space."""
