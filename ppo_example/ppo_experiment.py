"""``RouteExperiment``: follow a planned route, rewarded in the style of CaRL (Jaeger et al., 2025).

- Route: every episode a route of ``route_length`` metres drawn on the episode's town with the
  evaluator's planner; the hero spawns at its start (the evaluator gives its own routes instead). Routes,
  progress and ends come from :class:`~rllib_integration.tasks.RouteFollowing`.
- Actions: ``Box(-1, 1, (2,))``: the longitudinal command and steer. ``others.control: throttle`` (the default):
  acceleration (positive: throttle, negative: brake); ``speed``: a target speed from 0 (-1) to ``target_speed_kmh``
  (1) that a PI controller holds (:mod:`rllib_integration.tasks.speed_control`: a cloned policy's mean of waiting
  and driving off is a slow drive-off, not a throttle too weak to move); ``levels``: ``Discrete(speed_levels)``, a
  choice of target speeds evenly spaced from 0 to ``target_speed_kmh``, held by the same controller (the traffic
  recipe's choice: cloning is then a classification whose greedy action is the likeliest speed, a stop where the
  demonstrator stops, where the mean of a regression near a red light was a creep across its stop line).
  ``others.steer: policy`` (the default): the second action is the steer; ``residual``: it is added to the steer of
  a pure-pursuit controller along the route (:mod:`rllib_integration.tasks.route_steering`, computed for the
  observed state), so the policy corrects the route's path (round obstacles) rather than learning to follow it;
  ``route``: that controller steers alone and the policy commands the speed only (``Box(-1, 1, (1,))``, or the
  ``Discrete`` choice with ``control: levels``, which needs it), as HighwayEnv's meta-actions leave the
  steering to a controller.
- Observation (``others.observation``):

  - ``vlidar``: ``Box(float32, (rays * 3 + 11 + 2 * len(ROUTE_LOOKAHEAD),))``: the ``sensor.virtual_lidar``
    named ``vlidar`` (road edge, lane marking and obstacle distances per ray, divided by its range), then
    :data:`STATE` (speed / 10 m/s, the last acceleration and steer (zeros with ``state_last_action: false``:
    a policy cloned from demonstrations copies its last action instead of reading the scene, the "copycat"
    problem of behaviour cloning), whether the hero's traffic light
    is red, the route command one-hot: left, right, straight, follow lane, change left, change right),
    then the route points :data:`ROUTE_LOOKAHEAD` metres ahead in the hero's frame (forward, right) / 40 m,
    and with ``light_ahead: true`` :data:`LIGHT` (the next light on the route: how far, red, yellow), and with
    ``obstacles_ahead: true`` :data:`OBSTACLES` (the nearest vehicle or walker on the route ahead: gap, speed,
    closing speed; the nearest about to cross it: gap, when);
  - ``camera``: ``Dict(image=Box(uint8, (H, W, 3)), state=Box(float32, (11,)))``: the ``sensor.camera.rgb``
    named ``camera`` and :data:`STATE`.

- Reward: the route metres completed this step (``core.route_progress``) times soft factors: speed
  above ``target_speed_kmh`` (or the lane's limit if lower) scales it down to 0 at ``zero_reward_speed`` (2)
  times the limit and on to -1 (a metre driven too fast costs; ``overspeed_end`` times it ends the episode),
  and a
  lateral offset from the route scales it down to half at ``max_route_offset`` metres. Hard infractions
  end the episode with ``-terminal_penalty``: a collision, a red light or stop sign run, leaving the
  lanes (as the evaluator counts them: :class:`~rllib_integration.evaluation.monitor.RouteMonitor`),
  more than ``max_route_offset`` metres from the route, or standing still for ``max_idle_s`` seconds.
  The route completed ends the episode (terminated); the evaluator's time limit truncates it.
- ``info``: ``route_completion`` (0-100), the step's reward factors, the infractions, episode totals
  (``episode_*``) and ``end_reason`` on the last step.
"""

from __future__ import annotations

import math
from typing import Any

import carla
import gymnasium as gym
import numpy as np

from rllib_integration.base_experiment import BaseExperiment
from rllib_integration.config import ConfigError
from rllib_integration.evaluation.infractions import KINDS, SHORT_NAMES
from rllib_integration.routes.planner import RoadOption
from rllib_integration.routes.progress import Route
from rllib_integration.tasks import RouteFollowing
from rllib_integration.tasks.route_lights import LIGHT_FEATURES, LIGHT_HORIZON, RouteLights, no_light
from rllib_integration.tasks.route_obstacles import OBSTACLE_FEATURES, RouteObstacles, none_ahead
from rllib_integration.tasks.route_steering import RouteSteering
from rllib_integration.tasks.speed_control import SpeedController, forward_motion, forward_speed, target_from_motion
from rllib_integration.tasks.turn_speed import route_turn_speeds

LIDAR, CAMERA = "vlidar", "camera"  # observation kinds, and the names of the sensors they read
OBSERVATIONS = (LIDAR, CAMERA)
COMMANDS = (RoadOption.LEFT, RoadOption.RIGHT, RoadOption.STRAIGHT, RoadOption.LANEFOLLOW,
            RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT)
STATE = ("speed", "acceleration", "steer", "red_light") + tuple(f"command_{c.name.lower()}" for c in COMMANDS)
ROUTE_LOOKAHEAD = (2, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40)  # metres (route points are 1 m apart)
#: ``others.light_ahead``: the next traffic light's stop line on the route (distance / LIGHT_HORIZON, 1 when
#: none is nearer) and whether it shows red or yellow.
LIGHT = LIGHT_FEATURES
#: ``others.obstacles_ahead``: the actors in the way along the route (:mod:`rllib_integration.tasks.route_obstacles`).
OBSTACLES = OBSTACLE_FEATURES
COMMAND_LOOKAHEAD = 25  # route points searched for the next junction or lane-change command
SPEED_SCALE, ROUTE_SCALE = 10.0, 40.0  # m/s, metres
CONTROLS = ("throttle", "speed", "levels")  # others.control: what the first action commands
STEERS = ("policy", "residual", "route")  # others.steer: the second action is the steer, added to the route's, or none


class RouteExperiment(BaseExperiment):
    """Follow the episode's route as far as possible without infractions (see the module docstring)."""

    CONFIG_DEFAULTS = {"others": {"observation": "vlidar", "route_length": [150.0, 400.0], "target_speed_kmh": 30.0,
                                  "zero_reward_speed": 2.0, "overspeed_end": 2.0, "terminal_penalty": 10.0,
                                  "max_route_offset": 4.0, "max_idle_s": 10.0, "state_last_action": True,
                                  "light_ahead": False, "obstacles_ahead": False, "control": "throttle",
                                  "steer": "policy", "speed_levels": 7, "turn_lateral_accel": 0.0}}
    BATCH = "ppo_example.ppo_batch:RouteExperimentBatch"  # every hero of a world at once, in CarlaVectorEnv
    # a command is a throttle or a target speed up to that; a steer the wheel's or added to the route's
    ACTION_OPTIONS = ("control", "target_speed_kmh", "steer", "speed_levels")
    CONFIG_RANGES = {"others.target_speed_kmh": (1.0, 300.0), "others.zero_reward_speed": (1.05, 10.0),
                     "others.overspeed_end": (1.05, 10.0),
                     "others.terminal_penalty": (0.0, 10 ** 6), "others.max_route_offset": (0.5, 30.0),
                     "others.max_idle_s": (0.5, 3600.0), "others.speed_levels": (2, 64),
                     "others.turn_lateral_accel": (0.0, 20.0)}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        others = self.config["others"]
        where = "env_config.experiment.others"
        self.observation_kind = others["observation"]
        if self.observation_kind not in OBSERVATIONS:
            raise ConfigError(f"{where}.observation: {self.observation_kind!r} is not an observation of "
                              f"RouteExperiment. Fix: use {' or '.join(OBSERVATIONS)}.")
        self.task = RouteFollowing(where, others["route_length"], others["target_speed_kmh"],
                                   others["max_route_offset"], others["max_idle_s"], others["zero_reward_speed"],
                                   overspeed_end=others["overspeed_end"])
        self.terminal_penalty = float(others["terminal_penalty"])
        self.state_last_action = bool(others["state_last_action"])
        self.light_ahead = bool(others["light_ahead"])
        self.route_lights: RouteLights | None = None
        self.obstacles_ahead = bool(others["obstacles_ahead"])
        self.control_kind = others["control"]
        if self.control_kind not in CONTROLS:
            raise ConfigError(f"{where}.control: {self.control_kind!r} is not a control of RouteExperiment. Fix: use "
                              f"{' or '.join(CONTROLS)}.")
        self.steer_kind = others["steer"]
        if self.steer_kind not in STEERS:
            raise ConfigError(f"{where}.steer: {self.steer_kind!r} is not a steer of RouteExperiment. Fix: use "
                              f"{' or '.join(STEERS)}.")
        if self.control_kind == "levels" and self.steer_kind != "route":
            raise ConfigError(f"{where}.control: levels chooses a speed only, but steer is {self.steer_kind!r}. Fix: "
                              f"set {where}.steer: route (the route's controller steers), or use control: speed.")
        self.speed_levels = int(others["speed_levels"])
        self.max_speed = float(others["target_speed_kmh"]) / 3.6
        self.turn_lateral_accel = float(others["turn_lateral_accel"])  # m/s²: the curves' speed cap (0: none)
        if self.turn_lateral_accel and self.control_kind == "throttle":
            raise ConfigError(f"{where}.turn_lateral_accel caps a target speed, and control: throttle chooses none. "
                              f"Fix: set {where}.control: levels or speed, or turn_lateral_accel: 0.")
        self.sensor = self._sensor_attributes()
        self.reset()

    def _sensor_attributes(self) -> dict[str, Any]:
        sensors = self.config["hero"]["sensors"]
        wanted = {LIDAR: "sensor.virtual_lidar", CAMERA: "sensor.camera.rgb"}[self.observation_kind]
        name = self.observation_kind  # the sensor is named after the observation
        if name not in sensors or sensors[name].get("type") != wanted:
            example = "{type: sensor.virtual_lidar, rays: 32, range: 40}" if name == LIDAR else \
                "{type: sensor.camera.rgb, image_size_x: 128, image_size_y: 64, transform: '1.5,0,2.2,0,-8,0'}"
            raise ConfigError(f"env_config.experiment.hero.sensors.{name}: observation {self.observation_kind} needs "
                              f"a sensor named '{name}' of type {wanted}. Fix: add '{name}: {example}'.")
        return sensors[name]

    # -- spaces and actions -----------------------------------------------------------------
    def get_action_space(self) -> gym.Space:
        if self.control_kind == "levels":
            return gym.spaces.Discrete(self.speed_levels)
        return gym.spaces.Box(-1.0, 1.0, (1 if self.steer_kind == "route" else 2,), np.float32)

    def get_observation_space(self) -> gym.Space:
        state = gym.spaces.Box(-np.inf, np.inf, (len(STATE),), np.float32)
        if self.observation_kind == CAMERA:
            shape = (int(self.sensor.get("image_size_y", 600)), int(self.sensor.get("image_size_x", 800)), 3)
            return gym.spaces.Dict({"image": gym.spaces.Box(0, 255, shape, np.uint8), "state": state})
        size = int(self.sensor.get("rays", 32)) * 3 + len(STATE) + 2 * len(ROUTE_LOOKAHEAD) + \
            (len(LIGHT) if self.light_ahead else 0) + (len(OBSTACLES) if self.obstacles_ahead else 0)
        return gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def compute_action(self, action: Any) -> carla.VehicleControl:
        if self.control_kind == "levels":
            command, steer = 2.0 * int(action) / (self.speed_levels - 1) - 1.0, 0.0
        else:
            values = np.asarray(action, dtype=np.float64).ravel()
            command = max(-1.0, min(1.0, float(values[0])))
            steer = max(-1.0, min(1.0, float(values[1]))) if self.steer_kind != "route" else 0.0
        self.last_action = (command, steer)
        if self.steer_kind != "policy":  # the route controller's steer, and the policy's correction added
            steer = min(max(steer + self.route_steer, -1.0), 1.0)
        if self.control_kind == "throttle":
            return carla.VehicleControl(throttle=max(command, 0.0), steer=steer, brake=max(-command, 0.0))
        target = (command + 1.0) / 2.0 * self.max_speed
        if self.turn_speeds is not None:  # no faster than the route's curves allow (turn_lateral_accel)
            target = min(target, float(self.turn_speeds[self.core.route_progress.index]))
        throttle, brake = self.speed_controller.control(target, forward_speed(self.core.hero))
        return carla.VehicleControl(throttle=throttle, steer=steer, brake=brake)

    def action_from_control(self, control: carla.VehicleControl) -> Any:
        """``[throttle - brake, steer]``; with ``control: speed``, ``[target, steer]``, the target being the speed the
        hero's motion under ``control`` heads for (:func:`target_from_motion`), and at least the lowest moving level's
        speed (``target_speed_kmh / (speed_levels - 1)``) while ``control`` presses the throttle without braking: a
        car pulling away at a green light shows its acceleration only ticks later, and the labels of a standing start
        were "stand" (a cloned policy then stood at green lights for ever); with ``steer: residual`` the steer less
        the route controller's for the last observed state, with ``steer: route`` no steer; clipped to the action
        space. With ``control: levels``, the level nearest that target speed."""
        command, steer = control.throttle - control.brake, control.steer
        if self.control_kind != "throttle":
            target = target_from_motion(*forward_motion(self.core.hero))
            if control.throttle > 0.0 and control.brake == 0.0:  # a driver on the throttle heads for the lowest
                target = max(target, self.max_speed / (self.speed_levels - 1))  # moving level at least
            command = 2.0 * target / self.max_speed - 1.0
        if self.control_kind == "levels":
            level = round((min(max(command, -1.0), 1.0) + 1.0) / 2.0 * (self.speed_levels - 1))
            return np.int64(level)
        if self.steer_kind == "residual":
            steer -= self.route_steer
        action = [command] if self.steer_kind == "route" else [command, steer]
        return np.clip(np.array(action, dtype=np.float32), -1.0, 1.0)

    # -- episode ----------------------------------------------------------------------------
    def plan_route(self, core: Any, rng: np.random.Generator) -> Route:
        """A route of ``route_length`` metres on the loaded town, drawn with ``rng``."""
        return self.task.plan(core, rng)

    def reset(self) -> None:
        self.task.start(self.core)
        progress = getattr(self.core, "route_progress", None)
        self.route_lights = RouteLights(self.core.world, progress) if self.light_ahead and progress else None
        self.turn_speeds = route_turn_speeds(progress, self.turn_lateral_accel)  # m/s at each route point, or None
        self.last_action = (0.0, 0.0)
        self.speed_controller = SpeedController(dt=self._timestep())
        self.route_steering: RouteSteering | None = None  # built for the episode's hero at its first observation
        self.route_obstacles: RouteObstacles | None = None  # the same
        self.route_steer = 0.0  # the route controller's steer for the last observed state
        self.step_result = None
        self.totals = {"return": 0.0, "distance": 0.0, "speed_sum": 0.0, "steps": 0,
                       **{f"infractions_{SHORT_NAMES[k]}": 0 for k in KINDS}}
        self.step_facts: dict[str, Any] = {}

    def _timestep(self) -> float:
        world = getattr(self.core, "world", None)
        step = world.get_settings().fixed_delta_seconds if world is not None else None
        return float(step or 0.05)

    def _state(self) -> np.ndarray:
        hero = self.core.hero
        state = np.zeros(len(STATE), dtype=np.float32)
        state[0] = hero.get_velocity().length() / SPEED_SCALE
        if self.state_last_action:
            state[1:3] = self.last_action
        state[3] = float(hero.get_traffic_light_state() == carla.TrafficLightState.Red and hero.is_at_traffic_light())
        ahead = self.core.next_waypoints(COMMAND_LOOKAHEAD)
        option = next((o for _, o in ahead if o != RoadOption.LANEFOLLOW), RoadOption.LANEFOLLOW)
        state[4 + COMMANDS.index(option if option in COMMANDS else RoadOption.LANEFOLLOW)] = 1.0
        return state

    def _route_points(self) -> np.ndarray:
        transform = self.core.hero.get_transform()
        progress = self.core.route_progress
        points = np.zeros((len(ROUTE_LOOKAHEAD), 2), dtype=np.float32)
        if progress is None:
            return points.ravel()
        indices = np.minimum(progress.index + np.array(ROUTE_LOOKAHEAD), len(progress.points) - 1)
        relative = progress.points[indices, :2] - np.array([transform.location.x, transform.location.y])
        yaw = math.radians(transform.rotation.yaw)
        forward, right = np.array([math.cos(yaw), math.sin(yaw)]), np.array([-math.sin(yaw), math.cos(yaw)])
        points[:, 0], points[:, 1] = relative @ forward, relative @ right
        return (points / ROUTE_SCALE).ravel()

    def get_observation(self, sensor_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if self.steer_kind != "policy":
            self._observe_route_steer()
        if self.observation_kind == CAMERA:
            image = np.asarray(sensor_data[CAMERA][1])[..., :3]
            return {"image": np.ascontiguousarray(image, dtype=np.uint8), "state": self._state()}, {}
        rays = np.asarray(sensor_data[LIDAR][1], dtype=np.float32) / float(self.sensor.get("range", 40.0))
        parts = [rays.ravel(), self._state(), self._route_points()] + ([self._light()] if self.light_ahead else []) \
            + ([self._obstacles(sensor_data[LIDAR][0])] if self.obstacles_ahead else [])
        return np.concatenate(parts).astype(np.float32), {}

    def _observe_route_steer(self) -> None:
        hero = self.core.hero
        if self.route_steering is None:
            self.route_steering = RouteSteering(hero)
        self.route_steer = self.route_steering.steer(hero, getattr(self.core, "route_progress", None))

    def _light(self) -> np.ndarray:
        """:data:`LIGHT`: the next light's stop line on the route within :data:`LIGHT_HORIZON` metres."""
        return self.route_lights.features(LIGHT_HORIZON) if self.route_lights is not None else no_light()

    def _obstacles(self, frame: int) -> np.ndarray:
        """:data:`OBSTACLES` of the hero's route at ``frame`` (read once per frame for every hero of a world)."""
        progress = getattr(self.core, "route_progress", None)
        if progress is None:
            return none_ahead()
        if self.route_obstacles is None:
            self.route_obstacles = RouteObstacles(self.core.world, self.core.hero, progress)
        return self.route_obstacles.features(frame)

    def get_done_status(self, observation: Any, core: Any) -> tuple[bool, bool]:
        step = self.step_result = self.task.step(core)
        for infraction in step.infractions:
            self.totals[f"infractions_{SHORT_NAMES[infraction.kind]}"] += 1
        return step.end_reason is not None and not step.truncated, step.truncated

    def compute_reward(self, observation: Any, core: Any) -> float:
        step = self.step_result
        reward = -self.terminal_penalty if step.failed else step.gained * step.speed_factor * step.offset_factor
        totals = self.totals
        totals["return"] += reward
        totals["distance"] += step.gained
        totals["speed_sum"] += step.speed
        totals["steps"] += 1
        self.step_facts = {"speed": step.speed, "progress": step.gained, "speed_factor": step.speed_factor,
                           "offset_factor": step.offset_factor, "route_offset": step.offset,
                           "route_completion": step.route_completion,
                           "episode_route_completion": step.route_completion,
                           "episode_distance": totals["distance"],
                           "episode_mean_speed": 3.6 * totals["speed_sum"] / totals["steps"],
                           **{f"episode_{k}": v for k, v in totals.items() if k.startswith("infractions_")}}
        if step.end_reason is not None:
            self.step_facts["end_reason"] = step.end_reason
        return reward

    def get_info(self, observation: Any, core: Any) -> dict[str, Any]:
        return dict(self.step_facts)
