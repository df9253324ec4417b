"""The training step of replay-buffer algorithms (DQN and its relatives): sampling overlapped with
learning, and train batches straight from :class:`~.replay.TransitionReplayBuffer`.

RLlib's DQN ``training_step`` samples from the env runners, waits, then learns: on a 2-core machine
one core idles while the other works. :class:`ReplayTraining` (mixed in before the algorithm class
by :func:`~.trainable.trainable`) runs each training step as:

1. collect: with ``run.overlap_sampling`` (the default) and remote env runners, wait for the samples
   requested by the previous step (one ``sample()`` request stays in flight on every runner while
   the learner works); otherwise sample now, as RLlib does; then add them to the buffer;
2. with overlapping, send the newest weights and ask for the next samples (an actor runs its calls
   in order, so the runner samples with those weights);
3. learn: as many replayed batches as RLlib's DQN would (``training_intensity``). A
   ``TransitionReplayBuffer`` hands the learner a ready batch; RLlib's episode buffers go through the
   learner connector, with prioritised-replay updates, as in RLlib.

The replay ratio (trained samples per sampled env step) is RLlib's. Overlapping adds a policy lag
of one training step to the samples, which off-policy learning does not mind.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from ray.rllib.algorithms.dqn.dqn import calculate_rr_weights
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (ALL_MODULES, ENV_RUNNER_RESULTS, ENV_RUNNER_SAMPLING_TIMER, LEARNER_RESULTS,
                                     LEARNER_UPDATE_TIMER, NUM_AGENT_STEPS_SAMPLED_LIFETIME,
                                     NUM_ENV_STEPS_SAMPLED_LIFETIME, REPLAY_BUFFER_ADD_DATA_TIMER,
                                     REPLAY_BUFFER_RESULTS, REPLAY_BUFFER_SAMPLE_TIMER,
                                     SYNCH_WORKER_WEIGHTS_TIMER, TD_ERROR_KEY, TIMERS)
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.replay_buffers.utils import update_priorities_in_episode_replay_buffer
from ray.rllib.utils.serialization import deserialize_type

from .replay import TransitionReplayBuffer

SAMPLE_TAG = "overlapped_sample"
#: Timer of the time the learner waited for samples (near zero when sampling is the faster side).
SAMPLE_WAIT_TIMER = "overlapped_sample_wait_timer"


def sample_with_metrics(runner: Any) -> tuple[list, dict]:
    """What each env runner does per overlapped request: its episodes and its metrics."""
    return runner.sample(), runner.get_metrics()


class ReplayTraining:
    """Mixed in before a replay-buffer algorithm class (one with ``local_replay_buffer``) on the new
    API stack; other algorithms keep their own ``training_step``."""

    overlap_sampling: bool = True

    def _create_local_replay_buffer_if_necessary(self, config: Any) -> Any:
        """RLlib's, except for a :class:`~.replay.TransitionReplayBuffer`, built here: RLlib resolves a
        dotted ``type`` to its class and then tests it as a string."""
        settings = dict(config.get("replay_buffer_config") or {})
        kind = settings.get("type")
        if isinstance(kind, str) and "." in kind:
            kind = deserialize_type(kind) or kind
        if isinstance(kind, type) and issubclass(kind, TransitionReplayBuffer):
            settings.pop("type")
            return kind(**settings)
        return super()._create_local_replay_buffer_if_necessary(config)

    def training_step(self) -> None:
        if getattr(self, "local_replay_buffer", None) is None:
            return super().training_step()
        runners = self.env_runner_group
        if self.overlap_sampling and runners is not None and runners.num_remote_env_runners() > 0:
            self._add(self._collect_requested())
            self._request_samples()
        else:
            self._add(self._sample_now())
        self._learn()
        return None

    # -- sampling ---------------------------------------------------------------------------------
    def _sample_now(self) -> list:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, metrics = synchronous_parallel_sample(
                worker_set=self.env_runner_group, concat=True, sample_timeout_s=self.config.sample_timeout_s,
                _uses_new_env_runners=True, _return_metrics=True)
        self.metrics.aggregate(metrics, key=ENV_RUNNER_RESULTS)
        return episodes

    def _collect_requested(self) -> list:
        runners = self.env_runner_group
        if not runners.num_in_flight_async_reqs(tag=SAMPLE_TAG):
            return []
        with self.metrics.log_time((TIMERS, SAMPLE_WAIT_TIMER)):
            ready = runners.fetch_ready_async_reqs(tags=SAMPLE_TAG, timeout_seconds=self.config.sample_timeout_s)
        if ready:
            self.metrics.aggregate([metrics for _, (_, metrics) in ready], key=ENV_RUNNER_RESULTS)
        return [episode for _, (episodes, _) in ready for episode in episodes]

    def _request_samples(self) -> None:
        runners = self.env_runner_group
        if getattr(self, "_weights_changed", False):
            with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                runners.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)
            self._weights_changed = False
        runners.foreach_env_runner_async(sample_with_metrics, tag=SAMPLE_TAG)

    def _add(self, episodes: list) -> None:
        if episodes:
            with self.metrics.log_time((TIMERS, REPLAY_BUFFER_ADD_DATA_TIMER)):
                self.local_replay_buffer.add(episodes)

    # -- learning ---------------------------------------------------------------------------------
    def _learn(self) -> None:
        sampled = self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        # (an empty buffer: the first step after a restore, whose samples are still on their way)
        if sampled < self.config.num_steps_sampled_before_learning_starts or len(self.local_replay_buffer) == 0:
            return
        timesteps = {NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled,
                     NUM_AGENT_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                         (ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME), default={})}
        buffer = self.local_replay_buffer
        fast = isinstance(buffer, TransitionReplayBuffer)
        for _ in range(calculate_rr_weights(self.config)[1]):
            with self.metrics.log_time((TIMERS, REPLAY_BUFFER_SAMPLE_TIMER)):
                data = self._replayed_batch() if fast else {"episodes": self._replayed_episodes()}
            with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
                results = self.learner_group.update(**data, timesteps=timesteps)
                td_errors = self._pop_td_errors(results)
                self.metrics.aggregate(results, key=LEARNER_RESULTS)
            if not fast:
                update_priorities_in_episode_replay_buffer(replay_buffer=buffer, td_errors=td_errors)
        if fast:
            for key, value in buffer.get_metrics().items():
                self.metrics.log_value((REPLAY_BUFFER_RESULTS, key), value, window=1)
        else:
            self.metrics.aggregate([buffer.get_metrics()], key=REPLAY_BUFFER_RESULTS)
        self._weights_changed = True

    def _replayed_batch(self) -> dict[str, MultiAgentBatch]:
        size = self.config.total_train_batch_size
        columns = self.local_replay_buffer.sample(num_items=size, n_step=self.config.n_step, gamma=self.config.gamma)
        return {"batch": MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(columns)}, env_steps=size)}

    def _replayed_episodes(self) -> list:
        stateful = bool(self._module_is_stateful)
        return self.local_replay_buffer.sample(
            num_items=self.config.total_train_batch_size, n_step=self.config.n_step,
            batch_length_T=stateful * self.config.model_config.get("max_seq_len", 0), lookback=int(stateful),
            min_batch_length_T=getattr(self.config, "burn_in_len", 0), gamma=self.config.gamma,
            beta=self.config.replay_buffer_config.get("beta"), sample_episodes=True)

    @staticmethod
    def _pop_td_errors(results: list[dict]) -> dict[str, dict[str, np.ndarray]]:
        """The update's TD errors (for prioritised replay), taken out of the results so that they are
        not logged."""
        errors: dict[str, list] = defaultdict(list)
        for result in results:
            for module_id, module_results in result.items():
                if module_id != ALL_MODULES and TD_ERROR_KEY in module_results:
                    errors[module_id].extend(convert_to_numpy(module_results.pop(TD_ERROR_KEY).peek()))
        return {module_id: {TD_ERROR_KEY: np.asarray(values)} for module_id, values in errors.items()}
