"""Greedy episodes for the inference scripts: a per-episode table and an optional video.

The table has the episode, its steps and return, every numeric ``episode_*`` total the experiment keeps
in its ``info`` (distance, route completion, infractions...) and why it ended. The video
(:class:`EpisodeVideo`) shows the hero from above (a 480 px BirdView over 80 m with the route ahead, if
the experiment follows one), what the policy sees when it sees an image (the observation's newest
frame, or a ``Dict`` observation's ``image``) in the top-right corner, and the speed and reward.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from ..carla_env import CarlaEnv
from ..evaluation.recording import VIDEO_RADIUS, VIDEO_SIZE, draw_header, open_video
from ..sensors.birdview import BirdviewRenderer
from .console import console

INSET = 160  # pixels: the side of the observation's picture in the video


def observation_image(observation: Any) -> np.ndarray | None:
    """The RGB picture in an observation (the newest of stacked frames), or None."""
    if isinstance(observation, dict):
        observation = observation.get("image")
    if not isinstance(observation, np.ndarray) or observation.ndim != 3 or observation.dtype != np.uint8:
        return None
    channels = observation.shape[-1]
    return observation[..., -3:] if channels % 3 == 0 else np.repeat(observation[..., -1:], 3, axis=2)


class EpisodeVideo:
    """An MP4 of greedy episodes (see the module docstring)."""

    def __init__(self, path: str, fps: float) -> None:
        self.writer = open_video(path, fps, VIDEO_SIZE, "use a writable path ending in .mp4")
        self.renderer: BirdviewRenderer | None = None

    def start(self, env: CarlaEnv) -> None:
        """Follow the hero of the episode that just started."""
        core = env.core
        self.renderer = BirdviewRenderer(core.world, core.hero, VIDEO_SIZE, VIDEO_RADIUS, debug=False,
                                         route=core.route_progress is not None)
        self.renderer.set_route(core.route_progress)

    def add(self, observation: Any, lines: list[str]) -> None:
        frame = np.ascontiguousarray(self.renderer.render()[..., ::-1])
        image = observation_image(observation)
        if image is not None:
            height, width = image.shape[:2]
            scale = INSET / max(height, width)
            inset = cv2.resize(np.ascontiguousarray(image[..., ::-1]), (max(1, round(width * scale)),
                                                                      max(1, round(height * scale))),
                               interpolation=cv2.INTER_NEAREST)
            frame[4:4 + inset.shape[0], -4 - inset.shape[1]:-4] = inset
        draw_header(frame, lines, VIDEO_SIZE - INSET - 8)
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.release()


def episode_row(episode: int, steps: int, total: float, info: dict[str, Any]) -> dict[str, Any]:
    """One table row: episode, steps, return, the ``episode_*`` totals of the last ``info``, end reason."""
    totals = {key[len("episode_"):]: float(value) for key, value in info.items()
              if key.startswith("episode_") and isinstance(value, (int, float, np.number))}
    return {"episode": episode, "steps": steps, "return": total, **totals, "end": info.get("end_reason", "other")}


def run_episodes(env: CarlaEnv, act: Callable[[Any], Any], episodes: int, seed: int,
                 video: EpisodeVideo | None = None) -> list[dict[str, Any]]:
    """Drive ``episodes`` greedy episodes (resetting at every end); one row per episode, printed as it ends."""
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
        names = [name.removeprefix("infractions_") for name in rows[0]]
        widths = [max(len(name), 7) for name in names]
        if episode == 0:
            console.info(" ".join(f"{name:>{width}}" for name, width in zip(names, widths)))
        console.info(" ".join(f"{value:>{width}.1f}" if isinstance(value, float) else f"{value!s:>{width}}"
                              for value, width in zip(rows[-1].values(), widths)))
    return rows


def drive(env: CarlaEnv, act: Callable[[Any], Any], episodes: int, seed: int, record: str | None) -> None:
    """Run the greedy episodes of an inference script (video to ``record`` if given); Ctrl-C stops
    cleanly; the env is closed in every case."""
    video = EpisodeVideo(record, fps=1.0 / env.core.config["timestep"]) if record else None
    try:
        run_episodes(env, act, episodes, seed, video)
    except KeyboardInterrupt:
        console.info("stopped by the user")
    finally:
        if video is not None:
            video.close()
            console.info(f"video: {record}")
        env.close()
