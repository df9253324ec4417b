"""RLlib's DQN module with a cheaper training pass.

For double Q-learning RLlib's ``DefaultDQNTorchRLModule`` runs the online network on
``[obs, next_obs]`` with autograd on, then backpropagates through both halves, although the loss
only takes gradients through ``obs`` (the next observations' values pick the argmax action and are
detached); the target network's pass is recorded by autograd too. :class:`DQNModule` computes the
next observations' Q-values under ``torch.no_grad()``: the same loss and the same gradients, with
half the backward work. Distributional (``num_atoms > 1``) and stateful modules keep RLlib's pass.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.dqn.dqn_learner import QF_NEXT_PREDS, QF_PREDS, QF_TARGET_NEXT_PREDS
from ray.rllib.algorithms.dqn.torch.default_dqn_torch_rl_module import DefaultDQNTorchRLModule
from ray.rllib.core.columns import Columns


class DQNModule(DefaultDQNTorchRLModule):
    """``DefaultDQNTorchRLModule`` whose ``forward_train`` tracks gradients only where the loss needs them."""

    def _forward_train(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.inference_only or self.num_atoms > 1 or Columns.STATE_IN in batch:
            return super()._forward_train(batch)
        output = {QF_PREDS: self.compute_q_values({Columns.OBS: batch[Columns.OBS]})[QF_PREDS]}
        with torch.no_grad():
            following = {Columns.OBS: batch[Columns.NEXT_OBS]}
            if self.uses_double_q:
                output[QF_NEXT_PREDS] = self.compute_q_values(following)[QF_PREDS]
            output[QF_TARGET_NEXT_PREDS] = self.forward_target(following)[QF_PREDS]
        return output
