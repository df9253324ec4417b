"""Image encoders for RLlib's new API stack (RLModule + Catalog), for any algorithm.

RLlib's default CNN encoder feeds uint8 observations straight into ``Conv2d`` (a dtype error) and
never scales them. :class:`ImageEncoder` takes ``(H, W, C)`` uint8 images (a BirdView, stacked
frames), scales them to [0, 1] inside the network, and runs a conv stack given as RLlib's
``conv_filters`` (``[out_channels, kernel, stride]``) with "same" padding on every layer but the last
("valid"), as RLlib's classic vision network did, then optionally one dense layer
(``latent_dim``). Keeping observations uint8 keeps the replay buffer four times smaller.

:func:`image_catalog` gives the catalog of an algorithm (DQN, PPO) that uses it
for image observations (``rl_module_spec=RLModuleSpec(catalog_class=...)``); the catalog reads
``conv_filters`` and ``latent_dim`` from the model config. :class:`ImageStateEncoder` does the same for
``Dict(image=..., state=...)`` observations (a camera with speed and route command): the picture's conv
features joined with the state vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import gymnasium as gym
import torch
from ray.rllib.algorithms.dqn.dqn_catalog import DQNCatalog
from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
from ray.rllib.core.columns import Columns
from ray.rllib.core.models.base import ENCODER_OUT, Encoder
from ray.rllib.core.models.configs import ModelConfig
from ray.rllib.core.models.torch.base import TorchModel
from torch import nn

DEFAULT_FILTERS = [[16, 8, 4], [32, 4, 2], [64, 3, 1]]


def _kernel(kernel) -> tuple[int, int]:
    return (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)


@dataclass
class ImageEncoderConfig(ModelConfig):
    """Configuration of :class:`ImageEncoder`."""

    obs_space: gym.Space = None
    conv_filters: list = field(default_factory=lambda: [list(f) for f in DEFAULT_FILTERS])
    latent_dim: int | None = 256

    @property
    def output_dims(self) -> tuple[int]:
        return (self.latent_dim or self._conv_output_size(),)

    def _conv_output_size(self) -> int:
        height, width, channels = self.obs_space.shape
        for index, (out_channels, kernel, stride) in enumerate(self.conv_filters):
            kh, kw = _kernel(kernel)
            if index == len(self.conv_filters) - 1:
                height, width = (height - kh) // stride + 1, (width - kw) // stride + 1
            else:
                height, width = math.ceil(height / stride), math.ceil(width / stride)
            channels = out_channels
        return height * width * channels

    def build(self, framework: str = "torch") -> "ImageEncoder":
        return ImageEncoder(self)


class ImageEncoder(TorchModel, Encoder):
    """uint8 NHWC images -> scaled conv stack -> (dense) features."""

    def __init__(self, config: ImageEncoderConfig) -> None:
        TorchModel.__init__(self, config)
        Encoder.__init__(self, config)
        height, width, channels = config.obs_space.shape
        layers: list[nn.Module] = []
        for index, (out_channels, kernel, stride) in enumerate(config.conv_filters):
            kh, kw = _kernel(kernel)
            padding = (0, 0)
            if index < len(config.conv_filters) - 1:  # "same": output = ceil(input / stride)
                out_h, out_w = math.ceil(height / stride), math.ceil(width / stride)
                pad_h = max((out_h - 1) * stride + kh - height, 0)
                pad_w = max((out_w - 1) * stride + kw - width, 0)
                if pad_h % 2 or pad_w % 2:  # uneven: pad separately (the convolution pads both sides alike)
                    layers.append(nn.ZeroPad2d((pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)))
                else:
                    padding = (pad_h // 2, pad_w // 2)
            else:
                out_h, out_w = (height - kh) // stride + 1, (width - kw) // stride + 1
            layers += [nn.Conv2d(channels, out_channels, (kh, kw), stride, padding), nn.ReLU()]
            height, width, channels = out_h, out_w, out_channels
        layers.append(nn.Flatten())
        if config.latent_dim:
            layers += [nn.Linear(height * width * channels, config.latent_dim), nn.ReLU()]
        # The images arrive as NHWC, which is NCHW in channels-last layout: keep the weights alike, so the
        # convolutions run without converting layouts.
        self.net = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def _forward(self, inputs: dict, **kwargs) -> dict:
        images = inputs[Columns.OBS].permute(0, 3, 1, 2).to(torch.float32).mul_(1.0 / 255.0)
        return {ENCODER_OUT: self.net(images)}


@dataclass
class ImageStateEncoderConfig(ImageEncoderConfig):
    """Configuration of :class:`ImageStateEncoder`: ``obs_space`` is the ``Dict`` space, ``image_space``
    its picture."""

    image_space: gym.Space = None
    state_size: int = 0

    @property
    def image_config(self) -> ImageEncoderConfig:
        """The picture's conv stack (no dense layer: the state joins its features first)."""
        return ImageEncoderConfig(obs_space=self.image_space, conv_filters=self.conv_filters, latent_dim=None)

    @property
    def output_dims(self) -> tuple[int]:
        return (self.latent_dim or self.image_config.output_dims[0] + self.state_size,)

    def build(self, framework: str = "torch") -> "ImageStateEncoder":
        return ImageStateEncoder(self)


class ImageStateEncoder(TorchModel, Encoder):
    """``Dict(image=uint8 HWC, state=float vector)`` -> the image's conv features joined with the state
    vector -> (dense) features."""

    def __init__(self, config: ImageStateEncoderConfig) -> None:
        TorchModel.__init__(self, config)
        Encoder.__init__(self, config)
        self.image = config.image_config.build()
        width = config.image_config.output_dims[0] + config.state_size
        self.head = nn.Sequential(nn.Linear(width, config.latent_dim), nn.ReLU()) if config.latent_dim else nn.Identity()

    def _forward(self, inputs: dict, **kwargs) -> dict:
        observations = inputs[Columns.OBS]
        features = self.image({Columns.OBS: observations["image"]})[ENCODER_OUT]
        return {ENCODER_OUT: self.head(torch.cat([features, observations["state"].float()], dim=1))}


def is_image_space(space: gym.Space) -> bool:
    """Whether observations are images: ``Box`` of shape ``(H, W, C)``, uint8."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.dtype == "uint8"


def is_image_state_space(space: gym.Space) -> bool:
    """Whether observations are a picture with a state vector: ``Dict(image=<image space>, state=Box((n,)))``."""
    return isinstance(space, gym.spaces.Dict) and set(space.spaces) == {"image", "state"} \
        and is_image_space(space["image"]) and isinstance(space["state"], gym.spaces.Box) \
        and len(space["state"].shape) == 1


class ImageCatalogMixin:
    """A catalog whose encoder is :class:`ImageEncoder` for image observations and
    :class:`ImageStateEncoder` for a picture with a state vector; other observation spaces get the
    algorithm's default encoder."""

    def _determine_components_hook(self) -> None:
        space = self.observation_space
        if not (is_image_space(space) or is_image_state_space(space)):
            super()._determine_components_hook()
            return
        self._action_dist_class_fn = partial(self._get_dist_cls_from_action_space, action_space=self.action_space)
        model_config = self._model_config_dict
        common = {"conv_filters": model_config.get("conv_filters") or DEFAULT_FILTERS,
                  "latent_dim": model_config.get("latent_dim", 256)}
        if is_image_space(space):
            self._encoder_config = ImageEncoderConfig(obs_space=space, **common)
        else:
            self._encoder_config = ImageStateEncoderConfig(obs_space=space, image_space=space["image"],
                                                           state_size=int(space["state"].shape[0]), **common)
        self.latent_dims = self._encoder_config.output_dims


class ImageDQNCatalog(ImageCatalogMixin, DQNCatalog):
    """DQN's catalog with :class:`ImageEncoder` for images."""


class ImagePPOCatalog(ImageCatalogMixin, PPOCatalog):
    """PPO's catalog with :class:`ImageEncoder` for images."""


#: RLlib algorithm name -> its catalog with the image encoder.
IMAGE_CATALOGS: dict[str, type] = {"DQN": ImageDQNCatalog, "PPO": ImagePPOCatalog}


def image_catalog(algorithm: str) -> type | None:
    """The image-encoding catalog of an algorithm, or None to keep the algorithm's own catalog."""
    return IMAGE_CATALOGS.get(algorithm)
