#!/usr/bin/env python3
"""What a training run pays for Ray before it trains: a local Ray start, then actors as many as a run's algorithm
and env runners, with and without a job-wide runtime environment (``dqn_train.py`` and ``ppo_train.py`` set one only
for remote learners and ``--auto``: with one, Ray's prestarted workers go unused and every worker starts anew).

    python3 benchmarks/ray_start.py --actors 2 --rounds 2

Each row is one Ray start in this process's child: seconds to ``ray.init``, seconds until every actor answered,
and the CPU seconds of all Ray's processes by then (its daemons, its agents and the workers).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

#: The training scripts' runtime environment where they set one (rllib_integration/training/launcher.py).
SETUP_HOOK = {"worker_process_setup_hook": "rllib_integration.console.quiet_ray_internals"}

CHILD = """
import json, sys, time
import psutil, ray
actors, runtime_env = int(sys.argv[1]), json.loads(sys.argv[2])
started = time.perf_counter()
ray.init(include_dashboard=False, runtime_env=runtime_env or None)
up = time.perf_counter()

@ray.remote
class Probe:
    def ping(self):
        return 1

probes = [Probe.remote() for _ in range(actors)]
ray.get([probe.ping.remote() for probe in probes])
answered = time.perf_counter()
me = psutil.Process()
cpu = sum(sum(child.cpu_times()[:2]) for child in me.children(recursive=True) if child.is_running())
print(json.dumps({"init": up - started, "actors": answered - up, "cpu": cpu}))
ray.shutdown()
"""


def one_start(actors: int, runtime_env: dict) -> dict[str, float]:
    """Seconds to start Ray, seconds until ``actors`` actors answered, and Ray's CPU seconds by then."""
    result = subprocess.run([sys.executable, "-c", CHILD, str(actors), json.dumps(runtime_env)], capture_output=True,
                            text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, default=2,
                        help="actors started after Ray (a run's algorithm and its env runners; default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="Ray starts of each kind, alternating (default 2)")
    args = parser.parse_args()
    print(f"{'runtime environment':22s} {'ray.init s':>10s} {'actors s':>9s} {'Ray CPU s':>10s}")
    for _ in range(args.rounds):
        for name, runtime_env in (("none", {}), ("setup hook", SETUP_HOOK)):
            figures = one_start(args.actors, runtime_env)
            print(f"{name:22s} {figures['init']:10.1f} {figures['actors']:9.1f} {figures['cpu']:10.1f}", flush=True)


if __name__ == "__main__":
    main()
