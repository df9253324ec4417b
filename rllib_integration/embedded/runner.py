"""Run an unmodified CARLA client script against an embedded world.

``python -m rllib_integration.embedded run SCRIPT.py --town TOWN -- SCRIPT_ARGS`` starts an
embedded server on ``--port`` (CARLA's 2000 by default) with the town loaded and its
asynchronous mode free-running in real time (as a CARLA server), then runs the script as
``__main__`` with ``carla.Client`` and the ``carla.command`` classes pointing at the embedded world,
so ``carla.Client(host, port)`` in the script reaches it. ``--stop-after`` interrupts the script
(a ``KeyboardInterrupt``, as Ctrl-C would, so its clean-up runs) after that many wall-clock seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import runpy
import signal
import sys
import threading
from typing import Iterator, Sequence

import carla

from . import command as embedded_command
from .client import Client
from .server import EmbeddedServer
from .sim.dynamics import warm_up

logger = logging.getLogger(__name__)


class RunnerError(ValueError):
    """The script or the port cannot be used; the message says why and what to do."""

#: The names of ``carla.command`` the runner replaces (every command class, FutureActor, Response).
COMMAND_NAMES = ("SpawnActor", "DestroyActor", "ApplyVehicleControl", "ApplyVehicleAckermannControl",
                 "ApplyWalkerControl", "ApplyVehiclePhysicsControl", "ApplyTransform", "ApplyWalkerState",
                 "ApplyTargetVelocity", "ApplyTargetAngularVelocity", "ApplyImpulse", "ApplyForce",
                 "ApplyAngularImpulse", "ApplyTorque", "SetSimulatePhysics", "SetEnableGravity", "SetAutopilot",
                 "SetVehicleLightState", "ShowDebugTelemetry", "FutureActor", "Response")


@contextlib.contextmanager
def embedded_carla() -> Iterator[None]:
    """Within the block, ``carla.Client`` and ``carla.command``'s classes are the embedded world's."""
    saved = {name: getattr(carla.command, name) for name in COMMAND_NAMES}
    saved_client = carla.Client
    carla.Client = Client
    for name in COMMAND_NAMES:
        setattr(carla.command, name, getattr(embedded_command, name))
    try:
        yield
    finally:
        carla.Client = saved_client
        for name, value in saved.items():
            setattr(carla.command, name, value)


def run_script(script: str, arguments: Sequence[str] = (), town: str | None = None, port: int = 2000,
               stop_after: float | None = None, keep_server: bool = False) -> int:
    """Run ``script`` with ``arguments`` against an embedded world; returns its exit status.

    ``keep_server``: leave the server running and ``carla`` pointing at it when the script returns,
    for a process that ends there: as a CARLA server outlives its clients, the script's clean-up at
    interpreter exit (``__del__`` of objects still referenced by its modules: CARLA's leaderboard
    destroys its actors so) still reaches it."""
    if not os.path.isfile(script):
        raise RunnerError(f"no script at {script!r}: give the path of a CARLA client script (.py)")
    if EmbeddedServer.is_running("127.0.0.1", port):
        raise RunnerError(f"an embedded server already runs on port {port} in this process; pick another --port")
    warm_up()  # compile the physics before the world runs in real time and --stop-after counts
    server = EmbeddedServer.at("127.0.0.1", port)
    server.set_free_running(True)
    if town:
        server.load_world(town)
    timer = None
    stopped = threading.Event()
    if stop_after is not None:
        def interrupt() -> None:  # a real SIGINT: it also wakes a main thread blocked in a wait
            stopped.set()
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        timer = threading.Timer(stop_after, interrupt)
        timer.daemon = True
    # Python leaves SIGINT ignored when it starts so (a background job): --stop-after needs it to raise
    saved_handler = signal.signal(signal.SIGINT, signal.default_int_handler) if stop_after is not None else None
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *arguments]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    status = 0
    patched = contextlib.ExitStack()
    try:
        patched.enter_context(embedded_carla())
        if timer is not None:
            timer.start()
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if exit_.code not in (None, 0) and not isinstance(exit_.code, int):
            logger.error("%s", exit_.code)
    except KeyboardInterrupt:
        if not stopped.is_set():
            raise
        logger.info("stopped %s after %.0f s (--stop-after)", script, stop_after)
    finally:
        if timer is not None:
            timer.cancel()
        sys.argv, sys.path[:] = saved_argv, saved_path
        if saved_handler is not None:
            signal.signal(signal.SIGINT, saved_handler)
        if not keep_server:
            patched.close()
            server.stop()
    return status
