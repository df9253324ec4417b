"""The recorder of the embedded world: ``client.start_recorder`` and the recording queries.

A recording is the project's own format (CARLA's binary ``.log`` layout is internal to its server):
gzip-compressed JSON lines, a header and then one line per tick with the actors created and
destroyed, the transform and velocity of every moving actor (vehicles, walkers), the vehicles'
controls and light states, the traffic lights that changed and the collisions of the tick. The
queries print what CARLA's print: ``show_recorder_file_info``, ``show_recorder_collisions`` (by
category: ``h`` hero, ``v`` vehicle, ``w`` walker, ``t`` traffic light, ``o`` other, ``a`` any) and
``show_recorder_actors_blocked``. :mod:`.replayer` plays a recording back. Recordings are read frame by
frame (an hour of 100 vehicles is gigabytes of frames): every query is one pass over the file.
``load_world`` ends a recording (with a warning): start the recorder again in the new world.
"""

from __future__ import annotations

import datetime
import gzip
import json
import math
import os
import pathlib
import zlib
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .sim.kernel import Simulation

FORMAT, VERSION = "rllib_integration-recording", 1
#: Where a plain file name (no folder) is kept, as CARLA keeps those in its server's ``Saved`` folder.
SAVED = pathlib.Path(os.environ.get("XDG_DATA_HOME") or pathlib.Path.home() / ".local" / "share") / \
    "carla-embedded" / "recordings"


def recording_path(filename: str) -> pathlib.Path:
    """Where ``filename`` lives: a plain name in :data:`SAVED`, a path as given (relative to the
    current folder)."""
    path = pathlib.Path(filename).expanduser()
    if len(path.parts) == 1:
        return SAVED / path
    return path.resolve()
MOVING_KINDS = ("vehicle.", "walker.")
HERO_ROLES = ("hero", "ego_vehicle")


def _pose(actor: Any) -> list[float]:
    t = actor.get_transform()
    v = actor.get_velocity()
    return [round(value, 4) for value in (t.location.x, t.location.y, t.location.z, t.rotation.pitch,
                                          t.rotation.yaw, t.rotation.roll, v.x, v.y, v.z)]


def _created(actor: Any) -> dict:
    extent = actor.bounding_box.extent
    return {"id": actor.id, "type": actor.type_id, "role": actor.attributes.get("role_name", ""),
            "attributes": {k: v for k, v in actor.attributes.items() if k in ("color", "role_name")},
            "pose": _pose(actor), "extent": [extent.x, extent.y, extent.z]}


class Recorder:
    """Writes one world's ticks to a recording file while started."""

    def __init__(self) -> None:
        self.path: pathlib.Path | None = None
        self._sim: "Simulation | None" = None
        self._file: Any = None
        self._listener: int | None = None
        self._known: set[int] = set()
        self._lights: dict[int, int] = {}
        self._additional = False

    @property
    def recording(self) -> bool:
        return self._file is not None

    def start(self, sim: "Simulation", filename: str, additional_data: bool = False) -> str:
        """Start writing ``filename`` (see :func:`recording_path`); returns its path."""
        self.stop()
        path = recording_path(filename)
        if path.is_dir():
            raise RuntimeError(f"start_recorder: {path} is a folder. Fix: give a file name such as "
                               f"{path / 'recording.log'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self._sim, self._additional = path, sim, bool(additional_data)
        self._file = gzip.open(path, "wt", encoding="utf-8")
        self._known, self._lights = set(), {}
        header = {"format": FORMAT, "version": VERSION, "map": sim.map.name, "delta": sim.delta,
                  "date": datetime.datetime.now().strftime("%m/%d/%y %H:%M:%S"), "start_frame": sim.frame}
        self._write(header)
        self._record(sim.frame, sim.elapsed, [])
        self._listener = sim.on_tick(lambda snapshot: self._record(sim.frame, sim.elapsed, sim.collisions))
        return str(path)

    def stop(self) -> None:
        """Stop and close the file (nothing when not recording)."""
        if self._file is None:
            return
        if self._sim is not None and self._listener is not None:
            self._sim.remove_on_tick(self._listener)
        self._file.close()
        self._file, self._sim, self._listener = None, None, None

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _record(self, frame: int, elapsed: float, collisions: list) -> None:
        actors = [a for a in self._sim.actors() if a.type_id != "spectator" and a.parent is None]
        ids = {a.id for a in actors}
        created = [_created(a) for a in actors if a.id not in self._known]
        destroyed = sorted(self._known - ids)
        self._known = ids
        moving = [a for a in actors if a.type_id.startswith(MOVING_KINDS)]
        record: dict[str, Any] = {"frame": frame, "time": round(elapsed, 6),
                                  "poses": {a.id: _pose(a) for a in moving},
                                  "spectator": _pose(self._sim.spectator)}
        if created:
            record["created"] = created
        if destroyed:
            record["destroyed"] = destroyed
        lights = {a.id: int(a.get_state()) for a in actors if a.type_id == "traffic.traffic_light"}
        changed = {k: v for k, v in lights.items() if self._lights.get(k) != v}
        self._lights = lights
        if changed:
            record["lights"] = changed
        vehicles = [a for a in moving if a.type_id.startswith("vehicle.")]
        if vehicles:
            record["controls"] = {a.id: _control(a.get_control()) for a in vehicles}
            record["vehicle_lights"] = {a.id: int(a.get_light_state()) for a in vehicles}
        if collisions:
            record["collisions"] = [[c.actor.id, c.other_actor.id if c.other_actor is not None else 0]
                                    for c in collisions]
        if self._additional:
            record["angular"] = {a.id: [round(w, 4) for w in _vector(a.get_angular_velocity())] for a in moving}
        self._write(record)


def _control(control: Any) -> list[float]:
    return [round(control.throttle, 3), round(control.steer, 3), round(control.brake, 3),
            int(control.hand_brake), int(control.reverse), int(control.gear)]


def _vector(vector: Any) -> tuple[float, float, float]:
    return vector.x, vector.y, vector.z


class RecordingError(RuntimeError):
    """A recording that cannot be read: the message names the file and, past the header, the frame."""


def _numbers(value: Any, count: int) -> bool:
    return isinstance(value, list) and len(value) == count and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)


def _ids(mapping: Any, check) -> bool:
    return isinstance(mapping, dict) and all(key.lstrip("-").isdigit() and check(v) for key, v in mapping.items())


#: Every field a frame may hold, and its check (``poses`` is required).
_FIELDS = {
    "poses": lambda v: _ids(v, lambda p: _numbers(p, 9)),
    "spectator": lambda v: _numbers(v, 9),
    "created": lambda v: isinstance(v, list) and all(
        isinstance(a, dict) and isinstance(a.get("id"), int) and isinstance(a.get("type"), str)
        and isinstance(a.get("role", ""), str) and isinstance(a.get("attributes", {}), dict)
        and _numbers(a.get("pose"), 9) and _numbers(a.get("extent"), 3) for a in v),
    "destroyed": lambda v: isinstance(v, list) and all(isinstance(i, int) for i in v),
    "lights": lambda v: _ids(v, lambda state: isinstance(state, int) and 0 <= state <= 4),
    "controls": lambda v: _ids(v, lambda c: _numbers(c, 6)),
    "vehicle_lights": lambda v: _ids(v, lambda state: isinstance(state, int)),
    "collisions": lambda v: isinstance(v, list) and all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(i, int) for i in c) for c in v),
    "angular": lambda v: _ids(v, lambda w: _numbers(w, 3)),
}


class Recording:
    """A recording, read frame by frame (memory stays flat however long it is): its header, and
    :meth:`frames` streams its frames; :attr:`actors` gathers every actor created in the frames streamed so
    far. A damaged or wrong file is a :class:`RecordingError` naming the file and the frame."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.actors: dict[int, dict] = {}
        self._span: tuple[int, float, float] | None = None
        for number, line in self._lines():
            try:
                header = json.loads(line)
            except ValueError:
                header = None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise RecordingError(f"{path} is not a recording of the embedded world (no {FORMAT} header). Fix: "
                                     f"give a file client.start_recorder wrote on an embedded world")
            if header.get("version") != VERSION or not isinstance(header.get("map"), str):
                raise RecordingError(f"{path}: a recording of format version {header.get('version')!r} (this "
                                     f"library reads version {VERSION}). Fix: record it again with this version")
            self.header = header
            return
        raise RecordingError(f"{path} is empty: not a recording. Fix: give a file client.start_recorder wrote")

    def _lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text) of the file's non-empty lines, read as they come."""
        number = 0
        try:
            with gzip.open(self.path, "rt", encoding="utf-8") as stream:
                for number, line in enumerate(stream, start=1):
                    if line.strip():
                        yield number, line
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as error:
            why = f"{type(error).__name__}: {str(error)[:120]}"
            if not number:
                raise RecordingError(f"{self.path} is not a recording of the embedded world ({why}). Fix: give a file "
                                     f"client.start_recorder wrote") from None
            raise RecordingError(f"{self.path}: damaged after line {number} ({why}). Fix: give a complete recording "
                                 f"(a copy cut short or corrupted cannot be read)") from None

    def frames(self) -> Iterator[dict]:
        """The frames, one at a time and checked, with integer actor ids."""
        frame_number = -1
        for line_number, line in self._lines():
            if frame_number < 0:
                frame_number = 0
                continue  # the header
            where = f"{self.path}: frame {frame_number} (line {line_number})"
            try:
                frame = json.loads(line)
            except ValueError as error:
                raise RecordingError(f"{where}: not JSON ({error}). Fix: give an intact recording") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("frame"), int) or \
                    not _numbers([frame.get("time")], 1) or "poses" not in frame:
                raise RecordingError(f"{where}: not a frame (frame, time and poses expected). Fix: give an intact "
                                     f"recording")
            for key, value in frame.items():
                check = _FIELDS.get(key)
                if check is not None and not check(value):
                    raise RecordingError(f"{where}: its {key!r} is malformed. Fix: give an intact recording")
            for key in ("poses", "lights", "controls", "vehicle_lights", "angular"):
                if key in frame:
                    frame[key] = {int(k): v for k, v in frame[key].items()}
            for actor in frame.get("created", []):
                self.actors[actor["id"]] = actor
            frame_number += 1
            yield frame

    def span(self) -> tuple[int, float, float]:
        """(frames, first frame's time, last frame's time), from one pass (kept)."""
        if self._span is None:
            count, first, last = 0, 0.0, 0.0
            for frame in self.frames():
                first = frame["time"] if count == 0 else first
                last, count = frame["time"], count + 1
            self._span = (count, first, last)
        return self._span

    @property
    def duration(self) -> float:
        _, first, last = self.span()
        return last - first

    def category(self, actor_id: int) -> str:
        """CARLA's category letter of an actor: h, v, w, t or o."""
        actor = self.actors.get(actor_id)
        if actor is None:
            return "o"
        if actor.get("role") in HERO_ROLES:
            return "h"
        return {"vehicle": "v", "walker": "w"}.get(actor["type"].split(".")[0],
                                                   "t" if actor["type"] == "traffic.traffic_light" else "o")


def read_recording(filename: str) -> Recording:
    """A recording (its header read, its frames streamed when asked); a clear error for a missing file or
    one that is not a recording."""
    path = recording_path(filename)
    if not path.is_file():
        raise RecordingError(f"recording {path} not found. Fix: give the path start_recorder returned")
    return Recording(path)


def _heading(recording: Recording) -> list[str]:
    return [f"Version: {recording.header['version']}", f"Map: {recording.header['map']}",
            f"Date: {recording.header['date']}", ""]


def _footer(count: int, first: float, last: float) -> list[str]:
    return ["", f"Frames: {count}", f"Duration: {last - first:g} seconds"]


def file_info(recording: Recording, show_all: bool = False) -> str:
    """What ``show_recorder_file_info`` prints: creations and destructions per frame (every frame's
    poses too with ``show_all``)."""
    lines = _heading(recording)
    count, first, last = 0, 0.0, 0.0
    for frame in recording.frames():
        first = frame["time"] if count == 0 else first
        count, last = count + 1, frame["time"]
        events = [f" Create {a['id']}: {a['type']} ({a['role'] or 0}) at ({a['pose'][0]:g}, {a['pose'][1]:g}, "
                  f"{a['pose'][2]:g})" for a in frame.get("created", [])]
        events += [f" Destroy {actor_id}" for actor_id in frame.get("destroyed", [])]
        if show_all:
            events += [f" Pose {actor_id}: ({p[0]:g}, {p[1]:g}, {p[2]:g}) yaw {p[4]:g}"
                       for actor_id, p in frame["poses"].items()]
            events += [f" Light {actor_id}: state {state}" for actor_id, state in frame.get("lights", {}).items()]
        if events:
            lines += [f"Frame {frame['frame']} at {frame['time'] - first:g} seconds", *events]
    return "\n".join(lines + _footer(count, first, last))


def collisions_table(recording: Recording, category1: str, category2: str) -> str:
    """What ``show_recorder_collisions`` prints: the first frame of each collision between an actor
    of ``category1`` and one of ``category2`` (h, v, w, t, o or a)."""
    for category in (category1, category2):
        if category not in ("h", "v", "w", "t", "o", "a"):
            raise ValueError(f"collision category {category!r}: use h (hero), v (vehicle), w (walker), "
                             f"t (traffic light), o (other) or a (any)")

    def matches(actor_id: int, category: str) -> bool:
        return category == "a" or recording.category(actor_id) == category or \
            category == "v" and recording.category(actor_id) == "h"

    lines = _heading(recording) + [f"{'Time':>8}  {'Types':<6}{'Id':>6} {'Actor 1':<36}{'Id':>6} Actor 2"]
    last_seen: dict[tuple[int, int], float] = {}  # a pair touching again within a second: one collision
    count, start, now = 0, 0.0, 0.0
    for frame in recording.frames():
        now = frame["time"]
        start = now if count == 0 else start
        count += 1
        for a, b in frame.get("collisions", []):
            pair = (a, b) if a <= b else (b, a)
            ongoing = now - last_seen.get(pair, -math.inf) <= 1.0
            last_seen[pair] = now
            if ongoing:
                continue
            if not matches(a, category1) or not matches(b, category2):
                a, b = b, a
                if not matches(a, category1) or not matches(b, category2):
                    continue
            types = f"{recording.category(a)} {recording.category(b)}"
            name = {actor_id: recording.actors.get(actor_id, {}).get("type", "static world") for actor_id in (a, b)}
            lines.append(f"{now - start:8.0f}  {types:<6}{a:>6} {name[a]:<36}{b:>6} {name[b]}")
    return "\n".join(lines + _footer(count, start, now))


def blocked_table(recording: Recording, min_time: float = 60.0, min_distance: float = 100.0) -> str:
    """What ``show_recorder_actors_blocked`` prints: actors that moved less than ``min_distance``
    centimetres (CARLA's unit here) during at least ``min_time`` seconds, with when that started and
    how long it lasted."""
    min_distance = min_distance / 100.0
    count, start_time, now = 0, 0.0, 0.0
    anchors: dict[int, tuple[float, float, float]] = {}  # id -> (x, y, since)
    found: list[tuple[float, int, float]] = []

    def close(actor_id: int, now: float) -> None:
        x, y, since = anchors.pop(actor_id)
        if now - since >= min_time:
            found.append((since - start_time, actor_id, now - since))

    for frame in recording.frames():
        now = frame["time"]
        start_time = now if count == 0 else start_time
        count += 1
        for actor_id, pose in frame["poses"].items():
            anchor = anchors.get(actor_id)
            if anchor is None:
                anchors[actor_id] = (pose[0], pose[1], now)
            elif math.hypot(pose[0] - anchor[0], pose[1] - anchor[1]) > min_distance:
                close(actor_id, now)
                anchors[actor_id] = (pose[0], pose[1], now)
        for actor_id in [k for k in anchors if k not in frame["poses"]]:
            close(actor_id, now)
    for actor_id in list(anchors):
        close(actor_id, now)
    lines = _heading(recording) + [f"{'Time':>8}{'Id':>7} {'Actor':<40}{'Duration':>9}"]
    for since, actor_id, duration in sorted(found):
        name = recording.actors.get(actor_id, {}).get("type", "")
        lines.append(f"{since:8.0f}{actor_id:>7} {name:<40}{duration:9.0f}")
    return "\n".join(lines + _footer(count, start_time, now))
