"""The training loop's parts: TransitionReplayBuffer's n-step transitions against a direct computation,
DQNModule's training pass against RLlib's, and the image encoder's padding and layout."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.dqn.dqn_learner import QF_NEXT_PREDS, QF_PREDS, QF_TARGET_NEXT_PREDS
from ray.rllib.algorithms.dqn.torch.default_dqn_torch_rl_module import DefaultDQNTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_integration.training.dqn_module import DQNModule
from rllib_integration.training.models import ImageDQNCatalog, ImageEncoderConfig
from rllib_integration.training.replay import TransitionReplayBuffer

GAMMA = 0.9


def chunk(start: int, steps: int, terminated: bool = False, dict_obs: bool = False) -> SingleAgentEpisode:
    """An episode chunk whose observation t is the number start + t (as an image-like array), action t is
    start + t and reward t is start + t."""
    def observation(t):
        value = np.full((2, 2, 1), start + t, np.uint8)
        return {"image": value, "speed": np.array([start + t], np.float32)} if dict_obs else value
    episode = SingleAgentEpisode(observations=[observation(0)])
    for t in range(steps):
        episode.add_env_step(observation(t + 1), start + t, float(start + t),
                             terminated=terminated and t == steps - 1)
    return episode.to_numpy()


def expected(obs_value: int, start: int, steps: int, terminated: bool, n: int):
    """(return, next observation value, terminated, n) of the transition at observation value ``obs_value``."""
    t = obs_value - start
    k = min(n, steps - t)
    ret = sum(GAMMA ** i * (start + t + i) for i in range(k))
    return ret, start + t + k, terminated and t + k == steps, k


def test_n_step_transitions_are_exact():
    buffer = TransitionReplayBuffer(capacity=100, seed=0)
    chunks = [(0, 5, False), (10, 3, True), (20, 8, False)]
    buffer.add([chunk(*c) for c in chunks])
    assert len(buffer) == 16
    batch = buffer.sample(400, n_step=3, gamma=GAMMA)
    seen = set()
    for i in range(400):
        value = int(batch[Columns.OBS][i, 0, 0, 0])
        start, steps, terminated = next(c for c in chunks if c[0] <= value < c[0] + c[1])
        ret, following, done, k = expected(value, start, steps, terminated, 3)
        assert batch[Columns.ACTIONS][i] == value
        assert batch[Columns.REWARDS][i] == pytest.approx(ret, rel=1e-5)
        assert int(batch[Columns.NEXT_OBS][i, 0, 0, 0]) == following
        assert bool(batch[Columns.TERMINATEDS][i]) == done
        assert batch["n_step"][i] == k and batch["weights"][i] == 1.0
        seen.add(value)
    assert seen == {v for start, steps, _ in chunks for v in range(start, start + steps)}, "closing rows never drawn"


def test_old_rows_are_evicted_and_dict_observations_kept():
    buffer = TransitionReplayBuffer(capacity=12, seed=1)
    for start in (0, 10, 20, 30):  # 4 chunks of 4 steps: 5 rows each, 20 rows through a 12-row ring
        buffer.add(chunk(start, 4, dict_obs=True))
    batch = buffer.sample(300, n_step=2, gamma=GAMMA)
    values = batch[Columns.OBS]["speed"][:, 0].astype(int)
    # rows 8-19 remain: the second chunk's last transition (13) and closing row, the third and fourth chunks
    assert set(values) == {13, 20, 21, 22, 23, 30, 31, 32, 33}
    assert len(buffer) == 9
    np.testing.assert_array_equal(batch[Columns.OBS]["image"][:, 0, 0, 0], values)
    nexts = batch[Columns.NEXT_OBS]["speed"][:, 0].astype(int)
    np.testing.assert_array_equal(nexts, np.minimum(values + 2, (values // 10) * 10 + 4))


def test_state_round_trip_and_errors():
    buffer = TransitionReplayBuffer(capacity=50, seed=2)
    buffer.add([chunk(0, 6), chunk(10, 4, True)])
    copy = TransitionReplayBuffer(capacity=50, seed=2)
    copy.set_state(buffer.get_state())
    first, second = buffer.sample(20, n_step=3, gamma=GAMMA), copy.sample(20, n_step=3, gamma=GAMMA)
    for key in (Columns.OBS, Columns.REWARDS, Columns.TERMINATEDS):
        np.testing.assert_array_equal(first[key], second[key])
    with pytest.raises(ValueError, match="same replay_buffer_config.capacity"):
        TransitionReplayBuffer(capacity=40).set_state(buffer.get_state())
    with pytest.raises(ValueError, match="nothing to sample yet"):
        TransitionReplayBuffer(capacity=10).sample(4)
    with pytest.raises(ValueError, match="does not fit"):
        TransitionReplayBuffer(capacity=4).add(chunk(0, 6))


def test_dqn_module_trains_like_rllibs():
    """Same outputs as RLlib's module for the same weights, and the same gradients of a DQN-style loss."""
    space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
    settings = dict(observation_space=space, action_space=gym.spaces.Discrete(4), inference_only=False,
                    model_config={"conv_filters": [[8, 4, 2], [16, 3, 2]], "latent_dim": 32, "head_fcnet_hiddens": [32],
                                  "double_q": True, "dueling": True, "num_atoms": 1, "epsilon": [(0, 1.0), (100, 0.1)]},
                    catalog_class=ImageDQNCatalog)
    ours, theirs = DQNModule(**settings), DefaultDQNTorchRLModule(**settings)
    for module in (ours, theirs):
        module.make_target_networks()
    theirs.load_state_dict(ours.state_dict())
    rng = np.random.default_rng(0)
    batch = {Columns.OBS: torch.as_tensor(rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)),
             Columns.NEXT_OBS: torch.as_tensor(rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)),
             Columns.ACTIONS: torch.as_tensor([0, 1, 2, 3, 1])}
    gradients = []
    for module in (ours, theirs):
        out = module.forward_train(batch)
        best = out[QF_NEXT_PREDS].argmax(-1, keepdim=True)
        target = 1.0 + 0.9 * out[QF_TARGET_NEXT_PREDS].gather(-1, best).squeeze(-1).detach()
        chosen = out[QF_PREDS].gather(-1, batch[Columns.ACTIONS][:, None]).squeeze(-1)
        module.zero_grad()
        ((chosen - target) ** 2).mean().backward()
        gradients.append({name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None})
        for key in (QF_PREDS, QF_NEXT_PREDS, QF_TARGET_NEXT_PREDS):
            assert out[key].shape == (5, 4)
    assert gradients[0].keys() == gradients[1].keys()
    for name in gradients[0]:
        torch.testing.assert_close(gradients[0][name], gradients[1][name], rtol=1e-4, atol=1e-6)


def test_image_encoder_keeps_same_padding_shapes():
    """"same" padding folded into the convolution where it is even, a padding layer where it is not."""
    for filters, size in (([[16, 8, 4], [32, 4, 2], [64, 3, 1]], 64), ([[16, 5, 2], [32, 5, 2], [32, 3, 2], [64, 3, 2]], 64),
                          ([[8, 4, 2], [16, 3, 2]], 15)):
        config = ImageEncoderConfig(obs_space=gym.spaces.Box(0, 255, (size, size, 6), np.uint8), conv_filters=filters,
                                    latent_dim=None)
        encoder = config.build()
        out = encoder({Columns.OBS: torch.zeros((2, size, size, 6), dtype=torch.uint8)})
        assert out["encoder_out"].shape == (2, config.output_dims[0])
