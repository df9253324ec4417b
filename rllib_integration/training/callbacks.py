"""Per-episode driving metrics for RLlib (new API stack), read from the last ``info`` of each episode.

An experiment keeps running episode totals in its ``info`` (so episodes split into chunks are counted
whole); :class:`EpisodeMetricsCallbacks` logs the ones named in :attr:`~EpisodeMetricsCallbacks.METRICS`
under ``env_runners/carla/<name>`` (Tune, TensorBoard, MLflow), each end reason in
:attr:`~EpisodeMetricsCallbacks.END_REASONS` as a 0/1 mean ``carla/end_<reason>``, and how often the env's
simulator was restarted after a failure. An example subclasses it with its own two tables.

:func:`plain_infos`, which every training configuration runs at the end of each sample call, turns the NumPy
scalars in the sampled episodes' ``info`` dicts into the Python numbers they hold before the episodes travel to the
learner: a vector env's infos are arrays, gymnasium's ``DictInfoToList`` hands each episode its rows as NumPy
scalars, and pickling those one by one took about a sixth of a self-play env runner's time.
:func:`quiet_env_runner`, run as each env runner's env is made (before the runner builds its network), drops RLlib's
note about its own internal use of a deprecated class (``console.quiet_ray_internals``) in that process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback

from ..console import quiet_ray_internals


class EpisodeMetricsCallbacks(RLlibCallback):
    """Logs :attr:`METRICS` and the end reasons of every finished episode."""

    #: ``info`` key -> metric name under ``carla/``.
    METRICS: dict[str, str] = {}
    #: Values of ``info["end_reason"]`` counted (anything else counts as ``other``).
    END_REASONS: tuple[str, ...] = ()

    def on_episode_start(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        # The first episode after a restart starts in the restarted simulator; it may not end within the
        # iteration (or before the next failure), so the count is logged here too.
        if metrics_logger is not None:
            self._log_restarts(episode.get_infos(-1) or {}, metrics_logger)

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        if metrics_logger is None or len(episode) == 0:
            return
        info = episode.get_infos(-1) or {}
        for key, name in self.METRICS.items():
            if key in info:
                metrics_logger.log_value(f"carla/{name}", float(info[key]))
        self._log_restarts(info, metrics_logger)
        reason = info.get("end_reason", "other")
        for candidate in self.END_REASONS + ("other",):
            metrics_logger.log_value(f"carla/end_{candidate}", float(reason == candidate))

    def on_sample_end(self, *, env_runner: Any = None, metrics_logger: Any = None, **kwargs: Any) -> None:
        # Every sample call logs the runner's count, so an iteration in which no episode starts or ends (long
        # episodes, a failure at its start) still shows the restarts so far, never a bare zero.
        count = simulator_restarts(getattr(env_runner, "env", None))
        if metrics_logger is not None and count is not None:
            self._log_restarts({"simulator_restarts": count}, metrics_logger)

    @staticmethod
    def _log_restarts(info: dict, metrics_logger: Any) -> None:
        if "simulator_restarts" in info:  # a running count: its maximum, not a mean
            metrics_logger.log_value("carla/simulator_restarts_max", float(info["simulator_restarts"]), reduce="max")


def simulator_restarts(env: Any) -> int | None:
    """The simulator restarts of an env runner's env (a vector of envs, one env, or ``None``): the largest
    ``simulator_restarts`` of its sub-environments, ``None`` where none counts them."""
    base = getattr(env, "unwrapped", env)
    counts = [getattr(getattr(candidate, "unwrapped", candidate), "simulator_restarts", None)
              for candidate in (base, *getattr(base, "envs", ()))]
    counts = [int(count) for count in counts if count is not None]
    return max(counts) if counts else None


def quiet_env_runner(**kwargs: Any) -> None:
    """RLlib's ``on_environment_created``: RLlib's note about its own ``RLModuleConfig`` shim dropped in this env
    runner's process before it builds its module (see :func:`~rllib_integration.console.quiet_ray_internals`)."""
    quiet_ray_internals()


def plain_infos(*, samples: list | None = None, **kwargs: Any) -> None:
    """RLlib's ``on_sample_end``: every NumPy scalar in the ``info`` dicts of the sampled episodes (single- or
    multi-agent) replaced by the Python number it holds (``np.float64`` by ``float``: the same value)."""
    for episode in samples or ():
        for single in getattr(episode, "agent_episodes", {}).values() or (episode,):
            buffer = getattr(single, "infos", None)
            if buffer is not None and isinstance(getattr(buffer, "data", None), list):
                buffer.data = [_plain(info) for info in buffer.data]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value.item() if isinstance(value, np.generic) else value
