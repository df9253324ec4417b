"""Critic warm-up: PPO fine-tuning of a cloned policy first fits the value function alone.

A behaviour-cloned network (MARWIL at beta 0, the traffic recipe's stages 2 and 4) comes with an untrained value
head. PPO's first updates then follow the advantages of that noise away from the teacher's policy (the README's
fine-tuning without it). With ``run.critic_warmup_steps: N`` the learner keeps two optimizers per module: the
policy's weights (its encoder and head: ``encoder.actor_encoder``, ``pi``) learn at a learning rate of 0 for the
run's first N env steps sampled (agent steps, with several heroes a world), then at ``training.lr``; the value
function's (``encoder.critic_encoder``, ``vf``) learn at ``training.lr`` from the start. Gradients are still clipped
over the whole module (``training.grad_clip``), as with one optimizer.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner

from ..errors import ConfigError

#: ``AlgorithmConfig.learner_config_dict`` key the learner reads the warm-up's length from.
WARMUP_KEY = "critic_warmup_steps"
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


class CriticWarmupPPOLearner(PPOTorchLearner):
    """PPO's torch learner with a policy optimizer and a value-function optimizer (:func:`configure_critic_warmup`)."""

    def configure_optimizers_for_module(self, module_id: str, config: AlgorithmConfig | None = None) -> None:
        config = config or self.config
        policy, critic = split_parameters(dict(self.module[module_id].named_parameters()))
        steps = int(config.learner_config_dict[WARMUP_KEY])
        self.register_optimizer(module_id=module_id, optimizer_name="policy",
                                optimizer=torch.optim.Adam(policy), params=policy,
                                lr_or_lr_schedule=policy_schedule(steps, float(config.lr)))
        self.register_optimizer(module_id=module_id, optimizer_name="critic",
                                optimizer=torch.optim.Adam(critic), params=critic, lr_or_lr_schedule=config.lr)


def configure_critic_warmup(config: AlgorithmConfig, steps: int, algorithm: str, data: dict[str, Any],
                            source: str) -> None:
    """Give ``config`` (``algorithm``'s, PPO only) the learner that holds the policy for its first ``steps`` env steps
    sampled."""
    if algorithm != "PPO":
        raise ConfigError(f"{source}: run.critic_warmup_steps: only PPO's learner has a policy and a value function "
                          f"to warm up apart, not {algorithm}'s. Fix: drop critic_warmup_steps.")
    if (data.get("model") or {}).get("vf_share_layers", True):
        raise ConfigError(f"{source}: run.critic_warmup_steps: the policy and value function share their layers "
                          f"(model.vf_share_layers), so warming up the critic would change the policy. Fix: set "
                          f"model.vf_share_layers: false, or drop critic_warmup_steps.")
    if not isinstance(config.lr, (int, float)):
        raise ConfigError(f"{source}: run.critic_warmup_steps: needs a fixed training.lr (the policy's learning rate "
                          f"after the warm-up), got the schedule {config.lr!r}. Fix: give training.lr a number.")
    config.learners(learner_class=CriticWarmupPPOLearner, learner_config_dict={WARMUP_KEY: int(steps)})
