"""``DQNExperiment``: the original DQN example's experiment, on gymnasium's API.

- Actions: ``Discrete(29)`` (:data:`ACTIONS`): coast, full brake and six steering levels at zero
  throttle, then straight / right 0.75, 0.5, 0.25 / left 0.75, 0.5, 0.25 at throttle 0.3, 0.6, 1.0.
- Observation: the ``birdview`` sensor's last ``framestack`` frames concatenated on the channel
  axis, oldest first: ``Box(0, 255, (size, size, channels * framestack), uint8)``. With
  ``others.state_input: true`` (the quickstart's), ``Dict(image=<that>, state=Box(float32, (4,)))``: the speed
  (m/s / 10) and the last throttle, steer and brake; at 2 px/m a BirdView moves less than a pixel per step at
  town speeds, so two frames hardly tell 20 km/h from 50.
- Reward (the original's terms and constants): the planar distance driven this step; ``+0.05 *
  (speed - last speed)`` below 20 km/h; ``-0.5`` off a driving/parking lane or against the lane
  direction; ``-0.05`` for a heading error (|sin| > 0.4) the steering is not correcting; ``-40``
  falling, ``-100`` idle for too long, ``+100`` for reaching the episode length.
- Ends: idle longer than ``max_time_idle`` steps and falling (z < -0.5) terminate; reaching
  ``max_time_episode`` steps truncates.
- ``others.reward: route`` (the quickstart's choice; ``faithful``, the default, is the above): follow a
  route drawn per episode (:class:`~rllib_integration.tasks.RouteFollowing`, ``route_length`` metres; the
  BirdView needs ``route: true`` so the policy sees it). The reward is the route metres completed this
  step, scaled down by speeding (to 0 at ``zero_reward_speed`` times ``target_speed_kmh`` or the lane's
  limit, if lower, and on to -1: metres driven too fast cost) and by the distance from the route (to half at ``max_route_offset``); a collision,
  leaving the lanes, more than ``max_route_offset`` metres from the route, driving faster than
  ``overspeed_end`` times that speed or falling end the episode with -``terminal_penalty``, idling with
  -``idle_penalty`` (above it, stopping never looks safer than trying a hard turn); the route completed
  ends it too. Red lights do not end it (no traffic in the quickstart): the evaluator
  counts them. The original rewarded raw distance, so its
  policies learnt to race at 180 km/h and left the road whenever a curve came.
- For traffic (``dqn_traffic_config.yaml``): ``others.red_light_ends: true`` makes running a red light end the
  episode like a collision, and ``others.excused_waits: true`` stops the idle clock while the hero waits for a
  reason: the next light on its route, within :data:`WAIT_LIGHT_M` metres, is red or yellow, or a vehicle or
  walker stands on its route within :data:`WAIT_AHEAD_M` metres ahead; ``others.light_ahead: true`` (with
  ``state_input``) adds the next light on the route to the state vector (``LIGHT_FEATURES``: its stop line's
  distance over 40 m, red, yellow): at 2 px/m the BirdView's light discs are a few pixels at the kerb. Without them, standing at a red light for
  1.5 s ended an episode with the idle penalty (-40), worse than running the light.
- ``info``: per-step facts (speed, distance, heading deviation, lane state, collisions, lane
  invasions) and running episode totals, plus ``end_reason`` on the last step.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import carla
import cv2
import gymnasium as gym
import numpy as np
from numba import njit

from rllib_integration.base_experiment import BaseExperiment
from rllib_integration.common.lane_facts import lane_facts, waypoint_facts
from rllib_integration.common.waypoint_index import get_waypoints
from rllib_integration.config import ConfigError
from rllib_integration.hero_batch import read_kinematics, speeds
from rllib_integration.routes.progress import Route
from rllib_integration.sensors.birdview import output_channels
from rllib_integration.tasks import RouteFollowing, RouteStep
from rllib_integration.tasks.route_lights import LIGHT_FEATURES, RouteLights, no_light

#: (throttle, steer, brake) of each action; reverse and hand brake are always off.
ACTIONS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.75, 0.0), (0.0, 0.5, 0.0), (0.0, 0.25, 0.0),
    (0.0, -0.75, 0.0), (0.0, -0.5, 0.0), (0.0, -0.25, 0.0),
) + tuple((throttle, steer, 0.0) for throttle in (0.3, 0.6, 1.0)
          for steer in (0.0, 0.75, 0.5, 0.25, -0.75, -0.5, -0.25))

ALLOWED_LANES = (carla.LaneType.Driving, carla.LaneType.Parking)
ALLOWED_LANE_VALUES = np.array([int(lane_type) for lane_type in ALLOWED_LANES], dtype=np.int64)
#: The lane check's states, by the code :func:`_lane_outcomes` gives.
LANE_STATES = np.array(["off_lane", "junction", "wrong_way", "on_lane"], dtype=object)
#: ``others.reward``: the original's terms, or the route-following variant (see :meth:`DQNExperiment.route_reward`).
REWARDS = ("faithful", "route")
#: Infractions that end a ``reward: route`` episode.
ROUTE_HARD_KINDS = ("collisions_pedestrian", "collisions_vehicle", "collisions_layout")
#: Why an episode ends (``info["end_reason"]``).
END_REASONS = ("idle", "falling", "max_time", "completed", "off_route", "outside_lanes", "overspeed", "ped", "veh",
               "static", "red")
BIRDVIEW = "birdview"
#: ``others.state_input``: the vector joined to the BirdView (speed / SPEED_SCALE m/s, the last control).
STATE = ("speed", "throttle", "steer", "brake")
SPEED_SCALE = 10.0
WAIT_LIGHT_M = 20.0  # ``excused_waits``: metres to a red or yellow light's stop line within which waiting is excused
WAIT_AHEAD_M = 10.0  # and metres ahead (in a corridor of WAIT_HALF_WIDTH_M each side) to a vehicle or walker
WAIT_HALF_WIDTH_M = 1.5


class DQNExperiment(BaseExperiment):
    """Drive along the roads as far as possible without idling, leaving the lane or falling."""

    BATCH = "dqn_example.dqn_batch:DQNExperimentBatch"

    CONFIG_DEFAULTS = {"others": {"framestack": 4, "max_time_idle": 600, "max_time_episode": 6400,
                                  "reward": "faithful", "route_length": [300.0, 800.0], "target_speed_kmh": 30.0,
                                  "zero_reward_speed": 1.25, "overspeed_end": 1.5, "max_route_offset": 3.0,
                                  "terminal_penalty": 20.0, "idle_penalty": 20.0, "state_input": False,
                                  "red_light_ends": False, "excused_waits": False, "light_ahead": False}}
    CONFIG_RANGES = {"others.framestack": (1, 16), "others.max_time_idle": (1, 10 ** 7),
                     "others.max_time_episode": (1, 10 ** 8), "others.target_speed_kmh": (1.0, 300.0),
                     "others.zero_reward_speed": (1.05, 10.0), "others.overspeed_end": (1.05, 10.0),
                     "others.max_route_offset": (0.5, 30.0),
                     "others.terminal_penalty": (0.0, 10 ** 6), "others.idle_penalty": (0.0, 10 ** 6)}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        others = self.config["others"]
        self.framestack = int(others["framestack"])
        self.max_time_idle = int(others["max_time_idle"])
        self.max_time_episode = int(others["max_time_episode"])
        self.reward_kind = others["reward"]
        self.state_input = bool(others["state_input"])
        if self.reward_kind not in REWARDS:
            raise ConfigError(f"env_config.experiment.others.reward: {self.reward_kind!r} is not a reward of "
                              f"DQNExperiment. Fix: use {' or '.join(REWARDS)}.")
        sensors = self.config["hero"]["sensors"]
        if BIRDVIEW not in sensors or sensors[BIRDVIEW].get("type") != "sensor.birdview":
            raise ConfigError("env_config.experiment.hero.sensors.birdview: DQNExperiment needs a sensor "
                              "named 'birdview' of type sensor.birdview. Fix: add "
                              "'birdview: {type: sensor.birdview, size: 84, radius: 15}'.")
        self.task: RouteFollowing | None = None
        if self.reward_kind == "route":
            if sensors[BIRDVIEW].get("route") is not True:
                raise ConfigError("env_config.experiment.hero.sensors.birdview.route: reward: route needs the route "
                                  "in the picture. Fix: add 'route: true' to the birdview sensor.")
            hard_kinds = ROUTE_HARD_KINDS + (("red_light",) if others["red_light_ends"] else ())
            self.task = RouteFollowing("env_config.experiment.others", others["route_length"],
                                       others["target_speed_kmh"], others["max_route_offset"], float("inf"),
                                       others["zero_reward_speed"], hard_kinds, others["overspeed_end"])
            self.terminal_penalty = float(others["terminal_penalty"])
            self.idle_penalty = float(others["idle_penalty"])
        self.excused_waits = bool(others["excused_waits"])
        self.light_ahead = bool(others["light_ahead"])
        for option in ("excused_waits", "light_ahead"):
            if others[option] and self.task is None:
                raise ConfigError(f"env_config.experiment.others.{option}: needs a route (the lights on it). Fix: set "
                                  f"reward: route, or drop {option}.")
        if self.light_ahead and not self.state_input:
            raise ConfigError("env_config.experiment.others.light_ahead: the light joins the state vector. Fix: set "
                              "state_input: true, or drop light_ahead.")
        self.size = int(sensors[BIRDVIEW].get("size", 84))
        self.channels = output_channels(sensors[BIRDVIEW])
        self.last_action = carla.VehicleControl()
        self.reset()

    # -- spaces and actions -----------------------------------------------------------------
    def get_action_space(self) -> gym.spaces.Discrete:
        return gym.spaces.Discrete(len(ACTIONS))

    def get_observation_space(self) -> gym.Space:
        image = gym.spaces.Box(0, 255, (self.size, self.size, self.channels * self.framestack), np.uint8)
        if not self.state_input:
            return image
        size = len(STATE) + (len(LIGHT_FEATURES) if self.light_ahead else 0)
        return gym.spaces.Dict({"image": image, "state": gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)})

    def get_actions(self) -> dict[int, list]:
        return {index: [throttle, steer, brake, False, False]
                for index, (throttle, steer, brake) in enumerate(ACTIONS)}

    def compute_action(self, action: Any) -> carla.VehicleControl:
        throttle, steer, brake = ACTIONS[int(action)]
        self.last_action = carla.VehicleControl(throttle=throttle, steer=steer, brake=brake)
        return self.last_action

    # -- episode ----------------------------------------------------------------------------
    def action_from_control(self, control: carla.VehicleControl) -> int:
        """The index of the action table's (throttle, steer, brake) nearest to ``control``."""
        wanted = np.array([control.throttle, control.steer, control.brake])
        return int(np.argmin(np.abs(np.array(ACTIONS) - wanted).sum(axis=1)))

    def plan_route(self, core: Any, rng: np.random.Generator) -> Route | None:
        """With ``reward: route``, a route of ``route_length`` metres on the loaded town; else None (a spawn
        point, as the original)."""
        return self.task.plan(core, rng) if self.task is not None else None

    def reset(self) -> None:
        if self.task is not None:
            self.task.start(self.core)
        progress = getattr(self.core, "route_progress", None)
        self.route_lights: RouteLights | None = \
            RouteLights(self.core.world, progress) if (self.excused_waits or self.light_ahead) and progress else None
        self.route_step: RouteStep | None = None
        self.time_idle = 0
        self.time_episode = 0
        self.done_time_idle = self.done_falling = self.done_time_episode = False
        self.step_collisions = 0
        self.lane: tuple[str, float] | None = None
        self.last_location: carla.Location | None = None
        self.last_speed = 0.0
        self.history: list[np.ndarray] = []
        self.last_heading_deviation = 0.0
        self.last_action = carla.VehicleControl()
        self.totals = {"distance": 0.0, "distance_on_lane": 0.0, "speed_sum": 0.0, "heading_sum": 0.0, "collisions": 0,
                       "lane_invasions": 0, "steps": 0}
        self.step_facts: dict[str, Any] = {}

    def get_observation(self, sensor_data: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        image = np.asarray(sensor_data[BIRDVIEW][1], dtype=np.uint8)
        if not self.history:
            self.history = [image] * self.framestack
        else:
            self.history = self.history[1:] + [image]
        collisions = len(sensor_data.get("collision", (0, []))[1])
        invasions = len(sensor_data.get("lane_invasion", (0, []))[1])
        self.totals["collisions"] += collisions
        self.totals["lane_invasions"] += invasions
        self.step_collisions = collisions
        # np.concatenate(self.history, axis=2), three times as fast on pictures this small (a channel keeps its axis)
        image = cv2.merge(self.history).reshape(self.history[0].shape[:2] + (-1,))
        facts = {"collisions": collisions, "lane_invasions": invasions}
        if not self.state_input:
            return image, facts
        control = self.last_action
        state = np.array([self.core.hero.get_velocity().length() / SPEED_SCALE, control.throttle, control.steer,
                          control.brake], np.float32)
        if self.light_ahead:
            light = self.route_lights.features() if self.route_lights is not None else no_light()
            state = np.concatenate([state, light])
        return {"image": image, "state": state}, facts

    def get_speed(self, hero: Any) -> float:
        """Speed in km/h (3D, as the original)."""
        return 3.6 * hero.get_velocity().length()

    def get_done_status(self, observation: np.ndarray, core: Any) -> tuple[bool, bool]:
        hero = core.hero
        self.done_time_idle = self.max_time_idle < self.time_idle
        moving = self.get_speed(hero) > 1.0
        self.time_idle = 0 if moving or (self.excused_waits and self.waiting_for_a_reason(core)) else self.time_idle + 1
        self.time_episode += 1
        self.done_time_episode = self.max_time_episode < self.time_episode
        self.done_falling = hero.get_location().z < -0.5
        self.lane = self._lane_check(core.map, hero.get_transform())  # (state, penalty), for compute_reward too
        if self.task is not None:
            self.route_step = self.task.step(core)
        route_end = self.route_step is not None and self.route_step.end_reason not in (None, "max_time")
        terminated = self.done_time_idle or self.done_falling or route_end
        return terminated, self.done_time_episode and not terminated

    def waiting_for_a_reason(self, core: Any) -> bool:
        """See :func:`waiting_for_a_reason` (the lights along this episode's route)."""
        return waiting_for_a_reason(self.route_lights, core)

    def compute_reward(self, observation: np.ndarray, core: Any) -> float:
        hero = core.hero
        transform = hero.get_transform()
        location = transform.location
        speed = self.get_speed(hero)
        if self.last_location is None:
            self.last_location = location
        distance = math.hypot(location.x - self.last_location.x, location.y - self.last_location.y)
        lane_state, penalty = self.lane if self.lane is not None else self._lane_check(core.map, transform)
        self.lane = None
        if self.route_step is not None:
            reward = self.route_reward(self.route_step)
        else:
            reward = distance + penalty
            if speed < 20.0:
                reward += 0.05 * (speed - self.last_speed)
            if self.done_falling:
                reward -= 40.0
            if self.done_time_idle:
                reward -= 100.0
            if self.done_time_episode:
                reward += 100.0
        self.last_location, self.last_speed = location, speed
        self._record(speed, distance, lane_state)
        return reward

    def route_reward(self, step: RouteStep) -> float:
        """The route-following variant: the route metres completed this step times its speeding and
        route-offset factors, or -``terminal_penalty`` when the episode fails (a collision, out of the lanes
        or off the route, falling), -``idle_penalty`` for idling too long."""
        if self.done_time_idle:
            return -self.idle_penalty
        if step.failed or self.done_falling:
            return -self.terminal_penalty
        return step.gained * step.speed_factor * step.offset_factor

    def _lane_check(self, town_map: carla.Map, transform: carla.Transform) -> tuple[str, float]:
        """(lane state, penalty) of :func:`lane_check`; sets ``last_heading_deviation`` (radians) as the original."""
        state, penalty, self.last_heading_deviation = lane_check(town_map, transform, self.last_action.steer)
        return state, penalty

    def _record(self, speed: float, distance: float, lane_state: str) -> None:
        totals = self.totals
        totals["distance"] += distance
        if lane_state in ("on_lane", "junction"):
            totals["distance_on_lane"] += distance
        totals["speed_sum"] += speed
        totals["heading_sum"] += self.last_heading_deviation
        totals["steps"] += 1
        self.step_facts = {
            "speed": speed, "distance": distance, "heading_deviation": self.last_heading_deviation,
            "lane_state": lane_state, "episode_distance": totals["distance"],
            "episode_distance_on_lane": totals["distance_on_lane"],
            "episode_mean_speed": totals["speed_sum"] / totals["steps"],
            "episode_heading_deviation": totals["heading_sum"] / totals["steps"],
            "episode_collisions": totals["collisions"], "episode_lane_invasions": totals["lane_invasions"],
        }
        step = self.route_step
        if step is not None:
            self.step_facts.update(route_completion=step.route_completion, route_offset=step.offset,
                                   episode_route_completion=step.route_completion)
        route_end = step.end_reason if step is not None and step.end_reason != "max_time" else None
        if self.done_falling:
            self.step_facts["end_reason"] = "falling"
        elif self.done_time_idle:
            self.step_facts["end_reason"] = "idle"
        elif route_end is not None:
            self.step_facts["end_reason"] = route_end
        elif self.done_time_episode:
            self.step_facts["end_reason"] = "max_time"

    def get_info(self, observation: np.ndarray, core: Any) -> dict[str, Any]:
        """This step's facts from the reward computation: speed, distance, lane state, heading
        deviation, episode totals and, on the last step, ``end_reason``."""
        return dict(self.step_facts)


def waiting_for_a_reason(route_lights: RouteLights | None, core: Any) -> bool:
    """The hero of ``core`` waits for a reason: the next light on its route (``route_lights``) is red or yellow within
    :data:`WAIT_LIGHT_M` metres, or a vehicle or walker stands on the route within :data:`WAIT_AHEAD_M` metres ahead
    (within :data:`WAIT_HALF_WIDTH_M` of its points: along the route, not straight ahead, where an oncoming car in a
    bend would excuse a stop)."""
    if route_lights is not None:
        _, state = route_lights.next_light(WAIT_LIGHT_M)  # no state beyond WAIT_LIGHT_M
        if state in (carla.TrafficLightState.Red, carla.TrafficLightState.Yellow):
            return True
    hero, progress = core.hero, core.route_progress
    reach = WAIT_AHEAD_M + hero.bounding_box.extent.x
    path = progress.points[progress.index:progress.index_after(progress.index, reach) + 1, :2]
    for actor in core.world.get_actors():
        if actor.id == hero.id or not actor.type_id.startswith(("vehicle.", "walker.")):
            continue
        location = actor.get_location()
        if np.min(np.hypot(path[:, 0] - location.x, path[:, 1] - location.y)) < WAIT_HALF_WIDTH_M:
            return True
    return False


def lane_check(town_map: carla.Map, transform: carla.Transform, steer: float) -> tuple[str, float, float]:
    """The original's lane check of a hero at ``transform`` steering ``steer``: (lane state, penalty, heading
    deviation in radians): off a driving or parking lane (-0.5, pi), in a junction (0, 0), against the lane's
    direction (-0.5), a heading error (|sin| > 0.4) the steering is not correcting (-0.05), on the lane (0). Its
    waypoint is the map's own answer to ``get_waypoint(location, project_to_road=False, lane_type=Any)``, through
    the map's waypoint index (twice as fast as the map; ``tests/test_waypoint_index.py`` holds it to the map's)."""
    location = transform.location
    [waypoint] = get_waypoints(town_map, np.array([[location.x, location.y, location.z]], dtype=np.float32),
                               project_to_road=False, lane_type=carla.LaneType.Any)
    code, penalty, deviation = lane_outcome(*waypoint_facts(waypoint), transform.rotation.yaw, steer,
                                            ALLOWED_LANE_VALUES)
    return LANE_STATES[code], penalty, deviation


def lane_check_codes(town_map: carla.Map, locations: np.ndarray, yaws: Sequence[float],
                     steers: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`lane_check` of heroes at ``locations`` (N, 3) x, y, z heading ``yaws`` (degrees) steering ``steers``:
    their lane states' codes (indices in :data:`LANE_STATES`), penalties and heading deviations, their waypoints'
    facts read for every hero at once (:func:`~rllib_integration.common.lane_facts.lane_facts`: on straight lanes and
    a junction's bends without a waypoint made; ``tests/test_lane_facts.py`` holds them to the map's) and the check
    computed for all in one compiled call."""
    facts = lane_facts(town_map, locations, junction_yaws=False)  # (in a junction the check reads no yaw)
    count = len(facts.found)
    codes, penalties, deviations = np.empty(count, dtype=np.int64), np.empty(count), np.empty(count)
    _lane_outcomes(facts.found, facts.lane_type, facts.junction, facts.yaw, np.asarray(yaws, dtype=np.float64),
                   np.asarray(steers, dtype=np.float64), ALLOWED_LANE_VALUES, codes, penalties, deviations)
    return codes, penalties, deviations


@njit(cache=True)
def lane_outcome(found: bool, lane_type: int, junction: bool, lane_yaw: float, yaw: float, steer: float,
                 allowed: np.ndarray) -> tuple[int, float, float]:
    """:func:`lane_check` (its :data:`LANE_STATES` code, penalty and heading deviation) of a hero heading ``yaw``
    degrees whose waypoint's facts (:func:`~rllib_integration.common.lane_facts.waypoint_facts`) are given. The
    heading error is the angle between the hero's and the lane's forward vectors in the ground plane (as the original
    measures it from their dot and cross products): the difference of their yaws (Python's float arithmetic, libm's
    sine)."""
    if not found or not (lane_type == allowed[0] or lane_type == allowed[1]):
        return 0, -0.5, math.pi
    if junction:
        return 1, 0.0, 0.0
    angle = math.radians((yaw - lane_yaw + 180.0) % 360.0 - 180.0)
    if abs(angle) > math.pi / 2.0:  # the lane's forward vector is behind the hero's
        return 2, -0.5, abs(angle)
    if abs(math.sin(angle)) > 0.4 and steer * math.sin(angle) >= 0.0:
        return 3, -0.05, abs(angle)
    return 3, 0.0, abs(angle)


@njit(cache=True)
def _lane_outcomes(found: np.ndarray, lane_type: np.ndarray, junction: np.ndarray, lane_yaw: np.ndarray,
                   yaws: np.ndarray, steers: np.ndarray, allowed: np.ndarray, codes: np.ndarray,
                   penalties: np.ndarray, deviations: np.ndarray) -> None:
    """:func:`lane_outcome` of every hero, into ``codes``, ``penalties`` and ``deviations``."""
    for k in range(found.shape[0]):
        codes[k], penalties[k], deviations[k] = lane_outcome(found[k], lane_type[k], junction[k], lane_yaw[k], yaws[k],
                                                             steers[k], allowed)


STEER_LEVELS = (0.0, 0.25, -0.25, 0.5, -0.5, 0.75, -0.75)  # the route follower's, nearest first on a tie


def route_follower_action(core: Any) -> int:
    """A scripted driver for the action table (tests, benchmarks): the action steering towards the route
    6 m ahead of the hero of ``core`` at 20-27 km/h, coasting above (even the lowest throttle, 0.3, keeps
    a car accelerating)."""
    return ACTIONS.index((*route_follower(core), 0.0))


def route_follower(core: Any) -> tuple[float, float]:
    """The throttle and steer of :func:`route_follower_action` (levels of the action table)."""
    hero = core.hero
    t = hero.get_transform()
    ahead = core.next_waypoints(8)
    target = ahead[min(5, len(ahead) - 1)][0].transform.location if ahead else t.location
    angle = math.degrees(math.atan2(target.y - t.location.y, target.x - t.location.x)) - t.rotation.yaw
    angle = (angle + 180.0) % 360.0 - 180.0
    steer = min(STEER_LEVELS, key=lambda level: abs(level - angle / 30.0))
    speed = 3.6 * hero.get_velocity().length()
    throttle = 0.6 if speed < 20.0 else 0.3 if speed < 27.0 else 0.0
    return throttle, steer


def route_follower_many(cores: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`route_follower` of the heroes of ``cores`` (one world's) at once: their throttles and steers, the same
    values, from the heroes' kinematics read in one call (as a policy acts for a batch in one forward pass, not a
    hero at a time)."""
    rows = read_kinematics(cores[0].world, [core.hero for core in cores])
    targets = rows[:, :2].copy()  # no route, or no route point ahead: the hero's own place
    for k, core in enumerate(cores):
        progress = core.route_progress
        if progress is not None and progress.index < len(progress.points) - 1:  # next_waypoints(8)'s sixth point,
            targets[k] = progress.points[min(progress.index + 6, len(progress.points) - 1), :2]  # or its last
    throttles, steers = np.empty(len(cores)), np.empty(len(cores))
    _route_follower_rows(rows, speeds(rows), targets, np.array(STEER_LEVELS), throttles, steers)
    return throttles, steers


@njit(cache=True)
def _route_follower_rows(rows: np.ndarray, hero_speeds: np.ndarray, targets: np.ndarray, levels: np.ndarray,
                         throttles: np.ndarray, steers: np.ndarray) -> None:
    """:func:`route_follower`'s arithmetic for each kinematics row (``hero_speeds`` m/s), towards ``targets``."""
    for k in range(rows.shape[0]):
        angle = math.degrees(math.atan2(targets[k, 1] - rows[k, 1], targets[k, 0] - rows[k, 0])) - rows[k, 3]
        angle = (angle + 180.0) % 360.0 - 180.0
        best = 0
        for level in range(1, levels.shape[0]):  # (the first of equally near levels, as min() picks)
            if abs(levels[level] - angle / 30.0) < abs(levels[best] - angle / 30.0):
                best = level
        steers[k] = levels[best]
        speed = 3.6 * hero_speeds[k]
        throttles[k] = 0.6 if speed < 20.0 else 0.3 if speed < 27.0 else 0.0
