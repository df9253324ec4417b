"""Launching CARLA servers: command lines, ports under concurrency, readiness, crash and hang
detection, and no orphan processes. A stand-in executable plays CarlaUE4.sh."""

import concurrent.futures
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

from rllib_integration.simulators.server_manager import PortAllocator, ServerLaunchError, ServerManager, ServerPorts
from rllib_integration.simulators.watchdog import GRACE

from conftest import FAKE_SERVER


@pytest.fixture
def carla_root(stand_in_carla_root):
    """A CARLA_ROOT whose CarlaUE4.sh runs the stand-in with this interpreter."""
    return stand_in_carla_root


def manager(tmp_path, **options):
    return ServerManager(log_dir=str(tmp_path / "logs"), allocator=PortAllocator(str(tmp_path / "ports")),
                         start_timeout=20.0, probe_timeout=0.5, **options)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stream:  # a zombie has exited
        return stream.read().split()[2] != "Z"


def child_pid(log_path):
    for line in pathlib.Path(log_path).read_text().splitlines():
        if line.startswith("fake CARLA child pid"):
            return int(line.split()[-1])
    raise AssertionError("no child pid in the log")


def test_command_lines_for_each_preset(carla_root, tmp_path):
    ports = ServerPorts(20000, 20003)
    headless = manager(tmp_path).command(ports)
    assert headless == [str(carla_root / "CarlaUE4.sh"), "-carla-rpc-port=20000", "-carla-streaming-port=20001",
                        "-carla-secondary-port=20002", "-quality-level=Low", "-RenderOffScreen"]
    assert "-opengl" not in headless
    window = manager(tmp_path, show_display=True, resolution=(800, 600), quality_level="Epic").command(ports)
    assert window[-4:] == ["-quality-level=Epic", "-windowed", "-ResX=800", "-ResY=600"]
    assert manager(tmp_path, null_rhi=True, gpu=1).command(ports)[-2:] == ["-nullrhi", "-graphicsadapter=1"]


def test_clear_errors_without_carla(tmp_path, monkeypatch):
    monkeypatch.delenv("CARLA_ROOT", raising=False)
    with pytest.raises(ServerLaunchError, match="CARLA_ROOT is not set.*Fix: export CARLA_ROOT"):
        ServerManager()
    with pytest.raises(ServerLaunchError, match=r"CarlaUE4.sh is missing or not executable"):
        ServerManager(str(tmp_path))


def test_start_probe_log_and_stop_leave_nothing_behind(carla_root, tmp_path):
    server = manager(tmp_path)
    ports = server.start()
    try:
        assert server.is_alive() and server.is_responsive()
        log = pathlib.Path(server.log_path).read_text()
        assert f"-carla-rpc-port={ports.rpc}" in log and "-RenderOffScreen" in log
        leader, child = server.process.pid, child_pid(server.log_path)
        assert pid_alive(child)
    finally:
        server.stop()
    assert not pid_alive(leader) and not pid_alive(child), "the whole process group is gone"
    assert not server.is_alive()
    assert PortAllocator(str(tmp_path / "ports")).allocate()  # ports were released (registry readable)


def test_a_server_failing_at_start_is_reported_with_its_log(carla_root, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CARLA_BEHAVIOUR", "fail")
    with pytest.raises(ServerLaunchError, match=r"exited with code 1 while starting(.|\n)*failing at start"):
        manager(tmp_path).start()


def test_crash_and_hang_are_detected_and_restart_works(carla_root, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CARLA_BEHAVIOUR", "crash:1")
    server = manager(tmp_path)
    server.start()
    time.sleep(1.6)
    assert not server.is_alive() and not server.is_responsive()
    monkeypatch.setenv("FAKE_CARLA_BEHAVIOUR", "hang:1")
    server.restart()
    try:
        assert server.is_responsive()
        time.sleep(1.4)
        assert server.is_alive() and not server.is_responsive(), "running but not answering"
        monkeypatch.setenv("FAKE_CARLA_BEHAVIOUR", "normal")
        server.restart()
        assert server.is_responsive() and server.starts == 3
    finally:
        server.stop()


def _launch(folder):
    server = ServerManager(log_dir=os.path.join(folder, "logs"), allocator=PortAllocator(os.path.join(folder, "ports")),
                           start_timeout=60.0, probe_timeout=1.0)
    ports = server.start()
    time.sleep(1.0)  # all eight run at the same time
    alive = server.is_responsive()
    server.stop()
    return ports.all(), alive


def test_eight_concurrent_launches_get_distinct_ports(carla_root, tmp_path):
    with concurrent.futures.ProcessPoolExecutor(8) as pool:
        results = list(pool.map(_launch, [str(tmp_path)] * 8))
    assert all(alive for _, alive in results)
    ports = [port for group, _ in results for port in group]
    assert len(ports) == len(set(ports)) == 32


def test_interpreter_exit_stops_the_server(carla_root, tmp_path):
    program = textwrap.dedent(f"""
        from rllib_integration.simulators.server_manager import PortAllocator, ServerManager
        server = ServerManager(log_dir={str(tmp_path / 'logs')!r}, allocator=PortAllocator({str(tmp_path / 'p')!r}),
                               start_timeout=20.0)
        server.start()
        print(server.process.pid, server.log_path, flush=True)
    """)  # exits without calling stop()
    output = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            cwd=pathlib.Path(__file__).parents[1])
    assert output.returncode == 0, output.stderr
    leader, log_path = output.stdout.split()
    time.sleep(0.3)
    assert not pid_alive(int(leader)) and not pid_alive(child_pid(log_path))


def test_carla_core_launch_mode_reports_failure_and_stops_its_server(carla_root, tmp_path, monkeypatch):
    """The stand-in answers only ``version``: CarlaCore launches it, cannot load a world, says so,
    and leaves no server behind."""
    import psutil

    from rllib_integration import CarlaCore, SimulatorUnavailableError

    def stand_ins():  # this test's own (the other pytest worker may be running one of its own meanwhile)
        found = []
        for child in psutil.Process().children(recursive=True):
            try:
                if str(FAKE_SERVER) in " ".join(child.cmdline()):
                    found.append(child.pid)
            except psutil.NoSuchProcess:
                pass
        return found

    before = set(stand_ins())
    with pytest.raises(SimulatorUnavailableError, match="cannot connect to the simulator"):
        CarlaCore({"simulator": "launch", "timeout": 1.0, "retries_on_error": 2})
    time.sleep(0.3)
    assert set(stand_ins()) <= before, "the launched server was stopped"


OWNER = """
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as a terminal's process has it (a runner under nohup ignores it)
from rllib_integration.simulators.server_manager import PortAllocator, ServerManager
server = ServerManager(log_dir=sys.argv[1] + '/logs', allocator=PortAllocator(sys.argv[1] + '/p'), start_timeout=20.0)
server.start()
print(server.process.pid, server.log_path, server.watchdog.pid, flush=True)
time.sleep(600)
"""


def start_owner(tmp_path):
    """A process owning a launched stand-in server: (owner, server pid, server's child pid, watchdog pid)."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             cwd=pathlib.Path(__file__).parents[1])
    leader, log_path, guard = owner.stdout.readline().split()
    return owner, int(leader), child_pid(log_path), int(guard)


def wait_dead(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGHUP"])
def test_a_dying_owner_takes_its_server_with_it(carla_root, tmp_path, sig):
    """However the owner dies (kill -9 included), the watchdog ends the server and its children."""
    import signal
    owner, leader, child, guard = start_owner(tmp_path)
    try:
        os.kill(owner.pid, getattr(signal, sig))
        owner.wait(10)
        assert wait_dead([leader, child], 5.0) == [], "the server outlived its owner"
        # (it waits until the server's group is gone, SIGKILL after watchdog.GRACE: a loaded machine needs that long)
        assert wait_dead([guard], GRACE + 2.0) == [], "the watchdog exits with its server"
    finally:
        owner.kill()


def test_servers_of_dead_owners_are_reaped_at_the_next_start(carla_root, tmp_path):
    """With the watchdog gone too, the next start of any server finds and ends the orphan."""
    owner, leader, child, guard = start_owner(tmp_path)
    os.kill(guard, 9)
    owner.kill()
    owner.wait(10)
    time.sleep(0.5)
    assert pid_alive(leader), "no watchdog: the orphan is still running"
    fresh = ServerManager(log_dir=str(tmp_path / "logs"), allocator=PortAllocator(str(tmp_path / "p")),
                          start_timeout=20.0)
    fresh.start()
    try:
        assert wait_dead([leader, child], 8.0) == []
    finally:
        fresh.stop()


def test_a_port_taken_on_the_servers_address_is_not_free():
    """A port some process listens on at a specific address is taken, whichever address is checked."""
    import socket
    from rllib_integration.simulators.server_manager import port_is_free
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not port_is_free(port, "127.0.0.1") and not port_is_free(port)
    assert port_is_free(port, "127.0.0.1")
