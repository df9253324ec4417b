"""World snapshots (``carla.WorldSnapshot``, ``carla.ActorSnapshot``): the state of every actor at
one frame, frozen when taken."""

from __future__ import annotations

from typing import Iterator

import carla


class ActorSnapshot:
    """The state of one actor at the snapshot's frame."""

    def __init__(self, actor_id: int, transform: carla.Transform, velocity: carla.Vector3D,
                 angular_velocity: carla.Vector3D, acceleration: carla.Vector3D) -> None:
        self.id = actor_id
        self._state = (transform, velocity, angular_velocity, acceleration)

    def get_transform(self) -> carla.Transform:
        return self._state[0]

    def get_velocity(self) -> carla.Vector3D:
        return self._state[1]

    def get_angular_velocity(self) -> carla.Vector3D:
        return self._state[2]

    def get_acceleration(self) -> carla.Vector3D:
        return self._state[3]


class WorldSnapshot:
    """All actors' states at one frame, with the frame's ``timestamp``."""

    def __init__(self, episode_id: int, timestamp: carla.Timestamp, actors: list[ActorSnapshot]) -> None:
        self.id = episode_id
        self.timestamp = timestamp
        self.frame = timestamp.frame
        self._actors = {snapshot.id: snapshot for snapshot in actors}

    def find(self, actor_id: int) -> ActorSnapshot | None:
        return self._actors.get(actor_id)

    def has_actor(self, actor_id: int) -> bool:
        return actor_id in self._actors

    def __iter__(self) -> Iterator[ActorSnapshot]:
        return iter(self._actors.values())

    def __len__(self) -> int:
        return len(self._actors)
