#!/usr/bin/env python3
"""Agent steps per second of many heroes in one world (``CarlaVectorEnv``: one tick for all of them) against
today's single-hero ``CarlaEnv``, env only (the time inside ``step`` and ``reset``: no policy, no learning), on one
core, with random actions (as early in training: resets and respawns count) and with a scripted driver, and the
memory each hero adds.

    python3 benchmarks/heroes.py --heroes 1 8 32 --experiments vector vlidar birdview --steps 3000

Experiments are ``benchmarks/sampling.py``'s: ``vector`` (4 floats from map queries), ``vlidar`` (the PPO
example's virtual LiDAR and route task), ``traffic`` (the traffic recipe's rays, light and obstacles ahead on the
route, target-speed levels), ``birdview`` (the DQN quickstart's 64 px BirdView and speed) and ``masks`` (the same
with the BirdView's ``masks`` output, 9 channels a frame).
Each ``CarlaVectorEnv`` row is measured hero by hero (one experiment instance per hero) and, where the experiment
has a batched twin for the configuration (``vlidar`` and ``traffic``: ``RouteExperimentBatch``; ``birdview`` and
``masks``: ``DQNExperimentBatch``), batched (every hero at once).
``ms/respawn``: what an episode's start costs beyond a step (the single hero's ``reset``; a vector env's heroes
respawned within its steps, placed and equipped: ``SharedWorld.respawn_seconds``), ``respawn %`` its share of the
row's time. Each row is timed after ``--warmup`` untimed env steps of each hero (world ticks: the same simulated time
for every row). They load numba's cache or compile the kernels, and they let the episodes of a fresh world, all begun
at the same tick, end at different ones: a row timed from its first ticks measures a world where no episode has ended
yet. With the virtual LiDAR's random actions (its throttle and steer drawn evenly: the heroes creep and weave) the
first episodes end about 1,000 ticks in (37 episodes in 4,000 ticks of 32 heroes, all but one after tick 1,000; the
masks experiment's random heroes end 685 in 3,000 ticks, the traffic recipe's 77; stop 88). Each row is one
process's figure; run it several times on a shared machine and report the range.
``--actions scripted``: every hero follows its route (``dqn_example``'s route follower: towards the route 6 m ahead
at 20-27 km/h, its control turned into the experiment's action by ``action_from_control``; the driver's own time is
not counted), so episodes end as a driving policy's do (a route completed, a collision, time out); ``vector`` has
no route to follow. The driver computes every hero's control of a world in one call (``route_follower_many``), as a
policy acts for a batch in one forward pass: the same controls as hero by hero, where 32 hero-by-hero Python calls
between two steps (about as long as a step: 356 µs a tick against its 400, stop 90) evicted the env's tables from
the core's caches and made the env's steps 6-7 % slower (stop 90).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Sequence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import carla  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from benchmarks.sampling import env_config  # noqa: E402
from dqn_example.dqn_experiment import route_follower_many  # noqa: E402
from rllib_integration import CarlaEnv, CarlaVectorEnv  # noqa: E402
from rllib_integration.arguments import non_negative_int, positive_int  # noqa: E402


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2 ** 20


def scripted_actions(experiments: Sequence[Any], cores: Sequence[Any]) -> list[Any]:
    """The scripted driver's actions for the heroes of ``cores`` (one world's; ``experiments``: theirs): the route
    follower's controls, computed for all of them in one call (:func:`route_follower_many`, as a policy acts for a
    batch), each as its experiment's action (``action_from_control``)."""
    throttles, steers = route_follower_many(cores)
    return [experiment.action_from_control(carla.VehicleControl(throttle=float(throttle), steer=float(steer)))
            for experiment, throttle, steer in zip(experiments, throttles, steers)]


def vector_actions(env: CarlaVectorEnv, scripted: bool) -> Callable[[], Any]:
    """What drives ``env``'s heroes: a call giving a batch of random actions, or of the scripted driver's."""
    world = env.world

    def actions() -> Any:
        if not scripted:
            return env.action_space.sample()
        return np.array(scripted_actions(world.experiments, world.agents))
    return actions


def single(kind: str, vehicles: int, steps: int, seed: int, warmup: int, scripted: bool
           ) -> tuple[float, float, int, float, int, float]:
    """(agent steps/s, RSS after, episodes, seconds in resets, resets, seconds in ``step`` and ``reset``) of one
    CarlaEnv, after ``warmup`` untimed steps, with random actions or the ``scripted`` driver's."""
    env = CarlaEnv(env_config(kind, vehicles))
    env.action_space.seed(seed)

    def action() -> Any:
        return scripted_actions([env.experiment], [env.core])[0] if scripted else env.action_space.sample()

    try:
        env.reset(seed=seed)
        for _ in range(warmup):
            *_, terminated, truncated, _ = env.step(action())
            if terminated or truncated:
                env.reset()
        episodes, resetting, elapsed = 0, 0.0, 0.0
        for _ in range(steps):
            chosen = action()
            started = time.perf_counter()
            *_, terminated, truncated, _ = env.step(chosen)
            elapsed += time.perf_counter() - started
            if terminated or truncated:
                episodes += 1
                reset_started = time.perf_counter()
                env.reset()
                resetting += time.perf_counter() - reset_started
        elapsed += resetting
        return steps / elapsed, rss_mb(), episodes, resetting, episodes, elapsed
    finally:
        env.close()


def shared(kind: str, vehicles: int, heroes: int, steps: int, seed: int, batched: bool, warmup: int, scripted: bool
           ) -> tuple[float, float, int, float, int, float] | None:
    """(agent steps/s, RSS after, episodes, seconds in respawns, respawns, seconds in ``step``) of one CarlaVectorEnv
    of ``heroes`` heroes, stepped through the experiment's batched twin or hero by hero (None: the experiment has no
    batch for this configuration), after ``warmup`` untimed ticks (env steps of each hero), with random actions or the
    ``scripted`` driver's."""
    config = env_config(kind, vehicles)
    config["experiment"]["batched"] = batched
    env = CarlaVectorEnv(config, num_envs=heroes)
    if batched and env.world.batch is None:
        env.close()
        return None
    env.action_space.seed(seed)
    world, actions = env.world, vector_actions(env, scripted)
    try:
        env.reset(seed=seed)
        for _ in range(warmup):
            env.step(actions())
        ticks = max(1, steps // heroes)
        episodes, respawning, respawns, elapsed = 0, world.respawn_seconds, world.respawns, 0.0
        for _ in range(ticks):
            chosen = actions()
            started = time.perf_counter()
            *_, terminated, truncated, _ = env.step(chosen)
            elapsed += time.perf_counter() - started
            episodes += int(np.count_nonzero(terminated | truncated))
        return (ticks * heroes / elapsed, rss_mb(), episodes, world.respawn_seconds - respawning,
                world.respawns - respawns, elapsed)
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--heroes", type=positive_int, nargs="+", default=[1, 8, 32],
                        help="heroes per world of the CarlaVectorEnv rows")
    parser.add_argument("--experiments", nargs="+", choices=["vector", "vlidar", "traffic", "birdview", "masks"],
                        default=["vector", "vlidar", "birdview"],
                        help="observations and tasks measured: vector (4 floats), vlidar (the PPO example's virtual "
                             "LiDAR), traffic (the traffic recipe's), birdview (the DQN quickstart's 64 px BirdView), "
                             "masks (the same, output: masks)")
    parser.add_argument("--vehicles", type=non_negative_int, default=0, help="background autopilot vehicles")
    parser.add_argument("--steps", type=positive_int, default=3000, help="agent steps measured per row")
    parser.add_argument("--warmup", type=non_negative_int, default=2000,
                        help="untimed env steps of each hero (world ticks) before each row is timed: loading or "
                             "compiling the kernels, and letting the episodes of a fresh world, begun at one tick, "
                             "end at different ones")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the episodes and actions")
    parser.add_argument("--actions", nargs="+", choices=["random", "scripted"], default=["random"],
                        help="who drives: random actions (as early in training) or the scripted route follower")
    args = parser.parse_args()
    if "scripted" in args.actions and "vector" in args.experiments:
        parser.error("--actions scripted follows the heroes' routes, and the vector experiment has none. Fix: drop "
                     "vector from --experiments, or run it with --actions random")
    print(f"{'experiment':<10} {'actions':<8} {'env':<40} {'agent steps/s':>14} {'episodes':>9} {'ms/respawn':>11} "
          f"{'respawn %':>10} {'RSS MB':>8} {'MB per hero':>12}", flush=True)
    until_interrupted(measure, args)


def until_interrupted(measure: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> None:
    """``measure(args)``, a benchmark that prints its rows as it measures them; Ctrl-C ends it with the rows printed
    whole (exit status 130)."""
    try:
        measure(args)
    except KeyboardInterrupt:
        print("\ninterrupted: the rows above are complete", flush=True)
        sys.exit(130)


def measure(args: argparse.Namespace) -> None:
    """Print the rows ``main``'s arguments ask for, each as soon as its group is measured."""
    for kind in args.experiments:
        for driver in args.actions:
            scripted = driver == "scripted"
            rows = [("CarlaEnv (1 hero)", single(kind, args.vehicles, args.steps, args.seed, args.warmup, scripted),
                     float("nan"))]
            for heroes in args.heroes:
                for batched in (False, True):
                    before = rss_mb()
                    measured = shared(kind, args.vehicles, heroes, args.steps, args.seed, batched, args.warmup,
                                      scripted)
                    if measured is not None:
                        per_hero = (measured[1] - before) / heroes if heroes > 1 else float("nan")
                        count = f"{heroes} hero" if heroes == 1 else f"{heroes} heroes"
                        rows.append((f"CarlaVectorEnv ({count}, {'batched' if batched else 'hero by hero'})",
                                     measured, per_hero))
                for name, (rate, rss, episodes, respawning, respawns, elapsed), per_hero in rows:
                    per_respawn = f"{1000.0 * respawning / respawns:.1f}" if respawns else "-"
                    memory = f"{per_hero:.1f}" if per_hero == per_hero else ""
                    print(f"{kind:<10} {driver:<8} {name:<40} {rate:>14,.0f} {episodes:>9} {per_respawn:>11} "
                          f"{100.0 * respawning / elapsed:>10.1f} {rss:>8.0f} {memory:>12}", flush=True)
                rows = []


if __name__ == "__main__":
    main()
