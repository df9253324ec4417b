"""Trained policies without Ray or torch: a checkpoint's ``policy.onnx`` (the greedy policy
:func:`rllib_integration.training.policy.export_policy` writes: one input per observation array, uint8
pictures stay uint8, a dynamic batch size) run with onnxruntime alone, where only the CARLA client and
onnxruntime are installed (a Leaderboard container, a robot: ``requirements-inference.txt``).

A loaded policy checks the observations it is given against its inputs, and its actions against the
experiment's action space, once, before a simulator starts: a policy trained with another configuration
gets one error naming both. A damaged file is one error naming it. onnxruntime's telemetry is switched off
before it is imported (``ORT_DISABLE_TELEMETRY``): the project sends nothing anywhere. A ``policy.pt``
(TorchScript, what checkpoints held before ONNX) still loads where torch is installed, with a notice.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import ConfigError

logger = logging.getLogger(__name__)

POLICY_FILE = "policy.onnx"
LEGACY_POLICY_FILE = "policy.pt"  # TorchScript, before ONNX
#: onnxruntime's input types as NumPy dtype names.
ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
              "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64",
              "tensor(bool)": "bool"}


def observation_keys(space: gym.Space) -> list[str]:
    """The observation arrays of a space, as ONNX input names (a Dict space: one per key)."""
    return [f"observations.{key}" for key in space.spaces] if isinstance(space, gym.spaces.Dict) else ["observations"]


def zero_observation(space: gym.Space) -> Any:
    """An all-zero observation of ``space`` (a dict of arrays for a Dict space)."""
    if isinstance(space, gym.spaces.Dict):
        return {key: zero_observation(sub) for key, sub in space.spaces.items()}
    return np.zeros(space.shape, dtype=space.dtype)


def onnxruntime_module() -> Any:
    """onnxruntime, imported with its telemetry off (it otherwise writes a device id and queued events for a
    Microsoft endpoint under ~/.cache and /tmp)."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime
    disable = getattr(onnxruntime, "disable_telemetry_events", None)
    if callable(disable):
        disable()
    return onnxruntime


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
            try:
                import torch
            except ImportError:
                raise ConfigError(f"{path}: a TorchScript policy needs torch, which is not installed here. Fix: use "
                                  f"the checkpoint's policy.onnx.") from None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self.device = torch.device(device)
                self.module = torch.jit.load(path, map_location=self.device).eval()
            self.inputs: dict[str, tuple[tuple, str]] = {}
            return
        onnxruntime = onnxruntime_module()
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ConfigError(f"--device {device}: this onnxruntime has no CUDA. Fix: pip install onnxruntime-gpu, "
                                  f"or use --device cpu.")
            index = device.partition(":")[2] or "0"
            providers = [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=providers)
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own classes (InvalidProtobuf, Fail...)
            first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
            raise ConfigError(f"{path}: not a complete ONNX policy ({first}). Fix: use the policy.onnx of an intact "
                              f"checkpoint, or export it again.") from None
        self.inputs = {i.name: (tuple(i.shape[1:]), ONNX_TYPES.get(i.type, i.type)) for i in self.session.get_inputs()}

    def check(self, space: gym.Space) -> None:
        """Raise :class:`ConfigError` when observations of ``space`` are not what this policy takes."""
        if self.legacy:
            try:
                self(zero_observation(space))
            except RuntimeError as error:
                raise ConfigError(f"{self.path} does not take observations of {space} (the configuration's): "
                                  f"{str(error).strip().splitlines()[-1]}. Fix: pass the training YAML the policy "
                                  f"was trained with.") from None
            return
        expected = {name: (tuple(s.shape), np.dtype(s.dtype).name) for name, s in zip(observation_keys(space), (
            space.spaces.values() if isinstance(space, gym.spaces.Dict) else [space]))}
        if expected != self.inputs:
            def describe(inputs: dict) -> str:
                return ", ".join(f"{name} {shape} {dtype}" for name, (shape, dtype) in inputs.items())
            raise ConfigError(f"{self.path} takes {describe(self.inputs)}; this configuration gives "
                              f"{describe(expected)}. Fix: pass the training YAML the policy was trained with.")

    def check_actions(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        """Raise :class:`ConfigError` when the policy's action for an observation is not one of
        ``action_space`` (a policy of another experiment)."""
        action = self(zero_observation(observation_space))
        try:
            valid = action_space.contains(np.asarray(action, dtype=action_space.dtype) if np.ndim(action) else action)
        except (ValueError, TypeError):
            valid = False
        if not valid:
            shown = np.array2string(np.asarray(action), threshold=8)[:120]
            raise ConfigError(f"{self.path} gives actions like {shown}, not actions of {action_space} (the "
                              f"configuration's). Fix: pass the training YAML the policy was trained with.")

    def __call__(self, observation: Any) -> Any:
        if self.legacy:
            import torch
            with torch.no_grad():
                batch = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in observation.items()} \
                    if isinstance(observation, dict) else torch.as_tensor(np.asarray(observation)[None])
                action = self.module(batch)[0].cpu()
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
