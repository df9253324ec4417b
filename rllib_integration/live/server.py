"""``LiveServer``: the live view's HTTP server on 127.0.0.1 (standard library only, a daemon thread).

Routes: ``GET /`` the page; ``GET /state.json`` the newest state, the frame counter, the curve and the run's
title (asking for it counts as watching); ``GET /frame.jpg`` the newest picture; ``POST /publish`` (JSON: a
state, and a base64 JPEG picture or none) from a :class:`~.publisher.LivePublisher`, answered with
``{"watched": bool}``; ``GET /watched`` the same answer, for a publisher's heartbeat.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .page import PAGE
from .publisher import LIVE_URL_VARIABLE

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8090
WATCH_WINDOW_S = 3.0  # a page that asked for the state this recently counts as watching
MAX_CURVE = 2000  # points kept of the run's curve
MAX_BODY = 8 * 2 ** 20  # bytes of one published message


class LiveServer:
    """The page and its data for one run; ``publish`` and ``add_point`` feed it from this process."""

    def __init__(self, port: int = DEFAULT_PORT, title: str = "rllib-integration") -> None:
        self.title = title
        self.state: dict[str, Any] = {}
        self.jpeg: bytes = b""
        self.frames = 0
        self.curve: list[dict[str, Any]] = []
        self.last_viewed = 0.0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="live-view", daemon=True)
        self.thread.start()
        logger.info("live view on %s", self.url)

    @property
    def watched(self) -> bool:
        return time.monotonic() - self.last_viewed < WATCH_WINDOW_S

    def publish(self, state: dict[str, Any], jpeg: bytes | None = None) -> None:
        """The newest state (and picture) of the watched env."""
        with self.lock:
            self.state = state
            if jpeg:
                self.jpeg, self.frames = jpeg, self.frames + 1

    def add_point(self, point: dict[str, Any]) -> None:
        """A point of the run's curve (training iterations, evaluated routes, finished episodes)."""
        with self.lock:
            self.curve = (self.curve + [point])[-MAX_CURVE:]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"title": self.title, "state": self.state, "frames": self.frames, "curve": self.curve}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(live: LiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # no line per request on the terminal
            logger.debug("live view: " + format, *args)

        def _send(self, body: bytes, kind: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/":
                self._send(PAGE.encode(), "text/html; charset=utf-8")
            elif path == "/state.json":
                live.last_viewed = time.monotonic()
                self._send(json.dumps(live.snapshot()).encode(), "application/json")
            elif path == "/frame.jpg":
                with live.lock:
                    jpeg = live.jpeg
                if jpeg:
                    self._send(jpeg, "image/jpeg")
                else:
                    self._send(b"no picture yet", "text/plain", 404)
            elif path == "/watched":
                self._send(json.dumps({"watched": live.watched}).encode(), "application/json")
            else:
                self._send(b"not found", "text/plain", 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != "/publish" or not 0 < length <= MAX_BODY:
                self._send(b"bad request", "text/plain", 400)
                return
            try:
                message = json.loads(self.rfile.read(length))
                jpeg = base64.b64decode(message["jpeg"]) if message.get("jpeg") else None
                live.publish(dict(message["state"]), jpeg)
            except (ValueError, KeyError, TypeError):
                self._send(b"bad message", "text/plain", 400)
                return
            self._send(json.dumps({"watched": live.watched}).encode(), "application/json")

    return Handler


def start_live(port: int, title: str) -> LiveServer:
    """The scripts' ``--live``: the live view on ``http://127.0.0.1:port``, and its address in the environment
    (:data:`~.publisher.LIVE_URL_VARIABLE`), so envs created from now on in this process, and in the Ray workers
    started after this, publish to it."""
    server = LiveServer(port, title)
    os.environ[LIVE_URL_VARIABLE] = server.url
    return server
