"""The folder of one evaluation (``evaluate.py --out``): nothing finished is ever lost, no run mixes with another.

- ``results.json`` is written again, atomically, after every route that ends (``entry_status`` stays
  ``Started`` until every route has a record, as the Leaderboard's checkpoint file);
- ``routes.xml`` holds the routes of the run, ``.evaluation.json`` marks the folder as one this tool made
  (with the settings that matter for comparing scores);
- a folder holding another run's results is only continued (``resume``: the same routes and settings;
  routes that ended in ``Simulation crashed`` are driven again) or replaced (``overwrite``, and only a
  folder this tool made); otherwise the evaluation is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from ..errors import ConfigError
from ..routes.route_files import RouteFileError, RouteSpec, read_routes, write_routes
from .results import results_document, write_results

MARKER = ".evaluation.json"
RESULTS, ROUTES, STATE_LOGS = "results.json", "routes.xml", "state_logs"
RETRIED = "Failed - Simulation crashed"  # a record --resume drives again


class ResultsFolder:
    """An evaluation's output folder (see the module docstring)."""

    def __init__(self, out: str, resume: bool = False, overwrite: bool = False) -> None:
        if resume and overwrite:
            raise ConfigError("--resume and --overwrite contradict each other. Fix: keep one.")
        self.out, self.resume = out, resume
        self.path = os.path.join(out, RESULTS)
        self.records: list[dict[str, Any]] = []
        self._document: dict[str, Any] | None = None
        if os.path.exists(out) and not os.path.isdir(out):
            raise ConfigError(f"--out {out}: a file, not a folder. Fix: give a folder path.")
        earlier = os.path.exists(self.path)
        if earlier and resume:
            self._document = self._read()
        elif earlier and overwrite:
            if not os.path.isfile(os.path.join(out, MARKER)):
                raise ConfigError(f"--overwrite: {out} was not made by evaluate.py (no {MARKER} in it): it is "
                                  f"never emptied. Fix: give another --out.")
            for name in (RESULTS, ROUTES, MARKER):
                _remove(os.path.join(out, name))
            shutil.rmtree(os.path.join(out, STATE_LOGS), ignore_errors=True)
        elif earlier:
            raise ConfigError(f"--out {out} holds the results of an earlier evaluation ({self._summary()}). Fix: "
                              f"--resume to continue it, --overwrite to replace it, or another --out.")
        elif resume:
            raise ConfigError(f"--resume: {out} holds no {RESULTS} to continue. Fix: leave out --resume.")

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as stream:
                document = json.load(stream)
            records = document["_checkpoint"]["records"]
            if not isinstance(records, list) or not all(isinstance(r, dict) and "route_id" in r for r in records):
                raise TypeError("records")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"--resume: {self.path} is not an evaluation's results ({type(error).__name__}: "
                              f"{str(error)[:200]}). Fix: give the --out of an earlier evaluate.py run.") from None
        return document

    def _summary(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as stream:
                document = json.load(stream)
            done, total = document["_checkpoint"]["progress"]
            return f"agent {document.get('evaluation', {}).get('agent', '?')}, {done} of {total} routes"
        except (OSError, ValueError, KeyError, TypeError):
            return f"an unreadable {RESULTS}"

    def start(self, routes: list[RouteSpec], meta: dict[str, Any], sensors: list[str]) -> list[int]:
        """Begin (or continue) the run of ``routes`` with the settings ``meta``; the indices of the routes
        still to drive. Writes ``routes.xml`` and the marker of a new run."""
        self.total, self.meta, self.sensors = len(routes), dict(meta), sensors
        os.makedirs(self.out, exist_ok=True)
        if self._document is None:
            write_routes(os.path.join(self.out, ROUTES), routes,
                         version=2 if any(r.leaderboard == 2 or r.scenarios for r in routes) else 1)
            with open(os.path.join(self.out, MARKER), "w", encoding="utf-8") as stream:
                json.dump({"made_by": "evaluate.py", "evaluation": self.meta}, stream)
            return list(range(len(routes)))
        # folders older than --metrics and --background were evaluated with 'auto' metrics and no background
        earlier = {"metrics": "auto", "background": "off", **self._document.get("evaluation", {})}
        different = {key: (earlier.get(key), value) for key, value in self.meta.items() if earlier.get(key) != value}
        if different:
            changes = ", ".join(f"{key}: {old!r} then, {new!r} now" for key, (old, new) in sorted(different.items()))
            raise ConfigError(f"--resume: {self.out} was evaluated with other settings ({changes}). Fix: resume with "
                              f"the same flags, or use another --out.")
        try:
            stored = [(r.route_id, r.town) for r in read_routes(os.path.join(self.out, ROUTES))]
        except RouteFileError as error:
            raise ConfigError(f"--resume: {error}") from None
        if stored != [(r.route_id, r.town) for r in routes]:
            raise ConfigError(f"--resume: the routes differ from those of {self.out}/{ROUTES}. Fix: resume with the "
                              f"same --routes, --route-ids and route flags, or use another --out.")
        kept = [r for r in self._document["_checkpoint"]["records"] if r.get("status") != RETRIED]
        self.records = sorted(kept, key=lambda r: r["index"])
        done = {r["route_id"] for r in self.records}
        return [index for index, spec in enumerate(routes) if spec.route_id not in done]

    def add(self, record: dict[str, Any]) -> None:
        """Keep a finished route's record and write ``results.json`` with it."""
        self.records = [r for r in self.records if r["route_id"] != record["route_id"]] + [record]
        self.write()

    def write(self) -> dict[str, Any]:
        """Write ``results.json`` with the records so far; the document."""
        document = results_document(self.records, self.total, sensors=self.sensors, meta=self.meta)
        write_results(self.path, document)
        return document


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
