"""The scripts' terminal output, through ``logging``: library code logs lines meant for the user to the
``rllib_integration.console`` logger (:data:`console`); a script's entry point calls :func:`setup_console`
once, which writes information to stdout as plain lines and warnings and errors to stderr, prefixed
``warning:`` / ``error:``. Without that call the lines go wherever the application's logging sends them.

:func:`chatter_to_file` keeps the terminal to those lines during a training run: everything else (Ray's and
Tune's messages, the env runners' forwarded output, TensorBoard's server) goes to a log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import IO, Iterator

console = logging.getLogger("rllib_integration.console")


class _Prefixed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


#: Deprecation notes RLlib logs about its own internal use, not about any call of this project: its
#: ``RLModule.__init__`` builds the deprecated ``RLModuleConfig`` for old custom modules even when given the new
#: arguments (which the project passes), so every process that builds a module logs it once.
RAY_INTERNAL_DEPRECATIONS = ("RLModule(config=[RLModuleConfig object])",)


def _not_ray_internal(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(f"`{old}` has been deprecated" in message for old in RAY_INTERNAL_DEPRECATIONS)


def quiet_ray_internals() -> None:
    """Drop :data:`RAY_INTERNAL_DEPRECATIONS` from Ray's deprecation logger (idempotent; Ray's other
    deprecation notes still show)."""
    ray_deprecations = logging.getLogger("ray._common.deprecation")
    if _not_ray_internal not in ray_deprecations.filters:
        ray_deprecations.addFilter(_not_ray_internal)


def setup_console() -> None:
    """Send :data:`console` to the terminal (idempotent)."""
    quiet_ray_internals()
    if getattr(console, "configured", False):
        return
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(_Prefixed("%(message)s"))
        console.addHandler(handler)
    console.setLevel(logging.INFO)
    console.propagate = False
    console.configured = True


LIBRARY = "rllib_integration"


@contextlib.contextmanager
def chatter_to(stream: IO[str]) -> Iterator[None]:
    """Within the block, the terminal shows :data:`console`'s lines and the library's own warnings and errors;
    every other log record and everything written to ``sys.stdout``/``sys.stderr`` (Tune's tables, the Ray
    workers' forwarded output, the notes of Ray's own log handlers) goes to ``stream``."""
    to_stream = logging.StreamHandler(stream)
    to_stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    warnings_out = logging.StreamHandler(sys.stderr)
    warnings_out.setLevel(logging.WARNING)
    warnings_out.addFilter(lambda record: record.name.startswith(LIBRARY))
    warnings_out.setFormatter(_Prefixed("%(message)s"))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = [to_stream, warnings_out]
    root.setLevel(logging.INFO)
    terminal = {id(sys.stdout), id(sys.stderr), id(sys.__stdout__), id(sys.__stderr__)}
    retargeted = [(handler, handler.stream) for logger in logging.Logger.manager.loggerDict.values()
                  for handler in getattr(logger, "handlers", [])
                  if isinstance(handler, logging.StreamHandler) and id(handler.stream) in terminal
                  and handler not in console.handlers]
    for handler, _ in retargeted:
        handler.setStream(stream)
    try:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            yield
    finally:
        for handler, original in retargeted:
            handler.setStream(original)
        root.handlers, level = saved
        root.setLevel(level)


@contextlib.contextmanager
def chatter_to_file(path: str, before: str = "") -> Iterator[None]:
    """:func:`chatter_to` the log file ``path`` (appended), which starts with ``before``."""
    with open(path, "a", buffering=1, encoding="utf-8", errors="replace") as stream:
        stream.write(before)
        with chatter_to(stream):
            yield
