"""The live view: a local web page (127.0.0.1) showing one env while a run goes on: the hero from above (or
what the policy sees), speed, control, reward terms, route progress and infractions, and the run's curve.

- :mod:`.server`: :class:`LiveServer`, the page's HTTP server, in the process of the script (``--live``);
- :mod:`.publisher`: :class:`LivePublisher`, what an env uses to send its state and pictures, from any process
  (a Ray env runner too), only while somebody watches; :mod:`.reporter`: :class:`LiveReporter`, what it sends;
- :mod:`.page`: the page itself (HTML and JavaScript, no outside resources).
"""

from .publisher import LIVE_TOKEN_VARIABLE, LIVE_URL_VARIABLE, LivePublisher
from .reporter import LiveReporter
from .server import DEFAULT_PORT, LiveServer, start_live

__all__ = ["DEFAULT_PORT", "LIVE_TOKEN_VARIABLE", "LIVE_URL_VARIABLE", "LivePublisher", "LiveReporter", "LiveServer", "start_live"]
