"""What the training scripts (``dqn_train.py``, ``ppo_train.py``) share once their flags are parsed
(:mod:`rllib_integration.training_cli`): the progress line, TensorBoard, Ctrl-C handling, optional MLflow
tracking and the Tune run itself.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import math
import os
import shutil
import signal
import sys
import time
from typing import Any, Iterator

import ray
from ray import tune
from ray.rllib.core import DEFAULT_MODULE_ID

import rllib_integration

from ..carla_env import load_env_config, resolve_experiment_class
from ..common.import_path import import_object
from ..common.runtime import runtime_dir
from ..errors import ConfigError
from ..live import LiveServer, start_live
from ..console import chatter_to, chatter_to_file, console, setup_console
from ..training_cli import TRAINING_LOG, TrainingScript
from .algorithm_config import build_algorithm_config, place_on_cluster, run_settings
from ..inference.policy import POLICY_FILE
from .preflight import preflight
from .results import (BEST, LATEST, checkpoint_iteration, find_latest_checkpoint, initial_weights, point_to,
                      prepare_results, remove_failed_start)
from .trainable import BEST_CHECKPOINT, trainable

#: Env-runner metrics the progress line shows when the experiment logs them: (key, label, unit).
PROGRESS_METRICS = (("carla/route_completion", "RC", "%"), ("carla/distance", "distance", "m"))


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
    """A line per iteration (the first :data:`FIRST_LINES`, then at most one every :data:`LINE_PERIOD`
    seconds, every one with a route evaluation, and the last): env steps, return, the experiment's headline
    metric, throughput, time left and, with route evaluation, the driving score; the trial folder a run
    writes to; each checkpoint with its iteration, pointed at by ``EXPERIMENT/latest`` (and
    ``EXPERIMENT/best``: the best route driving score's checkpoint), see :func:`~.results.point_to`.
    The period keeps a 30-minute run's terminal short however fast iterations come (a 2-core machine
    ran 3 s iterations: a line each made 557 lines in 30 minutes)."""

    FIRST_LINES = 5
    LINE_PERIOD = 10.0  # seconds

    def __init__(self, criteria: dict[str, float], experiment: str) -> None:
        self.criteria = criteria
        self.experiment = experiment
        self.live: LiveServer | None = None  # the live view's curve, with --live
        self.lines, self.last_line, self.pending = 0, 0.0, ""

    def __getstate__(self) -> dict:
        """Tune pickles its callbacks with the experiment's state; the live view's server stays here."""
        return {**self.__dict__, "live": None}

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        console.info(f"writing to {trial.path}")

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if "placement" in result:
            console.info(describe_placement(result["placement"]))
        runners = result.get("env_runners", {})
        steps = result.get("num_env_steps_sampled_lifetime", 0)
        elapsed = result.get("time_total_s", 0.0)
        fractions = [result.get(key, 0) / value for key, value in self.criteria.items() if value]
        done = max(fractions) if fractions else 0.0
        eta = max(elapsed * (1.0 - done) / done, 0.0) if done > 0 else float("nan")  # (the last iteration overruns)
        key, label, unit = next((m for m in PROGRESS_METRICS if m[0] in runners), PROGRESS_METRICS[-1])
        evaluation = result.get("evaluation") or {}
        score = f" | route DS {evaluation['driving_score']:5.1f} RC {evaluation['route_completion']:5.1f}" \
            if "driving_score" in evaluation else ""
        iteration, seconds = result.get("training_iteration", 0), max(result.get("time_this_iter_s", 1e-9), 1e-9)
        if not runners and "learners" in result:  # offline (MARWIL, BC): no sampling, the demonstrations learnt
            learned = result["learners"].get(DEFAULT_MODULE_ID) or {}
            line = (f"iter {iteration:4d} | samples trained {int(learned.get('num_module_steps_trained_lifetime', 0)):9d}"
                    f" | policy loss {learned.get('policy_loss', float('nan')):8.4f} | "
                    f"{learned.get('num_module_steps_trained', 0) / seconds:6.0f} samples/s | ETA {eta / 60:6.1f} min{score}")
        else:
            line = (f"iter {iteration:4d} | env steps {int(steps):8d} | return "
                    f"{runners.get('episode_return_mean', float('nan')):8.1f} | {label} {runners.get(key, float('nan')):7.1f} "
                    f"{unit} | {runners.get('num_env_steps_sampled', 0) / seconds:6.1f} steps/s | ETA {eta / 60:6.1f} "
                    f"min{score}")
        now = time.monotonic()
        if self.lines < self.FIRST_LINES or score or now - self.last_line >= self.LINE_PERIOD:
            console.info(line)
            self.lines, self.last_line, self.pending = self.lines + 1, now, ""
        else:
            self.pending = line  # shown if it turns out to be the last
        if self.live is not None:
            point = {"x": float(steps), "x_label": "env steps", "return": runners.get("episode_return_mean"),
                     label: runners.get(key)}
            if "driving_score" in evaluation:
                point["route DS"] = evaluation["driving_score"]
            self.live.add_point({k: v for k, v in point.items() if v is not None})

    def _show_pending(self) -> None:
        """The last iteration's line, if the period held it back (before its checkpoint, at the end)."""
        if self.pending:
            console.info(self.pending)
            self.pending = ""

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._show_pending()

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        self._show_pending()
        done = (trial.last_result or {}).get("training_iteration", "?")
        point_to(self.experiment, LATEST, checkpoint.path, done)
        best = os.path.join(trial.path, BEST_CHECKPOINT)
        if os.path.isdir(best):
            point_to(self.experiment, BEST, best, json.load(open(os.path.join(best, "best.json"))).get(
                "training_iteration", "?"))
        console.info(f"checkpoint of iteration {done}: {checkpoint.path} (policy: "
                     f"{os.path.join(checkpoint.path, POLICY_FILE)}; {os.path.join(self.experiment, LATEST)} points "
                     f"to it)")


def describe_placement(placement: dict) -> str:
    """One line naming the node (id prefix and IP) and pid of the algorithm and of each env runner."""
    def where(process: dict) -> str:
        return f"node {process['node_id'][:12]} ({process['ip']}, pid {process['pid']})"
    runners = "; ".join(f"env runner {index} on {where(runner)}"
                        for index, runner in sorted(placement["env_runners"].items(), key=lambda item: int(item[0])))
    return f"placement: algorithm on {where(placement['algorithm'])}" + (f"; {runners}" if runners else "")


def launch_tensorboard(logdir: str, host: str, port: int) -> None:
    """Serve TensorBoard for ``logdir`` from a background thread; a failure only warns. Its data server (a
    process of its own, writing to the standard error it inherits, verbose when TensorBoard's logger takes
    INFO) starts quiet, its standard error the run's log file when the terminal is kept for the project's
    lines."""
    try:
        from tensorboard import program
        board = program.TensorBoard()
        board.configure(argv=[None, "--logdir", logdir, "--host", host, "--port", str(port)])
        tensorboard_log = logging.getLogger("tensorboard")
        level = tensorboard_log.level
        tensorboard_log.setLevel(logging.WARNING)  # the data server without --verbose
        try:
            with children_write_to(sys.stderr):
                url = board.launch()
        finally:
            tensorboard_log.setLevel(level)
        console.info(f"TensorBoard: {url}")
    except Exception as error:  # TensorBoard is a convenience; training goes on without it
        logging.warning("TensorBoard did not start (%s); use --tboff to skip it", error)


@contextlib.contextmanager
def children_write_to(stream: Any) -> Iterator[None]:
    """Within the block, processes started inherit ``stream`` as their standard error (file descriptor 2)
    when it is a file other than the terminal's (the run's log file)."""
    try:
        target = stream.fileno()
    except (AttributeError, OSError, ValueError):
        target = 2
    if target == 2:
        yield
        return
    saved = os.dup(2)
    os.dup2(target, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def mlflow_callback(uri: str, experiment: str, config_file: str) -> tune.Callback:
    """Ray Tune's MLflow logger: the trial's parameters and every iteration's metrics in the MLflow tracking
    store at ``uri`` (``file:///path``, ``sqlite:///mlflow.db``, ``http://host:5000``...), and each checkpoint
    as artifacts of the run (``checkpoint_NNNNNN/``, with its ``policy.onnx``)."""
    try:
        from mlflow.tracking import MlflowClient
        from ray.air.integrations.mlflow import MLflowLoggerCallback
    except ImportError:
        raise ConfigError("--mlflow-uri needs MLflow. Fix: pip install mlflow-skinny (or mlflow).") from None
    if uri.startswith("file:") or "://" not in uri:  # MLflow 3 keeps file stores behind this switch
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

    class MLflowTracking(MLflowLoggerCallback):
        """Ray's callback, plus the checkpoints (Tune writes them straight to the results folder, which Ray's
        end-of-trial artifact upload does not see)."""

        def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
            client = MlflowClient(tracking_uri=self.tracking_uri)
            found = client.get_experiment_by_name(self.experiment_name)
            runs = client.search_runs([found.experiment_id], filter_string=f"tags.trial_name = '{trial}'") \
                if found is not None else []
            if runs:
                client.log_artifacts(runs[0].info.run_id, checkpoint.path, os.path.basename(checkpoint.path))

    return MLflowTracking(tracking_uri=uri, experiment_name=experiment, save_artifact=True,
                          tags={"config_file": os.path.abspath(config_file)})


def train(script: TrainingScript, args: argparse.Namespace) -> int:
    """Train through Tune as the parsed flags ``args`` say; the exit status (0 done, 1 failed, 2 bad input)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    setup_console()
    early = io.StringIO()  # what Ray says while the configuration is checked: the log file's start
    with contextlib.nullcontext() if args.verbose else chatter_to(early):
        prepared = _prepare(args, script)
    if isinstance(prepared, int):
        return prepared
    data, config, run, criteria, callbacks, checkpoint, storage = prepared
    if checkpoint:
        console.info(f"resuming from {checkpoint} (iteration {checkpoint_iteration(checkpoint)}); the run goes on "
                     f"in a new trial folder of {os.path.join(storage, args.name)}")
    live = None
    if args.live:
        try:
            live = start_live(args.live, f"training {args.name}")
        except OSError as error:
            console.error(str(error))
            return 2
        callbacks[0].live = live
        console.info(f"live view: {live.url}")
    log = os.path.join(storage, args.name, TRAINING_LOG)
    if not args.verbose:
        console.info(f"results: {os.path.join(storage, args.name)} (Ray's and TensorBoard's messages: {log})")
    with contextlib.nullcontext() if args.verbose else chatter_to_file(log, early.getvalue()):
        return _run(args, script, config, run, criteria, callbacks, checkpoint, storage)


def _prepare(args: argparse.Namespace, script: TrainingScript) -> tuple | int:
    """The checked configuration and the results folder: (data, config, run, criteria, callbacks, checkpoint,
    storage), or the exit status of bad input."""
    try:
        data = load_env_config(args.configuration_file,
                               default_experiment=resolve_experiment_class(script.default_experiment),
                               settings=args.set)
        if args.init_from:
            data["run"] = {**(data.get("run") or {}), "init_from": args.init_from}
        config = place_on_cluster(build_algorithm_config(data, args.configuration_file,
                                                         default_algorithm=script.default_algorithm,
                                                         callbacks=script.callbacks and import_object(script.callbacks)), args.runner_resource)
        run = run_settings(data, args.configuration_file)
        preflight(data, args.configuration_file, config)
        overrides = {"training_iteration": args.iterations, "num_env_steps_sampled_lifetime": args.env_steps,
                     "time_total_s": args.time}
        criteria = {k: v for k, v in overrides.items() if v is not None} or dict(run["stop"])
        storage = os.path.abspath(os.path.expanduser(args.directory))
        callbacks: list[tune.Callback] = [Progress(criteria, os.path.join(storage, args.name))]
        if args.mlflow_uri:
            callbacks.append(mlflow_callback(args.mlflow_uri, args.name, args.configuration_file))
        checkpoint = prepare_results(args.directory, args.name, args.restore, args.overwrite)
    except (ConfigError, FileNotFoundError) as error:
        console.error(f"{error}")
        return 2
    except ValueError as error:  # RLlib's own checks of the config, raised while it is built
        console.error(f"{args.configuration_file}: RLlib rejects the configuration: {error}")
        return 2
    return data, config, run, criteria, callbacks, checkpoint, storage


def _run(args: argparse.Namespace, script: TrainingScript, config: Any, run: dict, criteria: dict,
         callbacks: list, checkpoint: str | None, storage: str) -> int:
    if not args.tboff:
        # localhost only, also on a cluster's head: reach it through an SSH tunnel (README, Training on AWS)
        launch_tensorboard(os.path.join(storage, args.name), "localhost", args.tb_port)

    stopper = StopCriteria(criteria)
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum, frame):
        console.info("\ninterrupted: stopping after this iteration and saving a checkpoint "
              "(Ctrl-C again to abort)")
        stopper.interrupted = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, interrupt)
    # Every Ray worker drops RLlib's note about its own internal use of a deprecated class (console.py): the
    # algorithm's process and the env runners drop it themselves (trainable.py, callbacks.py); remote learners, which
    # run none of this library's code before they build their network, through Ray's setup hook. That hook is a
    # runtime environment, which Ray's prestarted workers lack: with it, every worker of the run is started anew
    # (2.4-2.8 s later and 4-5 s more CPU until an algorithm and one env runner answer, 2-core machine:
    # benchmarks/ray_start.py).
    quiet = {"worker_process_setup_hook": "rllib_integration.console.quiet_ray_internals"}
    if args.auto:  # the nodes import the experiment and the library from the driver's copy
        ray.init(address="auto", runtime_env={**quiet, "py_modules": [
            os.path.dirname(rllib_integration.__file__), os.path.dirname(importlib.import_module(script.example_package).__file__)]},
                 log_to_driver=True)
    else:  # the workers' output: the log file unless --verbose
        error = start_local_ray(quiet if config.num_learners else None)
        if error is not None:
            signal.signal(signal.SIGINT, previous)
            console.error(f"Ray could not start on this machine: {error} (tried twice). Fix: run the command again "
                          "(nothing was trained); Ray's own logs are under /tmp/ray/session_latest/logs")
            return 1
    try:
        return _fit(args, config, run, stopper, callbacks, checkpoint, storage)
    finally:
        ray.shutdown()


def start_local_ray(runtime_env: dict | None, attempts: int = 2) -> Exception | None:
    """Start a local Ray instance, trying again once where its start fails (seen on loaded 2-core machines: the
    GCS server, or the raylet's registration, not up within Ray's timeout; Ray raises a plain ``Exception`` for
    the latter); returns the last failure, or None once started."""
    failure: Exception | None = None
    for attempt in range(attempts):
        try:
            ray.init(include_dashboard=False, log_to_driver=True, runtime_env=runtime_env)
            return None
        except Exception as error:  # noqa: BLE001 - Ray's start failures have no class of their own
            failure = error
            ray.shutdown()
            if attempt + 1 < attempts:
                console.info(f"Ray did not start ({error}); trying again")
    return failure


def resources_missing(config: Any, offered: dict[str, float]) -> str | None:
    """Why the run could never start on this Ray instance (it asks for more CPUs or GPUs than all its nodes offer:
    Ray's tuner would wait for ever, saying so only in its log), or None."""
    wanted = config.algo_class.default_resource_request(config).required_resources
    runners = config.num_env_runners
    for kind, key in (("CPU", "CPUs"), ("GPU", "GPUs")):
        needed, there = float(wanted.get(kind, 0.0)), float(offered.get(kind, 0.0))
        if needed <= there:
            continue
        fix = "fewer env_runners.num_env_runners"
        if kind == "GPU":
            fix += ", or no GPU (learners.num_gpus_per_learner: 0, env_runners.num_gpus_per_env_runner: 0)"
        elif runners:  # the runners' share of what the learner leaves, so that several share a core
            share = math.floor((there - (needed - runners * config.num_cpus_per_env_runner)) / runners * 10.0) / 10.0
            if share > 0.0:
                fix += f", or a share of a core each (env_runners.num_cpus_per_env_runner: {share:g})"
        return (f"the run asks for {needed:g} {key} (its learner's and {runners} env runners' requests), and this "
                f"machine offers {there:g}: it would wait for them for ever. Fix: {fix}.")
    return None


def _fit(args: argparse.Namespace, config: Any, run: dict, stopper: StopCriteria, callbacks: list,
         checkpoint: str | None, storage: str) -> int:
    if args.runner_resource and not ray.cluster_resources().get(args.runner_resource):
        if not args.auto:
            console.error(f"--runner-resource {args.runner_resource}: no node of this Ray instance offers it, so "
                          f"no env runner could start. Fix: use it with --auto on a cluster whose workers offer it, "
                          f"or drop it (and unset RLLIB_RUNNER_RESOURCE).")
            return 2
        console.info(f"env runners need the Ray resource '{args.runner_resource}', which no node offers yet: they "
                     f"start once a node with it joins (the autoscaler adds one)")
    if not args.auto:
        error = resources_missing(config, ray.cluster_resources())
        if error is not None:
            console.error(error)
            return 2
    tuner = tune.Tuner(
        trainable(config.algo_class, restore=checkpoint, overlap_sampling=run["overlap_sampling"],
                  init_from=initial_weights(run["init_from"], args.configuration_file) if run["init_from"] else None,
                  learner_threads=run["learner_threads"]),
        param_space=config,
        run_config=tune.RunConfig(
            name=args.name, storage_path=storage, stop=stopper, verbose=0, callbacks=callbacks,
            sync_config=tune.SyncConfig(sync_artifacts=True),  # best_checkpoint (route evaluation) reaches the trial folder
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=args.checkpoint_freq or run["checkpoint_frequency"],
                checkpoint_at_end=True, num_to_keep=run["checkpoints_to_keep"]),
            failure_config=tune.FailureConfig(max_failures=2)))
    result = tuner.fit()[0]
    if result.error:
        console.error(f"training failed: {result.error}")
        folder = os.path.join(storage, args.name)
        log = os.path.join(folder, TRAINING_LOG)
        kept = os.path.join(runtime_dir(), f"failed_start_{args.name}.log")
        if not checkpoint and os.path.isfile(log):
            shutil.copyfile(log, kept)
        if not checkpoint and remove_failed_start(folder):
            console.error(f"no checkpoint was written, so the results folder {folder} was removed (rerun once fixed); "
                          f"its log: {kept}")
        return 1
    latest = find_latest_checkpoint(os.path.join(storage, args.name))
    console.info(f"done: latest checkpoint {latest}\n      Ray-free policy {os.path.join(latest, POLICY_FILE)}")
    return 0
