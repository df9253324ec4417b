"""The greedy policy of any trained RLModule, with and without Ray.

:class:`DeterministicPolicy` maps a batch of observations to the actions the module takes when it
exploits: DQN's argmax of its Q-values, PPO's mode of its action distribution (for ``Box`` actions
rescaled to the action space's bounds as RLlib does with ``normalize_actions``, or clipped with
``clip_actions``). :func:`export_policy` exports it to ONNX (``policy.onnx``: one input per observation
array, uint8 pictures stay uint8, a dynamic batch size), which :func:`load_policy` runs with onnxruntime
alone, from Python; any ONNX runtime runs it from C++ (a CARLA agent) or another language.
:func:`greedy_action` is the same computation on the RLModule itself, so both paths choose the same
action for the same observation.

A ``policy.pt`` (TorchScript, what checkpoints held before ONNX) still loads, with a notice. A loaded
policy checks the observations it is given against its inputs: a policy trained with another
configuration gets one error naming both shapes.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from torch import nn

from ..errors import ConfigError

logger = logging.getLogger(__name__)

POLICY_FILE = "policy.onnx"
LEGACY_POLICY_FILE = "policy.pt"  # TorchScript, before ONNX
MAX_BATCH = 4096
#: onnxruntime's input types as NumPy dtype names.
ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
              "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64",
              "tensor(bool)": "bool"}


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


def _keys(space: gym.Space) -> list[str]:
    """The observation arrays of a space, as ONNX input names (a Dict space: one per key)."""
    return [f"observations.{key}" for key in space.spaces] if isinstance(space, gym.spaces.Dict) else ["observations"]


def export_policy(module: Any, config: Any, path: str) -> str:
    """Export the greedy policy of ``module`` (built with the algorithm ``config``) to ONNX at ``path``."""
    policy = _policy_of(module, config).to("cpu")
    space = module.observation_space
    example = _batch(_zeros(space), torch.device("cpu"), count=2)  # 2: a batch size of 1 would be fixed
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    dynamic = {key: {0: batch} for key in example} if isinstance(example, dict) else {0: batch}
    exporter_log = logging.getLogger("torch.onnx")  # it lists the torchvision ops it skips on every export
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(policy, (), kwargs={"observations": example}, dynamo=True, verbose=False,
                                        input_names=_keys(space), output_names=["actions"],
                                        dynamic_shapes={"observations": dynamic})
    finally:
        exporter_log.setLevel(level)
    program.save(path)
    return path


def _zeros(space: gym.Space) -> Any:
    if isinstance(space, gym.spaces.Dict):
        return {key: _zeros(sub) for key, sub in space.spaces.items()}
    return np.zeros(space.shape, dtype=space.dtype)


def zero_batch(space: gym.Space, count: int = 1) -> Any:
    """A batch of ``count`` all-zero observations of ``space`` as torch tensors (a dict for a Dict space)."""
    return _batch(_zeros(space), torch.device("cpu"), count)


def _batch(observation: Any, device: torch.device, count: int = 1) -> Any:
    """One observation (an array, or a dict of arrays) as a batch of ``count`` on ``device``."""
    if isinstance(observation, dict):
        return {key: _batch(value, device, count) for key, value in observation.items()}
    array = np.asarray(observation)
    return torch.as_tensor(np.repeat(array[None], count, axis=0), device=device)


def greedy_action(module: Any, observation: Any, config: Any = None) -> Any:
    """The greedy action of an RLModule for one observation (a Python int for ``Discrete``)."""
    with torch.no_grad():
        action = _policy_of(module, config)(_batch(observation, torch.device("cpu")))[0]
    return int(action) if action.ndim == 0 else action.numpy()


class ExportedPolicy:
    """An exported policy loaded for inference: ``policy(observation)`` is its action for one observation.

    ``policy.onnx`` runs on onnxruntime (``device``: ``cpu``, or ``cuda``/``cuda:N`` with onnxruntime-gpu); a
    legacy ``policy.pt`` runs on TorchScript. :meth:`check` compares an observation space with its inputs.
    """

    def __init__(self, path: str, device: str = "cpu") -> None:
        self.path = path
        self.legacy = path.endswith(".pt")
        if self.legacy:
            logger.warning("%s is a TorchScript policy (before policy.onnx); it still runs, but export it again "
                           "with this version (any checkpoint's policy.onnx) to keep it usable", path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self.device = torch.device(device)
                self.module = torch.jit.load(path, map_location=self.device).eval()
            self.inputs: dict[str, tuple[tuple, str]] = {}
            return
        import onnxruntime
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ConfigError(f"--device {device}: this onnxruntime has no CUDA. Fix: pip install onnxruntime-gpu, "
                                  f"or use --device cpu.")
            index = device.partition(":")[2] or "0"
            providers = [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(path, options, providers=providers)
        self.inputs = {i.name: (tuple(i.shape[1:]), ONNX_TYPES.get(i.type, i.type)) for i in self.session.get_inputs()}

    def check(self, space: gym.Space) -> None:
        """Raise :class:`ConfigError` when observations of ``space`` are not what this policy takes."""
        if self.legacy:
            try:
                self(_zeros(space))
            except RuntimeError as error:
                raise ConfigError(f"{self.path} does not take observations of {space} (the configuration's): "
                                  f"{str(error).strip().splitlines()[-1]}. Fix: pass the training YAML the policy "
                                  f"was trained with.") from None
            return
        expected = {name: (tuple(s.shape), np.dtype(s.dtype).name) for name, s in zip(_keys(space), (
            space.spaces.values() if isinstance(space, gym.spaces.Dict) else [space]))}
        if expected != self.inputs:
            def describe(inputs: dict) -> str:
                return ", ".join(f"{name} {shape} {dtype}" for name, (shape, dtype) in inputs.items())
            raise ConfigError(f"{self.path} takes {describe(self.inputs)}; this configuration gives "
                              f"{describe(expected)}. Fix: pass the training YAML the policy was trained with.")

    def __call__(self, observation: Any) -> Any:
        if self.legacy:
            with torch.no_grad():
                action = self.module(_batch(observation, self.device))[0].cpu()
            return int(action) if action.ndim == 0 else action.numpy()
        values = observation.values() if isinstance(observation, dict) else [observation]
        feed = {name: np.asarray(value)[None] for name, value in zip(self.inputs, values)}
        action = self.session.run(None, feed)[0][0]
        return int(action) if np.ndim(action) == 0 else np.asarray(action)


def policy_file(path: str) -> str:
    """The exported policy of a path: a policy file, or a checkpoint folder's ``policy.onnx`` (else its
    legacy ``policy.pt``)."""
    if os.path.isdir(path):
        for name in (POLICY_FILE, LEGACY_POLICY_FILE):
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name)
        raise FileNotFoundError(f"{path}: no exported policy ({POLICY_FILE}). Fix: pass a checkpoint folder written "
                                f"by the training script, or its {POLICY_FILE}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no exported policy. Fix: pass the {POLICY_FILE} of a checkpoint written by "
                                f"the training script (or the checkpoint folder).")
    return path


def load_policy(path: str, device: Any = "cpu") -> ExportedPolicy:
    """The exported policy at ``path`` (a policy file or a checkpoint folder holding one)."""
    return ExportedPolicy(policy_file(path), str(device))


def policy_action(policy: ExportedPolicy, observation: Any) -> Any:
    """The action of an exported policy for one observation (a Python int for ``Discrete``)."""
    return policy(observation)
