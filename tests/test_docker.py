"""docker/: the compose file is valid (``docker compose config``, or Debian's docker-compose), runs the
official CARLA 0.9.16 image off-screen with a GPU and the trainer in connect mode against it; the trainer's
YAML loads and builds its RLlib config (no server or Docker engine is needed for either check)."""

import pathlib
import shutil
import subprocess

import pytest
import yaml

from rllib_integration import load_env_config
from rllib_integration.training import build_algorithm_config, run_settings

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker" / "compose.yaml"


def compose_command():
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("no docker compose (the Docker CLI's plugin) or docker-compose (Debian's package) on this machine")


def test_the_compose_file_is_valid_and_wires_the_trainer_to_the_server():
    result = subprocess.run([*compose_command(), "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    carla, trainer = services["carla"], services["trainer"]
    assert carla["image"] == "carlasim/carla:0.9.16" and "-RenderOffScreen" in carla["command"]
    assert carla["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert all(str(port).startswith("127.0.0.1:") for port in carla["ports"]), "loopback only"
    assert "docker/dqn_config_connect.yaml" in trainer["command"] and "carla" in trainer["depends_on"]


def test_the_trainer_config_connects_to_the_compose_server():
    path = str(ROOT / "docker" / "dqn_config_connect.yaml")
    data = load_env_config(path)
    carla = data["env_config"]["carla"]
    assert (carla["simulator"], carla["host"], carla["port"]) == ("connect", "carla", 2000)
    config = build_algorithm_config(data, path)
    assert config.env_config["carla"]["host"] == "carla" and run_settings(data, path)["stop"]
