"""The base class of the embedded world's sensor actors (``carla.Sensor``).

A sensor is an actor attached to a parent; the kernel calls :meth:`Sensor.on_tick` after every tick
(in spawn order); it measures when due (``sensor_tick``) and calls the ``listen`` callback
synchronously with each measurement.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterable

import carla
import numpy as np

from ..sim.actors import Actor
from .measurements import SensorData


class Sensor(Actor, carla.Sensor):
    """A sensor actor; subclasses implement :meth:`measure`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._callback: Callable[[SensorData], None] | None = None
        self._interval = float(self.attributes.get("sensor_tick", "0") or 0.0)
        self._last_time: float | None = None
        self._sim.add_sensor(self, self.measures_collisions_only())

    @functools.cached_property
    def _rng(self) -> np.random.Generator:
        """The noise's generator (``noise_seed``), made when first drawn from: most sensors draw no noise, and a
        generator costs a respawn of a hero's sensors 15 µs and more."""
        return np.random.default_rng(int(float(self.attributes.get("noise_seed", "0") or 0)))

    def measures_collisions_only(self) -> bool:
        """Whether this sensor measures only at ticks in which its parent collided (the simulation then runs it
        only after those)."""
        return False

    @property
    def is_listening(self) -> bool:
        return self._callback is not None

    def listen(self, callback: Callable[[SensorData], None]) -> None:
        """Call ``callback(measurement)`` for every measurement from now on."""
        self._callback = callback

    def stop(self) -> None:
        self._callback = None

    def on_tick(self, frame: int, elapsed: float) -> None:
        """Measure after a tick if due (``sensor_tick``) and hand the results to the callback."""
        if not self._due(elapsed):
            return
        measurements = list(self.measure(frame, elapsed, self.get_transform()))
        if self._callback is not None:
            for measurement in measurements:
                self._callback(measurement)

    def _due(self, elapsed: float) -> bool:
        """Whether a measurement is due after the tick that ended at ``elapsed`` (every tick, or every
        ``sensor_tick`` seconds); a due measurement is taken."""
        if self._last_time is not None and elapsed - self._last_time < self._interval - 1e-9:
            return False
        self._last_time = elapsed
        return True

    def measure(self, frame: int, elapsed: float, transform: carla.Transform) -> Iterable[SensorData]:
        """The measurements of ``frame`` taken at ``transform`` (not delivered to the callback)."""
        raise NotImplementedError

    def _noise(self, stddev_key: str, bias_key: str | None = None) -> float:
        stddev = float(self.attributes.get(stddev_key, "0") or 0.0)
        bias = float(self.attributes.get(bias_key, "0") or 0.0) if bias_key else 0.0
        return bias + (self._rng.normal(0.0, stddev) if stddev > 0.0 else 0.0)
