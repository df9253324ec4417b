"""The PPO route-following example: the virtual LiDAR, the route reward's learning signal, the town list,
training both configs through Tune (MLflow into a local file store), and the same greedy actions with and
without Ray."""

import math
import os
import subprocess
import sys

import carla
import gymnasium as gym
import numpy as np
import pytest
import yaml

from ppo_example.ppo_experiment import ROUTE_LOOKAHEAD, STATE, RouteExperiment
from rllib_integration import CarlaEnv, ConfigError, load_env_config
from rllib_integration.routes.planner import RoadOption
from rllib_integration.sensors.ray_march import box_distance
from rllib_integration.sensors.virtual_lidar import ray_angles
from rllib_integration.tasks.speed_control import HOLD_SPEED, SpeedController, speed_controls
from rllib_integration.training import find_latest_checkpoint, greedy_action, load_policy, policy_action
from rllib_integration.inference.scripts import load_module

from conftest import drive_episode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {kind: os.path.join(ROOT, "ppo_example", f"ppo_{kind}_config.yaml") for kind in ("vlidar", "camera", "selfplay")}


def tiny(kind: str) -> dict:
    """A config's file with a few hundred steps per iteration and a light world."""
    data = yaml.safe_load(open(CONFIGS[kind]))
    data["training"].update(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=1)
    data["env_config"]["experiment"]["background_activity"].update(n_vehicles=3, n_walkers=2)
    data["env_config"]["experiment"]["others"].update(route_length=[60, 120], max_idle_s=2)  # short episodes
    data["route_evaluation"] = {"interval": 2, "routes": "GridTown", "route_count": 1, "route_length": [30, 40]}
    threads = {key: value for key, value in (data.get("run") or {}).items() if key == "learner_threads"}
    data["run"] = {"stop": {"training_iteration": 2}, "checkpoint_frequency": 1, "checkpoints_to_keep": 5, **threads}
    if data["env_config"]["experiment"].get("heroes", 1) > 1:  # self-play: one runner's world of 8 heroes, one
        data["env_config"]["experiment"]["heroes"] = 8  # iteration (route evaluation after it)
        data["env_runners"].update(num_env_runners=1, num_envs_per_env_runner=8)
        data["run"]["stop"]["training_iteration"], data["route_evaluation"]["interval"] = 1, 1
    return data


def test_box_distances_are_exact_for_rays_through_a_box():
    directions = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (math.sqrt(0.5), math.sqrt(0.5))]
    # a 4 m x 2 m box centred 10 m ahead (x), turned 90 degrees: 1 m deep along x, 2 m across
    distances = [box_distance(0.0, 0.0, dx, dy, 10.0, 0.0, math.pi / 2, 2.0, 1.0) for dx, dy in directions]
    assert distances[0] == pytest.approx(9.0, abs=1e-5)
    assert all(d == math.inf for d in distances[1:]), "the other rays miss it"
    inside = [box_distance(10.0, 0.0, dx, dy, 10.0, 0.0, 0.0, 2.0, 1.0) for dx, dy in directions]
    assert inside == [0.0] * 4, "a ray starting inside a box hits it at once"
    assert ray_angles(4, 360.0) == pytest.approx(np.radians([0, 90, 180, 270]))
    assert ray_angles(3, 180.0) == pytest.approx(np.radians([-90, 0, 90]))


def lidar_env(vehicles=0, **others):
    config = {"carla": {"simulator": "embedded", "enable_rendering": False},
              "experiment": {"type": RouteExperiment, "town": "GridTown", "others": others,
                             "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 4, "range": 40}}},
                             "background_activity": {"n_vehicles": vehicles, "n_walkers": 0, "seed": 1}}}
    return CarlaEnv(config)


def test_speed_control_holds_the_commanded_speed_and_reads_it_back_from_the_motion():
    """``control: speed``: the first action is a target speed from 0 (-1) to target_speed_kmh (1); the controller
    reaches and holds it, stops and holds the car at -1, and a demonstrator's motion reads back as that action."""
    env = lidar_env(control="speed", max_idle_s=600)
    try:
        env.reset(seed=3)
        experiment, hero = env.experiment, env.core.hero
        for command in (-0.5, 0.4, -1.0):
            target = (command + 1.0) / 2.0 * 30.0 / 3.6
            for _ in range(80):  # 4 s
                env.step(np.array([command, 0.0], np.float32))
            speed = hero.get_velocity().length()
            assert speed == pytest.approx(target, abs=0.4), f"command {command}: {speed:.2f} m/s for {target:.2f}"
            assert experiment.action_from_control(hero.get_control())[0] == pytest.approx(command, abs=0.1)
        assert hero.get_control().brake == 1.0, "a target of 0 holds the car with the brake"
    finally:
        env.close()


def test_the_speed_controllers_compiled_control_is_the_pi_rule_for_one_hero_and_for_many():
    """``SpeedController.control`` (one hero) and ``speed_controls`` (many, as the batch runs them) give the PI rule's
    throttle, brake and integral, written out here in Python, to the bit: holding below the hold speed, braking well
    above the target, the clamped integral, signed zeros."""
    def rule(controller, target, speed):
        if target < HOLD_SPEED and speed < HOLD_SPEED:
            controller["integral"] = 0.0
            return 0.0, 1.0
        error = target - speed
        controller["integral"] = min(max(controller["integral"] + error * 0.05, 0.0), 2.0)
        if error < -0.5:
            return 0.0, min(-error * 0.4, 1.0)
        return min(max(0.5 * error + 0.3 * controller["integral"], 0.0), 1.0), 0.0

    rng = np.random.default_rng(2)
    values = np.concatenate([rng.uniform(-1.0, 12.0, 4000), [0.0, -0.0, HOLD_SPEED, 0.29999, 0.5, 8.0, 8.5]])
    heroes, ticks = 5, 300
    targets, speeds = rng.choice(values, (ticks, heroes)), rng.choice(values, (ticks, heroes))
    one = [SpeedController(dt=0.05) for _ in range(heroes)]
    reference = [{"integral": 0.0} for _ in range(heroes)]
    integrals, out = np.zeros(heroes), np.empty((heroes, 2))
    for tick in range(ticks):
        speed_controls(one[0].gains(), targets[tick], speeds[tick], integrals, out)
        for h in range(heroes):
            expected = rule(reference[h], float(targets[tick, h]), float(speeds[tick, h]))
            for got in (one[h].control(targets[tick, h], speeds[tick, h]), tuple(out[h].tolist())):
                assert [str(v) for v in got] == [str(v) for v in expected], (tick, h, got, expected)
            assert one[h].integral == integrals[h] == reference[h]["integral"]


def test_residual_steering_follows_the_routes_turns_alone_and_reads_back_the_demonstrators_correction():
    """``steer: residual``: a zero steer action follows the route through GridTown's junction turns (at the speed a
    driver takes them) without leaving the lanes; a demonstrator's steer reads back as its difference from the route
    controller's, and that action gives the demonstrator's steer back."""
    env = lidar_env(control="speed", steer="residual", route_length=[300, 500], max_idle_s=600)
    try:
        red, turns = 4 * 3 + STATE.index("red_light"), 0
        for seed in range(3):  # 18 km/h, stopping at red lights
            _, info = drive_episode(env, seed, lambda obs: np.array([-1.0 if obs[red] > 0.5 else 0.2, 0.0], np.float32),
                                   steps=6000)
            assert info["end_reason"] == "completed" and info["route_completion"] == 100.0, info
            turns += sum(option in (RoadOption.LEFT, RoadOption.RIGHT) for _, option in env.core.route_progress.route)
        assert turns > 0, "the routes turn at junctions"
        experiment = env.experiment
        assert experiment.route_steering.wheelbase == pytest.approx(2.9, abs=0.3)  # the Lincoln MKZ's
        assert 0.0 < abs(experiment.route_steer) < 1.0 or experiment.route_steer == 0.0
        experiment.route_steer = 0.3
        for steer in (0.5, -0.2):
            action = experiment.action_from_control(carla.VehicleControl(throttle=0.3, steer=steer))
            assert action[1] == pytest.approx(steer - 0.3)
            assert experiment.compute_action(action).steer == pytest.approx(steer)
        with pytest.raises(ConfigError, match=r"others.steer: 'wheel' is not a steer of RouteExperiment"):
            lidar_env(steer="wheel")
    finally:
        env.close()


def test_speed_levels_choose_a_target_speed_while_the_route_controller_steers():
    """``control: levels`` with ``steer: route``: the action is one of ``speed_levels`` target speeds (0 to
    target_speed_kmh), the route's controller steers through junction turns, and a demonstrator's motion reads back
    as the level nearest the speed it heads for; levels need the route's steer."""
    env = lidar_env(control="levels", steer="route", speed_levels=7, route_length=[200, 300], max_idle_s=600)
    try:
        assert env.action_space == gym.spaces.Discrete(7)
        red = 4 * 3 + STATE.index("red_light")
        _, info = drive_episode(env, 1, lambda obs: 0 if obs[red] > 0.5 else 4, steps=6000)  # 20 km/h, red: 0
        assert info["end_reason"] == "completed" and info["route_completion"] == 100.0, info
        env.reset(seed=2)
        experiment, hero = env.experiment, env.core.hero  # the hero of this episode
        for level in (2, 5, 0):  # 10, 25 and 0 km/h
            for _ in range(100):  # 5 s
                env.step(level)
            speed = hero.get_velocity().length() * 3.6
            assert speed == pytest.approx(level * 5.0, abs=1.5), f"level {level}: {speed:.1f} km/h"
            assert experiment.action_from_control(hero.get_control()) == level
        assert experiment.last_action == (-1.0, 0.0)
        assert hero.get_velocity().length() < 0.1  # at rest: a demonstrator pulling away is starting (level 1),
        assert experiment.action_from_control(carla.VehicleControl(throttle=0.3)) == 1  # not standing (level 0)
        assert experiment.action_from_control(carla.VehicleControl(throttle=0.3, brake=0.5)) == 0
        assert experiment.action_from_control(carla.VehicleControl()) == 0
        with pytest.raises(ConfigError, match=r"others.control: levels chooses a speed only, but steer is 'residual'"):
            lidar_env(control="levels", steer="residual")
    finally:
        env.close()
    env = lidar_env(control="speed", steer="route")
    try:
        assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    finally:
        env.close()


def test_the_obstacles_ahead_are_the_actors_in_the_way_along_the_route():
    """``obstacles_ahead``: the nearest car or walker on the route ahead (gap from the hero's front, its speed, the
    closing speed), not one on the lane beside or behind; a car driving towards the route is about to cross it."""
    from rllib_integration.tasks.route_obstacles import OBSTACLE_FEATURES, RouteObstacles, none_ahead
    env = lidar_env(control="levels", steer="route", obstacles_ahead=True, route_length=[150, 200])
    try:
        observation, _ = env.reset(seed=0)
        assert env.observation_space.shape == (4 * 3 + len(STATE) + 2 * len(ROUTE_LOOKAHEAD) + len(OBSTACLE_FEATURES),)
        assert observation[-len(OBSTACLE_FEATURES):] == pytest.approx(none_ahead())
        world, hero, progress = env.core.world, env.core.hero, env.core.route_progress
        front = hero.bounding_box.extent.x + hero.bounding_box.location.x
        index = next(i for i in range(len(progress.route)) if progress.cumulative[i] > 30.0)
        waypoint = progress.route[index][0]
        blueprint = world.get_blueprint_library().find("vehicle.tesla.model3")
        lifted = carla.Transform(waypoint.transform.location + carla.Location(z=0.3), waypoint.transform.rotation)
        car = world.spawn_actor(blueprint, lifted)
        obstacles = RouteObstacles(world, hero, progress)
        features = dict(zip(OBSTACLE_FEATURES, obstacles.features()))
        rear = progress.cumulative[index] - (car.bounding_box.extent.x - car.bounding_box.location.x)
        assert features["leader_gap"] * 40.0 == pytest.approx(rear - front, abs=0.6)
        assert features["leader_near"] == pytest.approx(math.exp(-features["leader_gap"] * 40.0 / 5.0), rel=1e-4)
        assert features["leader_speed"] == 0.0 and features["leader_walker"] == 0.0
        hero.set_target_velocity(waypoint.transform.get_forward_vector() * 5.0)
        world.tick()
        features = dict(zip(OBSTACLE_FEATURES, obstacles.features()))
        assert features["leader_closing"] * 10.0 == pytest.approx(hero.get_velocity().length(), abs=0.3)
        car.set_transform(carla.Transform(waypoint.transform.location + waypoint.transform.get_right_vector() * 3.5
                                          + carla.Location(z=0.3), waypoint.transform.rotation))
        assert obstacles.features()[:5] == pytest.approx(none_ahead()[:5]), "a car 3.5 m beside is not in the way"
        walker = world.spawn_actor(world.get_blueprint_library().find("walker.pedestrian.0001"), lifted)
        features = dict(zip(OBSTACLE_FEATURES, obstacles.features()))
        assert features["leader_walker"] == 1.0 and features["leader_gap"] < 1.0
        walker.destroy()
        # the car 12 m to the side of the route, driving towards it at 6 m/s: on the route in about 1.5-2 s
        side = waypoint.transform.location + waypoint.transform.get_right_vector() * 12.0 + carla.Location(z=0.3)
        towards = carla.Rotation(yaw=waypoint.transform.rotation.yaw - 90.0)
        car.set_transform(carla.Transform(side, towards))
        car.set_target_velocity(towards.get_forward_vector() * 6.0)
        features = dict(zip(OBSTACLE_FEATURES, obstacles.features()))
        assert features["leader_gap"] == 1.0, "not on the route yet"
        assert features["crossing_time"] * 3.0 in (1.5, 2.0) and features["crossing_gap"] < 1.0
        car.set_target_velocity(carla.Vector3D())
        assert obstacles.features()[5:] == pytest.approx(none_ahead()[5:]), "a standing car crosses nothing"
        # behind the hero on its route: a follower is in nobody's way
        car.set_transform(lifted)
        hero.set_transform(progress.route[index + 15][0].transform)
        while progress.index < index + 14:
            progress.update(hero.get_location())
        assert obstacles.features()[:5] == pytest.approx(none_ahead()[:5])
    finally:
        env.close()


def test_virtual_lidar_measures_the_road_the_markings_and_a_car_ahead():
    env = lidar_env()
    try:
        env.reset(seed=0)
        core = env.core
        hero = core.hero
        lidar = core.sensor_interface.sensors["vlidar"].lidar
        waypoint = core.map.get_waypoint(hero.get_location())
        # on a straight lane's centre: road edge and first marking on each side agree with the lane geometry
        for _ in range(30):
            waypoint = waypoint.next(2.0)[0]
            if not waypoint.is_junction and all(not w.is_junction for w in waypoint.next(25.0) + waypoint.previous(25.0)):
                break
        hero.set_transform(carla.Transform(waypoint.transform.location + carla.Location(z=0.3), waypoint.transform.rotation))
        core.tick(None)
        rays = lidar.measure()  # ahead, right, behind, left
        half = waypoint.lane_width / 2.0
        assert rays[1, 1] == pytest.approx(half, abs=0.5) or rays[3, 1] == pytest.approx(half, abs=0.5)
        assert np.all(rays[[1, 3], 1] <= rays[[1, 3], 0] + 0.01), "markings lie on the road"
        assert rays[0, 0] > 10.0 and rays[0, 2] == 40.0
        # a car parked 15 m ahead on the lane: the forward ray hits its rear
        ahead = waypoint.next(15.0)[0].transform
        blueprint = core.world.get_blueprint_library().find("vehicle.tesla.model3")
        other = core.world.spawn_actor(blueprint, carla.Transform(ahead.location + carla.Location(z=0.3), ahead.rotation))
        core.tick(None)
        gap = 15.0 - other.bounding_box.extent.x + other.bounding_box.location.x
        assert lidar.measure()[0, 2] == pytest.approx(gap, abs=0.6)
        other.destroy()
    finally:
        env.close()


def route_follower(observation, rays=4):
    """Steer at the route point 6 m ahead (from the observation), about 25 km/h, stop at red lights."""
    state = observation[rays * 3:rays * 3 + len(STATE)]
    points = observation[rays * 3 + len(STATE):].reshape(len(ROUTE_LOOKAHEAD), 2)
    forward, right = points[ROUTE_LOOKAHEAD.index(6)]
    steer = float(np.clip(1.5 * math.atan2(right, max(forward, 1e-3)), -1.0, 1.0))
    if state[STATE.index("red_light")] > 0.5:
        return np.array([-1.0, steer], dtype=np.float32)
    return np.array([0.5 if state[0] * 36.0 < 25.0 else 0.0, steer], dtype=np.float32)


def test_the_route_reward_pays_for_following_the_route():
    """The learning signal on GridTown's routes (straight roads and turns at junctions): following the
    route earns more than full throttle straight on (off the route at the first turn) and than standing."""
    env = lidar_env()
    try:
        for seed in range(3):
            follow, follow_info = drive_episode(env, seed, route_follower)
            straight, straight_info = drive_episode(env, seed, lambda obs: np.array([1.0, 0.0], dtype=np.float32))
            stand, stand_info = drive_episode(env, seed, lambda obs: np.array([-1.0, 0.0], dtype=np.float32))
            assert stand_info["end_reason"] == "idle" and stand < 0.0
            assert follow_info["episode_distance"] > 60.0 and follow > straight + 10.0, (follow_info, straight_info)
            assert follow_info.get("end_reason") in (None, "completed", "red"), follow_info
    finally:
        env.close()


def test_route_experiment_config_errors():
    base = {"type": RouteExperiment, "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar"}}}}
    with pytest.raises(ConfigError, match="others.observation: 'lidar' is not an observation"):
        RouteExperiment(dict(base, others={"observation": "lidar"}))
    with pytest.raises(ConfigError, match="hero.sensors.camera: observation camera needs a sensor named 'camera'"):
        RouteExperiment(dict(base, others={"observation": "camera"}))
    with pytest.raises(ConfigError, match="others.route_length"):
        RouteExperiment(dict(base, others={"route_length": [300, 100]}))
    with pytest.raises(ConfigError, match="others.control: 'brake' is not a control of RouteExperiment. Fix: use "
                                          "throttle or speed"):
        RouteExperiment(dict(base, others={"control": "brake"}))
    env = lidar_env()
    try:
        env.core.sensor_interface.destroy()
        with pytest.raises(ConfigError, match="sensors.vlidar.rays: expected a whole number"):
            env.core.reset_hero({"blueprint": "vehicle.lincoln.mkz_2017", "spawn_points": [],
                                 "sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 0}}},
                                np.random.default_rng(0))
    finally:
        env.close()


def test_a_town_list_draws_a_town_per_episode():
    config = {"carla": {"simulator": "embedded", "enable_rendering": False},
              "experiment": {"type": RouteExperiment, "town": ["GridTown", "RingTown"],
                             "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 4}}},
                             "background_activity": {"n_vehicles": 2, "n_walkers": 0, "seed": 1}}}
    env = CarlaEnv(config)
    try:
        towns = []
        for seed in range(6):
            env.reset(seed=seed)
            towns.append(env.core.town)
            assert env.core.map.name.endswith(env.core.town) and env.core.route is not None
            assert len(env.core.world.get_actors().filter("vehicle.*")) == 3, "the background follows the town"
            env.step(np.zeros(2, dtype=np.float32))
        assert set(towns) == {"GridTown", "RingTown"}
        env.reset(seed=2)
        first = env.core.town
        env.reset(seed=2)
        assert env.core.town == first, "the draw follows the seed"
    finally:
        env.close()
    with pytest.raises(ConfigError, match="experiment.town: \\[\\] is not a town name or a list"):
        CarlaEnv(dict(config, experiment=dict(config["experiment"], town=[])))


def train(tmp_path, kind, *args):
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(tiny(kind)))
    return subprocess.run([sys.executable, os.path.join(ROOT, "ppo_train.py"), str(path), "-d", str(tmp_path / "results"),
                           "-n", kind, "--tboff", *args], cwd=tmp_path, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("kind", ["vlidar", "camera"])
def test_each_config_trains_and_its_checkpoints_drive_with_and_without_ray(tmp_path, kind):
    extra = ["--mlflow-uri", (tmp_path / "mlruns").as_uri()] if kind == "vlidar" else []
    result = train(tmp_path, kind, *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "iter    2 |" in result.stdout and " RC " in result.stdout and "route DS" in result.stdout
    checkpoint = find_latest_checkpoint(str(tmp_path / "results" / kind))
    module = load_module(str(tmp_path / "results" / kind))
    policy = load_policy(checkpoint)
    data = load_env_config(str(tmp_path / f"{kind}.yaml"))
    env = CarlaEnv(data["env_config"])
    try:
        observation, _ = env.reset(seed=5)
        for _ in range(30):
            with_ray = greedy_action(module, observation)
            without_ray = policy_action(policy, observation)
            assert with_ray.shape == (2,) and np.allclose(with_ray, without_ray, atol=1e-5)
            observation, *_ = env.step(with_ray)
    finally:
        env.close()
    # (the Ray-free script with the camera's convolutional network, RLlib's with the virtual LiDAR's MLP: both
    # networks were compared in both paths above)
    for script in ["ppo_inference.py" if kind == "camera" else "ppo_inference_ray.py"]:
        video = tmp_path / f"{script}.mp4"
        run_inference = subprocess.run([sys.executable, os.path.join(ROOT, script), str(tmp_path / f"{kind}.yaml"),
                                        str(tmp_path / "results" / kind), "--episodes", "1", "--record", str(video)],
                                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert run_inference.returncode == 0, run_inference.stderr[-2000:]
        rows = [line.split() for line in run_inference.stdout.splitlines() if line.split()[:1] == ["0"]]
        assert len(rows) == 1 and "route_completion" in run_inference.stdout
        assert os.path.getsize(video) > 1000
    if extra:
        check_mlflow(tmp_path / "mlruns")


def test_the_selfplay_config_trains_heroes_of_one_world_and_its_policy_drives_alone(tmp_path):
    result = train(tmp_path, "selfplay")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "iter    1 |" in result.stdout and "route DS" in result.stdout
    policy = load_policy(find_latest_checkpoint(str(tmp_path / "results" / "selfplay")))
    config = load_env_config(str(tmp_path / "selfplay.yaml"))["env_config"]
    config["experiment"]["heroes"] = 1  # the policy drives alone, as evaluate.py scores it
    env = CarlaEnv(config)
    try:
        observation, _ = env.reset(seed=5)
        for _ in range(20):
            observation, *_ = env.step(policy_action(policy, observation))
    finally:
        env.close()


def test_a_training_yaml_with_worlds_gives_each_runner_heroes_times_worlds_envs(tmp_path):
    from rllib_integration import CarlaVectorEnv
    from rllib_integration.training.algorithm_config import build_algorithm_config
    data = tiny("selfplay")
    data["env_config"]["experiment"].update(heroes=2, worlds=3)
    data["env_runners"]["num_envs_per_env_runner"] = 6
    path = tmp_path / "worlds.yaml"
    path.write_text(yaml.safe_dump(data))
    config = build_algorithm_config(load_env_config(str(path)), str(path), "PPO")
    assert config.env is CarlaVectorEnv and config.num_envs_per_env_runner == 6
    data["env_runners"]["num_envs_per_env_runner"] = 2
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="3 world\\(s\\) of 2 heroes its 6 envs. Fix: set num_envs_per_env_runner: 6"):
        build_algorithm_config(load_env_config(str(path)), str(path), "PPO")


def check_mlflow(store):
    """The run is in the file store with its parameters, metrics per iteration and checkpoints."""
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("vlidar")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["gamma"] == "0.99" and "lr" in run.data.params
    steps = client.get_metric_history(run.info.run_id, "num_env_steps_sampled_lifetime")
    assert [m.value for m in steps] == [200, 400], "one value per iteration"
    assert len(client.get_metric_history(run.info.run_id, "evaluation/driving_score")) == 1, "route evaluation"
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert any(a.startswith("checkpoint_") for a in artifacts), artifacts


def test_sampled_infos_travel_to_the_learner_as_python_numbers():
    """Every training configuration turns the NumPy scalars gymnasium's DictInfoToList hands each episode into
    Python numbers before RLlib pickles the episodes (one by one, NumPy scalars pickle a hundred times slower)."""
    from ray.rllib.env.multi_agent_episode import MultiAgentEpisode
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    from rllib_integration.training.algorithm_config import build_algorithm_config
    from rllib_integration.training.callbacks import plain_infos
    single = SingleAgentEpisode(observations=[np.zeros(2), np.ones(2)], actions=[np.zeros(1)], rewards=[1.0],
                                infos=[{"speed": np.float64(1.5)}, {"speed": np.float64(2.5), "n": np.int64(3),
                                                                    "nested": {"ok": np.bool_(True)}, "why": "idle"}],
                                len_lookback_buffer=0)
    multi = MultiAgentEpisode(observations=[{"a": np.zeros(2)}, {"a": np.ones(2)}], actions=[{"a": np.zeros(1)}],
                              rewards=[{"a": 1.0}], infos=[{"a": {"x": np.float32(0.5)}}, {"a": {"x": np.float32(1.0)}}],
                              len_lookback_buffer=0)
    plain_infos(samples=[single, multi], env_runner=None, metrics_logger=None)
    assert single.get_infos() == [{"speed": 1.5}, {"speed": 2.5, "n": 3, "nested": {"ok": True}, "why": "idle"}]
    assert [type(info["speed"]) for info in single.get_infos()] == [float, float]
    assert type(single.get_infos(-1)["n"]) is int and type(single.get_infos(-1)["nested"]["ok"]) is bool
    infos = multi.agent_episodes["a"].get_infos()
    assert infos == [{"x": 0.5}, {"x": 1.0}] and all(type(info["x"]) is float for info in infos)
    config = build_algorithm_config(tiny("selfplay"), "selfplay.yaml", "PPO")
    assert config.callbacks_on_sample_end is plain_infos


def test_critic_warmup_is_checked_and_gives_ppo_a_policy_and_a_critic_optimizer():
    from rllib_integration.training.algorithm_config import run_settings
    from rllib_integration.training.fine_tuning import FineTuningPPOLearner, policy_schedule
    stop = {"stop": {"time_total_s": 1}}
    assert run_settings({"run": stop}, "a.yaml")["critic_warmup_steps"] == 0
    for bad in (-1, 1.5, "many", True):
        with pytest.raises(ConfigError, match="run.critic_warmup_steps: expected a whole number of env steps"):
            run_settings({"run": {**stop, "critic_warmup_steps": bad}}, "a.yaml")
    with pytest.raises(ConfigError, match="starts from no weights. Fix: set run.init_from"):
        run_settings({"run": {**stop, "critic_warmup_steps": 1000}}, "a.yaml")
    from rllib_integration.training.algorithm_config import build_algorithm_config
    source = CONFIGS["selfplay"]
    data = load_env_config(source)
    data["run"] = {**stop, "init_from": "somewhere", "critic_warmup_steps": 1000}
    config = build_algorithm_config(data, source, default_algorithm="PPO")
    assert config.learner_class is FineTuningPPOLearner and config.learner_config_dict["critic_warmup_steps"] == 1000
    assert config.learner_config_dict["anchor_kl_coeff"] == 0.0
    assert policy_schedule(1000, 3e-4) == [(0, 0.0), (1000, 0.0), (1001, 3e-4)]
    data["model"]["vf_share_layers"] = True
    with pytest.raises(ConfigError, match="share their layers.*Fix: set model.vf_share_layers: false"):
        build_algorithm_config(data, source, default_algorithm="PPO")
    data["model"]["vf_share_layers"], data["training"]["lr"] = False, [[0, 1e-3], [1000, 1e-4]]
    with pytest.raises(ConfigError, match="needs a fixed training.lr"):
        build_algorithm_config(data, source, default_algorithm="PPO")
    data["algorithm"], data["training"] = "DQN", {}
    with pytest.raises(ConfigError, match="a fine-tuning option of PPO's learner, not DQN's"):
        build_algorithm_config(data, source, default_algorithm="PPO")


def test_anchor_kl_coeff_is_checked_and_needs_the_initial_weights(tmp_path):
    from rllib_integration.training.algorithm_config import build_algorithm_config, run_settings
    stop = {"stop": {"time_total_s": 1}}
    assert run_settings({"run": stop}, "a.yaml")["anchor_kl_coeff"] == 0.0
    for bad in (-0.1, "much", True, float("inf"), None):
        with pytest.raises(ConfigError, match="run.anchor_kl_coeff: expected a number from 0"):
            run_settings({"run": {**stop, "anchor_kl_coeff": bad}}, "a.yaml")
    with pytest.raises(ConfigError, match="starts from no weights. Fix: set run.init_from"):
        run_settings({"run": {**stop, "anchor_kl_coeff": 0.5}}, "a.yaml")
    source = CONFIGS["selfplay"]
    data = load_env_config(source)
    data["run"] = {**stop, "init_from": str(tmp_path / "nowhere"), "anchor_kl_coeff": 0.5}
    with pytest.raises(ConfigError, match="run.init_from"):  # the anchor's folder is looked for when the config is built
        build_algorithm_config(data, source, default_algorithm="PPO")
    data["run"]["anchor_kl_coeff"] = 0  # no anchor, no warm-up: PPO's own learner
    from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
    assert build_algorithm_config(data, source, default_algorithm="PPO").learner_class is PPOTorchLearner


def test_run_learner_threads_sets_the_algorithm_processes_torch_threads():
    from ray.rllib.algorithms.ppo import PPO

    from rllib_integration.training.algorithm_config import run_settings
    from rllib_integration.training.trainable import trainable
    assert run_settings({"run": {"stop": {"time_total_s": 1}}}, "a.yaml")["learner_threads"] is None  # Ray's
    assert run_settings({"run": {"stop": {"time_total_s": 1}, "learner_threads": 2}}, "a.yaml")["learner_threads"] == 2
    for bad in (0, "two", True):
        with pytest.raises(ConfigError, match="run.learner_threads: expected a whole number of threads from 1"):
            run_settings({"run": {"stop": {"time_total_s": 1}, "learner_threads": bad}}, "a.yaml")
    assert trainable(PPO, learner_threads=2).learner_threads == 2
    assert yaml.safe_load(open(os.path.join(ROOT, "ppo_example", "ppo_selfplay_config.yaml")))["run"]["learner_threads"] == 2
