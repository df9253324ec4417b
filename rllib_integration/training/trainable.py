"""The Tune trainable of any RLlib algorithm: exports the greedy policy into every checkpoint, reports
where its processes run, and can start from a checkpoint.

:func:`trainable` builds the class Tune runs: ``Exporting<Algorithm>`` writes ``policy.pt``
(:func:`~.policy.export_policy`) into every checkpoint, puts ``result["placement"]`` (node id, IP and pid
of the ``algorithm`` and of each remote env runner under ``env_runners`` by index) into the first
iteration's result and, given a checkpoint, restores it before training.
"""

from __future__ import annotations

import os
from typing import Any

import ray
from ray.rllib.algorithms.algorithm import Algorithm

from .policy import POLICY_FILE, export_policy


def process_location() -> dict[str, str]:
    """Node id, node IP and pid of the calling Ray process (strings, so result loggers skip them)."""
    return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
            "pid": str(os.getpid())}


class ExportingAlgorithm(Algorithm):
    """Mixed in before an RLlib algorithm class by :func:`trainable`."""

    restore_path: str | None = None

    def setup(self, config: Any) -> None:
        super().setup(config)
        if self.restore_path:
            self.restore_from_path(self.restore_path)
        runners = self.env_runner_group
        where = runners.foreach_env_runner(lambda runner: process_location(), local_env_runner=False) \
            if runners is not None and runners.num_remote_env_runners() else []
        self._placement: dict[str, Any] | None = {
            "algorithm": process_location(), "env_runners": {str(i): w for i, w in enumerate(where, start=1)}}

    def step(self) -> dict:
        result = super().step()
        if self._placement is not None:
            result["placement"], self._placement = self._placement, None
        return result

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        super().save_checkpoint(checkpoint_dir)
        export_policy(self.get_module(), self.config, os.path.join(checkpoint_dir, POLICY_FILE))


def trainable(algorithm_class: type[Algorithm], restore: str | None = None) -> type[Algorithm]:
    """``Exporting<Algorithm>``: ``algorithm_class`` that exports its policy at every checkpoint and,
    with ``restore``, starts from that checkpoint."""
    return type(f"Exporting{algorithm_class.__name__}", (ExportingAlgorithm, algorithm_class),
                {"restore_path": os.path.abspath(restore) if restore else None})
