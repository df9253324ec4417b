#!/usr/bin/env python3
"""The embedded world's vehicle dynamics against CARLA 0.9.x's published figures (the table of
shared/reference/carla-dynamics.md): each figure measured on a straight motorway, printed beside
CARLA's value and band. Not a timing benchmark: a calibration report to run after changing the model.

    python3 benchmarks/vehicle_dynamics.py --blueprint vehicle.lincoln.mkz_2017
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import carla
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rllib_integration.embedded import Client, EmbeddedServer  # noqa: E402
from rllib_integration.embedded.maps.osm import osm_to_opendrive  # noqa: E402
from rllib_integration.embedded.maps.procedural import straight_motorway  # noqa: E402

DT = 0.05


class Road:
    """A straight motorway world in synchronous mode; each run spawns a fresh vehicle further on."""

    def __init__(self, server: EmbeddedServer, blueprint: str) -> None:
        self.world = Client("localhost", server.port).generate_opendrive_world(osm_to_opendrive(straight_motorway()))
        settings = self.world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, DT
        self.world.apply_settings(settings)
        self.world.unload_map_layer(carla.MapLayer.All)
        self.blueprint = self.world.get_blueprint_library().find(blueprint)
        self.spawn_points = self.world.get_map().get_spawn_points()
        self.next_point = 10

    def vehicle(self) -> carla.Actor:
        """A new vehicle at rest, settled on the road."""
        for actor in self.world.get_actors().filter("vehicle.*"):
            actor.destroy()
        vehicle = self.world.spawn_actor(self.blueprint, self.spawn_points[self.next_point])
        self.next_point = (self.next_point + 10) % len(self.spawn_points)
        for _ in range(30):
            self.world.tick()
        return vehicle

    def trace(self, vehicle, control: carla.VehicleControl, seconds: float) -> np.ndarray:
        """(time, forward speed) after each tick under ``control``."""
        vehicle.apply_control(control)
        rows = []
        for step in range(int(round(seconds / DT))):
            self.world.tick()
            rows.append(((step + 1) * DT, forward_speed(vehicle)))
        return np.array(rows)

    def until(self, vehicle, kmh: float) -> None:
        vehicle.apply_control(carla.VehicleControl(throttle=1.0))
        while forward_speed(vehicle) < kmh / 3.6:
            self.world.tick()


def forward_speed(vehicle) -> float:
    velocity, forward = vehicle.get_velocity(), vehicle.get_transform().get_forward_vector()
    return velocity.x * forward.x + velocity.y * forward.y


def crossing_acceleration(trace: np.ndarray, kmh: float, width: float = 1.5) -> float:
    """Mean acceleration while the speed crosses ``kmh`` +/- ``width`` m/s."""
    low, high = max(kmh / 3.6 - width, 0.05), kmh / 3.6 + width
    first, last = np.argmax(trace[:, 1] >= low), np.argmax(trace[:, 1] >= high)
    return (trace[last, 1] - trace[first, 1]) / (trace[last, 0] - trace[first, 0])


def report(name: str, value: float, unit: str, low: float, high: float, reference: str) -> None:
    verdict = "ok" if low <= value <= high else "OUT OF BAND"
    print(f"{name:<44} {value:8.2f} {unit:<5} CARLA {reference:<22} band {low:.2f}-{high:.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blueprint", default="vehicle.lincoln.mkz_2017", help="vehicle blueprint to measure")
    args = parser.parse_args()
    server = EmbeddedServer.start("localhost", 53000)
    try:
        road = Road(server, args.blueprint)
        trace = road.trace(road.vehicle(), carla.VehicleControl(throttle=1.0), 16.0)
        start = trace[np.argmax(trace[:, 1] > 0.05), 0]
        report("0-100 km/h at full throttle (s)", trace[np.argmax(trace[:, 1] >= 100 / 3.6), 0] - start, "s",
               7.45 * 0.8, 7.45 * 1.2, "7.45 s +/-20 %")
        for kmh, target in ((0, 7.6), (20, 6.05), (40, 4.7), (60, 3.6), (80, 2.7), (100, 2.0)):
            report(f"acceleration at {kmh} km/h, throttle 1.0", crossing_acceleration(trace, kmh), "m/s2",
                   target * 0.75, target * 1.25, f"{target} +/-25 %")
        half = road.trace(road.vehicle(), carla.VehicleControl(throttle=0.5), 25.0)
        for kmh, target in ((0, 3.3), (50, 1.6)):
            report(f"acceleration at {kmh} km/h, throttle 0.5", crossing_acceleration(half, kmh), "m/s2",
                   target * 0.75, target * 1.25, f"{target} +/-25 %")
        for speed in (10.0, 25.0):
            vehicle = road.vehicle()
            road.until(vehicle, (speed + 1.0) * 3.6)
            coast = road.trace(vehicle, carla.VehicleControl(), 1.5)
            report(f"coasting at {speed:.0f} m/s", (coast[-1, 1] - coast[10, 1]) / (coast[-1, 0] - coast[10, 0]),
                   "m/s2", -0.67, -0.45, "-0.45 to -0.67")
        vehicle = road.vehicle()
        road.until(vehicle, 100.0)
        origin = vehicle.get_location()
        brake = road.trace(vehicle, carla.VehicleControl(brake=1.0), 6.0)
        rates = -np.diff(brake[:, 1]) / DT
        braking = rates[(brake[1:, 1] > 40 / 3.6) & (brake[1:, 0] > 0.3)]
        report("full brake 100-40 km/h, mean", float(braking.mean()), "m/s2", 5.0, 8.0, "5 to 8")
        report("stop from 100 km/h, time", brake[np.argmax(brake[:, 1] <= 0.01), 0], "s", 2.7, 4.0, "2.7-4.0 s")
        report("stop from 100 km/h, distance", vehicle.get_location().distance(origin), "m", 38.0, 75.0, "38-75 m")
        vehicle = road.vehicle()
        road.trace(vehicle, carla.VehicleControl(throttle=0.45), 1.5)
        vehicle.apply_control(carla.VehicleControl(throttle=0.3, steer=0.1))
        for _ in range(12):
            road.world.tick()
        curvature = math.radians(vehicle.get_angular_velocity().z) / forward_speed(vehicle) / 0.1
        report("small-steer curvature per unit steer", curvature, "1/m", 0.28 * 0.7, 0.28 * 1.3, "0.28 +/-30 %")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
