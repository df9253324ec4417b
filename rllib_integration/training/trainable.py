"""The Tune trainable of any RLlib algorithm: exports the greedy policy into every checkpoint, reports
where its processes run, and can start from a checkpoint.

:func:`trainable` builds the class Tune runs: ``Exporting<Algorithm>`` writes ``policy.onnx``
(:func:`~.policy.export_policy`) and ``training_progress.json`` (the iteration and env steps it was
taken at) into every checkpoint, puts ``result["placement"]`` (node id, IP and pid
of the ``algorithm`` and of each remote env runner under ``env_runners`` by index) into the first
iteration's result and, given a checkpoint, restores it before training. With route evaluation
(:mod:`.route_evaluation`) it also keeps the checkpoint of the best driving score in
``<trial>/best_checkpoint`` (with ``best.json``: the score and the iteration), beside Tune's latest ones.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import ray
import torch
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE

from ..console import quiet_ray_internals
from .replay_training import ReplayTraining
from ..inference.checkpoints import PROGRESS_FILE
from ..inference.policy import POLICY_FILE
from .policy import export_policy
from .results import saved_module
from .route_evaluation import DRIVING_SCORE, RouteEvaluation

BEST_CHECKPOINT = "best_checkpoint"  # folder in the trial directory: the best route driving score so far
PROGRESS_KEYS = ("num_env_steps_sampled_lifetime",)
#: The learner's RLModule inside an algorithm checkpoint, as ``Algorithm.restore_from_path`` names components.
MODULE_COMPONENT = f"{COMPONENT_LEARNER_GROUP}/{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}"


def process_location() -> dict[str, str]:
    """Node id, node IP and pid of the calling Ray process (strings, so result loggers skip them)."""
    return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
            "pid": str(os.getpid())}


class ExportingAlgorithm(Algorithm):
    """Mixed in before an RLlib algorithm class by :func:`trainable`."""

    restore_path: str | None = None
    init_from: str | None = None  # an RLModule folder whose weights a new run starts from
    learner_threads: int | None = None  # torch threads of this process (None: Ray's choice)

    def setup(self, config: Any) -> None:
        quiet_ray_internals()  # before this process builds its learner's (and its local env runner's) network
        if self.learner_threads:
            torch.set_num_threads(self.learner_threads)
        super().setup(config)
        if self.restore_path:
            self.restore_from_path(self.restore_path)
        elif self.init_from:
            self.restore_from_path(self.init_from, component=MODULE_COMPONENT)
        runners = self.env_runner_group
        where = runners.foreach_env_runner(lambda runner: process_location(), local_env_runner=False) \
            if runners is not None and runners.num_remote_env_runners() else []
        self._best_score = float("-inf")
        self._placement: dict[str, Any] | None = {
            "algorithm": process_location(), "env_runners": {str(i): w for i, w in enumerate(where, start=1)}}

    def step(self) -> dict:
        result = super().step()
        route_evaluation = self.config.custom_evaluation_function
        if isinstance(route_evaluation, RouteEvaluation) and route_evaluation.due(self.iteration + 1):
            result["evaluation"] = self.evaluate()
        if self._placement is not None:
            result["placement"], self._placement = self._placement, None
        self._last_progress = {key: result[key] for key in PROGRESS_KEYS if key in result}
        score = (result.get("evaluation") or {}).get(DRIVING_SCORE)
        if score is not None and score >= self._best_score:  # a tie goes to the later, longer-trained policy
            self._best_score = score
            self.save_best(score, result.get("training_iteration", self.iteration + 1))
        return result

    def evaluate(self, parallel_train_future: Any = None) -> dict:
        """Route evaluation (:mod:`.route_evaluation`) when configured, else RLlib's."""
        function = self.config.custom_evaluation_function
        if isinstance(function, RouteEvaluation):
            metrics, _, _ = function(self)
            return metrics
        return super().evaluate(parallel_train_future=parallel_train_future)

    def save_best(self, score: float, iteration: int) -> str:
        """Write the checkpoint of the best route driving score so far to ``best_checkpoint`` in the
        trial's working folder (Tune copies it to the trial folder with ``SyncConfig(sync_artifacts=True)``);
        it is replaced as a whole: a crash while writing leaves the previous best intact."""
        final = os.path.join(self.logdir, BEST_CHECKPOINT)
        partial = final + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.save_to_path(partial)
        self._export_saved_policy(partial, os.path.join(partial, POLICY_FILE))
        with open(os.path.join(partial, "best.json"), "w") as stream:
            json.dump({DRIVING_SCORE: score, "training_iteration": iteration}, stream)
        previous = final + ".previous"
        shutil.rmtree(previous, ignore_errors=True)
        if os.path.isdir(final):
            os.replace(final, previous)
        os.replace(partial, final)
        shutil.rmtree(previous, ignore_errors=True)
        return final

    def _export_saved_policy(self, checkpoint_dir: str, path: str) -> None:
        """Export the policy module saved in ``checkpoint_dir`` (the learner's weights) to ONNX at ``path``;
        not the env runner's module (``get_module``), whose weights lag the learner's by the updates since the
        last weight sync."""
        export_policy(saved_module(checkpoint_dir), self.config, path)

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        super().save_checkpoint(checkpoint_dir)
        # Each file is written under a temporary name and renamed, the progress file last: a crash while
        # writing never leaves a half-written file under its real name (restores check checkpoints).
        policy = os.path.join(checkpoint_dir, POLICY_FILE)
        self._export_saved_policy(checkpoint_dir, policy + ".partial")
        os.replace(policy + ".partial", policy)
        progress = os.path.join(checkpoint_dir, PROGRESS_FILE)
        with open(progress + ".partial", "w") as stream:
            json.dump({"training_iteration": self.iteration, **getattr(self, "_last_progress", {})}, stream)
        os.replace(progress + ".partial", progress)


def trainable(algorithm_class: type[Algorithm], restore: str | None = None, overlap_sampling: bool = True,
              init_from: str | None = None, learner_threads: int | None = None) -> type[Algorithm]:
    """``Exporting<Algorithm>``: ``algorithm_class`` that exports its policy at every checkpoint and,
    with ``restore``, starts from that checkpoint (with ``init_from``, an RLModule folder of
    :func:`~.algorithm_config.initial_weights`, from those network weights only). A replay-buffer algorithm trains through
    :class:`~.replay_training.ReplayTraining` (sampling overlapped with learning unless
    ``overlap_sampling`` is false); ``learner_threads``: torch's threads in the algorithm's process."""
    return type(f"Exporting{algorithm_class.__name__}", (ExportingAlgorithm, ReplayTraining, algorithm_class),
                {"restore_path": os.path.abspath(restore) if restore else None, "overlap_sampling": overlap_sampling,
                 "init_from": init_from, "learner_threads": learner_threads})
