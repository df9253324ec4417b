"""Real services for the tests, on 127.0.0.1: a moto server (AWS over HTTP), an OpenSSH server with a generated
key, a static HTTP server, and a Ray cluster of several nodes. Each process runs in its own session and is
stopped through it (process group, then anything left in the session), never by name."""

from __future__ import annotations

import contextlib
import functools
import getpass
import http.server
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Iterator

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s} s")


def wait_for_line(log: pathlib.Path, text: str, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    """Wait until ``text`` appears in the log file of ``process``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.is_file() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.3)
    raise RuntimeError(f"'{text}' not in {log} after {timeout_s} s")


def start(command: list[str], log: pathlib.Path, **options) -> subprocess.Popen:
    """Start ``command`` in a new session (its own process group), output to ``log``."""
    handle = open(log, "ab")
    try:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **options)
    finally:
        handle.close()


def session_members(session: int) -> list[int]:
    """Live pids whose session id is ``session`` (a process started by :func:`start` leads its session)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = pathlib.Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == session and fields[0] != "Z":
                    members.append(int(entry))
    return members


def stop(*processes: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the sessions of ``processes`` (started by :func:`start`: each leads its own) all at once, give them
    ``grace_s`` together, then SIGKILL whatever is left in them."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        for pid in session_members(process.pid):  # children that made their own process group (Ray's)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    while any(session_members(process.pid) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in processes:
        for pid in session_members(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_s)


# -- moto ----------------------------------------------------------------------------------------------------------

@dataclass
class Moto:
    url: str
    process: subprocess.Popen

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10)

    def environment(self, region: str = "eu-west-3") -> dict[str, str]:
        """Variables that send boto3 (and the AWS CLI tools of this project) to this server."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


@contextlib.contextmanager
def moto_server(folder: pathlib.Path, amis: list[dict] | None = None) -> Iterator[Moto]:
    """``moto_server`` on a free loopback port, with AWS's managed IAM policies (Ray's bootstrap attaches them);
    ``amis`` replaces moto's built-in images (MOTO_AMIS_PATH)."""
    environment = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    if amis is not None:
        (folder / "amis.json").write_text(json.dumps(amis))
        environment["MOTO_AMIS_PATH"] = str(folder / "amis.json")
    port = free_port()
    process = start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    folder / "moto.log", env=environment)
    try:
        wait_for_port(port, process)
        yield Moto(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process)


# -- OpenSSH ---------------------------------------------------------------------------------------------------------

@dataclass
class Sshd:
    port: int
    user: str
    key: pathlib.Path  # client private key (RSA PEM, as EC2 hands out)
    folder: pathlib.Path
    process: subprocess.Popen


@contextlib.contextmanager
def ssh_server(folder: pathlib.Path) -> Iterator[Sshd]:
    """A real ``sshd`` on 127.0.0.1 with a generated host key, accepting one generated client key."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, kind in (("host_key", ["-t", "ed25519"]), ("client_key", ["-t", "rsa", "-b", "2048", "-m", "PEM"])):
        subprocess.run(["ssh-keygen", "-q", *kind, "-N", "", "-f", str(folder / name)], check=True)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    (folder / "authorized_keys").chmod(0o600)
    port = free_port()
    (folder / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}", f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", "LogLevel VERBOSE", ""]))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation folder sshd requires as root
    process = start([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")], folder / "sshd.log")
    try:
        wait_for_port(port, process)
        yield Sshd(port, getpass.getuser(), folder / "client_key", folder, process)
    finally:
        stop(process)


# -- static HTTP -----------------------------------------------------------------------------------------------------

class CountingServer(http.server.ThreadingHTTPServer):
    """Serves files of ``root``; counts GET requests per path; paths in ``missing`` answer 404."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root, self.requests, self.missing = root, [], set()
        handler = functools.partial(_Handler, directory=str(root))
        super().__init__(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        if self.path in self.server.missing:
            self.send_error(404)
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


# -- Ray -------------------------------------------------------------------------------------------------------------

@dataclass
class RayCluster:
    address: str
    environment: dict[str, str]  # what a driver needs besides RAY_ADDRESS: the token of the cluster
    temp_dir: str
    head: subprocess.Popen
    workers: list[subprocess.Popen]


@contextlib.contextmanager
def ray_cluster(folder: pathlib.Path, head_cpus: int, worker_resources: list[dict]) -> Iterator[RayCluster]:
    """A head (``ray start --head``) and one more node per entry of ``worker_resources`` (``{"CPU": n, name: m}``),
    all on this machine, with token authentication (the same mode and token on every node, as Ray requires). The
    cluster keeps its own temp folder, so a plain ``ray.init()`` elsewhere never joins it."""
    ray = str(pathlib.Path(sys.executable).with_name("ray"))
    temp_dir = f"/tmp/ray-{os.getpid()}-{free_port()}"  # short: Ray's socket paths must stay under 108 bytes
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    environment = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **token)
    environment.pop("RAY_ADDRESS", None)
    port = free_port()
    common = ["--block", "--disable-usage-stats", "--num-gpus=0", f"--temp-dir={temp_dir}"]
    head = start([ray, "start", "--head", f"--port={port}", f"--num-cpus={head_cpus}", "--include-dashboard=false",
                  *common], folder / "ray-head.log", env=environment)
    workers: list[subprocess.Popen] = []
    try:
        wait_for_line(folder / "ray-head.log", "Ray runtime started", head)
        current = pathlib.Path(temp_dir, "ray_current_cluster")
        for _ in range(100):  # (a busy machine can print the line before the file is written)
            if current.is_file() and current.read_text().strip():
                break
            time.sleep(0.1)
        address = current.read_text().strip()
        for index, resources in enumerate(worker_resources):
            custom = {name: amount for name, amount in resources.items() if name != "CPU"}
            log = folder / f"ray-worker-{index}.log"
            workers.append(start([ray, "start", f"--address={address}", f"--num-cpus={resources.get('CPU', 1)}",
                                  f"--resources={json.dumps(custom)}", *common], log, env=environment))
            wait_for_line(log, "Ray runtime started", workers[-1])
        yield RayCluster(address, token, temp_dir, head, workers)
    finally:
        stop(*workers, head, grace_s=2.0)  # (a throwaway cluster: Ray's daemons take 10 s and more over SIGTERM)
        shutil.rmtree(temp_dir, ignore_errors=True)
