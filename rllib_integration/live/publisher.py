"""``LivePublisher``: how an env sends its state and pictures to the live view (:class:`~.server.LiveServer`),
from any process, over HTTP on 127.0.0.1.

The server's address comes in the environment variable :data:`LIVE_URL_VARIABLE` (the scripts set it before
Ray starts, so env runners inherit it). A background thread sends the newest message and learns from the answer
whether somebody watches; while nobody does, it only asks once a second, and the env neither draws nor
encodes pictures (:attr:`LivePublisher.wants_frame` stays false): the run pays almost nothing. A server that
goes away costs nothing either: the publisher stops trying.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import cv2
import numpy as np

logger = logging.getLogger(__name__)

LIVE_URL_VARIABLE = "RLLIB_INTEGRATION_LIVE_URL"
LIVE_TOKEN_VARIABLE = "RLLIB_INTEGRATION_LIVE_TOKEN"  # the run's secret: only its processes may publish
TOKEN_HEADER = "X-Live-Token"
FRAME_EVERY_S = 0.1  # at most 10 pictures a second
STATE_EVERY_S = 0.1
HEARTBEAT_S = 1.0
JPEG_QUALITY = 80


class LivePublisher:
    """Sends one env's newest state and picture to the live view at ``url``."""

    def __init__(self, url: str, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.headers = {TOKEN_HEADER: token}
        self.watched = False
        self._pending: dict[str, Any] | None = None
        self._last_frame = self._last_state = 0.0
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
        self._thread.start()

    @classmethod
    def from_environment(cls) -> "LivePublisher | None":
        """A publisher to the server named by :data:`LIVE_URL_VARIABLE`, or None when it is not set."""
        url = os.environ.get(LIVE_URL_VARIABLE)
        return cls(url, os.environ.get(LIVE_TOKEN_VARIABLE, "")) if url else None

    @property
    def wants_frame(self) -> bool:
        """Whether a picture would be sent now (somebody watches, and the last one is old enough)."""
        return self.watched and time.monotonic() - self._last_frame >= FRAME_EVERY_S

    def publish(self, state: dict[str, Any], frame: np.ndarray | None = None) -> None:
        """Hand over the newest ``state`` (JSON-able) and, while :attr:`wants_frame`, a BGR picture."""
        now = time.monotonic()
        if not self.watched or (frame is None and now - self._last_state < STATE_EVERY_S):
            return
        message: dict[str, Any] = {"state": state}
        if frame is not None:
            ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if ok:
                message["jpeg"] = base64.b64encode(jpeg.tobytes()).decode()
                self._last_frame = now
        self._last_state = now
        self._pending = message
        self._wake.set()

    def _run(self) -> None:
        failures = 0
        while not self._closed and failures < 5:
            self._wake.wait(HEARTBEAT_S)
            self._wake.clear()
            message, self._pending = self._pending, None
            try:
                if message is None:
                    request = urllib.request.Request(f"{self.url}/watched", headers=self.headers)
                else:
                    request = urllib.request.Request(f"{self.url}/publish", data=json.dumps(message).encode(),
                                                     headers={"Content-Type": "application/json", **self.headers})
                answer = urllib.request.urlopen(request, timeout=2.0).read()
                self.watched = bool(json.loads(answer).get("watched"))
                failures = 0
            except (urllib.error.URLError, OSError, ValueError) as error:
                failures += 1
                self.watched = False
                logger.debug("live view at %s: %s", self.url, error)
        if failures:
            logger.info("live view at %s does not answer; no longer publishing", self.url)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
