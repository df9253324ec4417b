"""A trained policy as a CARLA Leaderboard 2.x agent, for CARLA's own ``leaderboard_evaluator.py``.

    python leaderboard/leaderboard/leaderboard_evaluator.py --routes R.xml --track MAP \\
        --agent /path/to/rllib_integration/leaderboard/policy_agent.py --agent-config agent.yaml

against a CARLA server, or on the embedded world with ``python -m rllib_integration.embedded run
leaderboard_evaluator.py --town Town01 -- ...`` (README, "CARLA's leaderboard on the embedded world").
``agent.yaml`` names the training YAML and the exported policy::

    config: dqn_example/dqn_config.yaml   # its env_config.experiment: the observations and actions
    policy: results/dqn/.../policy.onnx   # or a checkpoint folder holding one

Paths are relative to ``agent.yaml``'s folder. The agent runs the experiment as training did: its
sensors (cameras, the BirdView and virtual LiDAR pseudo-sensors) are spawned on the Leaderboard's
ego and computed through the carla API, the Leaderboard's global plan is the route (``route_progress``,
``next_waypoints``), and the policy runs with onnxruntime alone (no Ray, no torch). Because the
pseudo-sensors read the map and the actors around the ego, it declares the ``MAP`` track (privileged
inputs, as Roach's and CaRL's agents); the Leaderboard's own ``sensors()`` list is empty.
"""

from __future__ import annotations

import os
from typing import Any

import carla
import yaml
from leaderboard.autoagents.autonomous_agent import AutonomousAgent, Track
from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

# absolute imports: the Leaderboard imports this file as a top-level module (its folder put on sys.path)
from rllib_integration.carla_env import load_env_config
from rllib_integration.config import BASE_CORE_CONFIG, join_dicts
from rllib_integration.errors import ConfigError
from rllib_integration.hero_state import HeroState
from rllib_integration.inference.policy import load_policy
from rllib_integration.routes.planner import RoadOption
from rllib_integration.sensors import SensorInterface


def get_entry_point() -> str:
    """The agent class's name, as the Leaderboard asks every agent module."""
    return "PolicyAgent"


class LeaderboardCore(HeroState):
    """What the experiment sees as ``self.core`` on a Leaderboard run: the Leaderboard's world and
    ego, the global plan as the route, and the training config's ``carla`` section."""

    def __init__(self, carla_config: dict[str, Any], world: Any, hero: Any) -> None:
        self.world, self.map, self.hero = world, world.get_map(), hero
        self.client = None  # the Leaderboard owns the client
        self.config = dict(carla_config, timestep=world.get_settings().fixed_delta_seconds or carla_config["timestep"])
        self.sensor_interface = SensorInterface(timeout=self.config["timeout"])
        self.route_progress = None


def plan_as_route(town_map: Any, plan: list[tuple[carla.Transform, Any]]) -> list:
    """The Leaderboard's interpolated global plan (a point about every metre) as the library's route:
    ``(carla.Waypoint, RoadOption)`` pairs."""
    return [(town_map.get_waypoint(transform.location), RoadOption[option.name]) for transform, option in plan]


class PolicyAgent(AutonomousAgent):
    """Runs an exported policy through its training experiment (see the module docstring)."""

    _full_plan: list = []  # set_global_plan comes before setup

    def setup(self, path_to_conf_file: str) -> None:
        self.track = Track.MAP
        if not os.path.isfile(path_to_conf_file):
            raise ConfigError(f"--agent-config {path_to_conf_file!r}: no such file. Fix: give a YAML with 'config: "
                              "TRAINING.yaml' and 'policy: policy.onnx'")
        with open(path_to_conf_file, encoding="utf-8") as stream:
            settings = yaml.safe_load(stream) or {}
        folder = os.path.dirname(os.path.abspath(path_to_conf_file))
        missing = [key for key in ("config", "policy") if key not in settings]
        if missing:
            raise ConfigError(f"{path_to_conf_file}: no {' or '.join(missing)}. Fix: give 'config: TRAINING.yaml' "
                              "and 'policy: policy.onnx' (paths relative to this file)")
        config_path, policy_path = (os.path.join(folder, str(settings[key])) for key in ("config", "policy"))
        env_config = load_env_config(config_path)["env_config"]
        experiment_config = dict(env_config["experiment"])
        self.experiment = experiment_config["type"](experiment_config)
        self.carla_config = join_dicts(BASE_CORE_CONFIG, env_config.get("carla") or {})
        self.policy = load_policy(policy_path)
        self.policy.check(self.experiment.get_observation_space())
        self.policy.check_actions(self.experiment.get_observation_space(), self.experiment.get_action_space())
        self.core: LeaderboardCore | None = None

    def sensors(self) -> list[dict[str, Any]]:
        return []  # the experiment's sensors are spawned on the ego by the agent itself (MAP track)

    def set_global_plan(self, global_plan_gps: list, global_plan_world_coord: list) -> None:
        """Keep the whole interpolated plan (the base class keeps a point every 200 m)."""
        super().set_global_plan(global_plan_gps, global_plan_world_coord)
        self._full_plan = list(global_plan_world_coord)

    def _start(self) -> None:
        world = CarlaDataProvider.get_world()
        hero = CarlaDataProvider.get_hero_actor()
        if hero is None:
            raise RuntimeError("no actor with role_name 'hero': the Leaderboard spawns the ego before the agent runs")
        self.core = LeaderboardCore(self.carla_config, world, hero)
        self.core.equip(self.experiment.config["hero"]["sensors"], plan_as_route(world.get_map(), self._full_plan))
        self.experiment.core = self.core
        self.experiment.reset()

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        if self.core is None:  # the sensors spawn now; their first data comes with the next frame
            self._start()
            return carla.VehicleControl()
        self.core.update_route()
        frame = self.core.world.get_snapshot().frame
        observation, _ = self.experiment.get_observation(self.core.sensor_interface.get_data(frame))
        return self.experiment.compute_action(self.policy(observation))

    def destroy(self) -> None:
        if self.core is not None:
            self.core.sensor_interface.destroy()
            self.core = None
