"""What the evaluator writes besides results.json: a video per route and a per-step state log.

- :class:`RouteVideo`: a BirdView of the hero (480 px over 80 m, the route ahead in teal) with every
  infraction marked where it happened (a red cross and its kind) and a header (route, RC, penalty,
  speed, control), as an H.264 MP4 file (browsers play it) at the simulation's rate;
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
from ..sensors.hero_view import VIEW_SIZE, HeroView, draw_header
from .infractions import SHORT_NAMES, Infraction
from .video import VideoWriter

MARK_COLOUR = (0, 0, 255)  # BGR red


class RouteVideo:
    """An MP4 of one route (see the module docstring)."""

    def __init__(self, path: str, world: Any, hero: Any, progress: RouteProgress, fps: float) -> None:
        self.path = path
        self.view = HeroView(world, hero, progress)
        self.hero = hero
        self.marks: list[Infraction] = []
        self.writer = VideoWriter(path, fps, "give --record a writable folder.")

    def add(self, header: str, new: list[Infraction]) -> None:
        self.marks += [i for i in new if i.location != (0.0, 0.0, 0.0)]
        frame = self.view.frame()
        view = self.view.renderer.world_to_view(self.hero.get_transform())
        for mark in self.marks:
            u, v = view @ np.array([mark.location[0], mark.location[1], 1.0])
            if -20 <= u <= VIEW_SIZE + 20 and -20 <= v <= VIEW_SIZE + 20:
                centre = (int(round(u)), int(round(v)))
                cv2.drawMarker(frame, centre, MARK_COLOUR, cv2.MARKER_TILTED_CROSS, 14, 3, cv2.LINE_AA)
                cv2.putText(frame, SHORT_NAMES.get(mark.kind, mark.kind), (centre[0] + 8, centre[1] - 8),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, MARK_COLOUR, 1, cv2.LINE_AA)
        draw_header(frame, header.split("\n"))
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.close()


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
