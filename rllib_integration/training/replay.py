"""A uniform n-step replay buffer of transitions in preallocated NumPy arrays.

RLlib's ``EpisodeReplayBuffer`` keeps episodes as Python objects and builds every sampled
transition by slicing one (a new ``SingleAgentEpisode`` per item), then the learner connector turns
those episodes into a batch: 44 ms per 128-transition batch of 64x64x6 frames on the 2-core machine,
as long as the network update itself. :class:`TransitionReplayBuffer` stores the env runners'
episode chunks row by row in ring arrays (observations in their own dtype, so uint8 frames stay
uint8) and samples a train batch with a few fancy-indexing calls, ready for ``Learner.update``:
``obs``, ``new_obs``, ``actions``, ``rewards`` (the discounted n-step return), ``terminateds``,
``n_step`` and ``weights`` (ones: uniform replay), the columns RLlib's DQN loss reads.

Layout: a chunk of ``L`` steps takes ``L + 1`` consecutive rows (its observations; the last row
only closes the chunk and is never sampled). A sampled row ``j`` looks ``k = min(n, rows left in its
chunk)`` steps ahead: the return sums ``k`` rewards and bootstraps from the observation ``k`` rows
on with ``gamma ** k`` (a chunk cut by the rollout length bootstraps early, which is still an
unbiased n-step target; a terminated chunk does not bootstrap from its last row).

Use it with ``replay_buffer_config: {type: rllib_integration.training.replay.TransitionReplayBuffer,
capacity: N}``; :class:`~.replay_training.ReplayTraining` (mixed into DQN by the training scripts)
samples it. It subclasses RLlib's ``EpisodeReplayBuffer`` only because DQN's config accepts nothing
else on the new API stack; it stores no episodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.rllib.core.columns import Columns
from ray.rllib.utils.replay_buffers.episode_replay_buffer import EpisodeReplayBuffer

#: The train batch's extra columns, as RLlib's DQN learner names them.
N_STEP, WEIGHTS = "n_step", "weights"


def _flatten(value: Any) -> dict[str, np.ndarray]:
    """An observation batch (an array, or a dict of arrays) as ``{key: array}`` (key ``""`` for an array)."""
    if isinstance(value, dict):
        return {key: np.asarray(item) for key, item in value.items()}
    return {"": np.asarray(value)}


def _unflatten(columns: dict[str, np.ndarray]) -> Any:
    return columns[""] if set(columns) == {""} else dict(columns)


class TransitionReplayBuffer(EpisodeReplayBuffer):
    """Uniform n-step transition replay over ``capacity`` rows (see the module docstring)."""

    def __init__(self, capacity: int = 10000, *, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(capacity=capacity)
        if int(capacity) < 2:
            raise ValueError(f"TransitionReplayBuffer: capacity {capacity} is too small. Fix: use at least 2 rows.")
        self.capacity = int(capacity)
        self.rng = np.random.default_rng(seed)
        self.observations: dict[str, np.ndarray] | None = None
        self.actions: np.ndarray | None = None
        self.rewards = np.zeros(self.capacity, np.float32)
        self.chunk_end = np.zeros(self.capacity, np.int64)  # global row of the chunk's closing observation
        self.terminated = np.zeros(self.capacity, bool)  # the chunk ends its episode by termination
        self.written = 0  # global rows written so far (row r lives at r % capacity)
        self.transitions_added = 0
        self.transitions_sampled = 0

    # -- adding -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """The transitions that can be sampled."""
        rows = min(self.written, self.capacity)
        return max(rows - self._chunks_in(rows), 0)

    def _chunks_in(self, rows: int) -> int:
        """Closing rows among the last ``rows`` rows."""
        if not rows:
            return 0
        first = self.written - rows
        positions = np.arange(first, self.written) % self.capacity
        return int(np.count_nonzero(self.chunk_end[positions] == np.arange(first, self.written)))

    def add(self, episodes: Any) -> None:
        """Store env-runner episode chunks (``SingleAgentEpisode``, numpy'd or not)."""
        for episode in episodes if isinstance(episodes, (list, tuple)) else [episodes]:
            steps = len(episode)
            if steps == 0:
                continue
            if steps + 1 > self.capacity:
                raise ValueError(f"TransitionReplayBuffer: a chunk of {steps} steps does not fit in {self.capacity} "
                                 f"rows. Fix: raise replay_buffer_config.capacity above rollout_fragment_length.")
            self._write(_flatten(episode.get_observations()), np.asarray(episode.get_actions()),
                        np.asarray(episode.get_rewards(), np.float32), bool(episode.is_terminated))

    def _write(self, observations: dict[str, np.ndarray], actions: np.ndarray, rewards: np.ndarray,
               terminated: bool) -> None:
        steps = len(rewards)
        if self.observations is None:
            self.observations = {key: np.zeros((self.capacity,) + value.shape[1:], value.dtype)
                                 for key, value in observations.items()}
            self.actions = np.zeros((self.capacity,) + actions.shape[1:], actions.dtype)
        rows = np.arange(self.written, self.written + steps + 1)
        positions = rows % self.capacity
        for key, value in observations.items():
            self.observations[key][positions] = value[:steps + 1]
        self.actions[positions[:-1]] = actions
        self.rewards[positions[:-1]] = rewards
        self.rewards[positions[-1]] = 0.0
        self.chunk_end[positions] = rows[-1]
        self.terminated[positions] = terminated
        self.written += steps + 1
        self.transitions_added += steps

    # -- sampling ---------------------------------------------------------------------------------
    def sample(self, num_items: int = 32, *, n_step: int | tuple = 1, gamma: float = 0.99,
               **unused: Any) -> dict[str, Any]:
        """A train batch of ``num_items`` uniformly drawn transitions with ``n_step``-step returns
        (an int, or RLlib's ``(low, high)`` range drawn per batch)."""
        if len(self) == 0:
            raise ValueError("TransitionReplayBuffer: nothing to sample yet. Fix: add episodes first "
                             "(num_steps_sampled_before_learning_starts > 0).")
        if isinstance(n_step, (tuple, list)):
            n_step = int(self.rng.integers(n_step[0], n_step[1] + 1))
        rows = self._draw(int(num_items))
        positions = rows % self.capacity
        ahead = np.minimum(self.chunk_end[positions] - rows, int(n_step))  # >= 1 for a sampleable row
        discounts = gamma ** np.arange(int(n_step), dtype=np.float64)
        offsets = np.arange(int(n_step))
        window = (rows[:, None] + offsets[None, :]) % self.capacity
        inside = offsets[None, :] < ahead[:, None]
        returns = np.sum(np.where(inside, self.rewards[window], 0.0) * discounts[None, :], axis=1)
        following = (rows + ahead) % self.capacity
        terminateds = self.terminated[positions] & (rows + ahead == self.chunk_end[positions])
        self.transitions_sampled += len(rows)
        return {
            Columns.OBS: _unflatten({key: array[positions] for key, array in self.observations.items()}),
            Columns.NEXT_OBS: _unflatten({key: array[following] for key, array in self.observations.items()}),
            Columns.ACTIONS: self.actions[positions],
            Columns.REWARDS: returns.astype(np.float32),
            Columns.TERMINATEDS: terminateds,
            N_STEP: ahead.astype(np.float32),
            WEIGHTS: np.ones(len(rows), np.float32),
        }

    def _draw(self, count: int) -> np.ndarray:
        """``count`` global rows drawn uniformly among the stored transitions (closing rows redrawn)."""
        low = max(self.written - self.capacity, 0)
        chosen = np.empty(0, np.int64)
        while len(chosen) < count:
            rows = self.rng.integers(low, self.written, size=2 * (count - len(chosen)) + 4)
            positions = rows % self.capacity
            keep = self.chunk_end[positions] != rows  # closing rows hold no transition
            chosen = np.concatenate([chosen, rows[keep]])
        return chosen[:count]

    # -- metrics and checkpoints ------------------------------------------------------------------
    def get_metrics(self) -> dict[str, float]:
        return {"num_transitions": float(len(self)), "num_transitions_added_lifetime": float(self.transitions_added),
                "num_transitions_sampled_lifetime": float(self.transitions_sampled)}

    def get_state(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "observations": self.observations, "actions": self.actions,
                "rewards": self.rewards, "chunk_end": self.chunk_end, "terminated": self.terminated,
                "written": self.written, "transitions_added": self.transitions_added,
                "transitions_sampled": self.transitions_sampled}

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("capacity") != self.capacity:
            raise ValueError(f"TransitionReplayBuffer: the checkpoint's buffer holds {state.get('capacity')} rows, "
                             f"this one {self.capacity}. Fix: restore with the same replay_buffer_config.capacity.")
        for key in ("observations", "actions", "rewards", "chunk_end", "terminated", "written", "transitions_added",
                    "transitions_sampled"):
            setattr(self, key, state[key])
