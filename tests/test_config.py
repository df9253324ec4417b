"""Configuration layering and the promised error messages."""

import logging

import pytest

from rllib_integration import BASE_CORE_CONFIG, CarlaCore, CarlaEnv, ConfigError, join_dicts, load_env_config
from rllib_integration.errors import SimulatorUnavailableError
from rllib_integration.simulators import resolve_simulator
from rllib_integration.config import load_yaml, validate_env_config
from rllib_integration.base_experiment import BaseExperiment
from rllib_integration.spawn_points import parse_spawn_points


def test_join_dicts_merges_mappings_and_replaces_lists_and_scalars():
    defaults = {"a": 1, "nested": {"x": 1, "y": [1, 2]}, "list": [1, 2, 3]}
    merged = join_dicts(defaults, {"nested": {"y": [9]}, "list": [4], "new": {"k": 1}})
    assert merged == {"a": 1, "nested": {"x": 1, "y": [9]}, "list": [4], "new": {"k": 1}}
    merged["nested"]["x"] = 5
    assert defaults["nested"]["x"] == 1, "the defaults are never modified"


def test_original_defaults():
    assert BASE_CORE_CONFIG["timeout"] == 10.0 and BASE_CORE_CONFIG["timestep"] == 0.05
    assert BASE_CORE_CONFIG["retries_on_error"] == 10 and BASE_CORE_CONFIG["quality_level"] == "Low"
    assert BASE_CORE_CONFIG["enable_map_assets"] is False and BASE_CORE_CONFIG["show_display"] is False
    config = BaseExperiment({"background_activity": {"n_vehicles": 5}}).config
    assert config["background_activity"] == {"n_vehicles": 5, "n_walkers": 0, "tm_hybrid_mode": True, "seed": None,
                                             "respawn_per_episode": False, "vehicle_filter": "vehicle.*",
                                             "vehicle_attributes": {}}  # the last three keys are new


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file not found.*Fix: pass the path"):
        load_yaml(tmp_path / "nope.yaml")


def test_invalid_yaml_names_line_and_column(tmp_path):
    path = write(tmp_path, "env_config:\n  carla:\n    timeout: [1, 2\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: invalid YAML at line \d+, column \d+"):
        load_yaml(path)
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_yaml(write(tmp_path, "- just\n- a list\n"))


def validate_file(path):
    data = load_yaml(path)
    validate_env_config(data["env_config"], str(path), BaseExperiment.default_config())


def test_unknown_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, "env_config:\n  carla:\n    timout: 5\n")
    with pytest.raises(ConfigError) as error:
        validate_file(path)
    message = str(error.value)
    assert message.startswith(f"{path}: env_config.carla.timout: unknown key; did you mean 'timeout'?")
    assert "Fix: rename or remove 'timout'" in message
    path = write(tmp_path, "env_config:\n  experiment:\n    hero:\n      blueprnt: vehicle.audi.a2\n")
    with pytest.raises(ConfigError, match=r"env_config\.experiment\.hero\.blueprnt: unknown key; did you mean 'blueprint'"):
        validate_file(path)
    with pytest.raises(ConfigError, match=r"env_config\.carl: unknown key; did you mean 'carla'"):
        validate_file(write(tmp_path, "env_config:\n  carl: {}\n"))


def test_wrong_type_names_the_expected_type(tmp_path):
    path = write(tmp_path, "env_config:\n  carla:\n    timeout: ten\n")
    with pytest.raises(ConfigError, match=r"env_config\.carla\.timeout: expected an integer or a number, got str 'ten'.*default: 10\.0"):
        validate_file(path)
    path = write(tmp_path, "env_config:\n  experiment:\n    background_activity:\n      n_vehicles: yes\n")
    with pytest.raises(ConfigError, match=r"n_vehicles: expected an integer or a range \[low, high\], got bool True"):
        validate_file(path)
    path = write(tmp_path, "env_config:\n  experiment:\n    background_activity:\n      seed: abc\n")
    with pytest.raises(ConfigError, match=r"seed: expected an integer or null"):
        validate_file(path)
    valid = write(tmp_path, "env_config:\n  carla:\n    timeout: 30\n  experiment:\n    hero:\n"
                            "      sensors: {birdview: {type: sensor.birdview}}\n    background_activity: {seed: 7}\n")
    validate_file(valid)


def test_experiment_specific_keys_come_from_the_subclass():
    class WithOthers(BaseExperiment):
        CONFIG_DEFAULTS = {"others": {"framestack": 4}}
    assert WithOthers({"others": {"framestack": 2}}).config["others"] == {"framestack": 2}
    with pytest.raises(ConfigError, match=r"others\.framestak: unknown key; did you mean 'framestack'"):
        WithOthers({"others": {"framestak": 2}})
    with pytest.raises(ConfigError, match="unknown key"):
        BaseExperiment({"others": {}})


def test_simulator_modes(monkeypatch, caplog):
    monkeypatch.delenv("CARLA_ROOT", raising=False)
    with caplog.at_level(logging.INFO):
        assert resolve_simulator("auto") == "embedded"
    assert "CARLA_ROOT is not set" in caplog.text
    monkeypatch.setenv("CARLA_ROOT", "/opt/carla")
    assert resolve_simulator("auto") == "launch"
    with pytest.raises(SimulatorUnavailableError, match=r"/opt/carla/CarlaUE4.sh is missing or not executable.*Fix"):
        CarlaCore({"simulator": "launch"})
    with pytest.raises(SimulatorUnavailableError, match=r"no CARLA server answers at localhost:2\d+\. Fix: start one"):
        CarlaCore({"simulator": "connect", "port": 2999, "timeout": 0.5})
    with pytest.raises(ConfigError, match="simulator: 'carla' is not one of auto, embedded, launch, connect"):
        CarlaCore({"simulator": "carla"})


def test_env_level_errors(monkeypatch):
    monkeypatch.delenv("CARLA_ROOT", raising=False)
    with pytest.raises(ConfigError, match=r"env_config\.experiment\.type: missing"):
        CarlaEnv({"experiment": {}})
    with pytest.raises(ConfigError, match=r"cannot import 'no_such_module:Thing'"):
        CarlaEnv({"experiment": {"type": "no_such_module:Thing"}})
    with pytest.raises(ConfigError, match="is not a BaseExperiment subclass"):
        CarlaEnv({"experiment": {"type": "collections:OrderedDict"}})


class SpacesOnly(BaseExperiment):
    def get_action_space(self):
        return None

    def get_observation_space(self):
        return None


def test_world_level_errors(monkeypatch):
    monkeypatch.delenv("CARLA_ROOT", raising=False)
    with pytest.raises(ConfigError, match=r"env_config\.experiment\.town: unknown town 'Town05_Opt'.*GridTown"):
        CarlaEnv({"experiment": {"type": SpacesOnly}})
    with pytest.raises(ConfigError, match=r"weather: unknown weather 'Sunny'.*ClearNoon"):
        CarlaEnv({"experiment": {"type": SpacesOnly, "town": "RingTown", "weather": "Sunny"}})
    env = CarlaEnv({"experiment": {"type": SpacesOnly, "town": "RingTown", "hero": {"blueprint": "vehicle.lincoln.mkz2017"}}})
    try:
        with pytest.raises(ConfigError, match=r"unknown blueprint 'vehicle.lincoln.mkz2017'; did you mean vehicle.lincoln.mkz_2017"):
            env.reset()
    finally:
        env.close()


def test_spawn_point_strings():
    assert parse_spawn_points(["1,2,3", "1, 2, 3, 0, 0, 90", [4, 5, 6]]) == [
        (1.0, 2.0, 3.0), (1.0, 2.0, 3.0, 0.0, 0.0, 90.0), (4.0, 5.0, 6.0)]
    with pytest.raises(ConfigError, match=r"spawn_points\[1\]: '1,2' is not a spawn point"):
        parse_spawn_points(["1,2,3", "1,2"])
    with pytest.raises(ConfigError, match=r"spawn_points\[0\]"):
        parse_spawn_points(["a,b,c"])


def test_load_env_config_resolves_the_experiment_and_validates(tmp_path):
    path = write(tmp_path, "lr: 0.001\nenv_config:\n  carla: {simulator: embedded, timeout: 30}\n"
                           "  experiment:\n    type: demo_drive:LaneKeepingExperiment\n"
                           "    town: GridTown\n    others: {max_steps: 20}\n")
    data = load_env_config(str(path))
    assert data["lr"] == 0.001
    experiment = data["env_config"]["experiment"]
    assert experiment["type"].__name__ == "LaneKeepingExperiment"
    env = CarlaEnv(data["env_config"])
    try:
        env.reset(seed=0)
        others = env.experiment.config["others"]
        assert others["max_steps"] == 20 and others["target_speed"] == 8.0, "the file's value over the default"
    finally:
        env.close()
    bad = write(tmp_path, "env_config:\n  experiment:\n    type: demo_drive:LaneKeepingExperiment\n"
                          "    others: {max_step: 20}\n")
    with pytest.raises(ConfigError, match=rf"{bad}: env_config\.experiment\.others\.max_step: unknown key; did you mean 'max_steps'"):
        load_env_config(str(bad))
    with pytest.raises(ConfigError, match=rf"{bad}: env_config\.experiment\.type: missing"):
        load_env_config(str(write(tmp_path, "env_config: {}\n")))
