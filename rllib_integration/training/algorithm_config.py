"""A training YAML -> any RLlib ``AlgorithmConfig`` (new API stack), through one path.

A training YAML has these top-level sections (each validated; unknown keys get suggestions):

- ``algorithm``: the RLlib algorithm by name (``DQN``, ``PPO``, ``APPO``, ``IMPALA``, ``SAC``...);
  optional, the script's default otherwise;
- ``env_config``: ``carla`` and ``experiment`` (see :mod:`rllib_integration.config`);
- ``env_runners``, ``learners``, ``training``, ``reporting``, ``fault_tolerance``, ``debugging``,
  ``resources``, ``offline_data``: keyword arguments of the ``AlgorithmConfig`` method of the same name
  (``training`` takes the chosen algorithm's options; ``offline_data.input_`` names folders of
  ``collect_demonstrations.py``, checked against the experiment's spaces, for ``MARWIL`` and ``BC``);
- ``env_config.experiment.heroes`` above 1: the env is :class:`~rllib_integration.vector_env.CarlaVectorEnv`, one
  world per env runner whose heroes are its sub-environments (``num_envs_per_env_runner`` is that number), all
  driven by the one policy being trained: self-play, each hero the others' traffic;
- ``model``: the RLModule's model config (``conv_filters``, ``latent_dim``, ``head_fcnet_hiddens``...);
  image observations are encoded by :mod:`.models` for every algorithm;
- ``route_evaluation``: driving-score evaluation on routes during training (:mod:`.route_evaluation`);
- ``run``: ``stop`` (``training_iteration``, ``num_env_steps_sampled_lifetime``, ``time_total_s``),
  ``checkpoint_frequency`` (iterations), ``checkpoints_to_keep``, ``overlap_sampling`` (default true:
  a replay-buffer algorithm such as DQN learns while its env runners sample, :mod:`.overlap`) and
  ``init_from`` (a checkpoint, or a training run's folder for its newest checkpoint, whose network's weights
  the run starts from: PPO fine-tuning a behaviour-cloned MARWIL policy), ``critic_warmup_steps`` (with ``init_from``,
  PPO's: the env steps at the run's start during which only the value function learns), ``anchor_kl_coeff``
  (with ``init_from``, PPO's: the weight of a loss term on the policy's KL divergence from the initial one; both
  :mod:`.fine_tuning`) and
  ``learner_threads`` (torch threads of the
  learner in the algorithm's process; default: Ray's, one per CPU that process holds. PPO's env runners wait while it
  learns, so its learner may use the cores they sample on).
"""

from __future__ import annotations

import difflib
import inspect
import os
from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.registry import ALGORITHMS
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from ..carla_env import CarlaEnv
from ..errors import ConfigError
from ..shared_world import hero_count
from ..vector_env import CarlaVectorEnv
from .callbacks import plain_infos, quiet_env_runner
from .dqn_module import DQNModule
from .fine_tuning import configure_fine_tuning
from .models import image_catalog
from .preflight import check_options
from .results import initial_weights
from .route_evaluation import configure_route_evaluation

CONFIG_SECTIONS = ("env_runners", "learners", "training", "reporting", "fault_tolerance", "debugging", "resources",
                   "offline_data")
SECTIONS = ("algorithm", "env_config", "model", "run", "route_evaluation") + CONFIG_SECTIONS
RUN_DEFAULTS: dict[str, Any] = {"stop": {"training_iteration": 100}, "checkpoint_frequency": 5,
                                "checkpoints_to_keep": 5, "overlap_sampling": True, "init_from": None,
                                "critic_warmup_steps": 0, "anchor_kl_coeff": 0.0, "learner_threads": None}
STOP_KEYS = ("training_iteration", "num_env_steps_sampled_lifetime", "time_total_s")
#: How offline data are read unless ``offline_data`` says otherwise. ``collect_demonstrations.py`` writes a route's
#: steps in order, a file a route, and RLlib reads files and rows in order: each minibatch would be consecutive steps
#: of one route (all waiting at a light, or all cruising), and cloning chased the latest one (training accuracy 47 %
#: on 304k demonstrations against 80 % shuffled, the policy losses of successive iterations 0.04-2.2). So the files
#: are read in a random order and the rows drawn from a buffer of 50,000 (about 25 routes).
SHUFFLED_READING = {"input_read_method_kwargs": {"shuffle": "files"},
                    "iter_batches_kwargs": {"local_shuffle_buffer_size": 50_000}}
#: Ray's built-in resource that only the head node offers (one unit).
HEAD_NODE_RESOURCE = "node:__internal_head__"


def suggest(key: str, valid: list[str]) -> str:
    """``did you mean 'x'? `` for the closest valid key, or nothing."""
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'? " if close else ""


def algorithm_name(data: dict[str, Any], source: str, default: str) -> str:
    """The algorithm a training YAML names (``algorithm``), else ``default``; checked against RLlib's."""
    name = data.get("algorithm", default)
    if not isinstance(name, str) or name not in ALGORITHMS:
        valid = sorted(ALGORITHMS)
        raise ConfigError(f"{source}: algorithm: unknown RLlib algorithm {name!r}; {suggest(str(name), valid)}"
                          f"Fix: use one of {', '.join(valid)}.")
    return name


def _as_schedule(value: Any) -> Any:
    """YAML lists of ``[timestep, value]`` pairs as the tuples RLlib's schedules take."""
    if isinstance(value, list) and value and all(isinstance(p, list) and len(p) == 2 for p in value):
        return [tuple(point) for point in value]
    return value


def build_algorithm_config(data: dict[str, Any], source: str, default_algorithm: str = "DQN",
                           callbacks: type | None = None) -> AlgorithmConfig:
    """The ``AlgorithmConfig`` of a loaded training YAML (its ``env_config`` already validated)."""
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f"{source}: {key}: unknown section; {suggest(key, sorted(SECTIONS))}valid sections: "
                              f"{', '.join(sorted(SECTIONS))}. Fix: rename or remove '{key}'.")
    name = algorithm_name(data, source, default_algorithm)
    check_options(data, source)
    config = ALGORITHMS[name]()[1].environment(CarlaEnv, env_config=data["env_config"])
    experiment = data["env_config"].get("experiment") or {}
    heroes, worlds = hero_count(experiment), int(experiment.get("worlds", 1))
    if heroes > 1 or worlds > 1:  # one or more worlds of that many heroes per env runner (self-play)
        envs = heroes * worlds
        given = (data.get("env_runners") or {}).get("num_envs_per_env_runner", envs)
        if given != envs:
            raise ConfigError(f"{source}: env_runners.num_envs_per_env_runner: {given!r}, but env_config.experiment."
                              f"heroes and worlds make each env runner's {worlds} world(s) of {heroes} heroes its "
                              f"{envs} envs. Fix: set num_envs_per_env_runner: {envs} or leave it out.")
        config.environment(CarlaVectorEnv, env_config=data["env_config"]).env_runners(
            num_envs_per_env_runner=envs, gym_env_vectorize_mode="vector_entry_point")
    for section in CONFIG_SECTIONS:
        values = data.get(section) or {}
        accepted = sorted({option for cls in type(config).__mro__ if section in vars(cls)
                           for option, parameter in inspect.signature(vars(cls)[section]).parameters.items()
                           if option != "self" and parameter.kind != parameter.VAR_KEYWORD})
        for key in values:
            if key not in accepted:
                raise ConfigError(f"{source}: {section}.{key}: unknown option of {type(config).__name__}.{section}(); "
                                  f"{suggest(key, accepted)}Fix: use one of RLlib's {section} options.")
        try:
            getattr(config, section)(**{key: _as_schedule(value) for key, value in values.items()})
        except (TypeError, ValueError) as error:  # RLlib's own checks of the options it is given
            raise ConfigError(f"{source}: {section}: RLlib rejects the configuration: {error}") from None
    offline = dict(data.get("offline_data") or {})
    if "input_" in offline:  # Tune runs trials in their own folders: a relative path must not change meaning
        inputs = offline["input_"] if isinstance(offline["input_"], list) else [offline["input_"]]
        config.offline_data(input_=[os.path.abspath(os.path.expanduser(str(path))) for path in inputs],
                            **{key: {**value, **(offline.get(key) or {})} for key, value in SHUFFLED_READING.items()})
        experiment_config = dict(data["env_config"].get("experiment") or {})
        experiment = experiment_config["type"](experiment_config)  # the spaces the demonstrations were checked for:
        config.environment(observation_space=experiment.get_observation_space(),  # RLlib needs them without env
                           action_space=experiment.get_action_space())  # runners or evaluation to build its network
    module: dict[str, Any] = {"module_class": DQNModule} if name == "DQN" else {}
    config.rl_module(model_config=dict(data.get("model") or {}),
                     rl_module_spec=RLModuleSpec(catalog_class=image_catalog(name), **module))
    if callbacks is not None:
        config.callbacks(callbacks)
    config.callbacks(on_sample_end=plain_infos,  # the infos as Python numbers before they are pickled
                     on_environment_created=quiet_env_runner)
    configure_route_evaluation(config, data, source)
    run = run_settings(data, source)
    anchored = run["anchor_kl_coeff"] > 0.0  # (the initial policy's folder, found as the run will find it)
    configure_fine_tuning(config, run, initial_weights(run["init_from"], source) if anchored else None, name, data,
                          source)
    return config


def run_settings(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The ``run`` section merged onto :data:`RUN_DEFAULTS`, validated."""
    run = dict(RUN_DEFAULTS, **(data.get("run") or {}))
    for key in run:
        if key not in RUN_DEFAULTS:
            raise ConfigError(f"{source}: run.{key}: unknown key; {suggest(key, list(RUN_DEFAULTS))}"
                              f"valid: {', '.join(RUN_DEFAULTS)}.")
    for key, value in (run["stop"] or {}).items():
        if key not in STOP_KEYS:
            raise ConfigError(f"{source}: run.stop.{key}: unknown stop criterion; "
                              f"{suggest(key, list(STOP_KEYS))}valid: {', '.join(STOP_KEYS)}.")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{source}: run.stop.{key}: expected a positive number, got {value!r}.")
    if run["init_from"] is not None and not isinstance(run["init_from"], str):
        raise ConfigError(f"{source}: run.init_from: expected the path of a checkpoint or a training run's folder, "
                          f"got {run['init_from']!r}.")
    warmup = run["critic_warmup_steps"]
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ConfigError(f"{source}: run.critic_warmup_steps: expected a whole number of env steps from 0, got "
                          f"{warmup!r}.")
    if warmup and not run["init_from"]:
        raise ConfigError(f"{source}: run.critic_warmup_steps: holds the policy of run.init_from while its value "
                          f"function learns, and this run starts from no weights. Fix: set run.init_from (or "
                          f"--init-from), or drop critic_warmup_steps.")
    coeff = run["anchor_kl_coeff"]
    if not isinstance(coeff, (int, float)) or isinstance(coeff, bool) or not 0.0 <= coeff < float("inf"):
        raise ConfigError(f"{source}: run.anchor_kl_coeff: expected a number from 0 (the weight of the policy's KL "
                          f"divergence from run.init_from's), got {coeff!r}.")
    if coeff and not run["init_from"]:
        raise ConfigError(f"{source}: run.anchor_kl_coeff: keeps the policy near run.init_from's, and this run "
                          f"starts from no weights. Fix: set run.init_from (or --init-from), or drop anchor_kl_coeff.")
    threads = run["learner_threads"]
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ConfigError(f"{source}: run.learner_threads: expected a whole number of threads from 1, or null for "
                          f"Ray's (one per CPU the algorithm's process holds), got {threads!r}.")
    if not isinstance(run["overlap_sampling"], bool):
        raise ConfigError(f"{source}: run.overlap_sampling: expected true or false, got {run['overlap_sampling']!r}.")
    if not run["stop"]:
        raise ConfigError(f"{source}: run.stop: give at least one stop criterion ({', '.join(STOP_KEYS)}).")
    return run


def place_on_cluster(config: AlgorithmConfig, runner_resource: str | None = None) -> AlgorithmConfig:
    """Pin the algorithm process (learner, replay buffer, checkpoint writes) to the head node, where the
    results folder of Tune lives, and, with ``runner_resource``, put every env runner on a node that
    offers that custom Ray resource (one unit each), such as the autoscaler's GPU workers."""
    main = dict(config.custom_resources_for_main_process, **{HEAD_NODE_RESOURCE: 0.001})
    config.resources(custom_resources_for_main_process=main)
    if runner_resource:
        runners = dict(config.custom_resources_per_env_runner, **{runner_resource: 1})
        config.env_runners(custom_resources_per_env_runner=runners)
    return config
