"""``LiveServer``: the live view's HTTP server on 127.0.0.1 (standard library only, a daemon thread).

Routes: ``GET /`` the page; ``GET /state.json`` the newest state, the frame counter, the curve and the run's
title (asking for it counts as watching); ``GET /frame.jpg`` the newest picture; ``POST /publish`` (JSON: a
state, and a base64 JPEG picture or none) from a :class:`~.publisher.LivePublisher`, answered with
``{"watched": bool}``; ``GET /watched`` the same answer, for a publisher's heartbeat.

Other pages the user visits cannot use it: every request must name this server as its ``Host`` (127.0.0.1 or
localhost and the port: a DNS-rebound name is refused), and ``/publish`` and ``/watched`` need the run's
secret token (:data:`~.publisher.LIVE_TOKEN_VARIABLE`, in the environment of the run's own processes only) in
an ``X-Live-Token`` header, with ``Content-Type: application/json`` for a publish: a request a browser lets any
site send (a "simple" cross-origin POST) carries neither. A malformed request is answered 400 with no trace on
the run's terminal; a connection idle for :data:`IDLE_TIMEOUT` seconds is closed.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .page import PAGE
from .publisher import LIVE_TOKEN_VARIABLE, LIVE_URL_VARIABLE, TOKEN_HEADER

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8090
WATCH_WINDOW_S = 3.0  # a page that asked for the state this recently counts as watching
MAX_CURVE = 2000  # points kept of the run's curve
MAX_BODY = 8 * 2 ** 20  # bytes of one published message
IDLE_TIMEOUT = 10.0  # seconds a connection may stay idle or half sent


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # never a traceback on the run's terminal
        logger.debug("live view: a request from %s failed", client_address, exc_info=True)


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
        self.token = secrets.token_urlsafe(24)  # the run's own processes publish with it
        try:
            self.httpd = _Server(("127.0.0.1", port), _handler(self))
        except OSError as error:
            raise OSError(f"--live {port}: the live view cannot listen on 127.0.0.1:{port} ({error.strerror}): another "
                          f"program uses the port. Fix: --live with another port, e.g. --live {port + 1}.") from None
        self.port = self.httpd.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
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
        timeout = IDLE_TIMEOUT  # an idle or half-sent connection does not hold a thread for ever

        def log_message(self, format: str, *args: Any) -> None:  # no line per request on the terminal
            logger.debug("live view: " + format, *args)

        def _send(self, body: bytes, kind: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _allowed(self, needs_token: bool) -> bool:
            """This server named as the Host (no DNS rebinding), and the run's token where it is needed."""
            if self.headers.get("Host", "") not in live.hosts:
                self._send(b"forbidden: unknown host", "text/plain", 403)
                return False
            token = self.headers.get(TOKEN_HEADER, "")
            if needs_token and not hmac.compare_digest(token.encode(), live.token.encode()):
                self._send(b"forbidden: this run's processes only", "text/plain", 403)
                return False
            return True

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if not self._allowed(needs_token=path == "/watched"):
                return
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
            if not self._allowed(needs_token=True):
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != "/publish" or not 0 < length <= MAX_BODY or \
                        self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                    raise ValueError("not a publish")
                message = json.loads(self.rfile.read(length))
                jpeg = base64.b64decode(message["jpeg"], validate=True) if message.get("jpeg") else None
                state = dict(message["state"])
            except (ValueError, KeyError, TypeError, AttributeError):
                self._send(b"bad request", "text/plain", 400)
                return
            live.publish(state, jpeg)
            self._send(json.dumps({"watched": live.watched}).encode(), "application/json")

    return Handler


def start_live(port: int, title: str) -> LiveServer:
    """The scripts' ``--live``: the live view on ``http://127.0.0.1:port``, and its address in the environment
    (:data:`~.publisher.LIVE_URL_VARIABLE`), so envs created from now on in this process, and in the Ray workers
    started after this, publish to it."""
    server = LiveServer(port, title)
    os.environ[LIVE_URL_VARIABLE] = server.url
    os.environ[LIVE_TOKEN_VARIABLE] = server.token
    return server
