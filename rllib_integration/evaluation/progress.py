"""What an evaluation shows while it drives: a line per route as it ends (route, town, RC, DS, status, wall
time) and, on a terminal, a progress bar with the routes done and an ETA (tqdm; nothing but the lines when
the output is a file or a pipe)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from tqdm import tqdm

logger = logging.getLogger("evaluate")


class RouteProgressBar:
    """Progress over ``total`` routes, ``done`` of them recorded before this run."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.bar = tqdm(total=total, initial=done, unit="route", file=sys.stderr, dynamic_ncols=True,
                        disable=not sys.stderr.isatty(), bar_format="{l_bar}{bar}| {n}/{total} routes "
                        "[{elapsed}<{remaining}]")

    def route(self, record: dict[str, Any]) -> None:
        """A route has ended: its line (above the bar), and the bar moves on."""
        scores, meta = record["scores"], record["meta"]
        line = (f"route {record['route_id']} ({os.path.splitext(os.path.basename(meta['town']))[0]}): "
                f"RC {scores['score_route']:5.1f}  DS {scores['score_composed']:5.1f}  {record['status']}  "
                f"{meta['duration_system']:.0f} s")
        if meta.get("exception"):
            line += f"  ({meta['exception'][:200]})"
        if self.bar.disable:
            logger.info(line)
        else:
            self.bar.write(line, file=sys.stderr)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
