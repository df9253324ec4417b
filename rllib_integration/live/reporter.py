"""``LiveReporter``: what one env (or the evaluator's route runner) shows in the live view, step by step.

While nobody watches it only counts steps and the return; while somebody does it sends the state (episode,
step, speed, control, reward, return, route completion, infractions, the experiment's numeric ``info``) and,
up to ten times a second, the :class:`~rllib_integration.sensors.hero_view.HeroView` picture.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..sensors.hero_view import HeroView
from .publisher import LivePublisher

MAX_INFO_KEYS = 40


def numeric_info(info: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of an ``info`` dict (booleans and arrays left out), at most :data:`MAX_INFO_KEYS`."""
    numbers = {}
    for key, value in info.items():
        if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)) \
                and math.isfinite(float(value)):
            numbers[str(key)] = float(value)
        if len(numbers) >= MAX_INFO_KEYS:
            break
    return numbers


class LiveReporter:
    """Counts one env's episodes and sends them to ``publisher``."""

    def __init__(self, publisher: LivePublisher) -> None:
        self.publisher = publisher
        self.episode, self.steps, self.total = -1, 0, 0.0
        self.last_end: str | None = None
        self.view: HeroView | None = None

    def start_episode(self) -> None:
        self.episode += 1
        self.steps, self.total, self.view = 0, 0.0, None

    def step(self, core: Any, observation: Any, reward: float, info: Mapping[str, Any],
             infractions: list[str] | None = None, route_completion: float | None = None, who: str = "") -> None:
        """One step of the episode: its reward and ``info`` (``end_reason`` marks its end); ``who`` heads the
        picture's text (which hero of several it is)."""
        self.steps += 1
        self.total += reward
        if "end_reason" in info:
            self.last_end = str(info["end_reason"])
        publisher = self.publisher
        if not publisher.watched:
            return
        hero = core.hero
        control = hero.get_control()
        if route_completion is None:
            progress = core.route_progress
            route_completion = info.get("route_completion", 100.0 * progress.fraction if progress else None)
        infractions = infractions if infractions is not None else sorted(
            key.removeprefix("episode_infractions_") for key, value in info.items()
            if key.startswith("episode_infractions_") and value)
        speed = 3.6 * hero.get_velocity().length()
        state = {"episode": self.episode, "step": self.steps, "speed_kmh": speed, "throttle": control.throttle,
                 "steer": control.steer, "brake": control.brake, "reward": float(reward), "return": self.total,
                 "route_completion": route_completion, "infractions": infractions, "last_end": self.last_end,
                 "info": numeric_info(info)}
        frame = None
        if publisher.wants_frame:
            if self.view is None:
                self.view = HeroView(core.world, hero, core.route_progress)
            lines = [f"episode {self.episode}  step {self.steps}", f"{speed:5.1f} km/h", f"reward {reward:+.2f}"]
            if who:
                lines.insert(0, who)
            frame = self.view.frame(observation, lines)
        publisher.publish(state, frame)

    def close(self) -> None:
        self.publisher.close()
