"""The watchdog of a launched CARLA server: ends the server's process group when its owner dies.

``ServerManager`` starts one per server, as a separate script in a session of its own (it survives
SIGKILL, SIGTERM or SIGHUP of the owner, and of the owner's process group)::

    python watchdog.py OWNER_PID OWNER_START SERVER_PID SERVER_START

Every :data:`POLL` seconds it checks both (a pid with another start time is another process); when
the owner is gone it sends the server's process group SIGTERM, then SIGKILL after :data:`GRACE`
seconds, and exits. It exits too once the server's group is gone. Only the standard library and
psutil are imported, so it starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil

POLL = 0.5  # seconds between checks
GRACE = 5.0  # seconds between SIGTERM and SIGKILL


def alive(pid: int, started: float) -> bool:
    """Whether process ``pid`` runs and is the one that started at ``started`` (psutil's create time)."""
    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - started) < 0.01 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_running(pgid: int, started: float) -> bool:
    """The server's group still holds its leader, or processes started after it (its children, when the
    leader, a launcher script, has exited): not another group that took the number since."""
    if alive(pgid, started):
        return True
    if not group_exists(pgid):
        return False
    for process in psutil.process_iter(["pid", "create_time"]):
        try:
            if os.getpgid(process.info["pid"]) == pgid and process.info["create_time"] >= started - 0.01:
                return True
        except OSError:
            continue
    return False


def stop_group(pgid: int, grace: float = GRACE) -> None:
    """SIGTERM to the group, SIGKILL to what is left after ``grace`` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_exists(pgid):
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the owner's terminal closing must not end the watchdog
    owner, owner_start, server, server_start = int(argv[0]), float(argv[1]), int(argv[2]), float(argv[3])
    while server_running(server, server_start):
        if not alive(owner, owner_start):
            stop_group(server)
            return 0
        time.sleep(POLL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
