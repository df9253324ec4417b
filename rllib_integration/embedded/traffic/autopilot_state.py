"""What the autopilot keeps for one vehicle: its route, the traffic manager's settings for it, and
its memory of junctions, lane changes and its leader."""

from __future__ import annotations

import math
from typing import Any

from .routes import Route, lane_start


class AutopilotState:
    """Route, settings and memory of one autopilot vehicle."""

    def __init__(self, vehicle: Any) -> None:
        self.vehicle = vehicle
        self.route = Route()
        # settings (the traffic manager's per-vehicle setters; None: the manager's global value)
        self.speed_difference: float | None = None
        self.distance: float | None = None
        self.lane_offset: float | None = None
        self.desired_speed: float | None = None  # km/h
        self.ignore_lights = self.ignore_signs = self.ignore_vehicles = self.ignore_walkers = 0.0
        self.auto_lane_change = True
        self.keep_right = self.random_left = self.random_right = 0.0
        self.update_lights = False
        self.ignored_actors: set[int] = set()
        # junctions
        self.holding: set[int] = set()  # the junctions it may drive through
        self.held_since = -math.inf
        self.stopped_at: tuple | None = None
        self.ignoring: dict[int, bool] = {}
        self.moved_at = 0.0  # when it was last a metre away from ``anchor``
        self.anchor = (math.inf, math.inf)
        self._why = ""  # why the vehicle stops before its junction at this plan (see waiting_for)
        self.wait_kind = ""  # "", "light", "sign", "junction" (right of way) or "room" (none beyond it)
        self.wait_on: int | None = None  # the vehicle it gives way to at the junction, if one
        self.wait_light: Any = None  # the light it waits for, if one
        self._entry: tuple[int, tuple[float, float]] | None = None
        # lane changes
        self.forced_change: bool | None = None
        self.changed_at = -math.inf
        self.changing_until = -math.inf
        self.change_side: str | None = None
        self.slow_since: float | None = None
        self.leader = (math.inf, 0.0)  # (gap, speed) at the last plan
        self.leader_id: int | None = None  # the vehicle ahead at the last plan (None: none, or a walker)
        self.leader_stuck = False  # the leader stands still without waiting for a junction or a leader
        self.cruise: float | None = None  # cached target speed; None when the route or settings change

    #: What the traffic manager's per-vehicle setters set (kept while the vehicle is not driven by it).
    SETTINGS = ("speed_difference", "distance", "lane_offset", "desired_speed", "ignore_lights", "ignore_signs",
                "ignore_vehicles", "ignore_walkers", "auto_lane_change", "keep_right", "random_left", "random_right",
                "update_lights", "forced_change")

    def keep_settings(self, other: "AutopilotState") -> None:
        """Take ``other``'s settings (its setters' values, ignored actors, path and turns asked for)."""
        for name in self.SETTINGS:
            setattr(self, name, getattr(other, name))
        self.ignored_actors = set(other.ignored_actors)
        self.route.path, self.route.options = list(other.route.path), list(other.route.options)

    def wait(self, why: str, kind: str, on: int | None = None, light: Any = None) -> None:
        """Record why the vehicle stops before its next junction at this plan."""
        self._why, self.wait_kind, self.wait_on, self.wait_light = why, kind, on, light

    @property
    def waiting_for(self) -> str:
        """Why the vehicle stops before its next junction at this plan (diagnostics)."""
        return f"light {self.wait_light.id}" if self.wait_light is not None else self._why

    @property
    def wait_cycle(self) -> float:
        """Waiting for a light: seconds of its group's cycle (inf otherwise)."""
        group = self.wait_light.group if self.wait_light is not None else None
        return group.cycle() if group else math.inf

    def entry_point(self, entry: int) -> tuple[float, float]:
        """Where the route enters its next junction (the start of its connecting lane)."""
        waypoint = self.route.points[entry][3]
        if self._entry is None or self._entry[0] != waypoint.id:
            at = lane_start(waypoint).transform.location
            self._entry = (waypoint.id, (at.x, at.y))
        return self._entry[1]
