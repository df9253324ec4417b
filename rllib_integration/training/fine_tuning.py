"""PPO fine-tuning of a cloned policy: a critic warm-up, and a KL anchor to the policy it started from.

A behaviour-cloned network (MARWIL at beta 0, the traffic recipe's stages 2 and 4) comes with an untrained value
head. PPO's first updates then follow the advantages of that noise away from the teacher's policy (the README's
fine-tuning without a warm-up). Two ``run`` options of a run that starts from ``run.init_from`` deal with it, each
on its own or both:

- ``critic_warmup_steps: N``: the learner keeps two optimizers per module. The policy's weights (its encoder and
  head: ``encoder.actor_encoder``, ``pi``) learn at a learning rate of 0 for the run's first N env steps sampled
  (agent steps, with several heroes a world), then at ``training.lr``. The value function's (``encoder.critic_encoder``,
  ``vf``) learn at ``training.lr`` from the start. Gradients are still clipped over the whole module
  (``training.grad_clip``), as with one optimizer.
- ``anchor_kl_coeff: c``: the loss gains ``c`` times the mean KL divergence of the policy from the one
  ``init_from`` holds, ``KL(pi || pi_init)`` over the batch's observations. The policy then improves on the reward
  while it stays near the teacher's behaviour where the reward does not say otherwise (AlphaStar's KL term towards
  its supervised policy). The initial policy is read from ``init_from`` when the learner is built, a frozen copy
  outside the checkpoints (a restored run reads it again). The divergence is reported as ``anchor_kl`` among the
  learner's results.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule

from ..errors import ConfigError

#: ``AlgorithmConfig.learner_config_dict`` keys the learner reads: the warm-up's length, the anchor's weight and the
#: RLModule folder of ``run.init_from`` (the anchor's policy).
WARMUP_KEY, ANCHOR_KEY, ANCHOR_FOLDER_KEY = "critic_warmup_steps", "anchor_kl_coeff", "anchor_module_folder"
ANCHOR_METRIC = "anchor_kl"
POLICY_PREFIXES = ("encoder.actor_encoder.", "pi.")
CRITIC_PREFIXES = ("encoder.critic_encoder.", "vf.")


def policy_schedule(steps: int, lr: float) -> list[tuple[int, float]]:
    """The policy optimizer's learning rate: 0 until ``steps`` env steps sampled, ``lr`` from the step after."""
    return [(0, 0.0), (steps, 0.0), (steps + 1, lr)]


def split_parameters(named: dict[str, torch.nn.Parameter]) -> tuple[list, list]:
    """(policy, critic) parameters of a PPO module whose policy and value function share no layer."""
    policy = [p for name, p in named.items() if name.startswith(POLICY_PREFIXES)]
    critic = [p for name, p in named.items() if name.startswith(CRITIC_PREFIXES)]
    other = [name for name in named if not name.startswith(POLICY_PREFIXES + CRITIC_PREFIXES)]
    if other or not policy or not critic:
        raise ConfigError(f"run.critic_warmup_steps: the network's weights {other or list(named)} belong to neither "
                          f"the policy ({', '.join(POLICY_PREFIXES)}) nor the value function "
                          f"({', '.join(CRITIC_PREFIXES)}). Fix: model.vf_share_layers: false, or drop "
                          f"critic_warmup_steps.")
    return policy, critic


class FineTuningPPOLearner(PPOTorchLearner):
    """PPO's torch learner with the options of :func:`configure_fine_tuning`: a policy and a value-function
    optimizer where the critic warms up first, the KL term towards the initial policy where it is weighted."""

    def build(self) -> None:
        super().build()
        self._anchors: dict[str, RLModule] = {}
        if float(self.config.learner_config_dict.get(ANCHOR_KEY, 0.0)) > 0.0:
            folder = self.config.learner_config_dict[ANCHOR_FOLDER_KEY]
            for module_id in self.module.keys():
                anchor = RLModule.from_checkpoint(os.path.join(folder, module_id))
                anchor.to(self._device).eval()
                for parameter in anchor.parameters():
                    parameter.requires_grad_(False)
                self._anchors[module_id] = anchor

    def configure_optimizers_for_module(self, module_id: str, config: AlgorithmConfig | None = None) -> None:
        config = config or self.config
        steps = int(config.learner_config_dict.get(WARMUP_KEY, 0))
        if not steps:
            super().configure_optimizers_for_module(module_id, config)
            return
        policy, critic = split_parameters(dict(self.module[module_id].named_parameters()))
        self.register_optimizer(module_id=module_id, optimizer_name="policy",
                                optimizer=torch.optim.Adam(policy), params=policy,
                                lr_or_lr_schedule=policy_schedule(steps, float(config.lr)))
        self.register_optimizer(module_id=module_id, optimizer_name="critic",
                                optimizer=torch.optim.Adam(critic), params=critic, lr_or_lr_schedule=config.lr)

    def compute_loss_for_module(self, *, module_id: str, config: Any, batch: dict[str, Any],
                                fwd_out: dict[str, Any]) -> torch.Tensor:
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        anchor = self._anchors.get(module_id)
        if anchor is None:
            return loss
        distribution = self.module[module_id].unwrapped().get_train_action_dist_cls()
        with torch.no_grad():
            anchored = anchor.forward_inference({Columns.OBS: batch[Columns.OBS]})[Columns.ACTION_DIST_INPUTS]
        divergence = distribution.from_logits(fwd_out[Columns.ACTION_DIST_INPUTS]).kl(
            distribution.from_logits(anchored))
        if Columns.LOSS_MASK in batch:  # (PPO's own masked mean: padded rows out)
            mask = batch[Columns.LOSS_MASK]
            mean = torch.sum(divergence[mask]) / torch.sum(mask)
        else:
            mean = torch.mean(divergence)
        self.metrics.log_value((module_id, ANCHOR_METRIC), mean.detach(), window=1)
        return loss + float(config.learner_config_dict[ANCHOR_KEY]) * mean


def configure_fine_tuning(config: AlgorithmConfig, run: dict[str, Any], module_folder: str | None, algorithm: str,
                          data: dict[str, Any], source: str) -> None:
    """Give ``config`` (``algorithm``'s, PPO only) the learner of ``run``'s ``critic_warmup_steps`` and
    ``anchor_kl_coeff`` (``module_folder``: the RLModule folder of ``run.init_from``); nothing where both are 0."""
    warmup, coeff = run["critic_warmup_steps"], float(run["anchor_kl_coeff"])
    if not warmup and not coeff:
        return
    option = "critic_warmup_steps" if warmup else "anchor_kl_coeff"
    if algorithm != "PPO":
        raise ConfigError(f"{source}: run.{option}: a fine-tuning option of PPO's learner, not {algorithm}'s. Fix: "
                          f"drop {option}.")
    if warmup and (data.get("model") or {}).get("vf_share_layers", True):
        raise ConfigError(f"{source}: run.critic_warmup_steps: the policy and value function share their layers "
                          f"(model.vf_share_layers), so warming up the critic would change the policy. Fix: set "
                          f"model.vf_share_layers: false, or drop critic_warmup_steps.")
    if warmup and not isinstance(config.lr, (int, float)):
        raise ConfigError(f"{source}: run.critic_warmup_steps: needs a fixed training.lr (the policy's learning rate "
                          f"after the warm-up), got the schedule {config.lr!r}. Fix: give training.lr a number.")
    config.learners(learner_class=FineTuningPPOLearner, learner_config_dict={
        WARMUP_KEY: int(warmup), ANCHOR_KEY: coeff, ANCHOR_FOLDER_KEY: module_folder})
