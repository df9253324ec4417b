"""The greedy policy of any trained RLModule, with and without Ray.

:class:`DeterministicPolicy` maps a batch of observations to the actions the module takes when it
exploits: DQN's argmax of its Q-values, PPO's mode of its action distribution (for ``Box`` actions
rescaled to the action space's bounds as RLlib does with ``normalize_actions``, or clipped with
``clip_actions``). :func:`export_policy` traces it to TorchScript (``policy.pt``), which
:func:`load_policy` runs with torch alone; :func:`greedy_action` is the same computation on the
RLModule itself, so both paths choose the same action for the same observation.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from torch import nn

POLICY_FILE = "policy.pt"


class DeterministicPolicy(nn.Module):
    """``forward(observations) -> actions`` of an RLModule acting greedily."""

    def __init__(self, module: nn.Module, action_space: gym.Space, normalize_actions: bool = True,
                 clip_actions: bool = False) -> None:
        super().__init__()
        self.module = module
        self.distribution = module.get_inference_action_dist_cls()
        self.box = isinstance(action_space, gym.spaces.Box)
        self.normalize, self.clip = normalize_actions, clip_actions
        if self.box:
            self.register_buffer("low", torch.as_tensor(action_space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(action_space.high, dtype=torch.float32))

    def forward(self, observations: Any) -> torch.Tensor:
        output = self.module.forward_inference({Columns.OBS: observations})
        if Columns.ACTIONS in output:
            actions = output[Columns.ACTIONS]
        else:
            actions = self.distribution.from_logits(output[Columns.ACTION_DIST_INPUTS]).to_deterministic().sample()
        if self.box and self.normalize:
            actions = self.low + (torch.clamp(actions, -1.0, 1.0) + 1.0) * (self.high - self.low) / 2.0
        elif self.box and self.clip:
            actions = torch.maximum(torch.minimum(actions, self.high), self.low)
        return actions


def _policy_of(module: Any, config: Any) -> DeterministicPolicy:
    return DeterministicPolicy(module, module.action_space, getattr(config, "normalize_actions", True),
                               getattr(config, "clip_actions", False)).eval()


def export_policy(module: Any, config: Any, path: str) -> str:
    """Trace the greedy policy of ``module`` (built with the algorithm ``config``) to TorchScript at
    ``path``, on the CPU."""
    policy = _policy_of(module, config).to("cpu")
    example = _batch(_zeros(module.observation_space), torch.device("cpu"))
    with torch.no_grad():
        traced = torch.jit.trace(policy, (example,), check_trace=False, strict=False)
    traced.save(path)
    return path


def _zeros(space: gym.Space) -> Any:
    if isinstance(space, gym.spaces.Dict):
        return {key: _zeros(sub) for key, sub in space.spaces.items()}
    return np.zeros(space.shape, dtype=space.dtype)


def _batch(observation: Any, device: torch.device) -> Any:
    """One observation (an array, or a dict of arrays) as a batch of one on ``device``."""
    if isinstance(observation, dict):
        return {key: _batch(value, device) for key, value in observation.items()}
    return torch.as_tensor(np.array(observation)[None], device=device)


def greedy_action(module: Any, observation: Any, config: Any = None) -> Any:
    """The greedy action of an RLModule for one observation (a Python int for ``Discrete``)."""
    with torch.no_grad():
        action = _policy_of(module, config)(_batch(observation, torch.device("cpu")))[0]
    return int(action) if action.ndim == 0 else action.numpy()


def load_policy(path: str, device: torch.device) -> torch.jit.ScriptModule:
    """The exported policy at ``path`` (a ``policy.pt`` file or a checkpoint folder holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, POLICY_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no exported policy. Fix: pass the {POLICY_FILE} of a checkpoint "
                                f"written by the training script (or the checkpoint folder).")
    return torch.jit.load(path, map_location=device).eval()


def policy_action(policy: torch.jit.ScriptModule, observation: Any, device: torch.device) -> Any:
    """The action of an exported policy for one observation."""
    with torch.no_grad():
        action = policy(_batch(observation, device))[0].cpu()
    return int(action) if action.ndim == 0 else action.numpy()
