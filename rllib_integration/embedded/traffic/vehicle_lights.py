"""Vehicle lights the traffic manager switches for the vehicles it was asked to
(``update_vehicle_lights(actor, True)``), as CARLA's does:

- position and low beams when the sun is below 10 degrees or fog or rain hide the road; fog lights
  in dense fog;
- brake lights while braking, the reverse light in reverse;
- the blinker of a lane change in progress or of a turn less than 25 m ahead.
"""

from __future__ import annotations

import carla

LS = carla.VehicleLightState


def light_state(weather: carla.WeatherParameters, control: carla.VehicleControl, turn: str | None) -> LS:
    """The light state for the weather, the vehicle's control and its next turn (Left/Right/None)."""
    state = LS.NONE
    dark = weather.sun_altitude_angle < 10.0 or weather.fog_density > 30.0 or weather.precipitation > 40.0
    if dark:
        state |= LS.Position | LS.LowBeam
    if weather.fog_density > 50.0:
        state |= LS.Fog
    if control.brake > 0.1:
        state |= LS.Brake
    if control.reverse:
        state |= LS.Reverse
    if turn in ("Left", "ChangeLaneLeft"):
        state |= LS.LeftBlinker
    elif turn in ("Right", "ChangeLaneRight"):
        state |= LS.RightBlinker
    return LS(state)
