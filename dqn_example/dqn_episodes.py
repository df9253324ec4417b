"""Greedy episodes of the DQN example for the inference scripts: a per-episode table and an
optional video (the BirdView, enlarged, with speed and reward written on it)."""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from rllib_integration import CarlaEnv

COLUMNS = ("episode", "steps", "return", "distance_m", "on_lane_m", "mean_kmh", "collisions", "invasions", "end")


class VideoRecorder:
    """Writes frames (the newest BirdView of each observation) to an MP4 file."""

    def __init__(self, path: str, fps: float, scale: int = 6) -> None:
        self.path, self.fps, self.scale = path, fps, scale
        self.writer: cv2.VideoWriter | None = None

    def add(self, observation: np.ndarray, speed_kmh: float, reward: float, episode: int) -> None:
        frame = observation[..., -3:] if observation.shape[-1] % 3 == 0 else np.repeat(observation[..., -1:], 3, 2)
        frame = cv2.resize(np.ascontiguousarray(frame[..., ::-1]), None, fx=self.scale, fy=self.scale,
                           interpolation=cv2.INTER_NEAREST)
        for row, text in enumerate((f"episode {episode}", f"{speed_kmh:5.1f} km/h", f"reward {reward:+.2f}")):
            cv2.putText(frame, text, (8, 22 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        if self.writer is None:
            height, width = frame.shape[:2]
            self.writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self.writer.isOpened():
                raise OSError(f"cannot write a video to {self.path}. Fix: use a writable path ending in .mp4")
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def run_episodes(env: CarlaEnv, act: Callable[[np.ndarray], int], episodes: int, seed: int,
                 recorder: VideoRecorder | None = None) -> list[dict[str, Any]]:
    """Drive ``episodes`` greedy episodes (resetting at every episode end); one row per episode."""
    rows = []
    for episode in range(episodes):
        observation, info = env.reset(seed=seed + episode)
        total, steps, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(act(observation))
            total += reward
            steps += 1
            done = terminated or truncated
            if recorder is not None:
                recorder.add(observation, info.get("speed", 0.0), reward, episode)
        rows.append({"episode": episode, "steps": steps, "return": total,
                     "distance_m": info["episode_distance"], "on_lane_m": info["episode_distance_on_lane"],
                     "mean_kmh": info["episode_mean_speed"], "collisions": info["episode_collisions"],
                     "invasions": info["episode_lane_invasions"], "end": info.get("end_reason", "other")})
        print(format_row(rows[-1]), flush=True)
    return rows


def format_row(row: dict[str, Any]) -> str:
    if not hasattr(format_row, "printed"):
        format_row.printed = True
        print(" ".join(f"{name:>10}" for name in COLUMNS))
    return " ".join(f"{row[name]:>10.1f}" if isinstance(row[name], float) else f"{row[name]:>10}"
                    for name in COLUMNS)


def drive(env: CarlaEnv, act: Callable[[np.ndarray], int], episodes: int, seed: int, record: str | None) -> None:
    """Run the greedy episodes of an inference script (video to ``record`` if given); Ctrl-C stops
    cleanly; the env is closed in every case."""
    recorder = VideoRecorder(record, fps=1.0 / env.core.config["timestep"]) if record else None
    try:
        run_episodes(env, act, episodes, seed, recorder)
    except KeyboardInterrupt:
        print("stopped by the user")
    finally:
        if recorder is not None:
            recorder.close()
        env.close()
