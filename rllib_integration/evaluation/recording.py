"""What the evaluator writes besides results.json: a video per route and a per-step state log.

- :class:`RouteVideo`: a BirdView of the hero (480 px over 80 m, the route ahead in teal) with every
  infraction marked where it happened (a red cross and its kind) and a header (route, RC, penalty,
  speed, control), as an MP4 file at the simulation's rate;
- :class:`StateLog`: a row per step (time, pose, speed, control, route completion, outside-lanes
  state, the step's infractions, and an experiment agent's reward and numeric info as ``info_<key>``) written
  as CSV, or Parquet where pyarrow is installed.
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any

import cv2
import numpy as np

from ..routes.progress import RouteProgress
from ..sensors.birdview import BirdviewRenderer
from .infractions import SHORT_NAMES, Infraction

VIDEO_SIZE, VIDEO_RADIUS = 480, 40.0  # pixels, metres
MARK_COLOUR = (0, 0, 255)  # BGR red


def open_video(path: str, fps: float, size: int, fix: str) -> cv2.VideoWriter:
    """An MP4 writer of ``size`` x ``size`` frames at ``path`` (its folder made); ``fix`` ends the error."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}. Fix: {fix}")
    return writer


def draw_header(frame: np.ndarray, lines: list[str], width: int | None = None) -> None:
    """Write ``lines`` at the top left of ``frame`` over a darkened band (``width`` pixels wide, default
    all), so they stay readable over any map."""
    band = frame[:12 + 22 * len(lines), :width]
    band[:] = (band * 0.35).astype(np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(frame, text, (8, 22 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)


class RouteVideo:
    """An MP4 of one route (see the module docstring)."""

    def __init__(self, path: str, world: Any, hero: Any, progress: RouteProgress, fps: float) -> None:
        self.path = path
        self.renderer = BirdviewRenderer(world, hero, VIDEO_SIZE, VIDEO_RADIUS, debug=False, route=True)
        self.renderer.set_route(progress)
        self.hero = hero
        self.marks: list[Infraction] = []
        self.writer = open_video(path, fps, VIDEO_SIZE, "give --record a writable folder.")

    def add(self, header: str, new: list[Infraction]) -> None:
        self.marks += [i for i in new if i.location != (0.0, 0.0, 0.0)]
        frame = np.ascontiguousarray(self.renderer.render()[..., ::-1])
        view = self.renderer.world_to_view(self.hero.get_transform())
        for mark in self.marks:
            u, v = view @ np.array([mark.location[0], mark.location[1], 1.0])
            if -20 <= u <= VIDEO_SIZE + 20 and -20 <= v <= VIDEO_SIZE + 20:
                centre = (int(round(u)), int(round(v)))
                cv2.drawMarker(frame, centre, MARK_COLOUR, cv2.MARKER_TILTED_CROSS, 14, 3, cv2.LINE_AA)
                cv2.putText(frame, SHORT_NAMES.get(mark.kind, mark.kind), (centre[0] + 8, centre[1] - 8),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, MARK_COLOUR, 1, cv2.LINE_AA)
        draw_header(frame, header.split("\n"))
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.release()


STATE_COLUMNS = ("time", "x", "y", "z", "yaw", "speed", "throttle", "steer", "brake", "route_completion",
                 "outside_lanes", "infractions")


class StateLog:
    """Per-step rows of one route, written by :meth:`close` as ``path`` (.csv or .parquet)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path.endswith(".parquet"):
            try:
                import pyarrow  # noqa: F401  (pandas writes Parquet through it)
            except ImportError:
                raise OSError("--state-log parquet needs pyarrow. Fix: pip install pyarrow, or use "
                              "--state-log csv.") from None

    def add(self, time: float, hero: Any, route_completion: float, outside: bool, new: list[Infraction],
            terms: dict[str, float]) -> None:
        t = hero.get_transform()
        v = hero.get_velocity()
        control = hero.get_control()
        self.rows.append({"time": round(time, 3), "x": t.location.x, "y": t.location.y, "z": t.location.z,
                          "yaw": t.rotation.yaw, "speed": math.sqrt(v.x ** 2 + v.y ** 2 + v.z ** 2),
                          "throttle": control.throttle, "steer": control.steer, "brake": control.brake,
                          "route_completion": round(route_completion, 3), "outside_lanes": int(outside),
                          "infractions": ";".join(i.kind for i in new), **terms})

    def close(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        columns = list(STATE_COLUMNS) + sorted({k for row in self.rows for k in row} - set(STATE_COLUMNS))
        if self.path.endswith(".parquet"):
            import pandas
            pandas.DataFrame(self.rows, columns=columns).to_parquet(self.path, index=False)
            return
        with open(self.path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
