"""Checks of a training run before Ray starts: what would otherwise fail inside a trial (after Ray
started, three retries, a long log and a results folder left behind) fails here with one
:class:`~rllib_integration.errors.ConfigError` naming the file, the key and the fix.

:func:`preflight` checks, in order:

1. the numbers of the RLlib sections against :data:`OPTION_RANGES` and the ``model`` section's shape;
2. the experiment: built from its configuration, with its spaces, sensors and spawn points;
3. the towns: each resolved and parsed (an embedded world's OpenDRIVE file must build a map);
4. demonstrations (``offline_data.input_``) recorded in the experiment's spaces;
5. RLlib's own ``AlgorithmConfig.validate()``;
6. the network: the RLModule built for the experiment's spaces, run on a batch of them and exported as
   every checkpoint will export it; ``run.init_from``'s weights of the same shapes;
7. with the embedded world, one episode start and one step of a random action: the observation must
   belong to the observation space.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import torch
from gymnasium.vector.utils import iterate
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns

from ..carla_env import CarlaEnv
from ..common.kernel_cache import COMPILING, compile_notice
from ..config import check_value, quoted
from ..console import console
from ..embedded.maps.towns import UnknownTownError, load_map, resolve_town
from ..errors import ConfigError
from ..evaluation.demonstrations import check_spaces
from ..inference.policy import POLICY_FILE
from ..sensors import check_sensors
from ..shared_world import hero_count
from ..simulators import resolve_simulator
from ..spawn_points import parse_spawn_points
from ..vector_env import CarlaVectorEnv
from .policy import export_policy, zero_batch
from .results import initial_weights

#: The most parameters a network may have: more is a mistyped layer width, whose weights (4 bytes each, and the
#: optimiser's state beside them) would exhaust the memory before any error came.
MAX_PARAMETERS = 200_000_000

#: Ranges ``(lowest, highest)`` of RLlib options, by ``section.option``.
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "training.gamma": (0.0, 1.0), "training.lr": (1e-12, 1.0), "training.train_batch_size_per_learner": (1, 10 ** 7),
    "training.minibatch_size": (1, 10 ** 7), "training.num_epochs": (1, 10000), "training.n_step": (1, 1000),
    "training.target_network_update_freq": (0, 10 ** 9), "training.num_steps_sampled_before_learning_starts": (0, 10 ** 9),
    "training.grad_clip": (1e-9, 1e9), "training.entropy_coeff": (0.0, 100.0), "training.clip_param": (1e-6, 100.0),
    "training.lambda_": (0.0, 1.0), "training.vf_clip_param": (1e-6, 1e12), "training.vf_loss_coeff": (0.0, 1e6),
    "training.tau": (0.0, 1.0), "training.kl_coeff": (0.0, 1e6), "training.kl_target": (0.0, 1e6),
    "training.training_intensity": (1e-6, 1e6), "training.num_atoms": (1, 1000),
    "env_runners.num_env_runners": (0, 4096), "env_runners.num_envs_per_env_runner": (1, 4096),
    "env_runners.rollout_fragment_length": (1, 10 ** 7), "env_runners.sample_timeout_s": (0.1, 10 ** 6),
    "env_runners.num_cpus_per_env_runner": (0, 1024), "env_runners.num_gpus_per_env_runner": (0, 64),
    "learners.num_learners": (0, 1024), "learners.num_gpus_per_learner": (0, 64),
    "learners.num_cpus_per_learner": (0, 1024),
    "reporting.min_sample_timesteps_per_iteration": (0, 10 ** 9), "reporting.min_time_s_per_iteration": (0, 10 ** 6),
    "fault_tolerance.max_num_env_runner_restarts": (0, 10 ** 6),
    "fault_tolerance.delay_between_env_runner_restarts_s": (0.0, 3600.0),
    "model.latent_dim": (1, 65536),
}
#: Entries of a ``replay_buffer_config`` and their ranges.
BUFFER_RANGES: dict[str, tuple[float, float]] = {"capacity": (2, 10 ** 9), "alpha": (0.0, 1.0), "beta": (0.0, 1.0)}


def check_options(data: dict[str, Any], source: str) -> None:
    """The RLlib sections' numbers within :data:`OPTION_RANGES` (schedules point by point), and the
    ``model`` section's shapes."""
    for section in ("training", "env_runners", "learners", "reporting", "fault_tolerance"):
        values = data.get(section) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {section}: expected a mapping of options. Fix: write 'option: value' lines.")
        for key, value in values.items():
            path = f"{section}.{key}"
            if path in OPTION_RANGES:
                _check_number_or_schedule(value, path, source)
    buffer = (data.get("training") or {}).get("replay_buffer_config")
    if isinstance(buffer, dict):
        for key, value in buffer.items():
            if key in BUFFER_RANGES:
                check_value(value, key, f"training.replay_buffer_config.{key}", source, BUFFER_RANGES)
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise ConfigError(f"{source}: model: expected a mapping of options. Fix: write 'option: value' lines.")
    _check_model(model, source)


def _check_number_or_schedule(value: Any, path: str, source: str) -> None:
    if path == "env_runners.rollout_fragment_length" and value == "auto":
        return
    points = [v for _, v in value] if isinstance(value, list) and value and all(
        isinstance(p, (list, tuple)) and len(p) == 2 for p in value) else [value]
    for point in points:
        if not isinstance(point, (int, float)) or isinstance(point, bool) or not math.isfinite(point):
            raise ConfigError(f"{source}: {path}: expected a number{' or a schedule' if path == 'training.lr' else ''}, "
                              f"got {quoted(value)}. Fix: give a number from {OPTION_RANGES[path][0]:g} to "
                              f"{OPTION_RANGES[path][1]:g}.")
        check_value(point, path, path, source, OPTION_RANGES)


def _check_model(model: dict[str, Any], source: str) -> None:
    filters = model.get("conv_filters")
    if filters is not None:
        fix = "Fix: list [out_channels, kernel, stride] per layer, e.g. [[16, 8, 4], [32, 4, 2], [64, 3, 1]]."
        if not isinstance(filters, list) or not filters:
            raise ConfigError(f"{source}: model.conv_filters: expected a list of layers, got {quoted(filters)}. {fix}")
        for index, layer in enumerate(filters):
            kernel = layer[1] if isinstance(layer, list) and len(layer) == 3 else None
            kernels = kernel if isinstance(kernel, list) and len(kernel) == 2 else [kernel]
            numbers = [layer[0], *kernels, layer[2]] if kernel is not None else []
            if not numbers or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096
                                      for n in numbers):
                raise ConfigError(f"{source}: model.conv_filters[{index}]: {quoted(layer)} is not a layer. {fix}")
    hiddens = model.get("head_fcnet_hiddens")
    if hiddens is not None and not (isinstance(hiddens, list) and all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 65536 for n in hiddens)):
        raise ConfigError(f"{source}: model.head_fcnet_hiddens: expected a list of layer widths (whole numbers from "
                          f"1 to 65536), got {quoted(hiddens)}.")
    latent = model.get("latent_dim", 1)
    if latent is not None:
        check_value(latent, "model.latent_dim", "model.latent_dim", source, OPTION_RANGES)


def check_experiment(env_config: dict[str, Any], source: str) -> tuple[Any, Any]:
    """The experiment built from ``env_config.experiment`` (its spaces, sensors and spawn points
    checked) and its towns parsed; returns its (observation space, action space)."""
    experiment_config = dict(env_config.get("experiment") or {})
    try:
        experiment = experiment_config["type"](experiment_config)
        check_sensors(experiment.config["hero"]["sensors"])  # before the spaces, which the sensors size
        parse_spawn_points(experiment.config["hero"]["spawn_points"])
        spaces = experiment.get_observation_space(), experiment.get_action_space()
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    except Exception as error:  # the user's experiment code: say where it failed
        raise ConfigError(f"{source}: env_config.experiment: building {experiment_config['type'].__name__} or its "
                          f"spaces failed: {type(error).__name__}: {error}. Fix: the experiment's __init__, "
                          f"get_observation_space and get_action_space.") from None
    simulator = resolve_simulator((env_config.get("carla") or {}).get("simulator", "auto"))
    towns = experiment.config["town"] if isinstance(experiment.config["town"], list) else [experiment.config["town"]]
    if simulator == "embedded":
        for town in towns:
            try:
                load_map(*resolve_town(str(town)))
            except UnknownTownError as error:
                raise ConfigError(f"{source}: env_config.experiment.town: {error}") from None
    return spaces


def check_rllib(config: Any, spaces: tuple[Any, Any], source: str) -> None:
    """RLlib's validation of the algorithm config, then the network built for ``spaces``."""
    try:
        config.validate()
    except ValueError as error:
        raise ConfigError(f"{source}: RLlib rejects the configuration: {error}") from None
    parameters = _parameter_count(config, spaces)
    if parameters is not None and parameters > MAX_PARAMETERS:
        raise ConfigError(f"{source}: model: the network would have {parameters:,} parameters, more than "
                          f"{MAX_PARAMETERS:,} ({4 * parameters / 1e9:,.1f} GB of weights). Fix: smaller layer widths "
                          f"in the model section (conv_filters, latent_dim, head_fcnet_hiddens).")
    try:
        module = config.get_multi_rl_module_spec(spaces={DEFAULT_MODULE_ID: spaces}).build()[DEFAULT_MODULE_ID]
        with torch.no_grad():
            module.forward_inference({Columns.OBS: zero_batch(spaces[0], 2)})
    except Exception as error:  # any failure to build or run the network is a model configuration problem
        raise ConfigError(f"{source}: model: the network cannot be built for observations {spaces[0]} and actions "
                          f"{spaces[1]}: {type(error).__name__}: {error}. Fix: the model section (conv_filters "
                          f"that fit the picture, positive layer widths).") from None
    with tempfile.TemporaryDirectory() as folder:  # every checkpoint exports the policy: export it once now
        try:
            export_policy(module, config, os.path.join(folder, POLICY_FILE))
        except Exception as error:  # the exporter's failures come in many types
            raise ConfigError(f"{source}: the policy of observations {spaces[0]} cannot be exported to ONNX: "
                              f"{type(error).__name__}: {str(error).splitlines()[0]}. Fix: observations of "
                              f"arrays (Box) or a Dict of them.") from None


def _parameter_count(config: Any, spaces: tuple[Any, Any]) -> int | None:
    """The parameters of the network ``config`` builds for ``spaces``, counted on torch's meta device (shapes, no
    memory); None where it cannot be built there (the real build then says why)."""
    try:
        with torch.device("meta"):
            module = config.get_multi_rl_module_spec(spaces={DEFAULT_MODULE_ID: spaces}).build()[DEFAULT_MODULE_ID]
        return sum(parameter.numel() for parameter in module.parameters())
    except Exception:  # any failure is the real build's to report
        return None


def check_one_step(env_config: dict[str, Any], source: str) -> None:
    """One episode start and one random step in the embedded world: the observations must belong to the
    observation space."""
    heroes = hero_count(env_config.get("experiment") or {})
    try:
        env = CarlaEnv(env_config) if heroes == 1 else CarlaVectorEnv(env_config, num_envs=heroes)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    space = env.observation_space if heroes == 1 else env.single_observation_space
    try:
        observations, _ = env.reset(seed=0)
        for observation in [observations] if heroes == 1 else iterate(env.observation_space, observations):
            _check_observation(space, observation, source, "reset()")
        observations, *_ = env.step(env.action_space.sample())
        for observation in [observations] if heroes == 1 else iterate(env.observation_space, observations):
            _check_observation(space, observation, source, "step()")
    finally:
        env.close()


def _check_observation(space: Any, observation: Any, source: str, call: str) -> None:
    if not space.contains(observation):
        shape = getattr(observation, "shape", None)
        dtype = getattr(observation, "dtype", type(observation).__name__)
        raise ConfigError(f"{source}: env_config.experiment: the observation of {call} (shape {shape}, {dtype}) is "
                          f"not in the experiment's observation space {space}. Fix: make "
                          f"get_observation and get_observation_space agree (sensor sizes, frame stack).")


def check_offline_inputs(data: dict[str, Any], source: str) -> None:
    """Each ``offline_data.input_`` folder holds demonstrations recorded in the experiment's spaces."""
    inputs = (data.get("offline_data") or {}).get("input_")
    if inputs is None:
        return
    experiment_config = dict(data["env_config"].get("experiment") or {})
    experiment = experiment_config["type"](experiment_config)
    for folder in inputs if isinstance(inputs, list) else [inputs]:
        check_spaces(os.path.expanduser(str(folder)), experiment, f"{source}: offline_data.input_")


def check_initial_weights(data: dict[str, Any], config: Any, spaces: tuple[Any, Any], source: str) -> None:
    """``run.init_from``'s weights fit the network this configuration builds for the experiment's spaces."""
    init_from = (data.get("run") or {}).get("init_from")
    if not init_from:
        return
    from ray.rllib.core.rl_module.rl_module import RLModule
    folder = os.path.join(initial_weights(str(init_from), source), DEFAULT_MODULE_ID)
    saved = RLModule.from_checkpoint(folder).get_state()
    fresh = config.get_multi_rl_module_spec(spaces={DEFAULT_MODULE_ID: spaces})[DEFAULT_MODULE_ID].build().get_state()
    wrong = [f"{key} {tuple(value.shape)} (here {tuple(fresh[key].shape)})" for key, value in saved.items()
             if key in fresh and hasattr(value, "shape") and tuple(value.shape) != tuple(fresh[key].shape)]
    missing = [key for key in fresh if key not in saved]
    if wrong or missing:
        raise ConfigError(f"{source}: run.init_from: the weights in {folder} do not fit this "
                          f"configuration's network: {'; '.join(wrong[:3] + [f'{k} missing' for k in missing[:3]])}. "
                          f"Fix: start from a run of the same experiment spaces and model section.")


def preflight(data: dict[str, Any], source: str, config: Any) -> None:
    """Every check of the module docstring, for a loaded training YAML and its ``AlgorithmConfig``."""
    check_options(data, source)
    spaces = check_experiment(data["env_config"], source)
    check_offline_inputs(data, source)
    check_initial_weights(data, config, spaces, source)
    check_rllib(config, spaces, source)
    if resolve_simulator((data["env_config"].get("carla") or {}).get("simulator", "auto")) == "embedded":
        with compile_notice(lambda: console.info(COMPILING)):  # else the terminal stays silent while they compile
            check_one_step(data["env_config"], source)
