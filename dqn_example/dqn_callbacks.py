"""Per-episode driving metrics for RLlib (new API stack): distance driven, mean speed, mean
heading deviation, collisions, lane invasions, why the episode ended, and how often the env's simulator was restarted after a failure.

They are read from the last ``info`` of each episode (the experiment keeps running episode totals
there, so episodes split into chunks are counted whole) and logged under ``env_runners/carla/*``
in the training results and TensorBoard.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

END_REASONS = ("idle", "falling", "max_time")
METRICS = {"episode_distance": "distance", "episode_distance_on_lane": "distance_on_lane",
           "episode_mean_speed": "mean_speed_kmh",
           "episode_heading_deviation": "heading_deviation", "episode_collisions": "collisions",
           "episode_lane_invasions": "lane_invasions"}


class DQNCallbacks(RLlibCallback):
    """Logs :data:`METRICS` and the end reasons (as 0/1 means) of every finished episode."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        if metrics_logger is None or len(episode) == 0:
            return
        info = episode.get_infos(-1) or {}
        for key, name in METRICS.items():
            if key in info:
                metrics_logger.log_value(f"carla/{name}", float(info[key]))
        if "simulator_restarts" in info:  # a running count: its maximum, not a mean
            metrics_logger.log_value("carla/simulator_restarts_max", float(info["simulator_restarts"]), reduce="max")
        reason = info.get("end_reason", "other")
        for candidate in END_REASONS + ("other",):
            metrics_logger.log_value(f"carla/end_{candidate}", float(reason == candidate))
