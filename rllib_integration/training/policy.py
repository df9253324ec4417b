"""The greedy policy of any trained RLModule, with Ray and torch (its Ray-free side, the exported policy run
by onnxruntime alone, is :mod:`rllib_integration.inference.policy`).

:class:`DeterministicPolicy` maps a batch of observations to the actions the module takes when it
exploits: DQN's argmax of its Q-values, PPO's mode of its action distribution (for ``Box`` actions
rescaled to the action space's bounds as RLlib does with ``normalize_actions``, or clipped with
``clip_actions``). :func:`export_policy` exports it to ONNX (``policy.onnx``: one input per observation
array, uint8 pictures stay uint8, a dynamic batch size), which onnxruntime runs from Python and any ONNX
runtime from C++ (a CARLA agent) or another language. :func:`greedy_action` is the same computation on the
RLModule itself, so both paths choose the same action for the same observation.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import logging
import os
import shutil
import warnings
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import onnx
import torch
from onnx import numpy_helper
from ray.rllib.core.columns import Columns
from torch import nn

from ..common.map_cache import cache_root
from ..inference.policy import ExportedPolicy, observation_keys, zero_observation

logger = logging.getLogger(__name__)

MAX_BATCH = 4096


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


def _free_log_std_forward(head: Any, inputs: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """RLlib's free-log-std head (the mean, then its log-std for every row), with the log-std expanded to the
    mean's rows rather than repeated ``len(mean)`` times: the same values, and a batch size the exporter keeps
    symbolic (``len()`` of a tensor is a Python int to it, which fixed a whole ``policy.onnx`` to the example's
    batch of 2)."""
    mean = head.net(inputs)
    log_std = torch.clamp(head.log_std, -head.log_std_clip_param_const, head.log_std_clip_param_const) \
        if head.clip_log_std else head.log_std
    return torch.cat([mean, log_std.unsqueeze(0).expand(mean.shape[0], -1)], dim=1)


@contextlib.contextmanager
def _exportable_heads(module: nn.Module) -> Iterator[None]:
    """While exporting, the free-log-std heads of ``module`` (``model.free_log_std: true``) compute as
    :func:`_free_log_std_forward`."""
    from ray.rllib.core.models.torch.heads import TorchFreeLogStdMLPHead
    heads = [m for m in module.modules() if isinstance(m, TorchFreeLogStdMLPHead)]
    for head in heads:
        head.forward = functools.partial(_free_log_std_forward, head)
    try:
        yield
    finally:
        for head in heads:
            del head.forward


#: Exports by how their file was made: ``traced`` (torch.export, then ONNX: 1-5 s) or ``from_template`` (an earlier
#: export of the same structure with this network's weights written in: a tenth of a second), for tests and logs.
EXPORT_COUNTS: dict[str, int] = {"traced": 0, "from_template": 0}


def export_policy(module: Any, config: Any, path: str) -> str:
    """Export the greedy policy of ``module`` (built with the algorithm ``config``) to ONNX at ``path``.

    The graph depends on the network's structure only, so the first export of a structure is kept as a template in
    the user cache folder (``policies/``); a later export of that structure (every checkpoint of a run, the next
    run, the pre-flight check's and the run's processes) writes the network's weights into a copy of it. A copy is
    kept only where its actions for random observations are the network's, else the network is traced afresh."""
    policy = _policy_of(module, config).to("cpu")
    space = module.observation_space
    template = os.path.join(cache_root(), "policies", f"{_structure_digest(policy, space)}.onnx")
    try:
        _write_with_weights(template, policy, path)
        if _file_agrees(policy, path, space):
            EXPORT_COUNTS["from_template"] += 1
            return path
        logger.info("the policy template %s does not fit this network: traced again", template)
    except FileNotFoundError:
        pass  # the first export of this structure
    except Exception as error:  # noqa: BLE001 - protobuf, onnx and onnxruntime each raise their own classes
        logger.info("the policy template %s cannot be used (%s: %s): traced again", template, type(error).__name__,
                    error)
    _trace(policy, space).save(path)
    EXPORT_COUNTS["traced"] += 1
    partial = f"{template}.{os.getpid()}.partial"
    try:
        os.makedirs(os.path.dirname(template), exist_ok=True)
        shutil.copyfile(path, partial)
        os.replace(partial, template)
    except OSError as error:
        logger.warning("could not keep the policy template at %s: %s", template, error)
    return path


def _structure_digest(policy: DeterministicPolicy, space: gym.Space) -> str:
    """What decides the exported graph: the layers, the spaces, the action bounds (folded into the graph), the
    parameters' shapes and the exporter's version."""
    bounds = (policy.low.tolist(), policy.high.tolist()) if policy.box else None
    structure = repr((repr(policy), repr(space), repr(policy.module.action_space), policy.normalize, policy.clip,
                      bounds, [(name, tuple(t.shape), str(t.dtype)) for name, t in policy.state_dict().items()],
                      torch.__version__, onnx.__version__))
    return hashlib.sha1(structure.encode("utf-8")).hexdigest()[:20]


def _write_with_weights(template: str, policy: DeterministicPolicy, path: str) -> None:
    """Write the ONNX model at ``template`` to ``path`` with ``policy``'s parameters and buffers as its
    initializers of the same names and shapes."""
    model = onnx.load(template)
    weights = {name: tensor.detach().cpu().numpy() for name, tensor in policy.state_dict().items()}
    for initializer in model.graph.initializer:
        value = weights.get(initializer.name)
        if value is not None and tuple(initializer.dims) == value.shape:
            initializer.CopyFrom(numpy_helper.from_array(value, initializer.name))
    onnx.save(model, path)


def _trace(policy: DeterministicPolicy, space: gym.Space) -> Any:
    """The ONNX program of ``policy`` for observations of ``space`` (torch.export, then ONNX)."""
    example = _batch(zero_observation(space), torch.device("cpu"), count=2)  # 2: a batch size of 1 would be fixed
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    dynamic = {key: {0: batch} for key in example} if isinstance(example, dict) else {0: batch}
    exporter_log = logging.getLogger("torch.onnx")  # it lists the torchvision ops it skips on every export
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings(), _exportable_heads(policy):
            warnings.simplefilter("ignore")
            return torch.onnx.export(policy, (), kwargs={"observations": example}, dynamo=True, verbose=False,
                                     input_names=observation_keys(space), output_names=["actions"],
                                     dynamic_shapes={"observations": dynamic})
    finally:
        exporter_log.setLevel(level)


def _file_agrees(policy: DeterministicPolicy, path: str, space: gym.Space) -> bool:
    """Whether the policy file at ``path`` gives ``policy``'s actions for three random observations of ``space``."""
    probe = copy.deepcopy(space)
    probe.seed(0)
    exported = ExportedPolicy(path)
    for _ in range(3):
        observation = probe.sample()
        with torch.no_grad():
            expected = policy(_batch(observation, torch.device("cpu")))[0].numpy()
        if not np.allclose(np.asarray(exported(observation)), expected, rtol=1e-4, atol=1e-4):
            return False
    return True


def zero_batch(space: gym.Space, count: int = 1) -> Any:
    """A batch of ``count`` all-zero observations of ``space`` as torch tensors (a dict for a Dict space)."""
    return _batch(zero_observation(space), torch.device("cpu"), count)


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
