#!/usr/bin/env python3
"""Env steps per second of one RLlib env runner on one core (sampling only, no learning), against the
number of envs it steps (``num_envs_per_env_runner``): the envs step one after the other (gymnasium's
vector env) and the policy acts for all of them in one batched forward pass, so RLlib's per-step costs
(connectors, the module call, episode bookkeeping) are shared.

    python3 benchmarks/sampling.py --envs 1 4 16 64 --steps 20000

Experiments: ``vector`` (demo_drive.py's lane keeping: 4 floats from map queries, 7 actions), ``vlidar``
(the PPO example's virtual LiDAR, 128 floats, its route task; ``--vehicles`` of traffic), ``traffic`` (the traffic
recipe's: those rays, the light and the obstacles ahead on the route, target-speed levels, the route controller
steering), ``birdview`` (the DQN quickstart's 64 px BirdView and speed) and ``masks`` (the same with the BirdView's
``masks`` output: 9 channels a frame). A PPO config of a small MLP (or the uint8 encoder) acts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

from rllib_integration.arguments import non_negative_int, positive_int  # noqa: E402


def env_config(kind: str, vehicles: int) -> dict:
    if kind == "vector":
        from demo_drive import LaneKeepingExperiment
        return {"carla": {"simulator": "embedded", "enable_rendering": False},
                "experiment": {"type": LaneKeepingExperiment, "town": "GridTown", "others": {"max_steps": 500}}}
    if kind == "vlidar":
        from ppo_example.ppo_experiment import RouteExperiment
        return {"carla": {"simulator": "embedded", "enable_rendering": False},
                "experiment": {"type": RouteExperiment, "town": "GridTown",
                               "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 32}}},
                               "background_activity": {"n_vehicles": vehicles, "seed": 0}}}
    if kind == "traffic":  # the traffic recipe's experiment (ppo_traffic_config.yaml): rays, light and obstacles
        from ppo_example.ppo_experiment import RouteExperiment
        return {"carla": {"simulator": "embedded", "enable_rendering": False},
                "experiment": {"type": RouteExperiment, "town": "GridTown",
                               "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 32}}},
                               "background_activity": {"n_vehicles": vehicles, "seed": 0},
                               "others": {"light_ahead": True, "obstacles_ahead": True, "control": "levels",
                                          "steer": "route", "state_last_action": False, "turn_lateral_accel": 3.0}}}
    from dqn_example.dqn_experiment import DQNExperiment
    output = "masks" if kind == "masks" else "rgb"  # masks: the 64 px BirdView masks, else the quickstart's
    return {"carla": {"simulator": "embedded", "enable_rendering": False},
            "experiment": {"type": DQNExperiment, "town": "GridTown",
                           "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 64, "radius": 16,
                                                             "route": True, "output": output}}},
                           "background_activity": {"n_vehicles": vehicles, "seed": 0},
                           "others": {"framestack": 2, "reward": "route", "state_input": True}}}


def runner(kind: str, envs: int, vehicles: int):
    """A local env runner (this process) of a PPO config over ``envs`` envs."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from rllib_integration import CarlaEnv
    from rllib_integration.training.models import image_catalog
    config = (PPOConfig().environment(CarlaEnv, env_config=env_config(kind, vehicles))
              .env_runners(num_env_runners=0, num_envs_per_env_runner=envs, rollout_fragment_length=64)
              .rl_module(model_config={"fcnet_hiddens": [256, 256], "conv_filters": [[16, 8, 4], [32, 4, 2],
                                                                                      [64, 3, 1]]},
                         rl_module_spec=RLModuleSpec(catalog_class=image_catalog("PPO"))))
    return SingleAgentEnvRunner(config=config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=["vector", "vlidar", "birdview"],
                        choices=["vector", "vlidar", "traffic", "birdview", "masks"], help="observations and tasks measured: vector (4 floats), vlidar (the PPO example's virtual LiDAR), traffic "
                             "(the traffic recipe's), birdview (the DQN quickstart's 64 px BirdView), masks (the same, "
                             "output: masks)")
    parser.add_argument("--envs", nargs="+", type=positive_int, default=[1, 4, 16, 64], help="envs per runner")
    parser.add_argument("--steps", type=positive_int, default=20000, help="env steps per measurement")
    parser.add_argument("--vehicles", type=non_negative_int, default=0, help="traffic of vlidar, traffic and birdview")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for kind in args.kinds:
        for envs in args.envs:
            sampler = runner(kind, envs, args.vehicles)
            sampler.sample(num_timesteps=max(envs * 64, 500), random_actions=False)  # warm-up (compiles)
            started = time.perf_counter()
            done = 0
            while done < args.steps:
                episodes = sampler.sample(num_timesteps=min(envs * 256, args.steps - done) or envs)
                done += sum(len(e) for e in episodes)
            rate = done / (time.perf_counter() - started)
            print(f"{kind:<9} {envs:3d} envs per runner: {rate:8.0f} env steps/s (one core)", flush=True)
            sampler.stop()


if __name__ == "__main__":
    main()
