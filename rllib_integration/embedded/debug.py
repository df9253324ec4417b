"""``carla.DebugHelper`` of the embedded world (``world.debug``): shapes are recorded, not drawn on
a server window (there is none), and :meth:`DebugHelper.shapes` gives those alive at the current
simulated time to whatever visualises the world. ``life_time`` follows CARLA: negative lasts one
frame, 0 forever, otherwise that many simulated seconds. HUD variants are recorded alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import carla


@dataclass(frozen=True)
class DebugShape:
    """One recorded shape: kind (point, line, arrow, box, string), its points (x, y, z), colour and size."""

    kind: str
    points: tuple[tuple[float, float, float], ...]
    color: tuple[int, int, int]
    size: float
    text: str
    frame: int
    until: float  # simulated seconds it lasts to (inf: forever)


def _xyz(v: Any) -> tuple[float, float, float]:
    return float(v.x), float(v.y), float(v.z)


class DebugHelper:
    """Records ``draw_*`` calls of one world."""

    def __init__(self, sim: Any) -> None:
        self._sim = sim
        self._shapes: list[DebugShape] = []

    def _add(self, kind: str, points: tuple, color: carla.Color, size: float, life_time: float, text: str = "") -> None:
        now = self._sim.elapsed
        until = float("inf") if life_time == 0 else (now if life_time < 0 else now + float(life_time))
        self._shapes.append(DebugShape(kind, tuple(_xyz(p) for p in points), (color.r, color.g, color.b),
                                       float(size), str(text), self._sim.frame, until))

    def shapes(self) -> list[DebugShape]:
        """The shapes alive now (one-frame shapes until the next tick)."""
        now, frame = self._sim.elapsed, self._sim.frame
        self._shapes = [s for s in self._shapes if s.until >= now or s.frame == frame]
        return list(self._shapes)

    def draw_point(self, location: carla.Location, size: float = 0.1, color: carla.Color = carla.Color(255, 0, 0),
                   life_time: float = -1.0, persistent_lines: bool = True) -> None:
        self._add("point", (location,), color, size, life_time)

    def draw_line(self, begin: carla.Location, end: carla.Location, thickness: float = 0.1,
                  color: carla.Color = carla.Color(255, 0, 0), life_time: float = -1.0,
                  persistent_lines: bool = True) -> None:
        self._add("line", (begin, end), color, thickness, life_time)

    def draw_arrow(self, begin: carla.Location, end: carla.Location, thickness: float = 0.1, arrow_size: float = 0.1,
                   color: carla.Color = carla.Color(255, 0, 0), life_time: float = -1.0,
                   persistent_lines: bool = True) -> None:
        self._add("arrow", (begin, end), color, thickness, life_time)

    def draw_box(self, box: carla.BoundingBox, rotation: carla.Rotation, thickness: float = 0.1,
                 color: carla.Color = carla.Color(255, 0, 0), life_time: float = -1.0,
                 persistent_lines: bool = True) -> None:
        # the box's location is in the world already; the rotation turns it about its own centre
        centred = carla.BoundingBox(carla.Location(), box.extent)
        corners = centred.get_world_vertices(carla.Transform(box.location, rotation))
        self._add("box", tuple(corners), color, thickness, life_time)

    def draw_string(self, location: carla.Location, text: str, draw_shadow: bool = False,
                    color: carla.Color = carla.Color(255, 0, 0), life_time: float = -1.0,
                    persistent_lines: bool = True) -> None:
        self._add("string", (location,), color, 0.0, life_time, text)

    def draw_hud_point(self, location: carla.Location, size: float = 0.1, color: carla.Color = carla.Color(255, 0, 0),
                       life_time: float = -1.0, persistent_lines: bool = True) -> None:
        self.draw_point(location, size, color, life_time)

    def draw_hud_line(self, begin: carla.Location, end: carla.Location, thickness: float = 0.1,
                      color: carla.Color = carla.Color(255, 0, 0), life_time: float = -1.0,
                      persistent_lines: bool = True) -> None:
        self.draw_line(begin, end, thickness, color, life_time)

    def draw_hud_arrow(self, begin: carla.Location, end: carla.Location, thickness: float = 0.1,
                       arrow_size: float = 0.1, color: carla.Color = carla.Color(255, 0, 0),
                       life_time: float = -1.0, persistent_lines: bool = True) -> None:
        self.draw_arrow(begin, end, thickness, arrow_size, color, life_time)

    def draw_hud_box(self, box: carla.BoundingBox, rotation: carla.Rotation, thickness: float = 0.1,
                     color: carla.Color = carla.Color(255, 0, 0), life_time: float = -1.0,
                     persistent_lines: bool = True) -> None:
        self.draw_box(box, rotation, thickness, color, life_time)
