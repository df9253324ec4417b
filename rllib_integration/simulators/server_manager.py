"""Launching and supervising CARLA server processes (``simulator: launch``).

:class:`ServerManager` starts ``$CARLA_ROOT/CarlaUE4.sh`` with CARLA 0.9.12+ flags in a process group
of its own, writes the server's output to a log file per server, waits until the server answers a
short-timeout probe, and stops only its own process group (SIGTERM, then SIGKILL), also when the
Python process exits. Ports come from :class:`PortAllocator`: concurrent environments on one machine
(Ray starts them at once) never get the same ports.

A server never outlives its owner: a watchdog process (:mod:`.watchdog`) ends its group when the
owner dies however it dies (SIGKILL, SIGTERM, SIGHUP, an env runner RLlib restarts), and every start
first reaps the servers of dead owners found in the registry of launched servers
(:class:`ServerRegistry`, in the per-user runtime folder).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Iterator, Sequence

import carla
import psutil

from ..common.runtime import runtime_dir
from . import watchdog

logger = logging.getLogger(__name__)

PORT_RANGE = (15000, 32000)


class ServerLaunchError(RuntimeError):
    """A CARLA server could not be found, started or reached; the message says why and what to do."""


@dataclass(frozen=True)
class ServerPorts:
    """The ports of one server: RPC, streaming (RPC + 1), secondary (RPC + 2) and the traffic manager's."""

    rpc: int
    traffic_manager: int

    @property
    def streaming(self) -> int:
        return self.rpc + 1

    @property
    def secondary(self) -> int:
        return self.rpc + 2

    def all(self) -> tuple[int, ...]:
        return self.rpc, self.streaming, self.secondary, self.traffic_manager


def port_is_free(port: int, host: str = "0.0.0.0") -> bool:
    """Whether ``port`` can be bound now on ``host`` (the address a server will listen on) and on all
    interfaces (a real bind each, not a connect)."""
    for address in dict.fromkeys((host, "0.0.0.0")):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True


@contextlib.contextmanager
def locked_json(path: str, lock_path: str) -> Iterator[dict]:
    """A JSON object kept in ``path`` (empty when missing or unreadable), read and written back atomically
    under an exclusive lock on ``lock_path``: other processes wait until the block ends."""
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                with open(path, encoding="utf-8") as stream:
                    data = json.load(stream)
            except (OSError, ValueError):
                data = {}
            yield data
            temporary = f"{path}.{os.getpid()}"
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(data, stream)
            os.replace(temporary, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class PortAllocator:
    """Chooses free server ports under a cross-process file lock and records them (with the owner's
    pid) until released, so a server still starting up keeps its ports reserved."""

    def __init__(self, folder: str | None = None, host: str = "0.0.0.0") -> None:
        self.folder = folder or runtime_dir()
        self.host = host
        os.makedirs(self.folder, exist_ok=True)
        self._lock_path = os.path.join(self.folder, "ports.lock")
        self._registry_path = os.path.join(self.folder, "ports.json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, int]]:
        with locked_json(self._registry_path, self._lock_path) as registry:
            for port, pid in list(registry.items()):
                if not _pid_alive(pid):
                    del registry[port]
            yield registry

    def allocate(self, rng: random.Random | None = None) -> ServerPorts:
        """Free, unreserved ports for one server, reserved for this process."""
        rng = rng or random.Random()
        with self._locked() as registry:
            for _ in range(500):
                rpc = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - 4)
                ports = ServerPorts(rpc, rpc + 3)
                if all(str(p) not in registry and port_is_free(p, self.host) for p in ports.all()):
                    for port in ports.all():
                        registry[str(port)] = os.getpid()
                    return ports
        raise ServerLaunchError(f"no free ports for a CARLA server in {PORT_RANGE[0]}-{PORT_RANGE[1]}. Fix: stop "
                                f"stale servers (see {self._registry_path}).")

    def release(self, ports: ServerPorts) -> None:
        with self._locked() as registry:
            for port in ports.all():
                registry.pop(str(port), None)


def probe(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a CARLA server answers at ``host:port`` within ``timeout``: a TCP connect first
    (``carla.Client`` calls wait the full timeout even on a closed port), then ``get_server_version``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return False
    client = carla.Client(host, port)
    client.set_timeout(timeout)
    try:
        client.get_server_version()
    except RuntimeError:
        return False
    return True


def process_start(pid: int) -> float:
    """The start time of process ``pid`` (psutil's), 0 when it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


class ServerRegistry:
    """The servers launched on this machine by this user, with their owners (JSON under a file lock in
    ``folder``): a start reaps the servers whose owner has died."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, "servers.json")
        self.lock_path = os.path.join(folder, "servers.lock")

    def _locked(self) -> contextlib.AbstractContextManager[dict[str, dict]]:
        return locked_json(self.path, self.lock_path)

    def add(self, server_pid: int, log_path: str) -> None:
        with self._locked() as entries:
            entries[str(server_pid)] = {"server_start": process_start(server_pid), "owner": os.getpid(),
                                        "owner_start": process_start(os.getpid()), "log": log_path}

    def remove(self, server_pid: int) -> None:
        with self._locked() as entries:
            entries.pop(str(server_pid), None)

    def reap(self) -> list[int]:
        """End the servers whose owner is gone (their whole process group); forget the servers that are
        gone. The pids of the servers ended."""
        reaped = []
        with self._locked() as entries:
            for key, entry in list(entries.items()):
                pid = int(key)
                if not watchdog.server_running(pid, entry["server_start"]):
                    del entries[key]
                elif not watchdog.alive(entry["owner"], entry["owner_start"]):
                    logger.warning("stopping CARLA server %d: its owner (pid %d) is gone (log: %s)", pid,
                                   entry["owner"], entry.get("log"))
                    watchdog.stop_group(pid)
                    reaped.append(pid)
                    del entries[key]
        return reaped


_RUNNING: "weakref.WeakSet[ServerManager]" = weakref.WeakSet()


def _stop_all() -> None:
    """Stop the servers this process started (their process groups only) when it exits."""
    for manager in list(_RUNNING):
        manager.stop(timeout=5.0)


def _group_members(group: int) -> list[int]:
    """The processes of process group ``group`` that have not exited (zombies, exited and awaiting their
    reaper, are left out)."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (OSError, psutil.Error):
            continue  # gone meanwhile
    return members


def _wait_until_group_exits(group: int, timeout: float = 10.0) -> None:
    """Wait until every process of ``group`` has exited (after SIGKILL: at most ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while (members := _group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.02)
    if members:
        logger.warning("processes %s of the server's group still run %.0f s after SIGKILL", members, timeout)


class ServerManager:
    """One CARLA server launched from ``$CARLA_ROOT/CarlaUE4.sh``."""

    def __init__(self, carla_root: str | None = None, *, host: str = "127.0.0.1", quality_level: str = "Low",
                 show_display: bool = False, resolution: tuple[int, int] = (600, 600), null_rhi: bool = False,
                 gpu: int | None = None, log_dir: str | None = None, start_timeout: float = 120.0,
                 probe_timeout: float = 1.0, extra_args: Sequence[str] = (),
                 allocator: PortAllocator | None = None) -> None:
        root = carla_root or os.environ.get("CARLA_ROOT")
        if not root:
            raise ServerLaunchError("CARLA_ROOT is not set, so no CARLA server can be launched. Fix: export "
                                    "CARLA_ROOT=/path/to/CARLA_0.9.16, or use simulator: connect or embedded.")
        self.script = os.path.join(root, "CarlaUE4.sh")
        if not os.access(self.script, os.X_OK):
            raise ServerLaunchError(f"{self.script} is missing or not executable. Fix: point CARLA_ROOT at an "
                                    f"unpacked CARLA release (the folder that holds CarlaUE4.sh).")
        self.host, self.quality_level, self.show_display = host, quality_level, show_display
        self.resolution, self.null_rhi, self.gpu = resolution, null_rhi, gpu
        self.log_dir = log_dir or runtime_dir("servers")
        self.start_timeout, self.probe_timeout = start_timeout, probe_timeout
        self.extra_args = list(extra_args)
        self.allocator = allocator or PortAllocator(host=host)
        self.registry = ServerRegistry(self.allocator.folder)
        self.ports: ServerPorts | None = None
        self.process: subprocess.Popen | None = None
        self.watchdog: subprocess.Popen | None = None
        self.log_path: str | None = None
        self.starts = 0

    def command(self, ports: ServerPorts) -> list[str]:
        """The command line for ``ports`` (CARLA 0.9.12+ flags)."""
        command = [self.script, f"-carla-rpc-port={ports.rpc}", f"-carla-streaming-port={ports.streaming}",
                   f"-carla-secondary-port={ports.secondary}", f"-quality-level={self.quality_level}"]
        if self.show_display:
            command += ["-windowed", f"-ResX={self.resolution[0]}", f"-ResY={self.resolution[1]}"]
        else:
            command.append("-RenderOffScreen")
        if self.null_rhi:
            command.append("-nullrhi")
        if self.gpu is not None:
            command.append(f"-graphicsadapter={self.gpu}")
        return command + self.extra_args

    def start(self) -> ServerPorts:
        """Launch the server (after reaping the servers of dead owners) and wait until it answers;
        returns its ports."""
        self.stop()
        self.registry.reap()
        self.ports = self.allocator.allocate()
        os.makedirs(self.log_dir, exist_ok=True)
        self.log_path = os.path.join(self.log_dir, f"carla_{self.ports.rpc}_{os.getpid()}.log")
        command = self.command(self.ports)
        logger.info("launching CARLA: %s (log: %s)", " ".join(command), self.log_path)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.registry.add(self.process.pid, self.log_path)
        self.watchdog = subprocess.Popen(
            [sys.executable, watchdog.__file__, str(os.getpid()), repr(process_start(os.getpid())),
             str(self.process.pid), repr(process_start(self.process.pid))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        _RUNNING.add(self)
        atexit.unregister(_stop_all)  # registered once, however many servers start
        atexit.register(_stop_all)
        try:
            self._wait_ready()
        except ServerLaunchError:
            self.stop()
            raise
        return self.ports

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ServerLaunchError(f"the CARLA server exited with code {code} while starting. Its log, "
                                        f"{self.log_path}, ends with:\n{self.log_tail()}")
            if probe(self.host, self.ports.rpc, self.probe_timeout):
                return
            time.sleep(0.5)
        raise ServerLaunchError(f"the CARLA server did not answer on port {self.ports.rpc} within "
                                f"{self.start_timeout:g} s (log: {self.log_path}). Fix: raise the start timeout "
                                f"or check the log.")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as stream:
            return b"\n".join(stream.read().splitlines()[-lines:]).decode(errors="replace")

    def is_alive(self) -> bool:
        """The process is running (it may still hang: see :meth:`is_responsive`)."""
        return self.process is not None and self.process.poll() is None

    def is_responsive(self) -> bool:
        """The process runs and answers the probe."""
        return self.is_alive() and probe(self.host, self.ports.rpc, self.probe_timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """End this server's process group: SIGTERM, then SIGKILL after ``timeout``; once every process of the
        group has exited, release the ports."""
        process, self.process = self.process, None
        if process is not None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()
            self._signal_group(process, signal.SIGKILL)  # children that outlived the leader
            _wait_until_group_exits(process.pid)  # a signal is delivered later: their ports are still theirs
            self.registry.remove(process.pid)
        guard, self.watchdog = self.watchdog, None
        if guard is not None:
            guard.kill()
            guard.wait()
        _RUNNING.discard(self)
        if self.ports is not None:
            self.allocator.release(self.ports)
            self.ports = None

    @staticmethod
    def _signal_group(process: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(process.pid, sig)  # the group led by our child: start_new_session=True
        except ProcessLookupError:
            pass

    def memory_bytes(self) -> int:
        """Resident memory of the server's processes (CARLA leaks over long runs)."""
        if not self.is_alive():
            return 0
        try:
            leader = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [leader, *leader.children(recursive=True)])
        except psutil.Error:
            return 0

    def restart(self) -> ServerPorts:
        """Stop and start again (new ports)."""
        self.stop()
        return self.start()
