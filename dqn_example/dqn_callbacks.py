"""The DQN example's per-episode metrics (see :mod:`rllib_integration.training.callbacks`): distance
driven, on-lane distance, mean speed, heading deviation, collisions, lane invasions and why the episode
ended, logged under ``env_runners/carla/*``."""

from __future__ import annotations

from rllib_integration.training.callbacks import EpisodeMetricsCallbacks

from .dqn_experiment import END_REASONS


class DQNCallbacks(EpisodeMetricsCallbacks):
    """The DQN experiment's episode totals and end reasons."""

    METRICS = {"episode_distance": "distance", "episode_distance_on_lane": "distance_on_lane",
               "episode_mean_speed": "mean_speed_kmh", "episode_heading_deviation": "heading_deviation",
               "episode_collisions": "collisions", "episode_lane_invasions": "lane_invasions",
               "episode_route_completion": "route_completion"}
    END_REASONS = END_REASONS
