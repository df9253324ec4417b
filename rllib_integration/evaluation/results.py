"""The evaluator's results in the Leaderboard's ``results.json`` layout, and the printed table.

``results.json``::

    {"_checkpoint": {"records": [route record, ...], "global_record": {...}, "progress": [done, total]},
     "entry_status": "Finished", "eligible": true, "sensors": [...], "labels": [...], "values": [...]}

A route record holds ``index``, ``route_id``, ``status``, ``infractions`` (kind -> messages),
``scores`` (``score_route``, ``score_penalty``, ``score_composed``) and ``meta`` (``route_length``,
``duration_game``, ``duration_system``, the town, the events with their facts, per-km rates). The
global record holds the means of the scores over routes and, per kind, the infractions per km:
every event over every completed kilometre (each route's ``RC / 100 x length``, at least 1 m); its
meta also gives the sum over routes of the per-route rates (the Leaderboard 1.0's global figure).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .infractions import (KINDS, MIN_SPEED, SCENARIO_TIMEOUT, SHORT_NAMES, STATUS_COMPLETED, STATUS_FAILED,
                          YIELD_EMERGENCY)
from .monitor import RouteScore

LEADERBOARD_2_KINDS = (YIELD_EMERGENCY, SCENARIO_TIMEOUT, MIN_SPEED)
MIN_KM = 0.001  # completed kilometres of a route, at least (a route that ends at its start)
LABELS = ("Avg. driving score", "Avg. route completion", "Avg. infraction penalty", "Collisions with pedestrians",
          "Collisions with vehicles", "Collisions with layout", "Red lights infractions", "Stop sign infractions",
          "Off-road infractions", "Route deviations", "Agent blocked", "Route timeouts",
          "Yield emergency vehicles infractions", "Scenario timeouts", "Min speed infractions")


def completed_km(record: dict[str, Any]) -> float:
    """Kilometres of a route record's route completed (at least :data:`MIN_KM`)."""
    return max(record["scores"]["score_route"] / 100.0 * record["meta"]["route_length"] / 1000.0, MIN_KM)


def route_record(index: int, route_id: str, town: str, score: RouteScore, duration_system: float) -> dict[str, Any]:
    """The results.json record of one route."""
    infractions = {kind: [e.message for e in score.infractions if e.kind == kind] for kind in KINDS}
    record = {"index": index, "route_id": route_id, "status": score.status, "infractions": infractions,
              "scores": {"score_route": round(score.route_completion, 4),
                         "score_penalty": round(score.infraction_penalty, 4),
                         "score_composed": round(score.driving_score, 4)},
              "meta": {"town": town, "route_length": round(score.route_length, 3),
                       "duration_game": round(score.duration_game, 3), "duration_system": round(duration_system, 3),
                       "outside_route_lanes_percentage": round(score.outside_percentage, 3),
                       "events": [e.as_dict() for e in score.infractions], **score.meta}}
    km = completed_km(record)
    record["meta"]["completed_km"] = round(km, 4)
    record["meta"]["infractions_per_km"] = {kind: round(len(infractions[kind]) / km, 4) for kind in KINDS}
    return record


def failed_record(index: int, route_id: str, town: str, status: str, error: str = "") -> dict[str, Any]:
    """The record of a route that could not be driven to its end (``status``: the Leaderboard's ``Simulation
    crashed`` or ``Agent crashed``), with the ``error`` that stopped it."""
    return {"index": index, "route_id": route_id, "status": f"{STATUS_FAILED} - {status}",
            "infractions": {kind: [] for kind in KINDS},
            "scores": {"score_route": 0.0, "score_penalty": 1.0, "score_composed": 0.0},
            "meta": {"town": town, "route_length": 0.0, "duration_game": 0.0, "duration_system": 0.0,
                     "completed_km": MIN_KM, "infractions_per_km": {kind: 0.0 for kind in KINDS}, "events": [],
                     "exception": error[:2000]}}


def global_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of the scores over ``records``, infractions per km over the completed kilometres."""
    count = max(len(records), 1)
    scores = {key: round(sum(r["scores"][key] for r in records) / count, 4)
              for key in ("score_route", "score_penalty", "score_composed")}
    km = sum(completed_km(r) for r in records) or MIN_KM
    # (.get: records of an older results.json, resumed, lack the Leaderboard 2.0 kinds)
    per_km = {kind: round(sum(len(r["infractions"].get(kind, [])) for r in records) / km, 4) for kind in KINDS}
    summed = {kind: round(sum(len(r["infractions"].get(kind, [])) / completed_km(r) for r in records), 4)
              for kind in KINDS}
    failed = [(r["route_id"], r["index"], r["status"]) for r in records if r["status"] != STATUS_COMPLETED]
    return {"index": -1, "route_id": -1, "status": STATUS_FAILED if failed else STATUS_COMPLETED,
            "infractions": per_km, "scores": scores,
            "meta": {"exceptions": failed, "completed_km": round(km, 4), "routes": len(records),
                     "infractions_count": {kind: sum(len(r["infractions"].get(kind, [])) for r in records)
                                           for kind in KINDS},
                     "infractions_per_km_summed": summed,
                     "duration_game": round(sum(r["meta"]["duration_game"] for r in records), 3),
                     "duration_system": round(sum(r["meta"]["duration_system"] for r in records), 3)}}


def results_document(records: list[dict[str, Any]], total: int, sensors: list[str],
                     meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole results.json document."""
    records = sorted(records, key=lambda r: r["index"])
    overall = global_record(records)
    values = [overall["scores"]["score_composed"], overall["scores"]["score_route"], overall["scores"]["score_penalty"]]
    values += [overall["infractions"][kind] for kind in KINDS]  # LABELS[3:] are KINDS, in order
    return {"_checkpoint": {"records": records, "global_record": overall, "progress": [len(records), total]},
            "entry_status": "Finished" if len(records) == total else "Started", "eligible": len(records) == total,
            "sensors": sensors, "labels": list(LABELS), "values": [f"{v:.3f}" for v in values],
            "evaluation": meta or {}}


def write_results(path: str, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` atomically (a crash leaves the previous file whole)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = path + ".partial"
    with open(partial, "w") as stream:
        json.dump(document, stream, indent=2)
    os.replace(partial, path)


def format_table(records: list[dict[str, Any]]) -> str:
    """Per route and global: RC, penalty, DS, infractions per km by kind (the Leaderboard 2.0 kinds only
    where some route has one), time and status."""
    kinds = [k for k in KINDS if k not in LEADERBOARD_2_KINDS or any(r["infractions"].get(k) for r in records)]
    header = ["route", "town", "RC", "penalty", "DS"] + [f"{SHORT_NAMES[k]}/km" for k in kinds] + ["game_s", "status"]
    rows = [header]
    for r in sorted(records, key=lambda r: r["index"]):
        rows.append([str(r["route_id"]), os.path.splitext(os.path.basename(r["meta"]["town"]))[0], f"{r['scores']['score_route']:.1f}",
                     f"{r['scores']['score_penalty']:.3f}", f"{r['scores']['score_composed']:.1f}"]
                    + [f"{r['meta']['infractions_per_km'].get(k, 0.0):.2f}" for k in kinds]
                    + [f"{r['meta']['duration_game']:.0f}", r["status"]])
    overall = global_record(records)
    rows.append(["global", "", f"{overall['scores']['score_route']:.1f}", f"{overall['scores']['score_penalty']:.3f}",
                 f"{overall['scores']['score_composed']:.1f}"]
                + [f"{overall['infractions'][k]:.2f}" for k in kinds]
                + [f"{overall['meta']['duration_game']:.0f}", overall["status"]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if i < len(header) - 1 else cell for i, (cell, w) in
                               enumerate(zip(row, widths))) for row in rows)
