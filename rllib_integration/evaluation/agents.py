"""Agents the evaluator drives, with the Leaderboard's ``AutonomousAgent`` interface.

An agent is any object with ``setup(config)``, ``sensors()``, ``run_step(input_data, timestamp)``
(returning a ``carla.VehicleControl``, or None to leave the hero's control as it is) and
``destroy()``; ``set_global_plan(route)`` and ``start(core)`` are called when present. ``sensors()``
returns the Leaderboard's list (``[{"type": "sensor.camera.rgb", "id": "Center", "x": 1.3, ...}]``)
or this library's mapping (``{name: {type: ..., transform: "x,y,z,roll,pitch,yaw", ...}}``);
``input_data`` is ``{id: (frame, data)}``.

Built in (:func:`load_agent`):

- ``autopilot``: the traffic manager drives the hero along the route (lights and signs obeyed, no
  lane changes of its own), and the agent itself round obstacles blocking the route's lane (:mod:`.bypass`)
  and yielding to vehicles crossing its path at junctions (:mod:`.yielding`), moving over for an emergency vehicle
  coming up behind: the rule-based reference;
- ``constant``: one fixed control every step;
- ``random``: the experiment's random actions with ``--config``, otherwise a random control held 1 s;
- a checkpoint folder or experiment folder (the RLModule, greedy), or an exported ``policy.onnx`` (an older ``policy.pt`` too):
  the policy acts on the observations of the ``--config`` experiment (:class:`ExperimentAgent`);
- ``package.module:Class``: a user agent class.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping

import carla
import numpy as np

from ..carla_env import resolve_experiment_class
from ..common.import_path import import_object
from ..errors import ConfigError
from ..inference.checkpoints import find_latest_checkpoint
from ..inference.policy import load_policy
from ..routes.planner import RoadOption
from ..routes.progress import Route
from .bypass import HAND_OVER_GAP, Bypass, find_blockers
from .yielding import Conflict, crossing_conflict, near_junction, pulling_out_blocked

PATH_STEP = 2  # route points (metres) between the locations handed to the traffic manager
LANE_CHANGE_NOTICE = 12  # route points (metres) before a lane change the autopilot is asked to make it
RANDOM_HOLD = 1.0  # seconds a random control is held (without an experiment)
OFF_LANE_PATIENCE = 2.0  # seconds on a lane beside the route's before the autopilot is asked back
SPEED_DIFFERENCE = 30.0  # % below the speed limit the hero cruises at (the traffic manager's default)
YIELD_DECELERATION = 2.0  # m/s² the hero plans to stop at its yield point with (yielding to a rider)
CREEP_SPEED = 0.3  # km/h the hero edges forward at while it yields to a vehicle (which stops for what is in its way)
MAKE_WAY_FOR = 6.0  # seconds the hero stays on the lane it moved to for an emergency vehicle (unless it comes again)
EMERGENCY_BEHIND = 50.0  # metres behind the hero an emergency vehicle on its lane makes it move over
BLOCKER_LOOK_EVERY = 0.25  # seconds between looks for an obstacle on the route's lane
GAP_BEHIND, GAP_AHEAD = 10.0, 12.0  # metres of the target lane, at least, a lane change needs free (1.5 s at speed)


def lane_is_free(world: Any, town_map: Any, hero: Any, right: bool) -> bool:
    """Whether the lane beside ``hero`` (right or left, same direction) has room for it to change into: no
    vehicle on it from ``max(10 m, 1.5 s)`` behind to ``max(12 m, 1.5 s)`` ahead (the traffic manager's
    ``force_lane_change`` changes "no matter what", as CARLA's does). Carla API only."""
    transform = hero.get_transform()
    here = town_map.get_waypoint(transform.location)
    target = here.get_right_lane() if right else here.get_left_lane()
    if target is None or target.lane_type != carla.LaneType.Driving or target.lane_id * here.lane_id <= 0:
        return True  # nothing to change into: the traffic manager says no itself
    speed = hero.get_velocity().length()
    behind, ahead = max(GAP_BEHIND, 1.5 * speed), max(GAP_AHEAD, 1.5 * speed)
    forward = transform.get_forward_vector()
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id:
            continue
        location = vehicle.get_location()
        along = (location.x - transform.location.x) * forward.x + (location.y - transform.location.y) * forward.y
        if not -behind <= along <= ahead or location.distance(transform.location) > ahead + behind:
            continue
        lane = town_map.get_waypoint(location)
        if lane is not None and (lane.road_id, lane.lane_id) == (target.road_id, target.lane_id):
            return False
    return True


def emergency_behind(world: Any, town_map: Any, hero: Any) -> Any:
    """An emergency vehicle (``special_type`` emergency) behind ``hero`` on its lane within
    :data:`EMERGENCY_BEHIND` metres, or None."""
    transform = hero.get_transform()
    forward = transform.get_forward_vector()
    here = town_map.get_waypoint(transform.location)
    for vehicle in world.get_actors().filter("vehicle.*"):
        if vehicle.id == hero.id or vehicle.attributes.get("special_type") != "emergency":
            continue
        location = vehicle.get_location()
        along = (location.x - transform.location.x) * forward.x + (location.y - transform.location.y) * forward.y
        if not -EMERGENCY_BEHIND < along < 0.0:
            continue
        lane = town_map.get_waypoint(location)
        if lane is not None and here is not None and (lane.road_id, lane.lane_id) == (here.road_id, here.lane_id):
            return vehicle
    return None


class AutonomousAgent:
    """Base class of agents (every method may be overridden; ``run_step`` must be)."""

    def setup(self, config: Mapping[str, Any]) -> None:
        """Called once with the evaluator's agent configuration."""

    def sensors(self) -> list[dict[str, Any]] | dict[str, dict[str, Any]]:
        """The sensors to attach to the hero (see the module docstring)."""
        return []

    def set_global_plan(self, route: Route) -> None:
        """The route of the next run: ``(carla.Waypoint, RoadOption)`` about every metre."""
        self.route = route

    def start(self, core: Any) -> None:
        """Called once the hero stands at the route's start (``core.hero``, ``core.world``)."""
        self.core = core

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> carla.VehicleControl | None:
        raise NotImplementedError

    def destroy(self) -> None:
        """Called after every route."""


class AutopilotAgent(AutonomousAgent):
    """The traffic manager (embedded, or the server's) drives the hero along the route: the route's
    locations as its path, and its lane changes asked for before the route makes them, once the lane beside
    has room (:func:`lane_is_free`)."""

    def start(self, core: Any) -> None:
        super().start(core)
        self._engage(0)
        self.lane_changes = [(i, option == RoadOption.CHANGELANERIGHT) for i, (_, option) in enumerate(self.route)
                             if option in (RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT)]
        self.asked = -1.0
        self.off_lane_since: float | None = None
        self.bypass: Bypass | None = None
        self.looked = self.looked_behind = -1.0
        self.yield_speed: float | None = None  # km/h the traffic manager is told while the hero yields (None: not)
        self.making_way_until = -1.0

    def _engage(self, index: int) -> None:
        """Hand the hero to the traffic manager with the route from point ``index`` on as its path."""
        tm, hero, core = self.core.traffic_manager, self.core.hero, self.core
        hero.set_autopilot(True, core.tm_port)
        tm.ignore_lights_percentage(hero, 0.0)
        tm.ignore_signs_percentage(hero, 0.0)
        tm.auto_lane_change(hero, False)
        tm.vehicle_percentage_speed_difference(hero, SPEED_DIFFERENCE)
        points = [w.transform.location for w, _ in self.route[index + PATH_STEP::PATH_STEP]]
        tm.set_path(hero, points + [self.route[-1][0].transform.location])

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> carla.VehicleControl | None:
        """Yield to a vehicle crossing the route's path at a junction, and wait to pull out onto the route's lane
        from beside it while a vehicle comes (:mod:`.yielding`), drive round an
        obstacle blocking the route's lane (:mod:`.bypass`); otherwise the traffic manager drives, asked for
        the route's lane changes (:meth:`_lane_changes`)."""
        core, index = self.core, self.core.route_progress.index
        if self.bypass is None:  # yield: the traffic manager keeps its path at the speed :meth:`_yield` tells it
            conflict = crossing_conflict(core.world, core.hero, self.route, index) \
                if near_junction(self.route, index) else None
            if conflict is None and pulling_out_blocked(core.world, core.map, core.hero, self.route, index):
                conflict = Conflict("pull-out")  # it stands until the lane is free
            self._yield(conflict)
        if self.bypass is None and timestamp - self.looked >= BLOCKER_LOOK_EVERY:
            self.looked = timestamp
            blockers = find_blockers(core.world, core.map, core.hero, self.route, index)
            if blockers and blockers[0][0] <= HAND_OVER_GAP + core.hero.get_velocity().length():
                bypass = Bypass(core.world, core.map, core.hero, self.route, index, blockers)
                if bypass.possible:
                    self.bypass = bypass
                    core.hero.set_autopilot(False, core.tm_port)
        if self.bypass is not None:
            if not self.bypass.finished(index):
                return self.bypass.control(index)
            self.bypass = None
            self._engage(index)
        if timestamp - self.looked_behind >= BLOCKER_LOOK_EVERY:
            self.looked_behind = timestamp
            if self._make_way(timestamp):
                return None
        if timestamp < self.making_way_until:
            return None  # on the lane beside until the emergency vehicle is by
        return self._lane_changes(timestamp)

    def _yield(self, conflict: Conflict | None) -> None:
        """The hero's speed while it yields: edging forward at :data:`CREEP_SPEED` for a vehicle (standing while one is
        too near to stop for it: ``Conflict.creep``), otherwise at most as
        fast as stops it within the conflict's room (at :data:`YIELD_DECELERATION`; standing below a metre), and the
        traffic manager's cruise again once there is no conflict."""
        tm, hero = self.core.traffic_manager, self.core.hero
        if conflict is None:
            speed = None
        elif conflict.kind == "vehicle":
            # (standing: braked as hard as for creeping while it moves, then held)
            speed = CREEP_SPEED if conflict.creep or hero.get_velocity().length() > 1.0 else 0.0
        else:
            cruise = hero.get_speed_limit() * (1.0 - SPEED_DIFFERENCE / 100.0)
            room = conflict.room - 1.0
            speed = 0.0 if room <= 0.0 else min(cruise, 3.6 * math.sqrt(2.0 * YIELD_DECELERATION * room))
        told = self.yield_speed
        if speed == told or speed and told and abs(speed - told) < 0.5:
            return  # (a change of less than 0.5 km/h while moving is not worth telling)
        if speed is None:
            tm.vehicle_percentage_speed_difference(hero, SPEED_DIFFERENCE)
        else:
            tm.set_desired_speed(hero, speed)
        self.yield_speed = speed

    def _make_way(self, timestamp: float) -> bool:
        """Move over to a free lane beside (the right one first) when an emergency vehicle comes up behind
        on the hero's lane; whether it asked."""
        core = self.core
        behind = emergency_behind(core.world, core.map, core.hero)
        if behind is None:
            return False
        self.making_way_until = timestamp + MAKE_WAY_FOR
        here = core.map.get_waypoint(core.hero.get_location())
        if core.traffic_manager.get_next_action(core.hero)[0] in ("ChangeLaneLeft", "ChangeLaneRight"):
            return True
        for right in (True, False):
            side = here.get_right_lane() if right else here.get_left_lane()
            if side is not None and side.lane_type == carla.LaneType.Driving and side.lane_id * here.lane_id > 0 \
                    and lane_is_free(core.world, core.map, core.hero, right):
                core.traffic_manager.force_lane_change(core.hero, right)
                return True
        return True

    def _lane_changes(self, timestamp: float) -> None:
        """Ask for the route's next lane change from :data:`LANE_CHANGE_NOTICE` metres before it, when the lane
        beside has room, again every second (a queue or a vehicle alongside can hold it back) until the hero is
        on that lane; and
        for a change back to the route's lane whenever the hero drives a neighbouring lane of the same
        road (a junction left it one lane off the route)."""
        progress, core = self.core.route_progress, self.core
        while self.lane_changes and progress.index > self.lane_changes[0][0] + LANE_CHANGE_NOTICE:
            self.lane_changes.pop(0)  # passed
        if timestamp - self.asked < 1.0:
            return None
        here = core.map.get_waypoint(core.hero.get_location())
        if not self.lane_changes or self.lane_changes[0][0] - progress.index > LANE_CHANGE_NOTICE:
            self._back_to_route_lane(here, timestamp)
            return None
        index, right = self.lane_changes[0]
        target = self.route[index][0]
        if here is not None and (here.road_id, here.lane_id) == (target.road_id, target.lane_id):
            self.lane_changes.pop(0)
        elif lane_is_free(core.world, core.map, core.hero, right):  # a vehicle alongside: ask again in a second
            core.traffic_manager.force_lane_change(core.hero, right)
            self.asked = timestamp
        else:
            self.asked = timestamp
        return None

    def _back_to_route_lane(self, here: Any, timestamp: float) -> None:
        """Force a change towards the route's lane when the hero has been on another lane of the route's road
        (same direction, out of junctions) for :data:`OFF_LANE_PATIENCE` seconds and changes no lane already."""
        ahead = self.core.route_progress.ahead(LANE_CHANGE_NOTICE)
        target = ahead[-1][0] if ahead else None
        if here is None or target is None or here.is_junction or target.is_junction or target.road_id != here.road_id \
                or target.lane_id == here.lane_id or target.lane_id * here.lane_id <= 0:
            self.off_lane_since = None
            return
        if self.off_lane_since is None:
            self.off_lane_since = timestamp
        manager = self.core.traffic_manager
        changing = manager.get_next_action(self.core.hero)[0] in ("ChangeLaneLeft", "ChangeLaneRight")
        if timestamp - self.off_lane_since < OFF_LANE_PATIENCE or changing:
            return
        right = abs(target.lane_id) > abs(here.lane_id)  # lanes are numbered outwards from the centre line
        if lane_is_free(self.core.world, self.core.map, self.core.hero, right):
            manager.force_lane_change(self.core.hero, right)
            self.asked, self.off_lane_since = timestamp, None

    def destroy(self) -> None:
        core = getattr(self, "core", None)
        if core is not None and core.hero is not None and core.hero.is_alive:
            core.hero.set_autopilot(False, core.tm_port)


class ConstantAgent(AutonomousAgent):
    """The same control every step (``throttle``, ``steer``, ``brake`` of the agent config)."""

    def setup(self, config: Mapping[str, Any]) -> None:
        self.control = carla.VehicleControl(throttle=float(config.get("throttle", 1.0)),
                                            steer=float(config.get("steer", 0.0)),
                                            brake=float(config.get("brake", 0.0)))

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> carla.VehicleControl:
        return self.control


class RandomControlAgent(AutonomousAgent):
    """A random throttle and steer, held :data:`RANDOM_HOLD` seconds (seeded)."""

    def setup(self, config: Mapping[str, Any]) -> None:
        self.rng = np.random.default_rng(config.get("seed", 0))
        self.until, self.control = -1.0, carla.VehicleControl()

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> carla.VehicleControl:
        if timestamp >= self.until:
            self.until = timestamp + RANDOM_HOLD
            self.control = carla.VehicleControl(throttle=float(self.rng.uniform(0.0, 1.0)),
                                                steer=float(self.rng.uniform(-1.0, 1.0)))
        return self.control


class ExperimentAgent(AutonomousAgent):
    """A policy acting through an experiment: the experiment's sensors and observations in, its
    actions out, its reward and numeric info (``info_<key>``) recorded for the state log, computed as
    in ``CarlaEnv.step``."""

    def __init__(self, act: Callable[[Any], Any] | None, env_config: Mapping[str, Any]) -> None:
        experiment_config = dict(env_config.get("experiment") or {})
        self.experiment = resolve_experiment_class(experiment_config.get("type"))(experiment_config)
        self.act = act or (lambda observation: self.experiment.get_action_space().sample())
        self.terms: dict[str, float] = {}

    def setup(self, config: Mapping[str, Any]) -> None:
        self.experiment.get_action_space().seed(int(config.get("seed", 0)))

    def sensors(self) -> dict[str, dict[str, Any]]:
        return self.experiment.config["hero"]["sensors"]

    def start(self, core: Any) -> None:
        super().start(core)
        self.experiment.core = core
        self.experiment.reset()
        self.started = False

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> carla.VehicleControl | None:
        if self.started:  # the outcome of the previous action, as every env computes it
            outcome = self.experiment.step_outcome(dict(input_data))
            observation = outcome.observation
            self.terms = {"reward": outcome.reward, **{f"info_{k}": float(v) for k, v in outcome.info.items()
                                                       if isinstance(v, (int, float, np.number))
                                                       and not isinstance(v, bool)}}
        else:
            observation, _ = self.experiment.get_observation(dict(input_data))
        self.observation = observation  # what the policy saw (the live view shows pictures)
        self.started = True
        return self.experiment.compute_action(self.act(observation))


def sensor_config(sensors: list[dict[str, Any]] | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An agent's ``sensors()`` as this library's ``hero.sensors`` mapping."""
    if isinstance(sensors, Mapping):
        return {name: dict(attributes) for name, attributes in sensors.items()}
    result = {}
    for index, entry in enumerate(sensors):
        entry = dict(entry)
        name = str(entry.pop("id", f"sensor_{index}"))
        pose = [float(entry.pop(key, 0.0)) for key in ("x", "y", "z", "roll", "pitch", "yaw")]
        if "type" not in entry:
            raise ConfigError(f"agent sensors()[{index}]: no 'type'. Fix: give each sensor a blueprint id.")
        result[name] = {**{k: v for k, v in entry.items()}, "transform": ",".join(f"{v:g}" for v in pose)}
    return result


def _policy_act(spec: str, env_config: Mapping[str, Any]) -> Callable[[Any], Any]:
    """The greedy action function of an exported policy file (onnxruntime alone: no Ray, no torch), checked
    against the experiment's observations and actions, or of a checkpoint folder or experiment folder (its
    newest checkpoint: the RLModule, with Ray)."""
    experiment_config = dict(env_config.get("experiment") or {})
    if os.path.isfile(spec):
        policy = load_policy(spec)
        experiment = resolve_experiment_class(experiment_config.get("type"))(experiment_config)
        policy.check(experiment.get_observation_space())
        policy.check_actions(experiment.get_observation_space(), experiment.get_action_space())
        return policy
    from ..training.policy import greedy_action
    from ..training.results import saved_module
    checkpoint = spec if os.path.isfile(os.path.join(spec, "rllib_checkpoint.json")) else find_latest_checkpoint(spec)
    module = saved_module(checkpoint)
    return lambda observation: greedy_action(module, observation)


def load_agent(spec: str, env_config: Mapping[str, Any] | None = None,
               config: Mapping[str, Any] | None = None) -> Any:
    """The agent named by ``spec`` (see the module docstring), set up with ``config``."""
    config = dict(config or {})
    if spec == "autopilot":
        agent: Any = AutopilotAgent()
    elif spec == "constant":
        agent = ConstantAgent()
    elif spec == "random":
        agent = ExperimentAgent(None, env_config) if env_config else RandomControlAgent()
    elif os.path.exists(spec):
        if not env_config:
            raise ConfigError(f"--agent {spec}: a trained policy needs the configuration it was trained with. "
                              f"Fix: pass --config with the training YAML.")
        agent = ExperimentAgent(_policy_act(spec, env_config), env_config)
    elif ":" in spec:
        class_name = spec.partition(":")[2]
        try:
            agent_class = import_object(spec)
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigError(f"--agent {spec}: cannot import it ({error}). Fix: give package.module:Class "
                              f"importable from here.") from None
        agent = agent_class()
        if not callable(getattr(agent, "run_step", None)):
            raise ConfigError(f"--agent {spec}: {class_name} has no run_step(input_data, timestamp). Fix: "
                              f"implement the AutonomousAgent interface.")
    else:
        raise ConfigError(f"--agent {spec}: not a built-in agent, a path or module:Class. Fix: use autopilot, "
                          f"constant, random, a checkpoint folder, a policy.onnx file or package.module:Class.")
    if hasattr(agent, "setup"):
        agent.setup(config)
    return agent
