"""Demonstrations: the autopilot drives, an experiment watches, and every step is a transition in the
experiment's own observation and action spaces, written in RLlib's offline format.

:class:`DemonstrationAgent` is an evaluator agent (``--agent demonstrations``): the autopilot
(:class:`~.agents.AutopilotAgent`, the evaluator's reference driver) drives the route among the traffic,
and after every tick the experiment computes its observation, reward and episode end as ``CarlaEnv``
would (:meth:`~..base_experiment.BaseExperiment.step_outcome`), the control the autopilot applied
turned into the experiment's action (:meth:`~..base_experiment.BaseExperiment.action_from_control`, which
the experiment also sees as its last action). An end the experiment declares (a collision, an idle
hero) ends the recorded episode and the next begins at the next step; the route goes on.

With a ``policy`` (DAgger: a policy trained on earlier demonstrations), the policy and the autopilot take
turns: the policy drives for a while (nothing is recorded), then the autopilot takes over from wherever the
policy brought the hero (the route's lane beside, standing too long, too close to a car) and its recovery
is recorded, so the demonstrations cover the states the policy gets itself into.

Each route's transitions are one Parquet file (``<route id>.parquet``) with RLlib's single-step offline
columns (``ray.rllib.offline``: ``eps_id``, ``t``, ``obs``, ``actions``, ``rewards``, ``new_obs``,
``terminateds``, ``truncateds``), written when the route ends (atomically: a file is whole or absent), so
``ray.data.read_parquet`` on the folder (what ``offline_data.input_`` reads) sees every finished route.
:func:`spaces_record` and :func:`check_spaces` keep the folder's spaces in ``demonstrations.json``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from ..errors import ConfigError
from ..inference.policy import load_policy
from .agents import AutopilotAgent, ExperimentAgent

#: RLlib's offline columns (``ray.rllib.core.columns.Columns``), in the order they are written.
COLUMNS = ("eps_id", "t", "obs", "actions", "rewards", "new_obs", "terminateds", "truncateds")
METADATA = "demonstrations.json"


def spaces_record(experiment: Any) -> dict[str, Any]:
    """What ``demonstrations.json`` keeps of an experiment: its type and spaces (checked before training)."""
    observation, action = experiment.get_observation_space(), experiment.get_action_space()
    if not isinstance(observation, gym.spaces.Box) or len(observation.shape) != 1:
        raise ConfigError(f"demonstrations: the experiment's observation space is {observation}; demonstrations "
                          f"are recorded for flat Box observations (such as the virtual LiDAR's). Fix: use an "
                          f"experiment with a 1-D Box observation.")
    if not isinstance(action, (gym.spaces.Box, gym.spaces.Discrete)):
        raise ConfigError(f"demonstrations: the experiment's action space is {action}; Box and Discrete are "
                          f"supported. Fix: use an experiment with one of them.")
    experiment_type = experiment.config.get("type")
    others = experiment.config.get("others") or {}
    return {"experiment": experiment_type if isinstance(experiment_type, str) else
            f"{type(experiment).__module__}:{type(experiment).__name__}",
            "observation_space": repr(observation), "action_space": repr(action),
            "action_options": {key: others.get(key) for key in getattr(experiment, "ACTION_OPTIONS", ())}}


def check_spaces(folder: str, experiment: Any, where: str) -> None:
    """Raise one :class:`ConfigError` when ``folder`` holds no demonstrations, or demonstrations of other
    spaces than ``experiment``'s."""
    path = os.path.join(folder, METADATA)
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: {folder} holds no demonstrations ({METADATA} is missing). Fix: record them "
                          f"with python3 collect_demonstrations.py CONFIG --out {folder}.")
    with open(path) as handle:
        recorded = json.load(handle)
    wanted = spaces_record(experiment)
    for key in ("observation_space", "action_space", "action_options"):
        if key == "action_options" and key not in recorded:
            continue  # recorded before the options were kept
        if recorded.get(key) != wanted[key]:
            raise ConfigError(f"{where}: the demonstrations in {folder} were recorded with {key} "
                              f"{recorded.get(key)} (experiment {recorded.get('experiment')}), but this configuration's "
                              f"experiment has {wanted[key]}. Fix: record demonstrations with this configuration "
                              f"(collect_demonstrations.py), or train with the configuration they were recorded with.")


#: Seconds the policy drives per turn (uniform), with a ``policy``.
TURN = (1.0, 4.0)
STANDING_SPEED = 0.1  # m/s: slower, without throttle, is standing and waiting


class DemonstrationAgent(AutopilotAgent):
    """The autopilot driving, an experiment recording (see the module docstring).

    Agent configuration: ``folder`` (where each route's Parquet file goes), ``policy`` (a policy file or
    checkpoint taking turns with the autopilot, optional), ``policy_share`` (the share of time it drives, 0-0.9,
    default 0.5), ``standing_share`` (the share of the steps the autopilot stands still that are recorded,
    default 1) and ``seed``."""

    def __init__(self, env_config: Mapping[str, Any]) -> None:
        self.watcher = ExperimentAgent(None, env_config)
        self.experiment = self.watcher.experiment
        spaces_record(self.experiment)  # a space that cannot be recorded is an error before any driving
        self.folder = ""
        self.policy: Any = None

    def setup(self, config: Mapping[str, Any]) -> None:
        self.folder = str(config.get("folder") or "")
        if not self.folder:
            raise ConfigError("agent demonstrations: no folder. Fix: give --agent-config folder=DIR.")
        os.makedirs(self.folder, exist_ok=True)
        self.rng = np.random.default_rng(int(config.get("seed", 0)))
        self.share = float(config.get("policy_share", 0.5))
        self.standing_share = float(config.get("standing_share", 1.0))
        if not 0.0 < self.standing_share <= 1.0:
            raise ConfigError(f"agent demonstrations: standing_share {self.standing_share} is not in (0, 1]. Fix: give "
                              f"the share of standing steps to keep, e.g. 0.1.")
        if not 0.0 <= self.share <= 0.9:
            raise ConfigError(f"agent demonstrations: policy_share {self.share} is not in [0, 0.9]. Fix: give the "
                              f"share of time the policy drives, e.g. 0.5.")
        if config.get("policy"):
            self.policy = load_policy(str(config["policy"]))
            self.policy.check(self.experiment.get_observation_space())

    def sensors(self) -> dict[str, dict[str, Any]]:
        return self.watcher.sensors()

    def start(self, core: Any) -> None:
        super().start(core)
        self.watcher.start(core)
        self.rows: list[dict[str, Any]] = []
        self.observation: Any = None
        self.turn_ends, self.policy_drives, self.policy_drove = 0.0, False, False
        self._new_episode()

    def _cut(self) -> None:
        """End the recorded episode at its last row (a truncation), unless it ended there already."""
        rows = getattr(self, "rows", [])
        if rows and not (rows[-1]["terminateds"] or rows[-1]["truncateds"]):
            rows[-1]["truncateds"] = True

    def _new_episode(self) -> None:
        self.episode, self.t = uuid.uuid4().hex, 0

    def _take_turns(self, timestamp: float) -> None:
        """Hand the wheel to the policy or back to the autopilot when a turn is over (with a ``policy``)."""
        if self.policy is None or self.share == 0.0 or timestamp < self.turn_ends or self.bypass is not None:
            return
        policy_drives = not self.policy_drives  # turns alternate; the autopilot's last (1 - share) / share as long
        self.turn_ends = timestamp + self.rng.uniform(*TURN) * (1.0 if policy_drives else (1 - self.share) / self.share)
        if policy_drives:
            self.core.hero.set_autopilot(False, self.core.tm_port)
            self._cut()  # the recorded episode stops where the policy takes over
        elif self.policy_drives:
            self._engage(self.core.route_progress.index)
            self._new_episode()  # the autopilot's recovery from where the policy left the hero
        self.policy_drives = policy_drives

    def _keep(self, control: Any) -> bool:
        """Whether to record a step of the autopilot's ``control``: only a share (``standing_share``) of the steps it
        stands and waits (at lights, in queues: a third of its steps among traffic, which would teach a cloned policy
        that a car at rest stays at rest; the steps it drives off are all kept)."""
        standing = self.core.hero.get_velocity().length() < STANDING_SPEED and control.throttle == 0.0
        return not standing or self.rng.random() < self.standing_share

    def run_step(self, input_data: Mapping[str, Any], timestamp: float) -> Any:
        """Step the experiment (recording the autopilot's last step), then drive: the policy in its turns, the
        autopilot otherwise."""
        experiment, data = self.experiment, dict(input_data)
        if self.observation is None:  # the route's first step: nothing done yet
            self.observation, _ = experiment.get_observation(data)
        else:
            action = control = None
            if not self.policy_drove:  # the control the autopilot applied during the last tick
                control = self.core.hero.get_control()
                action = experiment.action_from_control(control)
                experiment.compute_action(action)  # the experiment's own record of its last action, as in CarlaEnv
            outcome = experiment.step_outcome(data)
            if action is not None and not (self.t == 0 and outcome.terminated):  # not a state that ends at once
                if self._keep(control):
                    self.rows.append({"eps_id": self.episode, "t": self.t, "obs": self.observation, "actions": action,
                                      "rewards": outcome.reward, "new_obs": outcome.observation,
                                      "terminateds": outcome.terminated, "truncateds": outcome.truncated})
                    self.t += 1
                elif self.t:  # a step left out: the recorded episode stops before it, the next begins after it
                    self._cut()
                    self._new_episode()
            self.observation = outcome.observation
            if outcome.terminated or outcome.truncated:  # the experiment's episode ended; the route goes on
                experiment.reset()
                self._new_episode()
                self.observation, _ = experiment.get_observation(data)
                if self.policy_drives:  # the policy failed: the autopilot takes over from here at once
                    self.turn_ends = timestamp
        self._take_turns(timestamp)
        self.policy_drove = self.policy_drives
        if self.policy_drives:
            return experiment.compute_action(self.policy(self.observation))
        return super().run_step(input_data, timestamp)

    def destroy(self) -> None:
        super().destroy()
        rows = getattr(self, "rows", [])
        self._cut()  # the route ended: the episode is cut off here
        if rows:
            write_transitions(os.path.join(self.folder, f"{route_file_name(self.core)}.parquet"), rows)
        self.rows = []


def route_file_name(core: Any) -> str:
    """A file name unique to the route being driven (its town and start, and a random suffix)."""
    start = core.route_progress.points[0]
    return f"route_{core.map.name.split('/')[-1]}_{start[0]:.0f}_{start[1]:.0f}_{uuid.uuid4().hex[:8]}"


def write_transitions(path: str, rows: list[dict[str, Any]]) -> None:
    """Write transitions as one Parquet file in RLlib's offline columns, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    columns: dict[str, Any] = {}
    for name in COLUMNS:
        values = [row[name] for row in rows]
        if name in ("obs", "new_obs", "actions") and np.ndim(values[0]) > 0:
            array = np.asarray(values, dtype=np.float32)
            columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(array.ravel()), array.shape[1])
        else:
            columns[name] = pa.array(values)
    temporary = f"{path}.{os.getpid()}.tmp"
    pq.write_table(pa.table(columns), temporary)
    os.replace(temporary, path)


def write_metadata(folder: str, experiment: Any, extra: Mapping[str, Any]) -> None:
    """``demonstrations.json``: the experiment's spaces and what was recorded (``extra``)."""
    with open(os.path.join(folder, METADATA), "w") as handle:
        json.dump({**spaces_record(experiment), **extra}, handle, indent=2, default=str)
