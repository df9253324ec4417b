"""Any CARLA Leaderboard 2.x agent driven by ``evaluate.py``: a file with ``get_entry_point()`` naming an
``AutonomousAgent`` subclass (the leaderboard's ``npc_agent.py``, a team's submission)::

    evaluate.py --routes R.xml --agent rllib_integration.leaderboard.leaderboard_agent:LeaderboardAgent \\
        --agent-config agent=leaderboard/autoagents/npc_agent.py config=agent.yaml --out results

The leaderboard, ScenarioRunner and CARLA's ``agents`` must be importable (on ``PYTHONPATH``, as the
leaderboard itself needs them). As the leaderboard does, the agent gets ``setup(path_to_conf_file)``, its
``sensors()`` attached to the hero, ``set_global_plan(gps, world)`` with the route every metre (the leaderboard's
own interpolation of the route file's waypoints where the evaluator gives them; else the evaluator's route, GPS from
the map's geo-reference, projected as the leaderboard projects it) and ``run_step(input_data, timestamp)``; ScenarioRunner's ``CarlaDataProvider`` is pointed
at the evaluator's world, where such agents look for the hero (``role_name`` ``hero``) and the map.
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any, Mapping

import carla

from ..errors import ConfigError


def load_agent_class(path: str) -> type:
    """The class a Leaderboard agent file names with ``get_entry_point()``."""
    if not os.path.isfile(path):
        raise ConfigError(f"--agent-config agent={path}: no such file. Fix: give the path of a Leaderboard agent "
                          f"(a .py file with get_entry_point()).")
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        raise ConfigError(f"--agent-config agent={path}: it cannot be imported ({error}). Fix: put CARLA's "
                          f"leaderboard, scenario_runner and PythonAPI/carla on PYTHONPATH.") from None
    if not hasattr(module, "get_entry_point"):
        raise ConfigError(f"--agent-config agent={path}: no get_entry_point(). Fix: give a Leaderboard agent file.")
    return getattr(module, module.get_entry_point())


POSE = ("id", "type", "x", "y", "z", "roll", "pitch", "yaw")
#: The blueprint attributes the Leaderboard 2.x sets for each sensor type (its agent_wrapper's rules).
FIXED_ATTRIBUTES = {
    "sensor.lidar.ray_cast": {"range": 85, "rotation_frequency": 10, "channels": 64, "upper_fov": 10,
                              "lower_fov": -30, "points_per_second": 600000, "atmosphere_attenuation_rate": 0.004,
                              "dropoff_general_rate": 0.45, "dropoff_intensity_limit": 0.8,
                              "dropoff_zero_intensity": 0.4},
    "sensor.other.radar": {"points_per_second": 1500, "range": 100},
    "sensor.other.gnss": {"noise_alt_stddev": 0.000005, "noise_lat_stddev": 0.000005, "noise_lon_stddev": 0.000005,
                          "noise_alt_bias": 0.0, "noise_lat_bias": 0.0, "noise_lon_bias": 0.0},
    "sensor.other.imu": {"noise_accel_stddev_x": 0.001, "noise_accel_stddev_y": 0.001, "noise_accel_stddev_z": 0.015,
                         "noise_gyro_stddev_x": 0.001, "noise_gyro_stddev_y": 0.001, "noise_gyro_stddev_z": 0.001},
}
#: Keys of the leaderboard's sensor specification -> blueprint attributes.
RENAMED = {"width": "image_size_x", "height": "image_size_y", "fov": "fov", "horizontal_fov": "horizontal_fov",
           "vertical_fov": "vertical_fov"}
PSEUDO_SENSORS = ("sensor.opendrive_map", "sensor.speedometer")


def blueprint_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A Leaderboard sensor specification (``{"type", "id", "x", ..., "width", ...}``) as the evaluator's: its pose
    and the blueprint attributes the leaderboard would set."""
    kind = spec.get("type", "")
    if kind in PSEUDO_SENSORS:
        raise ConfigError(f"LeaderboardAgent: the leaderboard's pseudo-sensor {kind} is not provided by evaluate.py. "
                          f"Fix: run the agent with CARLA's leaderboard_evaluator.py on the embedded world.")
    result = {key: spec[key] for key in POSE if key in spec}
    result.update({RENAMED[key]: value for key, value in spec.items() if key in RENAMED})
    result.update(FIXED_ATTRIBUTES.get(kind, {}))
    return result


EARTH_RADIUS = 6378137.0  # metres, at the equator


def gps(town_map: carla.Map, location: carla.Location) -> dict[str, float]:
    """A route point as the leaderboard's GPS plan gives it (``lat``, ``lon``, ``z``): a Mercator projection
    about the map's geo-reference with CARLA's y axis pointing south, as the leaderboard computes it."""
    reference = town_map.transform_to_geolocation(carla.Location(0.0, 0.0, 0.0))
    scale = math.cos(math.radians(reference.latitude))
    mx = scale * math.radians(reference.longitude) * EARTH_RADIUS + location.x
    my = scale * EARTH_RADIUS * math.log(math.tan(math.radians(90.0 + reference.latitude) / 2.0)) - location.y
    return {"lat": math.degrees(2.0 * math.atan(math.exp(my / (EARTH_RADIUS * scale)))) - 90.0,
            "lon": math.degrees(mx / (EARTH_RADIUS * scale)), "z": location.z}


class LeaderboardAgent:
    """Adapts a Leaderboard ``AutonomousAgent`` to the evaluator's agent interface (see the module docstring)."""

    def setup(self, config: Mapping[str, Any]) -> None:
        if "agent" not in config:
            raise ConfigError("LeaderboardAgent: no agent file. Fix: --agent-config agent=PATH/TO/agent.py "
                              "[config=PATH/TO/its/config].")
        self.agent_class = load_agent_class(str(config["agent"]))
        self.config_path = str(config.get("config", ""))
        self._new_instance()

    def _new_instance(self) -> None:
        """A fresh agent, set up: the leaderboard makes one per route."""
        self.agent = self.agent_class("127.0.0.1", 2000, False)  # (host, port, debug): unused on the embedded world
        self.agent.setup(self.config_path)
        self.used = False

    def sensors(self) -> list[dict[str, Any]]:
        """The agent's sensors with the blueprint attributes the leaderboard sets for each type."""
        return [blueprint_spec(spec) for spec in self.agent.sensors()]

    def set_global_plan(self, route: list) -> None:
        self.route, self.keypoints = route, None

    def set_route_keypoints(self, keypoints: list[carla.Location]) -> None:
        """The route file's waypoints: the plan is then the leaderboard's own (its ``interpolate_trajectory``, CARLA's
        route planner between them), so an agent that plans again between its points drives what it would there."""
        self.keypoints = list(keypoints)

    def start(self, core: Any) -> None:
        from agents.navigation.local_planner import RoadOption
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider
        if self.used:
            self._new_instance()
        self.used = True
        CarlaDataProvider.set_world(core.world)
        if self.keypoints:
            from leaderboard.utils.route_manipulation import interpolate_trajectory
            gps_plan, world_plan = interpolate_trajectory(self.keypoints)
        else:
            world_plan = [(carla.Transform(w.transform.location, w.transform.rotation), RoadOption(option.value))
                          for w, option in self.route]
            gps_plan = [(gps(core.map, transform.location), option) for transform, option in world_plan]
        self.agent.set_global_plan(gps_plan, world_plan)

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> carla.VehicleControl:
        return self.agent.run_step(dict(input_data), timestamp)

    def destroy(self) -> None:
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider
        self.agent.destroy()
        CarlaDataProvider.cleanup()
