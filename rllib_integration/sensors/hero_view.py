"""The picture people watch: the hero from above (a 480 px BirdView over 80 m, with the route ahead when the
episode has one), what the policy sees when it sees an image (a corner inset) and a header of text lines over a
darkened band. The inference videos and the live view draw it; the evaluator's route videos add infraction
marks to the same BirdView and header.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .birdview import BirdviewRenderer

VIEW_SIZE, VIEW_RADIUS = 480, 40.0  # pixels, metres
INSET = 160  # pixels: the side of the observation's picture


def draw_header(frame: np.ndarray, lines: list[str], width: int | None = None) -> None:
    """Write ``lines`` at the top left of ``frame`` over a darkened band (``width`` pixels wide, default
    all), so they stay readable over any map."""
    band = frame[:12 + 22 * len(lines), :width]
    band[:] = (band * 0.35).astype(np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(frame, text, (8, 22 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)


def observation_image(observation: Any) -> np.ndarray | None:
    """The RGB picture in an observation (the newest of stacked frames), or None."""
    if isinstance(observation, dict):
        observation = observation.get("image")
    if not isinstance(observation, np.ndarray) or observation.ndim != 3 or observation.dtype != np.uint8:
        return None
    channels = observation.shape[-1]
    return observation[..., -3:] if channels % 3 == 0 else np.repeat(observation[..., -1:], 3, axis=2)


class HeroView:
    """Frames of one hero (BGR, :data:`VIEW_SIZE` square); ``progress``: its route, drawn ahead of it."""

    def __init__(self, world: Any, hero: Any, progress: Any = None) -> None:
        self.renderer = BirdviewRenderer(world, hero, VIEW_SIZE, VIEW_RADIUS, debug=False, route=progress is not None)
        self.renderer.set_route(progress)

    def frame(self, observation: Any = None, lines: list[str] = ()) -> np.ndarray:
        """The BirdView, the observation's picture in the top-right corner (if it has one) and ``lines``."""
        frame = np.ascontiguousarray(self.renderer.render()[..., ::-1])
        image = observation_image(observation)
        if image is not None:
            height, width = image.shape[:2]
            scale = INSET / max(height, width)
            inset = cv2.resize(np.ascontiguousarray(image[..., ::-1]), (max(1, round(width * scale)),
                                                                      max(1, round(height * scale))),
                               interpolation=cv2.INTER_NEAREST)
            frame[4:4 + inset.shape[0], -4 - inset.shape[1]:-4] = inset
        if lines:
            draw_header(frame, list(lines), VIEW_SIZE - INSET - 8 if image is not None else None)
        return frame
