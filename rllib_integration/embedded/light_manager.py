"""``carla.LightManager`` of the embedded world: the street and building lights of the scene.

A CARLA server's scene lights are Unreal actors placed in the town's level; an OpenDRIVE file does
not record them, and the embedded world's static world (buildings, trees, poles, rails) places no
lamps. So the scene has no lights: :meth:`LightManager.get_all_lights` returns an empty list, the
per-light calls accept the (empty) lists it returns, and the day-night cycle switch is kept.
Code that turns the lights near the ego on at night (ScenarioRunner's ``RouteLightsBehavior``,
CARLA's ``PythonAPI/util/lights``-style scripts) runs unchanged. Vehicle lights are actors' state
(``Vehicle.set_light_state``), not this class's.
"""

from __future__ import annotations

from typing import Any, Sequence

import carla


class LightManager:
    """The scene's lights (none in the embedded world) and the day-night cycle switch."""

    def __init__(self) -> None:
        self._lights: list[Any] = []  # no scene lights: see the module docstring
        self.day_night_cycle = True  # CARLA's default: lights follow the sun

    def _check(self, lights: Sequence[Any]) -> list[Any]:
        lights = list(lights)
        foreign = [light for light in lights if light not in self._lights]
        if foreign:
            raise ValueError(f"{len(foreign)} of the given lights are not lights of this world "
                             "(the embedded world's scene has none). Fix: pass lights from get_all_lights()")
        return lights

    def get_all_lights(self, light_group: carla.LightGroup = carla.LightGroup.NONE) -> list[Any]:
        """Every scene light of ``light_group`` (``NONE``: all): none in the embedded world."""
        return [light for light in self._lights if light_group == carla.LightGroup.NONE
                or light.light_group == light_group]

    def get_turned_on_lights(self, light_group: carla.LightGroup) -> list[Any]:
        return [light for light in self.get_all_lights(light_group) if light.is_on]

    def get_turned_off_lights(self, light_group: carla.LightGroup) -> list[Any]:
        return [light for light in self.get_all_lights(light_group) if not light.is_on]

    def set_day_night_cycle(self, active: bool) -> None:
        """Whether the scene lights switch with the sun (kept; there are no lights to switch)."""
        self.day_night_cycle = bool(active)

    # -- per-light queries and setters, over lists from get_all_lights() ----------------------------
    def is_active(self, lights: Sequence[Any]) -> list[bool]:
        return [light.is_on for light in self._check(lights)]

    def get_color(self, lights: Sequence[Any]) -> list[carla.Color]:
        return [light.color for light in self._check(lights)]

    def get_intensity(self, lights: Sequence[Any]) -> list[float]:
        return [light.intensity for light in self._check(lights)]

    def get_light_group(self, lights: Sequence[Any]) -> list[carla.LightGroup]:
        return [light.light_group for light in self._check(lights)]

    def get_light_state(self, lights: Sequence[Any]) -> list[carla.LightState]:
        return [light.light_state for light in self._check(lights)]

    def turn_on(self, lights: Sequence[Any]) -> None:
        for light in self._check(lights):
            light.turn_on()

    def turn_off(self, lights: Sequence[Any]) -> None:
        for light in self._check(lights):
            light.turn_off()

    def set_active(self, lights: Sequence[Any], active: Sequence[bool]) -> None:
        for light, on in zip(self._check(lights), active, strict=True):
            light.turn_on() if on else light.turn_off()

    def set_color(self, lights: Sequence[Any], color: carla.Color) -> None:
        self.set_colors(lights, [color] * len(lights))

    def set_colors(self, lights: Sequence[Any], colors: Sequence[carla.Color]) -> None:
        for light, color in zip(self._check(lights), colors, strict=True):
            light.set_color(color)

    def set_intensity(self, lights: Sequence[Any], intensity: float) -> None:
        self.set_intensities(lights, [intensity] * len(lights))

    def set_intensities(self, lights: Sequence[Any], intensities: Sequence[float]) -> None:
        for light, intensity in zip(self._check(lights), intensities, strict=True):
            light.set_intensity(float(intensity))

    def set_light_group(self, lights: Sequence[Any], light_group: carla.LightGroup) -> None:
        self.set_light_groups(lights, [light_group] * len(lights))

    def set_light_groups(self, lights: Sequence[Any], light_groups: Sequence[carla.LightGroup]) -> None:
        for light, group in zip(self._check(lights), light_groups, strict=True):
            light.set_light_group(group)

    def set_light_state(self, lights: Sequence[Any], light_state: carla.LightState) -> None:
        self.set_light_states(lights, [light_state] * len(lights))

    def set_light_states(self, lights: Sequence[Any], light_states: Sequence[carla.LightState]) -> None:
        for light, state in zip(self._check(lights), light_states, strict=True):
            light.set_light_state(state)
