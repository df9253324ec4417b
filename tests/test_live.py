"""The live view: the server and the publisher on loopback (nothing is drawn or sent while nobody watches),
and the page in headless Chromium during an evaluation and a training run: pictures change, the numbers on
the page are the run's."""

import json
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import yaml

from rllib_integration.live import LivePublisher, LiveServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                             reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


def get_json(url):
    return json.loads(urllib.request.urlopen(url, timeout=5).read())


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_nothing_is_sent_while_nobody_watches():
    server = LiveServer(0, "unit")
    publisher = LivePublisher(server.url, server.token)
    try:
        frame = np.zeros((480, 480, 3), np.uint8)
        for _ in range(20):
            assert not publisher.wants_frame
            publisher.publish({"step": 1}, frame)
            time.sleep(0.05)
        assert server.snapshot()["frames"] == 0 and server.snapshot()["state"] == {}
        assert get_json(f"{server.url}/state.json")["title"] == "unit"  # now somebody watches
        wait_for(lambda: publisher.watched, 3.0, "the publisher to learn it is watched")
        frame[:, :, 1] = 200
        publisher.publish({"step": 2}, frame if publisher.wants_frame else None)
        wait_for(lambda: server.snapshot()["frames"] == 1, 3.0, "the first picture")
        assert server.snapshot()["state"] == {"step": 2}
        jpeg = urllib.request.urlopen(f"{server.url}/frame.jpg", timeout=5).read()
        assert jpeg[:2] == b"\xff\xd8", "a JPEG"
        request = urllib.request.Request(f"{server.url}/publish", data=b"{not json", method="POST",
                                         headers={"X-Live-Token": server.token, "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=5)
        assert error.value.code == 400
    finally:
        publisher.close()
        server.close()


def _raw(port: int, request: bytes) -> bytes:
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        return connection.recv(65536)


def test_other_pages_cannot_forge_or_read_the_live_view(capfd):
    """A cross-origin "simple" POST (text/plain, no token: what any site the user visits can send), a request
    whose Host is a DNS-rebound name, malformed requests and an idle half-sent connection."""
    import rllib_integration.live.server as live_server
    server = LiveServer(0, "guarded")
    try:
        server.publish({"step": 7})
        forged = (f"POST /publish HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: https://evil.example\r\n"
                  f"Content-Type: text/plain\r\nContent-Length: 23\r\n\r\n" + '{"state": {"step": 666}}'[:23])
        assert b" 403 " in _raw(server.port, forged.encode()).split(b"\r\n")[0]
        with_token_as_text = (f"POST /publish HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Live-Token: {server.token}"
                              f"\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\n" + '{"state": {"step": 666}}')
        assert b" 400 " in _raw(server.port, with_token_as_text.encode()).split(b"\r\n")[0]
        assert server.snapshot()["state"] == {"step": 7}, "the page still shows the run's own state"
        rebound = f"GET /state.json HTTP/1.1\r\nHost: attacker.example:{server.port}\r\n\r\n"
        assert b" 403 " in _raw(server.port, rebound.encode()).split(b"\r\n")[0]
        assert not server.watched, "a refused read does not count as watching"
        for bad in (f"POST /publish HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Live-Token: {server.token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: lots\r\n\r\n",
                    f"POST /publish HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Live-Token: {server.token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n[1, 2, 3]"):
            assert b" 400 " in _raw(server.port, bad.encode()).split(b"\r\n")[0]
        assert "Traceback" not in capfd.readouterr().err
    finally:
        server.close()
    live_server.IDLE_TIMEOUT, saved = 0.5, live_server.IDLE_TIMEOUT
    try:
        server = LiveServer(0, "idle")
        import socket
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        connection.sendall(b"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
        connection.settimeout(5)
        started = time.monotonic()
        assert connection.recv(1024) == b"", "the server closes an idle, half-sent connection"
        assert time.monotonic() - started < 4.0
        connection.close()
        server.close()
    finally:
        live_server.IDLE_TIMEOUT = saved


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def watch(url, seconds=60.0):
    """Open the page; wait until two different pictures were shown; return the driver and texts read at
    the moment the server's state was read too."""
    driver = chromium()
    driver.get(url)
    first = wait_for(lambda: driver.execute_script(
        "const i = document.getElementById('frame'); return i.complete && i.naturalWidth > 0 ? i.src : null"),
        seconds, "a first picture on the page")
    second = wait_for(lambda: (lambda src: src if src and src != first else None)(driver.execute_script(
        "const i = document.getElementById('frame'); return i.complete && i.naturalWidth > 0 ? i.src : null")),
        seconds, "the picture to change")
    assert first != second
    return driver


def page_numbers(driver):
    """The page's numbers, read in one script (the page cannot update between them)."""
    return driver.execute_script(
        "const r = {}; for (const k of ['episode', 'step', 'speed', 'route', 'title'])"
        " r[k] = document.getElementById(k).textContent; return r;")


@browser
def test_the_page_shows_an_evaluation_live(tmp_path):
    """While the evaluator drives two routes, the page's pictures change, and every (route, step, speed,
    route completion) it shows is the one the run logged for that step (its state log)."""
    import csv
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "evaluate.py"), "--routes", "GridTown", "--route-count", "2",
                                "--route-length", "600", "900", "--agent", "autopilot", "--traffic", "10",
                                "--state-log", "--live", str(port), "--out", str(tmp_path / "out")], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    driver, seen = None, []
    try:
        wait_for(lambda: _answers(url), 120, "the live view to start")
        driver = watch(url)
        assert driver.find_element("id", "title").text == "evaluation of autopilot"
        while process.poll() is None and len(seen) < 20:
            shown = page_numbers(driver)
            if shown["step"] not in ("", "-"):
                seen.append(shown)
            time.sleep(0.3)
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
    finally:
        stop(driver, process)
    assert len({s["step"] for s in seen}) >= 3, "the numbers moved"
    for shown in seen:
        rows = list(csv.DictReader(open(tmp_path / "out" / "state_logs" / f"route_{shown['episode']}.csv")))
        row = rows[int(shown["step"]) - 1]  # the state after the page's step
        assert abs(3.6 * float(row["speed"]) - float(shown["speed"])) <= 0.051, (shown, row)
        assert abs(float(row["route_completion"]) - float(shown["route"])) <= 0.051, (shown, row)


@browser
def test_the_page_shows_a_training_run_and_its_curve(tmp_path):
    from test_dqn import TINY
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["run"] = {"stop": {"training_iteration": 1000}, "checkpoint_frequency": 1000}
    config.pop("route_evaluation")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "dqn_train.py"), str(path), "-d", str(tmp_path / "r"), "-n",
                                "live", "--tboff", "--live", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        wait_for(lambda: _answers(url), 180, "the live view to start")
        driver = watch(url, seconds=180)
        wait_for(lambda: get_json(f"{url}/state.json")["curve"], 180, "a point of the training curve")
        wait_for(lambda: "env steps" in driver.find_element("id", "curve-title").text, 10, "the curve on the page")
        assert driver.find_element("id", "title").text == "training live"
        state = get_json(f"{url}/state.json")["state"]
        assert "episode_distance" in state["info"], "the experiment's own numbers reach the page"
        shown = driver.execute_script("return document.getElementById('terms').textContent")
        assert "episode_distance" in shown
        process.send_signal(signal.SIGINT)  # Ctrl-C: a checkpoint, and a normal end
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
        assert "Traceback" not in output and "load cycle" not in output, "the terminal shows progress only"
    finally:
        stop(driver, process)


def stop(driver, process):
    """Close the browser (if one opened) and kill the run if it is still going."""
    if driver is not None:
        driver.quit()
    if process.poll() is None:
        process.kill()
        process.wait()


def _free_port():
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url):
    try:
        urllib.request.urlopen(url, timeout=1).read()
        return True
    except OSError:
        return False


def test_a_busy_port_is_one_clear_error():
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OSError) as error:
            LiveServer(port, "busy")
        assert str(error.value).startswith(f"--live {port}: the live view cannot listen on 127.0.0.1:{port}")
        assert f"Fix: --live with another port, e.g. --live {port + 1}" in str(error.value)
    finally:
        holder.close()


def test_a_world_of_several_heroes_shows_its_first_hero(monkeypatch):
    """CarlaVectorEnv (and MultiAgentCarlaEnv) publish the first hero: its steps and episodes, its picture."""
    from rllib_integration import CarlaVectorEnv
    from rllib_integration.live import LIVE_TOKEN_VARIABLE, LIVE_URL_VARIABLE
    from test_env import PoseExperiment

    server = LiveServer(0, "heroes")
    monkeypatch.setenv(LIVE_URL_VARIABLE, server.url)
    monkeypatch.setenv(LIVE_TOKEN_VARIABLE, server.token)
    env = CarlaVectorEnv({"carla": {"simulator": "embedded"},
                          "experiment": {"type": PoseExperiment, "town": "GridTown", "others": {"max_steps": 30}}},
                         num_envs=3)
    try:
        env.reset(seed=0)
        assert get_json(f"{server.url}/state.json")["title"] == "heroes"  # somebody watches
        wait_for(lambda: env.world.live.publisher.watched, 5.0, "the env to learn it is watched")
        for _ in range(300):  # into the first hero's second episode (30 steps each), the page polling meanwhile
            env.step(np.ones(3, np.int64))
            get_json(f"{server.url}/state.json")
            snapshot = server.snapshot()
            # (a later episode will do: on a loaded machine the episode may end before a picture is sent)
            if snapshot["state"].get("episode", 0) >= 1 and snapshot["state"].get("step", 0) >= 5 and snapshot["frames"]:
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"no picture of the first hero's second episode: {server.snapshot()['state']}")
        state = snapshot["state"]
        assert state["info"]["heroes"] == 3.0 and state["step"] >= 5
        assert state["throttle"] == pytest.approx(0.8) and state["speed_kmh"] >= 0.0, "the first hero's control"
    finally:
        env.close()
        server.close()
