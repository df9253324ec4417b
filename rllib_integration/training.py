"""Training support for RLlib's current API stack: YAML -> ``AlgorithmConfig``, a DQN that exports
its greedy policy at every checkpoint, result folders and checkpoints.

A training YAML has these top-level sections (each validated, unknown keys get suggestions):

- ``env_config``: ``carla`` and ``experiment`` (see :mod:`rllib_integration.config`);
- ``env_runners``, ``learners``, ``training``, ``reporting``, ``fault_tolerance``, ``debugging``,
  ``resources``: keyword arguments of the ``AlgorithmConfig`` method of the same name;
- ``model``: the RLModule's model config (``conv_filters``, ``latent_dim``, ``head_fcnet_hiddens``...),
  used with :class:`~rllib_integration.models.ImageDQNCatalog`;
- ``run``: ``stop`` (``training_iteration``, ``num_env_steps_sampled_lifetime``, ``time_total_s``),
  ``checkpoint_frequency`` (iterations) and ``checkpoints_to_keep``.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import shutil
from typing import Any

import ray
import torch
from ray.rllib.algorithms.dqn import DQN, DQNConfig
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from .carla_env import CarlaEnv
from .config import ConfigError
from .models import GreedyQNetwork, ImageDQNCatalog

CONFIG_SECTIONS = ("env_runners", "learners", "training", "reporting", "fault_tolerance", "debugging", "resources")
RUN_DEFAULTS: dict[str, Any] = {"stop": {"training_iteration": 100}, "checkpoint_frequency": 5,
                                "checkpoints_to_keep": 5}
STOP_KEYS = ("training_iteration", "num_env_steps_sampled_lifetime", "time_total_s")
POLICY_FILE = "policy.pt"
#: Ray's built-in resource that only the head node offers (one unit).
HEAD_NODE_RESOURCE = "node:__internal_head__"


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'? " if close else ""


def build_dqn_config(data: dict[str, Any], source: str, callbacks: type | None = None) -> DQNConfig:
    """A ``DQNConfig`` from a loaded training YAML (its ``env_config`` already validated)."""
    valid = sorted(("env_config", "model", "run") + CONFIG_SECTIONS)
    for key in data:
        if key not in valid:
            raise ConfigError(f"{source}: {key}: unknown section; {_suggest(key, valid)}valid sections: "
                              f"{', '.join(valid)}. Fix: rename or remove '{key}'.")
    config = DQNConfig().environment(CarlaEnv, env_config=data["env_config"])
    for section in CONFIG_SECTIONS:
        values = data.get(section) or {}
        method = getattr(config, section)
        accepted = sorted({name for cls in type(config).__mro__ if section in vars(cls)
                           for name, parameter in inspect.signature(vars(cls)[section]).parameters.items()
                           if name != "self" and parameter.kind != parameter.VAR_KEYWORD})
        for key in values:
            if key not in accepted:
                raise ConfigError(f"{source}: {section}.{key}: unknown option of AlgorithmConfig.{section}(); "
                                  f"{_suggest(key, accepted)}Fix: use one of RLlib's {section} options.")
        if section == "training" and "epsilon" in values:
            values = dict(values, epsilon=[tuple(point) for point in values["epsilon"]])
        method(**values)
    model = dict(data.get("model") or {})
    config.rl_module(model_config=model, rl_module_spec=RLModuleSpec(catalog_class=ImageDQNCatalog))
    if config.num_atoms != 1:
        raise ConfigError(f"{source}: training.num_atoms: only 1 is supported (the exported policy "
                          f"computes expected Q-values). Fix: remove num_atoms.")
    if callbacks is not None:
        config.callbacks(callbacks)
    return config


def run_settings(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The ``run`` section merged onto :data:`RUN_DEFAULTS`, validated."""
    run = dict(RUN_DEFAULTS, **(data.get("run") or {}))
    for key in run:
        if key not in RUN_DEFAULTS:
            raise ConfigError(f"{source}: run.{key}: unknown key; {_suggest(key, list(RUN_DEFAULTS))}"
                              f"valid: {', '.join(RUN_DEFAULTS)}.")
    for key, value in (run["stop"] or {}).items():
        if key not in STOP_KEYS:
            raise ConfigError(f"{source}: run.stop.{key}: unknown stop criterion; "
                              f"{_suggest(key, list(STOP_KEYS))}valid: {', '.join(STOP_KEYS)}.")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{source}: run.stop.{key}: expected a positive number, got {value!r}.")
    if not run["stop"]:
        raise ConfigError(f"{source}: run.stop: give at least one stop criterion ({', '.join(STOP_KEYS)}).")
    return run


def place_on_cluster(config: DQNConfig, runner_resource: str | None = None) -> DQNConfig:
    """Pin the algorithm process (learner, replay buffer, checkpoint writes) to the head node, where the
    results folder of Tune lives, and, with ``runner_resource``, put every env runner on a node that
    offers that custom Ray resource (one unit each), such as the autoscaler's GPU workers."""
    main = dict(config.custom_resources_for_main_process, **{HEAD_NODE_RESOURCE: 0.001})
    config.resources(custom_resources_for_main_process=main)
    if runner_resource:
        runners = dict(config.custom_resources_per_env_runner, **{runner_resource: 1})
        config.env_runners(custom_resources_per_env_runner=runners)
    return config


def _process_location() -> dict[str, str]:
    """Node id, node IP and pid of the calling Ray process (strings, so result loggers skip them)."""
    return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
            "pid": str(os.getpid())}


def export_policy(module: torch.nn.Module, observation_space: Any, path: str) -> str:
    """Trace the greedy Q-network of a DQN RLModule to TorchScript at ``path`` (CPU)."""
    network = GreedyQNetwork(module).to("cpu").eval()
    example = torch.zeros((1, *observation_space.shape), dtype=torch.uint8)
    with torch.no_grad():
        traced = torch.jit.trace(network, example, check_trace=False)
    traced.save(path)
    return path


def module_path(checkpoint: str) -> str:
    """Folder of the policy RLModule inside an algorithm checkpoint."""
    return os.path.join(checkpoint, COMPONENT_LEARNER_GROUP, COMPONENT_LEARNER, COMPONENT_RL_MODULE,
                        DEFAULT_MODULE_ID)


class ExportingDQN(DQN):
    """DQN that writes ``policy.pt`` (TorchScript, for Ray-free inference) into every checkpoint,
    reports where its processes run (``result["placement"]`` of the first iteration: node id, IP and
    pid of the ``algorithm`` and of each remote env runner under ``env_runners`` by index) and, when
    :attr:`restore_path` is set (see :func:`resuming`), starts from that checkpoint."""

    restore_path: str | None = None

    def setup(self, config: Any) -> None:
        super().setup(config)
        if self.restore_path:
            self.restore_from_path(self.restore_path)
        runners = self.env_runner_group
        where = runners.foreach_env_runner(lambda runner: _process_location(), local_env_runner=False) \
            if runners is not None and runners.num_remote_env_runners() else []
        self._placement: dict[str, Any] | None = {
            "algorithm": _process_location(), "env_runners": {str(i): w for i, w in enumerate(where, start=1)}}

    def step(self) -> dict:
        result = super().step()
        if self._placement is not None:
            result["placement"], self._placement = self._placement, None
        return result

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        super().save_checkpoint(checkpoint_dir)
        module = self.get_module()
        export_policy(module, module.observation_space, os.path.join(checkpoint_dir, POLICY_FILE))


def resuming(checkpoint: str) -> type[ExportingDQN]:
    """An :class:`ExportingDQN` subclass that starts from ``checkpoint``."""
    return type("ExportingDQN", (ExportingDQN,), {"restore_path": os.path.abspath(checkpoint)})


_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")


def find_latest_checkpoint(directory: str) -> str:
    """The newest checkpoint folder under an experiment folder (any trial, any run)."""
    found = []
    for root, folders, _ in os.walk(directory):
        for folder in folders:
            if _CHECKPOINT.match(folder) and os.path.isfile(os.path.join(root, folder, "rllib_checkpoint.json")):
                path = os.path.join(root, folder)
                found.append((os.path.getmtime(os.path.join(path, "rllib_checkpoint.json")), path))
    if not found:
        raise FileNotFoundError(f"no checkpoint under {directory}. Fix: train first, or drop --restore.")
    return max(found)[1]


def prepare_results(directory: str, name: str, restore: bool, overwrite: bool) -> str | None:
    """Apply the original's rules for the results folder ``directory/name``; returns the checkpoint
    to resume from (``--restore``) or None."""
    folder = os.path.join(os.path.expanduser(directory), name)
    if restore and overwrite:
        raise ConfigError("--restore and --overwrite exclude each other. Fix: pass only one.")
    if overwrite:
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        return None
    if restore:
        return find_latest_checkpoint(folder)
    if os.path.isdir(folder) and os.listdir(folder):
        raise ConfigError(f"the results folder {folder} is not empty. Fix: pass --restore to continue "
                          f"from its latest checkpoint, --overwrite to delete it, or another --name.")
    return None
