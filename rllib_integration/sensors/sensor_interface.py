"""``SensorInterface``: collects every sensor's data for one simulator frame.

Sensors push ``(frame, data)`` from their callbacks (any thread). :meth:`SensorInterface.get_data`
then returns, for a frame:

- every regular sensor's data of exactly that frame, waiting up to ``timeout`` seconds for it;
  older data is dropped, never handed back as current. A sensor with a ``sensor_tick`` (it does
  not measure every frame) is included only on frames it measured;
- every event sensor's events of that frame as a list (possibly empty; two collisions in one tick
  are two items), each attributed to the sensor that produced it.

A regular sensor that sent nothing for the frame within the timeout raises an error naming the
sensor and the frame.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Protocol

from ..errors import SimulatorFailure


class SensorTimeoutError(SimulatorFailure):
    """A sensor did not deliver the data of a frame in time (the simulator failed)."""


class CollectedSensor(Protocol):
    """What the interface needs of a sensor (:class:`~.sensor.BaseSensor` provides it)."""

    periodic: bool  # measures every ``sensor_tick`` seconds, not every frame

    def is_event_sensor(self) -> bool: ...

    def prepare(self, frame: int) -> None:
        """Produce this frame's data now if the sensor computes it on demand."""

    def destroy(self) -> None: ...


class SensorInterface:
    """Registry of a hero's sensors and their per-frame data."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._sensors: dict[str, CollectedSensor] = {}
        self._buffers: dict[str, collections.deque] = {}
        self._condition = threading.Condition()

    def register(self, name: str, sensor: CollectedSensor) -> None:
        if name in self._sensors:
            raise ValueError(f"a sensor named '{name}' is already registered")
        with self._condition:
            self._sensors[name] = sensor
            self._buffers[name] = collections.deque()

    def __contains__(self, name: object) -> bool:
        """Whether a sensor named ``name`` is registered."""
        return name in self._sensors

    def discard(self, name: str) -> None:
        """Forget sensor ``name`` and its data, if it is registered (without destroying it: a sensor whose
        construction failed half way, :meth:`SensorFactory.spawn <.factory.SensorFactory.spawn>`)."""
        with self._condition:
            self._sensors.pop(name, None)
            self._buffers.pop(name, None)

    @property
    def sensors(self) -> dict[str, CollectedSensor]:
        return dict(self._sensors)

    def set_route(self, progress: Any) -> None:
        """Give the hero's route progress (a ``RouteProgress``) to the sensors that draw the route
        (BirdView's ``route`` channel)."""
        for sensor in self._sensors.values():
            if hasattr(sensor, "set_route"):
                sensor.set_route(progress)

    def update(self, name: str, frame: int, data: Any) -> None:
        """Store one item of sensor ``name`` for ``frame`` (called from sensor callbacks)."""
        with self._condition:
            buffer = self._buffers.get(name)
            if buffer is not None:
                buffer.append((frame, data))
                self._condition.notify_all()

    def get_data(self, frame: int) -> dict[str, tuple[int, Any]]:
        """``{name: (frame, data)}`` for ``frame``; event sensors give ``(frame, [items])``."""
        if not self._sensors:  # (a batched experiment's heroes measure their sensors themselves)
            return {}
        for sensor in self._sensors.values():
            sensor.prepare(frame)
        deadline = time.monotonic() + self.timeout
        result: dict[str, tuple[int, Any]] = {}
        with self._condition:
            for name, sensor in self._sensors.items():
                buffer = self._buffers[name]
                if sensor.is_event_sensor():
                    self._drop_before(buffer, frame)
                    items = []
                    while buffer and buffer[0][0] == frame:
                        items.append(buffer.popleft()[1])
                    result[name] = (frame, items)
                    continue
                item = self._wait_for(name, sensor, buffer, frame, deadline)
                if item is not None:
                    result[name] = item
        return result

    @staticmethod
    def _drop_before(buffer: collections.deque, frame: int) -> None:
        while buffer and buffer[0][0] < frame:
            buffer.popleft()

    def _wait_for(self, name: str, sensor: CollectedSensor, buffer: collections.deque, frame: int,
                  deadline: float) -> tuple[int, Any] | None:
        while True:
            self._drop_before(buffer, frame)
            if buffer and buffer[0][0] == frame:
                return buffer.popleft()
            if sensor.periodic:
                return None  # not measured this frame
            if buffer:
                raise SensorTimeoutError(f"sensor '{name}' skipped frame {frame} (its next data is "
                                         f"of frame {buffer[0][0]})")
            remaining = deadline - time.monotonic()
            if remaining <= 0.0:
                raise SensorTimeoutError(f"sensor '{name}' sent no data for frame {frame} within "
                                         f"{self.timeout:g} s. Fix: check that the sensor measures "
                                         f"every tick (sensor_tick) or raise env_config.carla.timeout.")
            self._condition.wait(remaining)

    def destroy(self) -> None:
        """Destroy every sensor and forget them and their data."""
        sensors = list(self._sensors.values())
        with self._condition:
            self._sensors.clear()
            self._buffers.clear()
        for sensor in sensors:
            sensor.destroy()
