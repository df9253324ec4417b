#!/usr/bin/env python3
"""How the embedded world scales on one machine, without Ray: agent steps per second of worlds of many heroes
(``CarlaVectorEnv``, random actions or the scripted route follower's) run in 1, 2, 4, ... processes at once
(efficiency per core), against heroes per world and background traffic, and the learners' update time for the
examples' networks on the GPU against the CPU (torch alone).

    python3 benchmarks/scaling.py --processes 1 2 4 8 16 --heroes-per-world 1 8 32 64 128 256 --vehicles 0 30 60

Each process steps its own world for ``--steps`` agent steps after ``--warmup`` ticks (``benchmarks/heroes.py``'s:
the kernels loaded, and the episodes of the fresh world, all begun at one tick, ending at different ones; before stop
88, 20 ticks: a world where no episode had ended yet); all start measuring together (a shared start time), so the sum
of their rates is the machine's. A rate counts the time inside ``step`` only, as
``benchmarks/heroes.py``'s (since stop 86; before, the random actions' sampling was timed too). Experiments are
``benchmarks/sampling.py``'s; worlds step through the experiment's batched twin where it has one
(``--hero-by-hero`` adds the one-process rows with every hero stepped through its own experiment instance).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core per process: the processes are the parallelism
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.heroes import until_interrupted  # noqa: E402
from rllib_integration.arguments import non_negative_int, positive_int  # noqa: E402


def world_rate(kind: str, vehicles: int, heroes: int, steps: int, seed: int, start_at: float | None,
               batched: bool = True, scripted: bool = False, warmup: int = 2000) -> float:
    """Agent steps/s of one world of ``heroes`` heroes after ``warmup`` ticks, measured from ``start_at`` (a
    wall-clock time shared with other worlds, or None: at once; a warm-up that ends after it is reported on stderr:
    that world was not measured with the others), through the
    experiment's batched twin where it has one (``batched``) or hero by hero, with random actions or the
    ``scripted`` driver's (``benchmarks/heroes.py``'s); the time inside ``step`` only."""
    from benchmarks.heroes import vector_actions
    from benchmarks.sampling import env_config
    from rllib_integration import CarlaVectorEnv
    config = env_config(kind, vehicles)
    config["experiment"]["batched"] = batched
    env = CarlaVectorEnv(config, num_envs=heroes)
    env.action_space.seed(seed)
    actions = vector_actions(env, scripted)
    try:
        env.reset(seed=seed)
        for _ in range(warmup):
            env.step(actions())
        late = 0.0 if start_at is None else time.time() - start_at
        if late > 0.0:
            print(f"a world of {heroes} heroes ended its {warmup}-tick warm-up {late:.1f} s after the processes were "
                  f"to start measuring together. Fix: a larger --setup-s (or a shorter --warmup)", file=sys.stderr,
                  flush=True)
        time.sleep(max(0.0, -late))
        ticks, elapsed = max(1, steps // heroes), 0.0
        for _ in range(ticks):
            chosen = actions()
            started = time.perf_counter()
            env.step(chosen)
            elapsed += time.perf_counter() - started
        return ticks * heroes / elapsed
    finally:
        env.close()


def parallel_rates(processes: int, kind: str, vehicles: int, heroes: int, steps: int, seed: int,
                   setup_s: float, batched: bool = True, scripted: bool = False, warmup: int = 2000) -> list[float]:
    """Each process's agent steps/s, ``processes`` worlds measured at the same time."""
    start_at = time.time() + setup_s if processes > 1 else None  # (one world: nothing to start together with)
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(world_rate, kind, vehicles, heroes, steps, seed + i, start_at, batched, scripted,
                               warmup) for i in range(processes)]
        return [future.result() for future in futures]


def update_ms(network: str, device: str, batch: int, repeats: int = 30) -> float:
    """Milliseconds of one learner update (forward, backward, Adam step) of an example's network, torch alone:
    ``dqn``: the quickstart's Nature-DQN encoder on 64x64x6 BirdView stacks (double Q: online and target passes
    of the next observations too) and dueling heads of 256; ``ppo``: the PPO examples' separate policy and value
    MLPs (256, 256, tanh) on 131 floats."""
    import torch
    from torch import nn
    torch.manual_seed(0)
    if network == "dqn":
        def encoder() -> nn.Module:
            return nn.Sequential(nn.Conv2d(6, 16, 8, 4, 2), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
                                 nn.Conv2d(32, 64, 3, 1), nn.ReLU(), nn.Flatten(), nn.LazyLinear(256), nn.ReLU(),
                                 nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 15))
        online, target = encoder().to(device), encoder().to(device)
        inputs = torch.rand(2 * batch, 6, 64, 64, device=device)
        online(inputs[:1]), target(inputs[:1])
        parameters = list(online.parameters())

        def loss() -> torch.Tensor:
            q = online(inputs)
            with torch.no_grad():
                best = target(inputs[batch:]).gather(1, q[batch:].argmax(1, keepdim=True))
            return (q[:batch, :1] - best).pow(2).mean()
    else:
        def mlp(out: int) -> nn.Module:
            return nn.Sequential(nn.Linear(131, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, out))
        policy, value = mlp(4).to(device), mlp(1).to(device)
        inputs = torch.rand(batch, 131, device=device)
        parameters = list(policy.parameters()) + list(value.parameters())

        def loss() -> torch.Tensor:
            return policy(inputs).pow(2).mean() + value(inputs).pow(2).mean()
    optimizer = torch.optim.Adam(parameters, lr=1e-4)

    def update() -> None:
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    for _ in range(5):
        update()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        update()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 1000.0 * (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--experiment", choices=["vector", "vlidar", "birdview", "masks"], default="vlidar",
                        help="observations and task of the heroes (benchmarks/sampling.py's: masks is the "
                        "BirdView's 64 px masks)")
    parser.add_argument("--processes", type=positive_int, nargs="*", default=[1, 2, 4, 8, 16],
                        help="worlds measured at once, one process each (none: no such rows)")
    parser.add_argument("--heroes", type=positive_int, default=32, help="heroes per world in the processes rows")
    parser.add_argument("--heroes-per-world", type=positive_int, nargs="*", default=[1, 8, 32, 64, 128, 256],
                        help="heroes per world of the one-process rows (cost against heroes)")
    parser.add_argument("--vehicles", type=non_negative_int, nargs="*", default=[0, 30, 60],
                        help="background vehicles of the one-process rows (cost against traffic)")
    parser.add_argument("--steps", type=positive_int, default=6000, help="agent steps measured per world")
    parser.add_argument("--warmup", type=non_negative_int, default=2000,
                        help="untimed ticks of each world before it is measured (benchmarks/heroes.py's --warmup)")
    parser.add_argument("--setup-s", type=float, default=60.0, help="seconds the processes get to build their "
                        "worlds and warm up before all start measuring")
    parser.add_argument("--learner-devices", nargs="*", default=["cpu", "cuda"],
                        help="torch devices the learner update is timed on (a missing one is skipped; none: no "
                        "such rows)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the episodes and actions")
    parser.add_argument("--actions", nargs="+", choices=["random", "scripted"], default=["random"],
                        help="who drives, each measured in turn: random actions (as early in training) or the scripted "
                        "route follower (benchmarks/heroes.py's)")
    parser.add_argument("--hero-by-hero", action="store_true", help="also measure the one-process rows with every "
                        "hero stepped through its own experiment instance (experiment.batched: false)")
    args = parser.parse_args()
    kind = args.experiment
    if "scripted" in args.actions and kind == "vector":
        parser.error("--actions scripted follows the heroes' routes, and the vector experiment has none. Fix: "
                     "another --experiment, or --actions random")
    print(f"experiment {kind}; {os.cpu_count()} CPUs", flush=True)
    until_interrupted(measure, args)


def measure(args: argparse.Namespace) -> None:
    """Print the tables ``main``'s arguments ask for, a row as soon as it is measured."""
    kind = args.experiment
    for driver in args.actions:
        scripted, base = driver == "scripted", None
        print(f"\n{'actions':>8} {'processes':>9} {'heroes/world':>12} {'agent steps/s':>14} {'per process':>12} "
              f"{'efficiency':>10}")
        for processes in args.processes:
            rates = parallel_rates(processes, kind, 0, args.heroes, args.steps, args.seed, args.setup_s,
                                   scripted=scripted, warmup=args.warmup)
            total = sum(rates)
            base = base or total / processes
            print(f"{driver:>8} {processes:>9} {args.heroes:>12} {total:>14,.0f} {total / processes:>12,.0f} "
                  f"{total / processes / base:>10.0%}", flush=True)
        print(f"\n{'actions':>8} {'heroes/world':>12} {'vehicles':>8} {'path':>12} {'agent steps/s':>14} "
              f"{'ms per tick':>12}")
        for vehicles in args.vehicles:
            for heroes in args.heroes_per_world:
                for batched in (True, False) if args.hero_by_hero else (True,):
                    rate = parallel_rates(1, kind, vehicles, heroes, max(args.steps, heroes * 20), args.seed, 0.0,
                                          batched, scripted, args.warmup)[0]
                    path = "batched" if batched else "hero by hero"
                    print(f"{driver:>8} {heroes:>12} {vehicles:>8} {path:>12} {rate:>14,.0f} "
                          f"{1000.0 * heroes / rate:>12.2f}", flush=True)
    if not args.learner_devices:
        return
    import torch
    print(f"\n{'network':>8} {'batch':>6} {'device':>8} {'ms per update':>14}")
    for network, batch in (("dqn", 128), ("ppo", 256), ("ppo", 4096)):
        for device in args.learner_devices:
            if device.startswith("cuda") and not torch.cuda.is_available():
                continue
            print(f"{network:>8} {batch:>6} {device:>8} {update_ms(network, device, batch):>14.2f}", flush=True)


if __name__ == "__main__":
    main()
