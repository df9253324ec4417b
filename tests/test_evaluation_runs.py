"""evaluate.py never loses work: routes are checked before any is driven, results.json is written as each
route ends, a route that raises is recorded as failed and the others go on, SIGTERM and Ctrl-C keep what
is done (``--resume`` continues), workers die with their parent, and an output folder is never mixed with
another run's."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import psutil
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def evaluate(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "evaluate.py"), *map(str, args)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def finished(process: subprocess.Popen, timeout: float = 240.0) -> tuple[int, str]:
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def results(folder) -> dict:
    return json.loads((pathlib.Path(folder) / "results.json").read_text())


def test_every_route_is_checked_before_any_is_driven(tmp_path):
    routes = tmp_path / "routes.xml"
    routes.write_text("""<routes>
 <route id="good" town="GridTown"><waypoint x="82.3" y="-5.0" z="0.5"/><waypoint x="0" y="-105" z="0"/></route>
 <route id="a/b" town="Town99"><waypoint x="0" y="0" z="0"/><waypoint x="10" y="0" z="0"/></route>
 <route id="a_b" town="GridTown"><waypoint x="nan" y="0" z="0"/><waypoint x="10" y="0" z="0"/></route>
 <route id="same" town="GridTown"><waypoint x="82.3" y="-5.0" z="0.5"/><waypoint x="82.3" y="-5.0" z="0.5"/></route>
 <route id="off" town="GridTown"><waypoint x="82.3" y="-5.0" z="0.5"/><waypoint x="9000" y="-5" z="0.5"/></route>
 <route id="off" town="GridTown"><waypoint x="82.3" y="-5.0" z="0.5"/><waypoint x="90" y="-5" z="0.5"/></route>
</routes>""")
    code, out = finished(evaluate("--routes", routes, "--out", tmp_path / "out"))
    assert code == 2 and not (tmp_path / "out").exists(), out
    for expected in ("route 'a_b': its outputs would overwrite route 'a/b'", "route 'off': the same id",
                     "route 'a/b' (Town99): unknown town 'Town99'", "route 'a_b' (GridTown): waypoint 0 is not finite",
                     "route 'same' (GridTown): its start and its goal are the same place",
                     "route 'off' (GridTown): waypoint 1 (9000.0, -5.0) is off the map"):
        assert expected in out, out
    assert "Traceback" not in out and "good" not in out


def test_a_route_that_raises_is_recorded_as_failed_and_the_others_are_driven(tmp_path):
    code, out = finished(evaluate("--routes", "GridTown", "--route-count", 4, "--route-length", 150, 300,
                                  "--agent", "agents.faulty:Crashing", "--workers", 2, "--out", tmp_path))
    assert code == 0, out
    records = results(tmp_path)["_checkpoint"]["records"]
    assert len(records) == 4 and results(tmp_path)["entry_status"] == "Finished"
    crashed = [r for r in records if r["status"] == "Failed - Agent crashed"]
    assert crashed and len(crashed) < 4, [r["status"] for r in records]
    assert all("ZeroDivisionError: the agent's own bug" in r["meta"]["exception"] for r in crashed)
    assert all(f"route {r['route_id']} (GridTown)" in out for r in records), "a line per route as it ends"
    assert "Traceback" not in out, "a traceback only under -v"
    code, out = finished(evaluate("--routes", "GridTown", "--route-count", 4, "--route-length", 150, 300,
                                  "--agent", "agents.faulty:Crashing", "--out", tmp_path / "v", "-v"))
    assert code == 0 and "Traceback" in out and "ZeroDivisionError" in out


def _wait_for_records(folder, count: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(results(folder)["_checkpoint"]["records"]) >= count:
                return
        except (OSError, ValueError, KeyError):
            pass
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.3)
    raise AssertionError(f"no {count} records within {timeout} s")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_keeps_what_is_done_and_resume_drives_the_rest(tmp_path, how):
    flags = ["--routes", "GridTown", "--route-count", 4, "--route-length", 300, 500, "--agent",
             "agents.faulty:SlowAutopilot", "--workers", 2, "--out", tmp_path]
    process = evaluate(*flags)
    _wait_for_records(tmp_path, 1, process)
    workers = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    process.send_signal(how)
    code, out = finished(process, 60.0)
    done = results(tmp_path)
    assert code == 130 and "interrupted:" in out and "--resume continues" in out, out
    assert "Traceback" not in out
    assert done["entry_status"] == "Started" and 1 <= done["_checkpoint"]["progress"][0] < 4
    time.sleep(1.0)
    assert not [pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    if how == signal.SIGINT:
        return  # (what is kept is the same for both signals: one resume shows it is driven on)
    kept = {r["route_id"]: r["meta"]["duration_system"] for r in done["_checkpoint"]["records"]}
    code, out = finished(evaluate(*flags, "--resume"))
    assert code == 0, out
    final = results(tmp_path)
    assert final["entry_status"] == "Finished" and len(final["_checkpoint"]["records"]) == 4
    again = {r["route_id"]: r["meta"]["duration_system"] for r in final["_checkpoint"]["records"]}
    assert all(again[k] == v for k, v in kept.items()), "the finished routes were not driven again"


def test_workers_die_with_a_killed_evaluation(tmp_path):
    process = evaluate("--routes", "GridTown", "--route-count", 6, "--route-length", 300, 500, "--agent",
                       "agents.faulty:SlowAutopilot", "--workers", 2, "--out", tmp_path)
    _wait_for_records(tmp_path, 1, process)
    workers = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    assert len(workers) >= 2
    process.kill()  # SIGKILL, as the OOM killer does: nothing in the process runs
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in workers):
        time.sleep(0.2)
    alive = [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not alive, f"orphaned workers {alive}"
    assert results(tmp_path)["_checkpoint"]["records"], "what finished is on disk"


def test_an_output_folder_is_never_mixed_with_another_run(tmp_path):
    flags = ["--routes", "GridTown", "--route-count", 1, "--route-length", 100, 200, "--out", tmp_path / "run"]
    assert finished(evaluate(*flags))[0] == 0
    code, out = finished(evaluate(*flags, "--agent", "constant"))
    assert code == 2 and "holds the results of an earlier evaluation (agent autopilot, 1 of 1 routes)" in out
    code, out = finished(evaluate(*flags, "--agent", "constant", "--resume"))
    assert code == 2 and "other settings (agent: 'autopilot' then, 'constant' now)" in out
    code, out = finished(evaluate(*flags, "--agent", "constant", "--overwrite"))
    assert code == 0 and results(tmp_path / "run")["evaluation"]["agent"] == "constant"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.json").write_text("{}")
    code, out = finished(evaluate("--routes", "GridTown", "--route-count", 1, "--route-length", 100, 200,
                                  "--out", mine, "--overwrite"))
    assert code == 2 and "was not made by evaluate.py" in out and (mine / "results.json").read_text() == "{}"
