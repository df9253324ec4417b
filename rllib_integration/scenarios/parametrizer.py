"""``BackgroundActivityParametrizer``: a route's change of the Leaderboard 2.0's background activity where the
route goes on into other traffic (a highway's, a town's), as ScenarioRunner's ``background_activity_parametrizer.py``:
at its trigger point the background takes the parameters the route file gives (the vehicles ahead of and behind the
hero and their spacing, the oncoming sources' distance, spacing and whether they run, the junction sources'
distance, spacing, vehicles and share); any left out stay as they are. Without a background activity it does
nothing."""

from __future__ import annotations

from typing import Any

from .base import Scenario


class BackgroundActivityParametrizer(Scenario):
    """New parameters for the background activity from the trigger point on (see the module docstring)."""

    def build(self) -> float:
        return 0.0

    def _number(self, name: str) -> float | None:
        return self.spec.value(name, None)

    def make_room(self, background: Any) -> None:
        count = lambda name: None if self._number(name) is None else int(self._number(name))  # noqa: E731
        background.change_road_behavior(front=count("num_front_vehicles"), back=count("num_back_vehicles"),
                                        spacing=self._number("road_spawn_dist"))
        background.change_junction_behavior(
            source_distance=self._number("junction_source_dist"), max_actors=count("junction_max_actors"),
            spacing=self._number("junction_spawn_dist"), source_percentage=self._number("junction_source_perc"))
        active = self._number("opposite_active")
        background.change_opposite_behavior(source_distance=self._number("opposite_source_dist"),
                                            spacing=self._number("opposite_spawn_dist"),
                                            active=None if active is None else bool(active))
