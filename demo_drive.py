#!/usr/bin/env python3
"""Drive a hero along planned routes through curves and junctions of the embedded CARLA-compatible
world, print what it perceives and, with --record, write a video of it.

A small experiment (:class:`LaneKeepingExperiment`) observes the hero's speed and its offset and heading
error relative to its route 6 m ahead (a route drawn per episode through the town's junctions; without one,
the nearest lane), and the distance to the next junction; a proportional controller picks the steering
action, the throttle holds the target speed. Every few steps the script prints where the hero is.

    python3 demo_drive.py                                   # RingTown: a curved ring, spokes, junctions
    python3 demo_drive.py --town ../shared/maps/Town01.xodr --record demo.mp4
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

import carla
import gymnasium as gym
import numpy as np

from rllib_integration import BaseExperiment, CarlaEnv, ConfigError, SimulatorUnavailableError
from rllib_integration.evaluation.video import VideoWriter
from rllib_integration.sensors.hero_view import HeroView
from rllib_integration.tasks import RouteFollowing
from rllib_integration.arguments import non_negative_int, positive_int

#: Steering of each discrete action (positive steers right, as in CARLA).
STEERS = (-0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5)
LOOKAHEAD = 8  # route points (metres) ahead the route follower aims at


class LaneKeepingExperiment(BaseExperiment):
    """Keep to the lane centre (or, with ``others.follow_route``, to a route of ``route_length`` metres drawn per
    episode) at a target speed.

    Observation ``Box(4,)`` float32: speed (m/s), lateral offset from the lane centre (m, positive to the
    right; 0 on a route), heading error relative to the lane or, on a route, to the bearing of its point
    :data:`LOOKAHEAD` metres ahead (rad, positive to the right), distance to the next junction ahead (m, capped
    at 50). Actions: ``Discrete(7)`` steering levels (:data:`STEERS`); the throttle
    holds ``others.target_speed``. Reward: speed along the lane minus the lateral offset. The episode terminates
    when the hero leaves its lane by more than a lane width, or reaches the route's end, and is truncated after
    ``others.max_steps`` steps.
    """

    CONFIG_DEFAULTS = {"others": {"max_steps": 500, "target_speed": 8.0, "follow_route": False,
                                  "route_length": [300.0, 450.0]}}

    def __init__(self, config):
        super().__init__(config)
        self.steps = 0
        self.lane_info: dict = {}  # the lane under the hero at the last observation
        others = self.config["others"]
        self.task = RouteFollowing("env_config.experiment.others", others["route_length"]) \
            if others["follow_route"] else None

    def plan_route(self, core, rng):
        return self.task.plan(core, rng) if self.task is not None else None

    def get_action_space(self) -> gym.Space:
        return gym.spaces.Discrete(len(STEERS))

    def get_observation_space(self) -> gym.Space:
        return gym.spaces.Box(low=-np.inf, high=np.inf, shape=(4,), dtype=np.float32)

    def get_actions(self):
        return {index: steer for index, steer in enumerate(STEERS)}

    def reset(self) -> None:
        self.steps = 0

    def compute_action(self, action) -> carla.VehicleControl:
        speed = self.core.hero.get_velocity().length()
        throttle = 0.6 if speed < self.config["others"]["target_speed"] else 0.0
        return carla.VehicleControl(throttle=throttle, steer=STEERS[int(action)])

    def lane_state(self, core) -> tuple[float, float, float, float, carla.Waypoint]:
        """Speed, lateral offset, heading error, junction distance and the lane (or route) waypoint."""
        transform = core.hero.get_transform()
        waypoint = core.map.get_waypoint(transform.location)
        ahead = core.next_waypoints(LOOKAHEAD) if core.route_progress is not None else []
        if ahead:  # follow the route through junctions: the bearing of its point LOOKAHEAD metres ahead
            target = ahead[-1][0].transform.location
            bearing = math.degrees(math.atan2(target.y - transform.location.y, target.x - transform.location.x))
            lateral, error = 0.0, math.radians((transform.rotation.yaw - bearing + 180.0) % 360.0 - 180.0)
        else:
            offset = transform.location - waypoint.transform.location
            right = waypoint.transform.get_right_vector()
            lateral = offset.x * right.x + offset.y * right.y
            error = math.radians((transform.rotation.yaw - waypoint.transform.rotation.yaw + 180.0) % 360.0 - 180.0)
        junction, frontier = 50.0, [waypoint]
        for distance in range(5, 55, 5):  # 5 m at a time along every branch ahead
            frontier = [following for point in frontier for following in point.next(5.0)]
            if any(point.is_junction for point in frontier):
                junction = float(distance)
                break
        speed = core.hero.get_velocity().length()
        return speed, lateral, error, junction, waypoint

    def get_observation(self, sensor_data):
        speed, lateral, error, junction, waypoint = self.lane_state(self.core)
        self.lane_info = info = {"road_id": waypoint.road_id, "lane_id": waypoint.lane_id,
                            "lane_width": waypoint.lane_width}
        return np.array([speed, lateral, error, junction], dtype=np.float32), info

    def get_done_status(self, observation, core):
        self.steps += 1
        off_lane = abs(float(observation[1])) > self.lane_info["lane_width"]  # the lane this step's observation saw
        progress = core.route_progress
        finished = progress is not None and progress.fraction > 0.99
        return off_lane or finished, self.steps >= self.config["others"]["max_steps"]

    def compute_reward(self, observation, core):
        speed, lateral, error, _ = (float(v) for v in observation)
        return speed * math.cos(error) - abs(lateral)


def steer_towards_lane(observation: np.ndarray) -> int:
    """The action whose steering is closest to a proportional lane-keeping command."""
    _, lateral, error, _ = observation
    wanted = -(0.3 * lateral + 1.2 * error)
    return int(np.argmin([abs(steer - wanted) for steer in STEERS]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--town", default="RingTown",
                        help="procedural town (RingTown, GridTown, CurveRoad, Highway), CARLA town name "
                             "(needs CARLA_ROOT) or path of an .xodr file")
    parser.add_argument("--episodes", type=positive_int, default=2, help="episodes to drive")
    parser.add_argument("--steps", type=positive_int, default=2000, help="maximum steps per episode (20 per second)")
    parser.add_argument("--route-length", type=positive_int, default=400,
                        help="metres of the route drawn per episode (through curves and junctions)")
    parser.add_argument("--lane-only", action="store_true", help="no route: keep to the nearest lane")
    parser.add_argument("--record", metavar="OUT.mp4", help="write a video of the episodes (H.264)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the first reset")
    parser.add_argument("--every", type=positive_int, default=40, help="print a line every N steps")
    parser.add_argument("--blueprint", default="vehicle.lincoln.mkz_2017", help="hero blueprint id")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    env_config = {
        "carla": {"simulator": "embedded", "timestep": 0.05},
        "experiment": {"type": LaneKeepingExperiment, "town": args.town,
                       "hero": {"blueprint": args.blueprint},
                       "others": {"max_steps": args.steps, "follow_route": not args.lane_only,
                                  "route_length": [float(args.route_length), float(args.route_length) * 1.5]}},
    }
    try:
        env = CarlaEnv(env_config)
        video = VideoWriter(args.record, 20.0, "use a writable path ending in .mp4") if args.record else None
    except (ConfigError, SimulatorUnavailableError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        print(f"town {env.core.map.name}: {len(env.core.map.get_spawn_points())} spawn points")
        for episode in range(args.episodes):
            observation, info = env.reset(seed=args.seed if episode == 0 else None)
            start = env.core.hero.get_location()
            view = HeroView(env.core.world, env.core.hero, env.core.route_progress) if video else None
            total, step, done = 0.0, 0, False
            while not done:
                action = steer_towards_lane(observation)
                observation, reward, terminated, truncated, info = env.step(action)
                total += reward
                step += 1
                done = terminated or truncated
                if view is not None:
                    control = env.core.hero.get_control()
                    video.write(view.frame(None, [f"episode {episode}  step {step}",
                                                  f"{observation[0] * 3.6:5.1f} km/h  steer {control.steer:+.2f}",
                                                  f"junction {observation[3]:.0f} m ahead" if observation[3] < 50
                                                  else "no junction ahead"]))
                if step % args.every == 0 or done:
                    t = env.core.hero.get_transform()
                    speed, lateral, error, junction = observation
                    print(f"ep {episode} step {step:4d} | x {t.location.x:8.1f} y {t.location.y:8.1f} "
                          f"yaw {t.rotation.yaw:7.1f} | {speed * 3.6:5.1f} km/h | road {info['road_id']:3d} "
                          f"lane {info['lane_id']:2d} offset {lateral:+5.2f} m heading {math.degrees(error):+5.1f} deg"
                          f" | junction {'in ' + format(junction, '.0f') + ' m' if junction < 50 else 'none'} ahead")
            end = env.core.hero.get_location()
            progress = env.core.route_progress
            finished = progress is not None and progress.fraction > 0.99
            why = "the route's end" if finished else "leaving the lane" if terminated else "the step limit"
            route = f", {progress.completed:.0f} of {progress.length:.0f} m of its route" if progress else ""
            print(f"episode {episode}: {step} steps, return {total:.1f}, moved {start.distance(end):.1f} m "
                  f"from the start{route}, ended by {why}")
    finally:
        if video is not None:
            video.close()
            print(f"video: {args.record}")
        env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
