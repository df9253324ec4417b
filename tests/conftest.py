"""Shared fixtures: embedded worlds in synchronous mode and the real CARLA town files."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import warnings

import carla
import pytest

from rllib_integration.embedded import Client, EmbeddedServer
from warm_kernels import cold_kernel_modules

#: A folder of real CARLA towns' .xodr files: $RLLIB_INTEGRATION_MAPS, else ../shared/maps beside the repository.
MAPS_DIR = pathlib.Path(os.environ.get("RLLIB_INTEGRATION_MAPS") or
                        pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "maps")


def shared_map(name: str) -> pathlib.Path:
    """Path of a real CARLA town in ../shared/maps, or skip the test with the reason."""
    path = MAPS_DIR / f"{name}.xodr"
    if not path.is_file():
        pytest.skip(f"{path} is absent: set RLLIB_INTEGRATION_MAPS to a folder of CARLA's .xodr files (a CARLA "
                    f"install's CarlaUE4/Content/Carla/Maps/OpenDrive), default ../shared/maps beside the repository")
    return path


@pytest.fixture(scope="module")
def carla_root(tmp_path_factory) -> pathlib.Path:
    """A CARLA_ROOT whose OpenDRIVE folder holds Town01 (the leaderboard loads towns by name)."""
    root = tmp_path_factory.mktemp("carla_root")
    folder = root / "CarlaUE4" / "Content" / "Carla" / "Maps" / "OpenDrive"
    folder.mkdir(parents=True)
    (folder / "Town01.xodr").symlink_to(shared_map("Town01"))
    return root


@pytest.fixture
def server():
    """A fresh embedded server, stopped after the test."""
    srv = EmbeddedServer.start("localhost", 40000)
    yield srv
    srv.stop()


def make_world(server: EmbeddedServer, town: str = "GridTown", delta: float = 0.05):
    client = Client("localhost", server.port)
    world = client.load_world(town)
    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = delta
    world.apply_settings(settings)
    return client, world


@pytest.fixture
def world(server):
    """A synchronous GridTown world at 20 Hz."""
    return make_world(server)[1]


@pytest.fixture
def no_carla_root(monkeypatch):
    monkeypatch.delenv("CARLA_ROOT", raising=False)


def straight_spawn(world) -> carla.Transform:
    """A spawn point with at least 60 m of straight, junction-free lane ahead."""
    town_map = world.get_map()
    for transform in town_map.get_spawn_points():
        waypoint = town_map.get_waypoint(transform.location)
        ahead = waypoint.next(60.0)
        if ahead and all(abs(((w.transform.rotation.yaw - transform.rotation.yaw + 180) % 360) - 180) < 1
                         for w in ahead) and not any(w.is_junction for d in range(5, 65, 5)
                                                     for w in waypoint.next(float(d))):
            return transform
    raise AssertionError("no straight spawn point")



def drive_episode(env, seed: int, act, steps: int = 400):
    """One episode of ``env`` from ``seed`` with ``act(observation)``, at most ``steps`` steps: (return, last info)."""
    observation, _ = env.reset(seed=seed)
    total, info = 0.0, {}
    for _ in range(steps):
        observation, reward, terminated, truncated, info = env.step(act(observation))
        total += reward
        if terminated or truncated:
            break
    return total, info


def constant_policy(path: pathlib.Path, action: int) -> pathlib.Path:
    """An ONNX policy for the DQN quickstart's observations that always answers ``action``."""
    import onnx
    from onnx import TensorProto, helper
    image = helper.make_tensor_value_info("observations.image", TensorProto.UINT8, ["batch", 64, 64, 6])
    state = helper.make_tensor_value_info("observations.state", TensorProto.FLOAT, ["batch", 4])
    actions = helper.make_tensor_value_info("actions", TensorProto.INT64, ["batch"])
    nodes = [helper.make_node("ReduceSum", ["observations.state", "axes"], ["sum"], keepdims=0),
             helper.make_node("Mul", ["sum", "zero"], ["zeros"]),
             helper.make_node("Cast", ["zeros"], ["zeros_int"], to=TensorProto.INT64),
             helper.make_node("Add", ["zeros_int", "action"], ["actions"])]
    graph = helper.make_graph(nodes, "constant", [image, state], [actions], initializer=[
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]), helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("action", TensorProto.INT64, [], [action])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


FAKE_SERVER = pathlib.Path(__file__).parent / "fake_carla" / "fake_carla_server.py"


@pytest.fixture
def stand_in_carla_root(tmp_path, monkeypatch):
    """A CARLA_ROOT whose CarlaUE4.sh runs the stand-in server (tests/fake_carla) with this interpreter."""
    script = tmp_path / "carla" / "CarlaUE4.sh"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SERVER}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("CARLA_ROOT", str(script.parent))
    monkeypatch.setenv("FAKE_CARLA_BEHAVIOUR", "normal")
    return script.parent


WARM_KERNELS = pathlib.Path(__file__).parent / "warm_kernels.py"


def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-xdist's workers start, compile the numba kernels once where their cache is cold (a fresh
    checkout: see tests/warm_kernels.py), rather than in every process of the first tests at once."""
    workers = config.getoption("numprocesses", default=None)
    if hasattr(config, "workerinput") or not workers or workers == 1 or not cold_kernel_modules():
        return
    parts = [subprocess.Popen([sys.executable, str(WARM_KERNELS), part], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for part in ("world", "experiments")]
    for part in parts:
        _, errors = part.communicate()
        if part.returncode:  # the tests compile what is left, and show any real fault themselves
            warnings.warn(f"warming the numba kernels failed: {errors.strip().splitlines()[-1:]}", stacklevel=1)


#: Module fixtures that cost a training run or a leaderboard run: the tests that share one run on one pytest-xdist
#: worker (``--dist loadgroup``, pyproject.toml), else each worker would build it again.
COSTLY_FIXTURES = {"trained", "npc_run", "policy"}


#: The longest tests, longest first (each 1-4 minutes on the 2-core machine, most of them a training run): run first,
#: so that no worker is left with one of them at the end while the other has finished.
LONGEST_FIRST = ("test_demonstrations.py::test_behaviour_cloning_then_fine_tuning", "test_dqn.py::",
                 "test_ppo.py::test_the_selfplay_config", "test_scenarios.py::test_the_autopilot_passes",
                 "test_ppo.py::test_each_config_trains", "test_cluster.py::test_dqn_train_auto",
                 "test_random_towns.py::test_the_autopilot_drives", "test_leaderboard.py::test_scenarios_run_on",
                 "test_live.py::test_the_page_shows_a_training_run", "test_recovery.py::test_training_with")


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((k for k, name in enumerate(LONGEST_FIRST) if name in item.nodeid), len(LONGEST_FIRST))
    items.sort(key=rank)  # (a stable sort: the others keep their order)
    for item in items:
        costly = sorted(COSTLY_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if costly:
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}.{costly[0]}"))


@pytest.hookimpl(trylast=True)  # after xdist's worker has put each test's group into its id
def pytest_collection_finish(session: pytest.Session) -> None:
    if not getattr(session.config.option, "loadgroup", False):  # set on xdist's workers only
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        warnings.warn(f"pytest-xdist's --dist loadgroup is not in effect ({lost[0]} has no group): each worker "
                      f"builds the costly fixtures again (see requirements-test.txt)", stacklevel=1)
