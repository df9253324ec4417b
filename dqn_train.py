#!/usr/bin/env python3
"""Train the DQN example with RLlib (new API stack) through Ray Tune.

    python3 dqn_train.py dqn_example/dqn_config.yaml                 # train (embedded world by default)
    python3 dqn_train.py dqn_example/dqn_config.yaml --restore       # continue from the latest checkpoint
    ray submit dqn_example/dqn_autoscaler.yaml dqn_train.py -- dqn_example/dqn_config.yaml --auto

Checkpoints go to DIRECTORY/NAME/<trial>/checkpoint_NNNNNN every `run.checkpoint_frequency`
iterations and at the end; each also holds policy.pt, the greedy policy as TorchScript for
dqn_inference.py. Ctrl-C stops after the current iteration and saves a checkpoint first.

On a cluster (--auto) the algorithm (learner, replay buffer, checkpoint writes) stays on the head
node, next to the results folder; --runner-resource puts the env runners (and their simulators) on
the nodes that offer that custom Ray resource, such as the autoscaler's GPU spot workers.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

import ray
from ray import tune

import dqn_example
import rllib_integration
from dqn_example.dqn_callbacks import DQNCallbacks
from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration import ConfigError, load_env_config
from rllib_integration.training import (POLICY_FILE, build_algorithm_config, find_latest_checkpoint, place_on_cluster,
                                        prepare_results, run_settings, trainable)


class StopCriteria(tune.Stopper):
    """Stops at the configured criteria, or after the current iteration once interrupted (Ctrl-C),
    so the trial ends normally and its final checkpoint is written."""

    def __init__(self, criteria: dict[str, float]) -> None:
        self.criteria = criteria
        self.interrupted = False

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.interrupted or any(result.get(key, 0) >= value for key, value in self.criteria.items())

    def stop_all(self) -> bool:
        return False


class Progress(tune.Callback):
    """One line per iteration: env steps, return, distance, throughput and time left."""

    def __init__(self, criteria: dict[str, float]) -> None:
        self.criteria = criteria
        self.started = time.time()

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if "placement" in result:
            print(describe_placement(result["placement"]), flush=True)
        runners = result.get("env_runners", {})
        steps = result.get("num_env_steps_sampled_lifetime", 0)
        elapsed = result.get("time_total_s", 0.0)
        fractions = [result.get(key, 0) / value for key, value in self.criteria.items() if value]
        done = max(fractions) if fractions else 0.0
        eta = elapsed * (1.0 - done) / done if done > 0 else float("nan")
        distance = runners.get("carla/distance", float("nan"))
        rate = runners.get("num_env_steps_sampled", 0) / max(result.get("time_this_iter_s", 1e-9), 1e-9)
        evaluation = result.get("evaluation") or {}
        score = f" | route DS {evaluation['driving_score']:5.1f} RC {evaluation['route_completion']:5.1f}" \
            if "driving_score" in evaluation else ""
        print(f"iter {result.get('training_iteration', 0):4d} | env steps {int(steps):8d} | return "
              f"{runners.get('episode_return_mean', float('nan')):8.1f} | distance {distance:7.1f} m | "
              f"{rate:6.1f} steps/s | ETA {eta / 60:6.1f} min{score}", flush=True)

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        print(f"checkpoint: {checkpoint.path} (policy: {os.path.join(checkpoint.path, POLICY_FILE)})", flush=True)


def describe_placement(placement: dict) -> str:
    """One line naming the node (id prefix and IP) and pid of the algorithm and of each env runner."""
    def where(process: dict) -> str:
        return f"node {process['node_id'][:12]} ({process['ip']}, pid {process['pid']})"
    runners = "; ".join(f"env runner {index} on {where(runner)}"
                        for index, runner in sorted(placement["env_runners"].items(), key=lambda item: int(item[0])))
    return f"placement: algorithm on {where(placement['algorithm'])}" + (f"; {runners}" if runners else "")


def launch_tensorboard(logdir: str, host: str, port: int) -> None:
    """Serve TensorBoard for ``logdir`` from a background thread; a failure only warns."""
    try:
        from tensorboard import program
        board = program.TensorBoard()
        board.configure(argv=[None, "--logdir", logdir, "--host", host, "--port", str(port)])
        print(f"TensorBoard: {board.launch()}", flush=True)
    except Exception as error:  # TensorBoard is a convenience; training goes on without it
        logging.warning("TensorBoard did not start (%s); use --tboff to skip it", error)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help="training YAML (e.g. dqn_example/dqn_config.yaml)")
    parser.add_argument("-d", "--directory", default="~/ray_results/carla_rllib", help="results root folder")
    parser.add_argument("-n", "--name", default="dqn_example", help="experiment name (folder under --directory)")
    parser.add_argument("--restore", action="store_true", help="continue from the latest checkpoint of this experiment")
    parser.add_argument("--overwrite", action="store_true", help="delete this experiment's results first")
    parser.add_argument("--tboff", action="store_true", help="do not start TensorBoard")
    parser.add_argument("--tb-port", type=int, default=6006, help="TensorBoard port")
    parser.add_argument("--auto", action="store_true",
                        help="join the running Ray cluster (ray submit), ship rllib_integration and dqn_example "
                             "to its nodes, and serve TensorBoard on all interfaces")
    parser.add_argument("--runner-resource", default=os.environ.get("RLLIB_RUNNER_RESOURCE") or None,
                        help="custom Ray resource that every env runner needs one unit of, so that env runners "
                             "run only on the nodes offering it (dqn_autoscaler.yaml's GPU workers offer "
                             "'carla_worker' and its head exports RLLIB_RUNNER_RESOURCE=carla_worker); "
                             "default: $RLLIB_RUNNER_RESOURCE, else anywhere")
    parser.add_argument("--iterations", type=int, help="stop after this many iterations (overrides run.stop)")
    parser.add_argument("--env-steps", type=int, help="stop after this many env steps (overrides run.stop)")
    parser.add_argument("--time", type=float, help="stop after this many seconds (overrides run.stop)")
    parser.add_argument("--checkpoint-freq", type=int, help="checkpoint every N iterations (overrides run)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        data = load_env_config(args.configuration_file, default_experiment=DQNExperiment)
        config = place_on_cluster(build_algorithm_config(data, args.configuration_file, default_algorithm="DQN",
                                                         callbacks=DQNCallbacks), args.runner_resource)
        run = run_settings(data, args.configuration_file)
        overrides = {"training_iteration": args.iterations, "num_env_steps_sampled_lifetime": args.env_steps,
                     "time_total_s": args.time}
        criteria = {k: v for k, v in overrides.items() if v is not None} or dict(run["stop"])
        checkpoint = prepare_results(args.directory, args.name, args.restore, args.overwrite)
    except (ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    storage = os.path.abspath(os.path.expanduser(args.directory))
    if checkpoint:
        print(f"resuming from {checkpoint}", flush=True)
    if not args.tboff:
        launch_tensorboard(os.path.join(storage, args.name), "0.0.0.0" if args.auto else "localhost", args.tb_port)

    stopper = StopCriteria(criteria)
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum, frame):
        print("\ninterrupted: stopping after this iteration and saving a checkpoint "
              "(Ctrl-C again to abort)", flush=True)
        stopper.interrupted = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, interrupt)
    if args.auto:  # the nodes import the experiment and the library from the driver's copy
        ray.init(address="auto", runtime_env={"py_modules": [os.path.dirname(rllib_integration.__file__),
                                                              os.path.dirname(dqn_example.__file__)]})
    else:
        ray.init(include_dashboard=False)
    try:
        if args.runner_resource and not ray.cluster_resources().get(args.runner_resource):
            if not args.auto:
                print(f"error: --runner-resource {args.runner_resource}: no node of this Ray instance offers it, so "
                      f"no env runner could start. Fix: use it with --auto on a cluster whose workers offer it, or "
                      f"drop it (and unset RLLIB_RUNNER_RESOURCE).", file=sys.stderr)
                return 2
            print(f"env runners need the Ray resource '{args.runner_resource}', which no node offers yet: they "
                  f"start once a node with it joins (the autoscaler adds one)", flush=True)
        tuner = tune.Tuner(
            trainable(config.algo_class, restore=checkpoint), param_space=config,
            run_config=tune.RunConfig(
                name=args.name, storage_path=storage, stop=stopper, verbose=0, callbacks=[Progress(criteria)],
                sync_config=tune.SyncConfig(sync_artifacts=True),  # best_checkpoint (route evaluation) reaches the trial folder
                checkpoint_config=tune.CheckpointConfig(
                    checkpoint_frequency=args.checkpoint_freq or run["checkpoint_frequency"],
                    checkpoint_at_end=True, num_to_keep=run["checkpoints_to_keep"]),
                failure_config=tune.FailureConfig(max_failures=2)))
        results = tuner.fit()
        result = results[0]
        if result.error:
            print(f"error: training failed: {result.error}", file=sys.stderr)
            return 1
        latest = find_latest_checkpoint(os.path.join(storage, args.name))
        print(f"done: latest checkpoint {latest}\n      Ray-free policy {os.path.join(latest, POLICY_FILE)}")
        return 0
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
