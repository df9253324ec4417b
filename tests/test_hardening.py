"""Bad input and misuse, each reproduced first: numbers out of range, keys given twice, the env called out of
order or with foreign actions, results folders that are not ours, broken checkpoints, and a training YAML
whose problems used to surface only inside Ray. Property-based fuzzing (hypothesis) of env_config and the
training YAML: every wrong value ends in one ConfigError naming its key path."""

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration import CarlaEnv, ConfigError, EnvUsageError, load_env_config
from rllib_integration.config import BASE_CORE_CONFIG, RANGES, load_yaml
from rllib_integration.embedded.sim import geometry
from rllib_integration.sensors import check_sensors
from rllib_integration.training.algorithm_config import build_algorithm_config
from rllib_integration.training.preflight import check_options, preflight
from rllib_integration.inference.checkpoints import check_checkpoint, find_latest_checkpoint
from rllib_integration.training.results import (MARKER, prepare_results,
                                                remove_failed_start)

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY_SENSORS = {"birdview": {"type": "sensor.birdview", "size": 32, "radius": 16}}


def dqn_env_config(**carla):
    return {"carla": {"simulator": "embedded", "enable_rendering": False, **carla},
            "experiment": {"type": DQNExperiment, "town": "GridTown", "hero": {"sensors": dict(TINY_SENSORS)},
                           "others": {"framestack": 2, "max_time_episode": 50}}}


# -- numbers with ranges, words with choices, keys given twice --------------------------------------------------

@pytest.mark.parametrize("section, key, value, message", [
    ("experiment", "background_activity", {"n_vehicles": -3}, r"background_activity\.n_vehicles: -3 is out of range"),
    ("carla", "timestep", 1e6, r"timestep: 1000000\.0 is out of range. Fix: use a value from 0\.001 to 1"),
    ("carla", "timestep", 0, r"timestep: 0 is out of range"),
    ("carla", "timestep", -0.05, r"timestep: -0\.05 is out of range"),
    ("carla", "max_restarts", -1, r"max_restarts: -1 is out of range"),
    ("carla", "timeout", 0, r"timeout: 0 is out of range"),
    ("carla", "fault_injection", {"every_ticks": -5}, r"fault_injection\.every_ticks: -5 is out of range"),
    ("carla", "fault_injection", {"mode": "explode"}, r"fault_injection\.mode: 'explode' is not one of none, raise, hang"),
    ("carla", "quality_level", "Ultra", r"quality_level: 'Ultra' is not one of Low, Epic"),
    ("carla", "timeout", float("nan"), r"timeout: nan is not a finite number"),
])
def test_numbers_out_of_range_are_config_errors_with_the_key_path(section, key, value, message):
    config = dqn_env_config()
    config[section][key] = value
    with pytest.raises(ConfigError, match=message):
        CarlaEnv(config)


@pytest.mark.parametrize("attributes, message", [
    ({"type": "sensor.birdview", "size": 100000}, r"birdview\.size: expected a whole number of pixels from 8 to 2048"),
    ({"type": "sensor.birdview", "size": -5}, r"birdview\.size"),
    ({"type": "sensor.birdview", "radius": 0}, r"birdview\.radius: expected metres above 0"),
    ({"type": "sensor.camera.rgb", "image_size_x": 100000}, r"image_size_x: expected a whole number from 1 to 8192"),
    ({"type": "sensor.camera.rgb", "fov": "wide"}, r"fov: expected a number from 1 to 179, got 'wide'"),
    ({"type": "sensor.camera.rgb", "transform": "1,0,nan,0,0,0"}, r"transform: .* not a usable transform"),
])
def test_sensor_attributes_are_checked_before_anything_starts(attributes, message):
    with pytest.raises(ConfigError, match=message):
        check_sensors({"birdview" if "birdview" in attributes["type"] else "camera": attributes})


def test_a_nan_spawn_point_is_refused():
    config = dqn_env_config()
    config["experiment"]["hero"]["spawn_points"] = ["10,nan,0"]
    with pytest.raises(ConfigError, match=r"spawn_points\[0\]: '10,nan,0' has a number that is not finite"):
        CarlaEnv(config)


def test_experiment_ranges_framestack_zero():
    config = dqn_env_config()
    config["experiment"]["others"]["framestack"] = 0
    with pytest.raises(ConfigError, match=r"others\.framestack: 0 is out of range. Fix: use a value from 1 to 16"):
        CarlaEnv(config)


def test_a_key_given_twice_in_a_yaml_file(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("env_config:\n  carla:\n    timeout: 5\n    timestep: 0.05\n    timeout: 50\n")
    with pytest.raises(ConfigError, match=r"line 5.*key 'timeout' given twice \(first at line 3\)"):
        load_yaml(path)


# -- the env under misuse ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env():
    environment = CarlaEnv(dqn_env_config())
    yield environment
    environment.close()


def test_step_before_reset_and_after_close():
    environment = CarlaEnv(dqn_env_config())
    with pytest.raises(EnvUsageError, match="no episode started. Fix: call reset"):
        environment.step(0)
    environment.reset(seed=0)
    environment.step(0)
    environment.close()
    with pytest.raises(EnvUsageError, match="the env is closed"):
        environment.step(0)
    with pytest.raises(EnvUsageError, match="the env is closed"):
        environment.reset()
    environment.close()  # closing twice is harmless


@pytest.mark.parametrize("action", [29, -1, 3.7, "7", None, [1], True])
def test_actions_outside_the_action_space(env, action):
    env.reset(seed=0)
    with pytest.raises(EnvUsageError, match=r"is not an action of Discrete\(29\)"):
        env.step(action)


def test_valid_actions_of_every_integer_kind(env):
    env.reset(seed=0)
    for action in (0, np.int64(8), np.array(15), np.int32(28)):
        env.step(action)


def test_box_actions():
    from ppo_example.ppo_experiment import RouteExperiment
    environment = CarlaEnv({"carla": {"simulator": "embedded", "enable_rendering": False},
                            "experiment": {"type": RouteExperiment, "town": "GridTown",
                                           "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 8}}},
                                           "others": {"route_length": [100, 200]}}})
    try:
        environment.reset(seed=0)
        environment.step(np.array([0.5, 0.0], np.float64))  # another float type is fine
        environment.step([0.2, -0.1])
        for action in ([2.0, 0.0], [0.5], [float("nan"), 0.0], "fast"):
            with pytest.raises(EnvUsageError, match=r"is not an action of Box"):
                environment.step(action)
    finally:
        environment.close()


# -- results folders and checkpoints ----------------------------------------------------------------------------

def test_names_must_be_plain_folder_names(tmp_path):
    root = tmp_path / "results"
    for name in ("..", "", ".", "a/b", "/etc", "~", "../x"):
        with pytest.raises(ConfigError, match="not a plain folder name"):
            prepare_results(str(root), name, restore=False, overwrite=True)
    assert tmp_path.exists() and not root.exists()


def test_overwrite_deletes_only_folders_this_tool_made(tmp_path):
    root = tmp_path / "results"
    (root / "precious").mkdir(parents=True)
    (root / "precious" / "data.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="was not made by the training scripts .* left alone"):
        prepare_results(str(root), "precious", restore=False, overwrite=True)
    assert (root / "precious" / "data.txt").read_text() == "keep me"
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "link")
    with pytest.raises(ConfigError, match="leads outside the results root"):
        prepare_results(str(root), "link", restore=False, overwrite=True)
    prepare_results(str(root), "ours", restore=False, overwrite=False)
    assert (root / "ours" / MARKER).is_file()
    (root / "ours" / "trial").mkdir()
    prepare_results(str(root), "ours", restore=False, overwrite=True)
    assert not (root / "ours" / "trial").exists() and (root / "ours" / MARKER).is_file()


def fake_checkpoint(folder: pathlib.Path, iteration: int) -> pathlib.Path:
    """A checkpoint folder with the files check_checkpoint reads."""
    path = folder / f"checkpoint_{iteration:06d}"
    module = path / "learner_group" / "learner" / "rl_module" / "default_policy"
    module.mkdir(parents=True)
    (module / "module_state.pt").write_bytes(b"state")
    (path / "algorithm_state.pkl").write_bytes(b"state")
    (path / "rllib_checkpoint.json").write_text(json.dumps({"type": "Algorithm"}))
    (path / "training_progress.json").write_text(json.dumps({"training_iteration": iteration}))
    (path / "policy.onnx").write_bytes(tiny_onnx())
    os.utime(path / "rllib_checkpoint.json", (1000 + iteration, 1000 + iteration))
    return path


def tiny_onnx() -> bytes:
    """A whole (if trivial) ONNX model: an identity."""
    from onnx import TensorProto, helper
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [value], [out])
    return helper.make_model(graph).SerializeToString()


def test_a_broken_newest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, caplog):
    trial = tmp_path / "exp" / "trial"
    older, newest = fake_checkpoint(trial, 1), fake_checkpoint(trial, 2)
    assert find_latest_checkpoint(str(tmp_path / "exp")) == str(newest)
    (newest / "training_progress.json").write_text('{"training_iter')  # a crash while it was written
    with caplog.at_level("WARNING"):
        assert find_latest_checkpoint(str(tmp_path / "exp")) == str(older)
    assert "training_progress.json: unreadable" in caplog.text
    (newest / "training_progress.json").write_text("{}")
    (newest / "algorithm_state.pkl").unlink()
    with pytest.raises(ValueError, match="algorithm_state.pkl: missing or empty"):
        check_checkpoint(str(newest))
    (older / "policy.onnx").write_bytes(tiny_onnx()[:-9])  # cut short: the check parses it
    with pytest.raises(FileNotFoundError, match="no intact checkpoint .*policy.onnx: not a complete"):
        find_latest_checkpoint(str(tmp_path / "exp"))


def test_a_failed_start_leaves_no_results_folder(tmp_path):
    root = tmp_path / "results"
    prepare_results(str(root), "run", restore=False, overwrite=False)
    (root / "run" / "trial" / "error.txt").parent.mkdir()
    assert remove_failed_start(str(root / "run")) and not (root / "run").exists()
    prepare_results(str(root), "run", restore=False, overwrite=False)
    fake_checkpoint(root / "run" / "trial", 1)
    assert not remove_failed_start(str(root / "run")), "a folder with a checkpoint is kept"


# -- the training YAML checked before Ray starts ----------------------------------------------------------------

TRAINING = {
    "env_config": {"carla": {"simulator": "embedded", "enable_rendering": False},
                   "experiment": {"type": "dqn_example.dqn_experiment:DQNExperiment", "town": "GridTown",
                                  "hero": {"sensors": TINY_SENSORS}, "others": {"framestack": 2}}},
    "env_runners": {"num_env_runners": 1, "rollout_fragment_length": 8},
    "model": {"conv_filters": [[8, 4, 2], [16, 3, 2]], "latent_dim": 32, "head_fcnet_hiddens": [32]},
    "training": {"train_batch_size_per_learner": 16, "lr": 0.0005,
                 "replay_buffer_config": {"type": "EpisodeReplayBuffer", "capacity": 2000}},
}


def check_training(tmp_path, data):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    loaded = load_env_config(str(path))
    preflight(loaded, str(path), build_algorithm_config(loaded, str(path)))


def changed(**sections):
    data = json.loads(json.dumps(TRAINING))
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    return data


@pytest.mark.parametrize("data, message", [
    (changed(training={"lr": "fast"}), r"training\.lr: expected a number or a schedule, got 'fast'"),
    (changed(training={"gamma": 2.0}), r"training\.gamma: 2\.0 is out of range"),
    (changed(model={"conv_filters": [[16, 5]]}), r"model\.conv_filters\[0\]: \[16, 5\] is not a layer"),
    (changed(model={"conv_filters": [[16, 8, 4], [32, 8, 4], [64, 8, 4]]}), r"model: the network cannot be built"),
    (changed(env_runners={"num_envs_per_env_runner": 0}), r"env_runners\.num_envs_per_env_runner: 0 is out of range"),
    (changed(env_runners={"rollout_fragment_length": 2}, training={"n_step": 3}), r"RLlib rejects the configuration"),
    (changed(env_config={"carla": {"simulator": "embedded"}, "experiment": {
        "type": "dqn_example.dqn_experiment:DQNExperiment", "town": "GridTown",
        "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 100000}}}}}), r"birdview\.size"),
])
def test_training_yaml_errors_surface_before_ray(tmp_path, data, message):
    with pytest.raises(ConfigError, match=message):
        check_training(tmp_path, data)


def test_a_corrupt_town_file_and_an_empty_yaml(tmp_path):
    corrupt = tmp_path / "broken.xodr"
    corrupt.write_bytes(shutil.which("ls") and open(shutil.which("ls"), "rb").read(4000))
    data = changed()
    data["env_config"]["experiment"]["town"] = str(corrupt)
    with pytest.raises(ConfigError, match=r"env_config\.experiment\.town: .*broken\.xodr: not an OpenDRIVE file"):
        check_training(tmp_path, data)
    truncated = tmp_path / "half.xodr"
    truncated.write_text("<?xml version='1.0'?>\n<OpenDRIVE>\n  <header revMajor='1'/>\n  <road id='1'")
    data["env_config"]["experiment"]["town"] = str(truncated)
    with pytest.raises(ConfigError, match=r"half\.xodr: not valid OpenDRIVE XML \(line 4"):
        check_training(tmp_path, data)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    result = subprocess.run([sys.executable, str(ROOT / "dqn_train.py"), str(empty), "-d", str(tmp_path / "r"),
                             "--tboff"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "r").exists(), "no results folder for a run that never started"


# -- property-based fuzzing -------------------------------------------------------------------------------------

WRONG_VALUES = st.one_of(st.text(max_size=8), st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                         st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 12, 10 ** 12))


def _in_range(key: str, value) -> bool:
    default = BASE_CORE_CONFIG.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or isinstance(default, bool):
        return False
    if isinstance(default, int) and not isinstance(value, int) or not math.isfinite(value):
        return False
    low, high = RANGES.get(key, (-math.inf, math.inf))
    return low <= value <= high


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(k for k, v in BASE_CORE_CONFIG.items() if isinstance(v, (int, float))
                                  and not isinstance(v, bool))), value=WRONG_VALUES)
def test_fuzzed_carla_numbers_are_config_errors_or_accepted(key, value):
    """Any value for a numeric key of env_config.carla is accepted when valid, else refused with a
    ConfigError naming env_config.carla.<key>: never another exception."""
    from rllib_integration.config import validate
    try:
        validate({key: value}, BASE_CORE_CONFIG, "env_config.carla")
    except ConfigError as error:
        assert f"env_config.carla: {key}" in str(error) and "Fix" in str(error)
        assert not _in_range(key, value)
    else:
        assert _in_range(key, value), (key, value)


TRAINING_KEYS = ["training.lr", "training.gamma", "training.train_batch_size_per_learner", "training.n_step",
                 "env_runners.num_env_runners", "env_runners.rollout_fragment_length", "model.conv_filters",
                 "model.latent_dim", "model.head_fcnet_hiddens", "training.replay_buffer_config.capacity"]


SPACES = (gym.spaces.Box(0, 255, (32, 32, 6), np.uint8), gym.spaces.Discrete(29))


@settings(max_examples=50, deadline=None)
@given(path=st.sampled_from(TRAINING_KEYS), value=st.one_of(WRONG_VALUES, st.lists(WRONG_VALUES, max_size=3)))
def test_fuzzed_training_options_end_in_one_config_error(path, value):
    """A generated value for a training option is accepted (the algorithm config and its network then
    build) or ends in a ConfigError naming its key path (or RLlib's verdict), never in a traceback from
    numpy, torch or Ray."""
    from rllib_integration.training.preflight import check_rllib
    data = json.loads(json.dumps(TRAINING))
    data["env_config"]["experiment"]["type"] = DQNExperiment
    *sections, key = path.split(".")
    target = data
    for section in sections:
        target = target.setdefault(section, {})
    target[key] = value
    try:
        check_options(data, "train.yaml")
        check_rllib(build_algorithm_config(data, "train.yaml"), SPACES, "train.yaml")
    except ConfigError as error:
        named = path.rsplit(".", 1)[0] if "replay" in path else path
        assert f"train.yaml: {named}" in str(error) or "RLlib rejects" in str(error) or "model:" in str(error), error


def test_a_network_too_large_for_the_memory_is_a_config_error_before_it_is_built():
    """Layer widths whose weights would exhaust the memory (a mistyped width) end in one ConfigError naming the model
    section, counted without allocating them (hypothesis once drew such widths, and the process took 22 GB)."""
    from rllib_integration.training.preflight import check_rllib
    data = json.loads(json.dumps(TRAINING))
    data["env_config"]["experiment"]["type"] = DQNExperiment
    data.setdefault("model", {})["head_fcnet_hiddens"] = [60000, 60000]
    check_options(data, "train.yaml")
    with pytest.raises(ConfigError, match=r"train.yaml: model: the network would have 7,205,907,094 parameters.*Fix"):
        check_rllib(build_algorithm_config(data, "train.yaml"), SPACES, "train.yaml")


@pytest.mark.parametrize("script, args, message", [
    ("dqn_inference_ray.py", ["dqn_example/dqn_config.yaml", "EMPTY"], "no checkpoint under"),
    ("dqn_inference.py", ["dqn_example/dqn_config.yaml", "EMPTY", "--episodes", "-2"], "argument --episodes: -2 is out of range"),
    ("demo_drive.py", ["--every", "0"], "argument --every: 0 is out of range"),
    ("dqn_train.py", ["dqn_example/dqn_config.yaml", "--iterations", "0"], "argument --iterations: 0 is out of range"),
    ("evaluate.py", ["--routes", "GridTown", "--workers", "0", "--out", "OUT"], "argument --workers: 0 is out of range"),
    ("evaluate.py", ["--routes", "GridTown", "--agent", "constant", "--agent-config", "throttle=nan", "--out", "OUT"],
     "--agent-config 'throttle=nan': nan is not a finite number"),
    ("dqn_inference.py", ["dqn_example/dqn_config.yaml", "/"], "no checkpoint under /."),
    ("ppo_train.py", ["ppo_example/ppo_vlidar_config.yaml", "--set", "training.lr"],
     "argument --set: 'training.lr' is not KEY=VALUE"),
    ("ppo_train.py", ["ppo_example/ppo_vlidar_config.yaml", "--set", "training.lr=[1"], "the value is not YAML"),
    ("ppo_train.py", ["ppo_example/ppo_vlidar_config.yaml", "--set", "algorithm.lr=1"],
     "--set algorithm.lr: algorithm is 'PPO', not a mapping of keys"),
    ("ppo_train.py", ["ppo_example/ppo_vlidar_config.yaml", "--set", "run.anchor_kl=1"],
     "run.anchor_kl: unknown key; did you mean 'anchor_kl_coeff'?"),
    ("ppo_train.py", ["ppo_example/ppo_vlidar_config.yaml", "--set", "env_config.experiment.heroes=0"],
     "env_config.experiment.heroes"),
])
def test_scripts_refuse_bad_flags_with_one_line(tmp_path, script, args, message):
    (tmp_path / "EMPTY").mkdir()
    args = [str(tmp_path / a) if a in ("EMPTY", "OUT") else a for a in args]
    result = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    if script == "dqn_inference_ray.py":
        assert "--restore" not in result.stderr, "the inference script has no such flag"


def test_set_replaces_settings_of_the_training_yaml_before_it_is_checked(tmp_path):
    from rllib_integration import load_env_config
    from rllib_integration.arguments import setting
    settings = [setting("training.lr=5e-5"), setting("run.anchor_kl_coeff=1"), setting("run.stop.time_total_s=60"),
                setting("env_config.experiment.heroes=4"), setting("model.fcnet_hiddens=[64, 64]")]
    assert settings[0] == (("training", "lr"), 5e-5) and settings[4] == (("model", "fcnet_hiddens"), [64, 64])
    data = load_env_config(str(ROOT / "ppo_example" / "ppo_vlidar_config.yaml"), settings=settings)
    assert data["training"]["lr"] == 5e-5 and data["run"]["anchor_kl_coeff"] == 1
    assert data["run"]["stop"] == {"time_total_s": 60} and data["env_config"]["experiment"]["heroes"] == 4
    assert data["model"]["fcnet_hiddens"] == [64, 64]
    assert data["env_config"]["experiment"]["others"]["observation"] == "vlidar", "the file's other settings stay"


def test_secrets_and_results_are_ignored_by_git_and_the_cluster_sync(tmp_path):
    """.gitignore (which ray up's rsync_filter applies too) lists keys, .pem files and results folders."""
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "keys/a.pem", "x.pem", "ray_results/run",
                              "results/x", "mlruns/0", "known_hosts", "run.mp4", "dqn_train.py"],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert ignored == ["keys/a.pem", "x.pem", "ray_results/run", "results/x", "mlruns/0", "known_hosts", "run.mp4"]


def test_a_yaml_alias_bomb_is_refused_and_messages_quote_little(tmp_path):
    """1.3 kB of nested aliases in training.lr grew dqn_train.py to 3 GB (the message quoted the value)."""
    levels = ['    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"    {chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("training:\n  lr:\n" + "\n".join(levels) + "\n")
    with pytest.raises(ConfigError, match="more than 40 aliases"):
        load_yaml(bomb)
    small = tmp_path / "small.yaml"
    small.write_text("training:\n  lr:\n" + "\n".join(levels[:4]) + "\n")
    result = subprocess.run([sys.executable, str(ROOT / "dqn_train.py"), str(small), "-d", str(tmp_path / "r")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "training.lr: expected a number or a schedule" in result.stderr
    assert len(result.stderr) < 600, "the value is quoted in a few words"


def test_route_evaluation_routes_are_checked_before_ray(tmp_path):
    routes = tmp_path / "routes.xml"
    routes.write_text('<routes><route id="0" town="Town99"><waypoint x="0" y="0" z="0"/><waypoint x="9" y="0" z="0"/>'
                      '</route></routes>')
    config = tmp_path / "train.yaml"
    config.write_text(f"route_evaluation: {{interval: 1, routes: {routes}}}\n")
    result = subprocess.run([sys.executable, str(ROOT / "dqn_train.py"), str(config), "-d", str(tmp_path / "r")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "route_evaluation.routes" in result.stderr
    assert "route '0' (Town99): unknown town 'Town99'" in result.stderr and "Traceback" not in result.stderr
    assert "ray" not in result.stdout.lower(), "nothing started"


def test_a_wrong_folder_is_not_walked_for_another_runs_checkpoint(tmp_path):
    """``dqn_inference.py CONFIG /`` walked the whole filesystem and drove the newest checkpoint it met, some other
    run's; checkpoints are looked for only where Tune puts them (NAME/<trial>/checkpoint_N)."""
    from rllib_integration.inference.checkpoints import checkpoints
    deep = tmp_path / "home" / "someone" / "ray_results" / "run" / "trial" / "checkpoint_000003"
    deep.mkdir(parents=True)
    (deep / "rllib_checkpoint.json").write_text("{}")
    assert checkpoints(str(tmp_path)) == []
    assert checkpoints(str(tmp_path / "home" / "someone" / "ray_results" / "run")) == [str(deep)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-20, 20), st.floats(-20, 20), st.floats(-math.pi, math.pi), st.floats(0.1, 4),
                          st.floats(0.1, 4), st.floats(-1, 1), st.floats(0.1, 3)), min_size=0, max_size=12),
       st.lists(st.tuples(st.floats(-20, 20), st.floats(-20, 20), st.floats(-math.pi, math.pi), st.floats(0.1, 6),
                          st.floats(0.1, 6), st.floats(-1, 1), st.floats(0.1, 3)), min_size=1, max_size=8))
def test_every_vehicles_light_in_one_call_is_the_one_its_own_box_finds(vehicles, triggers):
    """The kernel finds every vehicle's traffic light in one compiled call a frame (geometry.first_overlaps);
    each is the first trigger volume that vehicle's box alone overlaps (geometry.overlaps_with)."""
    boxes = np.array([(x, y, yaw, ex, ey, z, z + h) for x, y, yaw, ex, ey, z, h in vehicles]).reshape(-1, 7)
    volumes = np.array([(x, y, yaw, ex, ey, z, z + h) for x, y, yaw, ex, ey, z, h in triggers]).reshape(-1, 7)
    found = geometry.first_overlaps(boxes, volumes)
    for box, index in zip(boxes, found):
        alone = geometry.overlaps_with(tuple(box), volumes)
        assert index == (alone[0] if len(alone) else -1)


def test_a_run_asking_more_cpus_than_ray_offers_is_refused_with_the_share_that_fits():
    """Ray's tuner would wait for ever for resources no node offers (saying so only in its log): the
    launcher refuses such a run at once, naming what it asks, what is offered and the fix."""
    from rllib_integration.training.launcher import resources_missing
    data = json.loads(json.dumps(TRAINING))
    data["env_runners"]["num_env_runners"] = 2
    config = build_algorithm_config(data, "train.yaml")
    error = resources_missing(config, {"CPU": 2.0})
    assert "asks for 3 CPUs" in error and "offers 2" in error, error
    assert "num_cpus_per_env_runner: 0.5" in error, error
    assert resources_missing(config, {"CPU": 3.0}) is None
    data["env_runners"]["num_cpus_per_env_runner"] = 0.5
    assert resources_missing(build_algorithm_config(data, "train.yaml"), {"CPU": 2.0}) is None
    data["learners"] = {"num_gpus_per_learner": 1}
    error = resources_missing(build_algorithm_config(data, "train.yaml"), {"CPU": 2.0})
    assert "GPUs" in error and "num_gpus_per_learner: 0" in error, error


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*_example/*_config.yaml")))
def test_every_example_config_fits_the_two_core_machine(path):
    """The README's commands run on a 2-core machine: no example asks Ray for more than 2 CPUs or any GPU."""
    from rllib_integration.training.launcher import resources_missing
    data = load_env_config(str(ROOT / path))
    assert resources_missing(build_algorithm_config(data, path), {"CPU": 2.0}) is None
