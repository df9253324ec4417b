#!/usr/bin/env python3
"""Record the autopilot driving, in a training configuration's own observations and actions, as RLlib
offline data (Parquet) for behaviour cloning.

    python3 collect_demonstrations.py ppo_example/ppo_traffic_config.yaml --steps 200000 --out demos/traffic

The evaluator's autopilot (lights, signs, traffic, walkers, lane obstacles: the reference that scores
DS 85-100 among traffic) drives routes drawn on the configuration's towns with its background traffic;
the configuration's experiment turns every step into a transition (its observation, the autopilot's
control as its action, its reward and episode ends), a Parquet file per route in --out as each route
ends, so an interrupted run keeps what it recorded and --append adds to it. Train on them with
``offline_data: {input_: [DIR]}`` and ``algorithm: MARWIL`` (or BC) in a training YAML.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

from tqdm import tqdm

from rllib_integration import ConfigError, SimulatorUnavailableError
from rllib_integration.arguments import non_negative_int, positive_float, positive_int
from rllib_integration.carla_env import resolve_experiment_class
from rllib_integration.config import load_yaml
from rllib_integration.console import quiet_ray_internals
from rllib_integration.embedded import UnknownTownError
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.evaluation import EvaluationSettings, evaluate
from rllib_integration.evaluation.demonstrations import METADATA, DemonstrationAgent, check_spaces, write_metadata
from rllib_integration.routes.planner import RoutePlanner
from rllib_integration.routes.route_sets import generate_routes

logger = logging.getLogger("collect_demonstrations")


def recorded_steps(folder: str) -> tuple[int, int]:
    """(transitions, route files) in ``folder``."""
    import pyarrow.parquet as pq
    files = [f for f in os.listdir(folder) if f.endswith(".parquet")]
    return sum(pq.read_metadata(os.path.join(folder, f)).num_rows for f in files), len(files)


def prepare_folder(folder: str, append: bool, experiment: object) -> None:
    """An empty (or new) folder, or with ``--append`` one holding demonstrations of the same spaces."""
    if os.path.isdir(folder) and os.listdir(folder):
        if not append:
            raise ConfigError(f"--out {folder}: the folder is not empty. Fix: give a new folder, or --append to add "
                              f"to the demonstrations recorded there.")
        check_spaces(folder, experiment, f"--append {folder}")
    os.makedirs(folder, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("configuration_file", help="training YAML whose env_config (experiment, sensors, towns, "
                        "background_activity) the demonstrations are recorded in")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the Parquet files and "
                        f"{METADATA}")
    parser.add_argument("--steps", type=positive_int, default=100_000, help="transitions to record in this run (whole "
                        "routes, two per worker at a time: the last ones end past it)")
    parser.add_argument("--towns", nargs="+", help="towns to drive on, in turn route by route (default: "
                        "the configuration's env_config.experiment.town)")
    parser.add_argument("--route-length", type=positive_float, nargs=2, default=(300.0, 1000.0),
                        metavar=("MIN", "MAX"), help="length range in metres of the routes drawn")
    parser.add_argument("--traffic", type=non_negative_int, help="background autopilot vehicles per route "
                        "(default: the configuration's background_activity.n_vehicles)")
    parser.add_argument("--walkers", type=non_negative_int, help="walkers per route (default: the configuration's "
                        "background_activity.n_walkers)")
    parser.add_argument("--route-seed", type=non_negative_int, default=5000, help="seed of the routes drawn (keep "
                        "it apart from the evaluation's route seeds)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the traffic and walkers")
    parser.add_argument("--workers", type=positive_int, default=1, help="routes driven in parallel, one "
                        "simulator each")
    parser.add_argument("--policy", metavar="POLICY", help="DAgger: a policy (policy.onnx or a checkpoint) trained on "
                        "earlier demonstrations takes turns with the autopilot, which is recorded recovering from where "
                        "the policy left the hero (use with --append)")
    parser.add_argument("--policy-share", type=float, default=0.5, help="with --policy, the share of time the policy "
                        "drives (0-0.9)")
    parser.add_argument("--standing-share", type=float, default=0.1, help="the share of the steps the autopilot "
                        "stands still (at lights, in queues: a third of all among traffic) that are recorded; every "
                        "step it drives off is, so a cloned policy learns when to go, not that standing cars stand")
    parser.add_argument("--append", action="store_true", help="add to the demonstrations already in --out "
                        "(recorded with the same spaces)")
    parser.add_argument("-v", "--verbose", action="store_true", help="the project's debug messages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("rllib_integration", "collect_demonstrations", "evaluate"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    for noisy in ("rllib_integration.simulators", "rllib_integration.embedded", "evaluate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_ray_internals()
    try:
        env_config = load_yaml(args.configuration_file).get("env_config") or {}
        experiment_config = dict(env_config.get("experiment") or {})
        experiment = resolve_experiment_class(experiment_config.get("type"))(experiment_config)
        background = experiment.config.get("background_activity") or {}
        towns = args.towns or experiment.config["town"]
        towns = [towns] if isinstance(towns, str) else list(towns)
        planners = {town: RoutePlanner(load_map(*resolve_town(town))) for town in towns}
        prepare_folder(args.out, args.append, experiment)
        agent_config = {"folder": os.path.abspath(args.out), "seed": args.seed, "policy_share": args.policy_share,
                        "standing_share": args.standing_share,
                        **({"policy": os.path.abspath(args.policy)} if args.policy else {})}
        settings = EvaluationSettings(agent="demonstrations", agent_class=DemonstrationAgent, agent_config=agent_config,
                                      env_config=env_config, seed=args.seed,
                                      traffic=background.get("n_vehicles", 0) if args.traffic is None else args.traffic,
                                      walkers=background.get("n_walkers", 0) if args.walkers is None else args.walkers)
        settings.make_agent()  # bad agent settings: an error now, before any driving
    except (ConfigError, UnknownTownError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    steps, files = recorded_steps(args.out)
    goal = steps + args.steps  # --append: this many more
    logger.info("recording %d transitions of %s on %s (%d vehicles, %d walkers, %d worker%s) into %s",
                args.steps, experiment_config.get("type"), ", ".join(towns), settings.traffic, settings.walkers,
                args.workers, "s" if args.workers > 1 else "", args.out)
    bar = tqdm(total=goal, initial=steps, unit="step", file=sys.stderr, dynamic_ncols=True,
               disable=not sys.stderr.isatty())
    started, scores, batch = time.perf_counter(), [], files  # appended runs draw new routes
    signal.signal(signal.SIGTERM, _interrupt)  # a kill -TERM ends the run as a Ctrl-C does: what is done is kept
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even where the shell started it ignored

    def on_record(record: dict) -> None:
        scores.append(record["scores"]["score_composed"])
        now, _ = recorded_steps(args.out)
        bar.update(min(now, goal) - bar.n)
        line = (f"route {record['route_id']}: DS {record['scores']['score_composed']:5.1f}  {record['status']}  "
                f"{now} transitions")
        if bar.disable:
            logger.info(line)
        else:
            bar.write(line, file=sys.stderr)

    try:
        while steps < goal:
            routes = []
            for i in range(2 * args.workers):  # a round: two routes a worker, the towns in turn over the rounds
                town = towns[(batch * 2 * args.workers + i) % len(towns)]
                drawn = generate_routes(planners[town], town, 1, seed=args.route_seed + 7919 * batch + 104729 * i,
                                        min_length=args.route_length[0], max_length=args.route_length[1])
                routes += [type(r)(f"{os.path.basename(str(town)).split('.')[0]}_{batch}_{i}", r.town, r.waypoints,
                                   r.yaws) for r in drawn]
            batch += 1
            evaluate(routes, settings, args.workers, on_record=on_record)
            steps, _ = recorded_steps(args.out)
    except KeyboardInterrupt:
        logger.info("interrupted: the routes that ended are kept")
    except (ConfigError, SimulatorUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        steps, files = recorded_steps(args.out)
        write_metadata(args.out, experiment, {"transitions": steps, "routes": files, "towns": towns,
                                              "traffic": settings.traffic, "walkers": settings.walkers,
                                              "route_length": list(args.route_length)})
    elapsed = time.perf_counter() - started
    mean = sum(scores) / len(scores) if scores else float("nan")
    logger.info("%d transitions in %d route files (%s); this run: %d routes, autopilot mean DS %.1f, %.0f s",
                steps, files, args.out, len(scores), mean, elapsed)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
