"""Greedy episodes for the inference scripts: a per-episode table and an optional video.

The table has the episode, its steps and return, every numeric ``episode_*`` total the experiment keeps
in its ``info`` (distance, route completion, infractions...) and why it ended. The video
(:class:`EpisodeVideo`) is the :class:`~rllib_integration.sensors.hero_view.HeroView`: the hero from above
with its route, what the policy sees when it sees an image in a corner, and the speed and reward.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..carla_env import CarlaEnv
from ..evaluation.video import VideoWriter
from ..sensors.hero_view import HeroView
from ..console import console

class EpisodeVideo:
    """An H.264 MP4 of greedy episodes (see the module docstring), and a GIF of it with ``gif``."""

    def __init__(self, path: str, fps: float, gif: str | None = None) -> None:
        self.writer = VideoWriter(path, fps, "use a writable path ending in .mp4", gif=gif)
        self.view: HeroView | None = None

    def start(self, env: CarlaEnv) -> None:
        """Follow the hero of the episode that just started."""
        self.view = HeroView(env.core.world, env.core.hero, env.core.route_progress)

    def add(self, observation: Any, lines: list[str]) -> None:
        self.writer.write(self.view.frame(observation, lines))

    def close(self) -> None:
        self.writer.close()


def episode_row(episode: int, steps: int, total: float, info: dict[str, Any]) -> dict[str, Any]:
    """One table row: episode, steps, return, the ``episode_*`` totals of the last ``info``, end reason."""
    totals = {key[len("episode_"):]: float(value) for key, value in info.items()
              if key.startswith("episode_") and isinstance(value, (int, float, np.number))}
    return {"episode": episode, "steps": steps, "return": total, **totals, "end": info.get("end_reason", "other")}


def run_episodes(env: CarlaEnv, act: Callable[[Any], Any], episodes: int, seed: int,
                 video: EpisodeVideo | None = None,
                 on_episode: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Drive ``episodes`` greedy episodes (resetting at every end); one row per episode, printed as it ends
    (and handed to ``on_episode``)."""
    rows: list[dict[str, Any]] = []
    for episode in range(episodes):
        observation, info = env.reset(seed=seed + episode)
        if video is not None:
            video.start(env)
        total, steps, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(act(observation))
            total += reward
            steps += 1
            done = terminated or truncated
            if video is not None:
                speed = 3.6 * env.core.hero.get_velocity().length()
                lines = [f"episode {episode}  step {steps}", f"{speed:5.1f} km/h", f"reward {reward:+.2f}"]
                if "route_completion" in info:
                    lines.append(f"route {info['route_completion']:5.1f} %")
                video.add(observation, lines)
        rows.append(episode_row(episode, steps, total, info))
        if on_episode is not None:
            on_episode(rows[-1])
        names = [name.removeprefix("infractions_") for name in rows[0]]
        widths = [max(len(name), 7) for name in names]
        if episode == 0:
            console.info(" ".join(f"{name:>{width}}" for name, width in zip(names, widths)))
        console.info(" ".join(f"{value:>{width}.1f}" if isinstance(value, float) else f"{value!s:>{width}}"
                              for value, width in zip(rows[-1].values(), widths)))
    return rows


def drive(env: CarlaEnv, act: Callable[[Any], Any], episodes: int, seed: int, record: str | None,
          gif: str | None = None, on_episode: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run the greedy episodes of an inference script (video to ``record``, and a GIF to ``gif``, if given);
    Ctrl-C stops cleanly; the env is closed in every case."""
    video = EpisodeVideo(record, fps=1.0 / env.core.config["timestep"], gif=gif) if record else None
    try:
        run_episodes(env, act, episodes, seed, video, on_episode)
    except KeyboardInterrupt:
        console.info("stopped by the user")
    finally:
        if video is not None:
            video.close()
            console.info(f"video: {record}" + (f", {gif}" if gif else ""))
        env.close()
