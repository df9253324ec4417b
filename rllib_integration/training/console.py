"""The scripts' terminal output, through ``logging``: library code logs lines meant for the user to the
``rllib_integration.console`` logger (:data:`console`); a script's entry point calls :func:`setup_console`
once, which writes information to stdout as plain lines and warnings and errors to stderr, prefixed
``warning:`` / ``error:``. Without that call the lines go wherever the application's logging sends them."""

from __future__ import annotations

import logging
import sys

console = logging.getLogger("rllib_integration.console")


class _Prefixed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


def setup_console() -> None:
    """Send :data:`console` to the terminal (idempotent)."""
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
