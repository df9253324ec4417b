"""Speed limits a map carries (:class:`SpeedLimits`): the limit of each road from the map's speed
signs (landmarks of type 274), else the town's default (:data:`DEFAULT_SPEED_LIMITS`, CARLA's urban
30 km/h elsewhere). The signals themselves are :mod:`.signals`'.
"""

from __future__ import annotations

import carla

#: Speed limit (km/h) of the procedural towns (OSM ``maxspeed`` does not survive Osm2Odr); other
#: maps use their speed signs and CARLA's urban 30 km/h elsewhere.
DEFAULT_SPEED_LIMITS = {"GridTown": 40.0, "RingTown": 50.0, "Highway": 90.0}


class SpeedLimits:
    """Speed limits of a map's roads, km/h."""

    def __init__(self, town_map: carla.Map) -> None:
        self.map = town_map
        self.default = DEFAULT_SPEED_LIMITS.get(town_map.name, 30.0)
        self.by_road: dict[int, float] = {}
        for landmark in town_map.get_all_landmarks():
            if landmark.type == "274" and landmark.value > 0:
                self.by_road[landmark.road_id] = float(landmark.value)
        #: every road has the same limit (the procedural towns: no signs), so no location needs a map query
        self.uniform = all(limit == self.default for limit in self.by_road.values())

    def for_road(self, road_id: int) -> float:
        return self.by_road.get(road_id, self.default)

    def at(self, location: carla.Location) -> float:
        """The limit of the road nearest to ``location``."""
        if self.uniform:
            return self.default
        return self.for_road(self.map.get_waypoint(location).road_id)
