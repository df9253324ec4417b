"""The PPO route-following example's per-episode metrics (see :mod:`rllib_integration.training.callbacks`):
route completion, metres completed, mean speed, infractions by kind and why the episode ended, logged
under ``env_runners/carla/*``."""

from __future__ import annotations

from rllib_integration.evaluation.infractions import KINDS, SHORT_NAMES
from rllib_integration.tasks import END_REASONS
from rllib_integration.training.callbacks import EpisodeMetricsCallbacks


class PPOCallbacks(EpisodeMetricsCallbacks):
    """The route experiment's episode totals and end reasons."""

    METRICS = {"episode_route_completion": "route_completion", "episode_distance": "distance",
               "episode_mean_speed": "mean_speed_kmh",
               **{f"episode_infractions_{SHORT_NAMES[k]}": f"infractions_{SHORT_NAMES[k]}" for k in KINDS}}
    END_REASONS = END_REASONS
