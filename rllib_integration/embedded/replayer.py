"""The replayer of the embedded world: ``client.replay_file`` plays a :mod:`.recorder` recording.

As CARLA's replayer: the recorded actors are re-created (an actor of the same id and type still in
the world is taken over instead), driven without physics along their recorded poses (interpolated
between recorded frames, so any step and ``set_replayer_time_factor`` work), created and destroyed
when the recording did; traffic lights take their recorded states (every light group is frozen
meanwhile); ``follow_id`` puts the spectator behind an actor, and the recorded spectator moves the
world's unless ``set_replayer_ignore_spectator(True)`` (the default). At the end the actors stay with
physics on; ``stop_replayer(keep_actors=False)`` removes those the replay created. Sensors are not
replayed (``replay_sensors`` is accepted and ignored): attach new ones to the replayed actors. The
recording is streamed forward frame by frame as the replay clock advances (a pass first finds its length),
so memory stays flat however long it is.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Iterator

import carla

from .recorder import HERO_ROLES, Recording

if TYPE_CHECKING:
    from .sim.blueprints import BlueprintLibrary
    from .sim.kernel import Simulation

logger = logging.getLogger(__name__)


class Replayer:
    """Plays one recording into one world, a tick at a time (a pre-tick hook)."""

    def __init__(self) -> None:
        self.time_factor = 1.0
        self.ignore_hero = False
        self.ignore_spectator = True
        self._sim: "Simulation | None" = None
        self._library: "BlueprintLibrary | None" = None
        self._recording: Recording | None = None
        self._actors: dict[int, Any] = {}  # recorded id -> actor in the world
        self._created: list[Any] = []
        self._clock = self._end = self._first = 0.0
        self._follow = 0
        self._lights: dict[int, int] = {}  # light id -> recorded state, as of the current frame
        self._light_map: dict[int, Any] = {}  # recorded light id -> this world's light there (or None)
        self._stream: Iterator[dict] | None = None
        self._frame: dict | None = None  # the recorded frames around the replay clock
        self._next: dict | None = None

    @property
    def playing(self) -> bool:
        return self._sim is not None

    def start(self, sim: "Simulation", library: "BlueprintLibrary", recording: Recording, start: float,
              duration: float, follow_id: int) -> str:
        """Start playing ``recording`` from ``start`` seconds (negative: before its end) for
        ``duration`` seconds (0: to the end)."""
        self.stop(keep_actors=True)
        if recording.header["map"] != sim.map.name:
            logger.warning("recording %s was made on %s; replaying it on %s", recording.path,
                           recording.header["map"], sim.map.name)
        count, first, last = recording.span()
        if not count:
            raise RuntimeError(f"recording {recording.path} has no frames")
        total = last - first
        begin = min(max(total + start if start < 0 else start, 0.0), total)
        self._clock, self._end, self._first = begin, total if duration <= 0 else min(begin + duration, total), first
        self._sim, self._library, self._recording, self._follow = sim, library, recording, int(follow_id)
        self._actors, self._created = {}, []
        self._lights, self._light_map = {}, {}
        self._stream = recording.frames()
        self._frame, self._next = None, next(self._stream, None)
        sim.signals.freeze(True)
        self._apply()
        sim.add_pre_tick_hook(self._tick)
        return (f"Replaying file: {recording.path}\nReplaying from {begin:g} s - {self._end:g} s ({total:g} s) "
                f"at {self.time_factor:g}x")

    def stop(self, keep_actors: bool = False) -> None:
        """Stop playing; the actors the replay created stay (physics on) or are destroyed."""
        if self._sim is None:
            return
        sim, self._sim = self._sim, None
        sim.remove_pre_tick_hook(self._tick)
        sim.signals.freeze(False)
        for actor in self._actors.values():
            if actor.is_alive and actor.type_id.startswith(("vehicle.", "walker.")):
                if keep_actors or actor not in self._created:
                    actor.set_simulate_physics(True)
                else:
                    actor.destroy()
        self._actors, self._created = {}, []
        self._stream = self._frame = self._next = None

    # -- playing -------------------------------------------------------------------------------
    def _tick(self, dt: float) -> None:
        self._clock += dt * self.time_factor
        if self._clock > self._end + 1e-9:
            self.stop(keep_actors=True)
            return
        self._apply()

    def _advance(self) -> None:
        """Stream frames until the current one is the last at or before the replay clock."""
        while self._next is not None and (self._frame is None or self._next["time"] - self._first <= self._clock + 1e-9):
            self._frame, self._next = self._next, next(self._stream, None)
            self._lights.update(self._frame.get("lights", {}))

    def _apply(self) -> None:
        """Put the world in the recording's state at the replay clock."""
        self._advance()
        frame = self._frame
        following = self._next if self._next is not None else frame
        span = following["time"] - frame["time"]
        weight = min(max((self._clock - (frame["time"] - self._first)) / span, 0.0), 1.0) if span > 0 else 0.0
        alive = set(frame["poses"])
        for actor_id in [k for k in self._actors if k not in alive and k in self._recording.actors]:
            recorded = self._recording.actors[actor_id]
            if recorded["type"].startswith(("vehicle.", "walker.")):
                actor = self._actors.pop(actor_id)
                if actor in self._created and actor.is_alive:
                    actor.destroy()
        for actor_id, pose in frame["poses"].items():
            nxt = following["poses"].get(actor_id, pose)
            actor = self._actors.get(actor_id) or self._adopt(actor_id, pose)
            if actor is None or not actor.is_alive:
                continue
            x, y, z, pitch, yaw, roll = (a + (b - a) * weight for a, b in zip(pose[:6], nxt[:6]))
            yaw = pose[4] + ((nxt[4] - pose[4] + 180.0) % 360.0 - 180.0) * weight
            actor.set_transform(carla.Transform(carla.Location(x, y, z), carla.Rotation(pitch, yaw, roll)))
            actor.set_target_velocity(carla.Vector3D(*pose[6:9]))
        self._apply_lights()
        if "spectator" in frame and not self.ignore_spectator:
            p = frame["spectator"]
            self._sim.spectator.set_transform(carla.Transform(carla.Location(*p[:3]), carla.Rotation(*p[3:6])))
        self._follow_actor()

    def _adopt(self, actor_id: int, pose: list[float]) -> Any:
        """The world's actor for a recorded one: the same id and type if still there, else a new one."""
        recorded = self._recording.actors.get(actor_id)
        if recorded is None or self.ignore_hero and recorded["role"] in HERO_ROLES:
            return None
        actor = self._sim.actor(actor_id)
        taken = actor is not None and (actor in self._created or actor in self._actors.values())
        if actor is None or actor.type_id != recorded["type"] or taken:  # (an id a replayed actor got is not it)
            blueprint = self._library.find(recorded["type"])
            for key, value in recorded["attributes"].items():
                if blueprint.has_attribute(key):
                    blueprint.set_attribute(key, str(value))
            transform = carla.Transform(carla.Location(*pose[:3]), carla.Rotation(*pose[3:6]))
            try:
                actor = self._sim.spawn(blueprint, transform)
            except RuntimeError:  # something stands there: place it above, it is moved each tick anyway
                transform.location.z += 50.0
                actor = self._sim.spawn(blueprint, transform)
            self._created.append(actor)
        elif getattr(actor, "autopilot_port", None) is not None:
            actor.set_autopilot(False)
        actor.set_simulate_physics(False)
        self._actors[actor_id] = actor
        return actor

    def _light(self, actor_id: int) -> Any:
        """This world's traffic light for a recorded one: the one standing where it stood (ids differ
        once the town has been loaded again, as a CARLA server's actor ids count on)."""
        if actor_id not in self._light_map:
            recorded, found = self._recording.actors.get(actor_id), None
            if recorded is not None:
                x, y = recorded["pose"][0], recorded["pose"][1]
                for light in self._sim.actors():
                    where = light.get_location()
                    if light.type_id == "traffic.traffic_light" and math.hypot(where.x - x, where.y - y) < 0.5:
                        found = light
                        break
            self._light_map[actor_id] = found
        return self._light_map[actor_id]

    def _apply_lights(self) -> None:
        for actor_id, state in self._lights.items():
            light = self._light(actor_id)
            if light is not None and int(light.get_state()) != state:
                light.set_state(carla.TrafficLightState.values[state])

    def _follow_actor(self) -> None:
        actor = self._actors.get(self._follow) if self._follow else None
        if actor is None:
            return
        t = actor.get_transform()
        yaw = math.radians(t.rotation.yaw)
        behind = carla.Location(t.location.x - 8.0 * math.cos(yaw), t.location.y - 8.0 * math.sin(yaw),
                                t.location.z + 4.0)
        self._sim.spectator.set_transform(carla.Transform(behind, carla.Rotation(pitch=-15.0, yaw=t.rotation.yaw)))
