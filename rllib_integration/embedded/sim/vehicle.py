"""``carla.Vehicle`` of the embedded world: a facade over one row of the kernel's vehicle table.

Controls (``apply_control``, ``apply_ackermann_control``), the physics API
(``get_physics_control`` / ``apply_physics_control``, ``get_wheel_steer_angle``, constant velocity,
impulses, forces and torques, target velocities) and the getters all read or write that row; the
motion itself is :mod:`.dynamics`'. Units are CARLA's (metres, degrees, N, N·s, N·m; wheel radius
and position in centimetres).
"""

from __future__ import annotations

import math
from typing import Any

import carla
import numpy as np

from ...common.finite import finite_number, finite_transform, finite_vector
from . import vehicle_kernel as kernel
from .actors import Actor
from .dynamics import COLUMN
from .vehicle_physics import copy_physics

#: ``carla.VehicleWheelLocation`` values of the steered wheels -> side (-1 left, +1 right): FL_Wheel 0,
#: FR_Wheel 1 (two-wheelers: Front_Wheel 0, whose side is the centre).
_FRONT_WHEELS = {0: -1.0, 1: 1.0}
_POSE = slice(0, 6)  # x, y, z, yaw, pitch, roll: the table's first columns (one slice reads the pose)
_LOCATION = slice(0, 3)  # x, y, z
assert [COLUMN[name] for name in ("x", "y", "z", "yaw", "pitch", "roll")] == list(range(6))
#: throttle, steer, brake, reverse, hand brake, manual gear shift, gear asked for: consecutive columns
_CONTROL = slice(COLUMN["throttle"], COLUMN["throttle"] + 7)
assert [COLUMN[name] for name in ("throttle", "steer", "brake", "reverse", "hand_brake", "manual", "gear_request")] \
    == list(range(_CONTROL.start, _CONTROL.stop))


#: An open door: metres from its hinge to its edge, and how far it swings out from the body (radians).
DOOR_LENGTH, DOOR_ANGLE = 1.1, math.radians(60.0)


class Vehicle(Actor, carla.Vehicle):
    """A vehicle driven by ``apply_control`` through the world's vehicle dynamics."""

    def __init__(self, *args, physics: carla.VehiclePhysicsControl, **kwargs) -> None:
        """``physics``: the vehicle's physics control as spawned (kept, not copied: shared by the vehicles spawned
        alike, and never changed in place: ``apply_physics_control`` keeps a copy of what it is given)."""
        super().__init__(*args, **kwargs)
        self.slot = -1  # row in the kernel's VehicleStates, kept by the kernel
        self.physics = physics  # as spawned or last applied (a copy of what was applied); wheel positions local, cm
        self._light_state = carla.VehicleLightState.NONE
        self._ackermann: carla.VehicleAckermannControl | None = None
        self._ackermann_settings = carla.AckermannControllerSettings()
        self.autopilot_port: int | None = None
        self.telemetry = False  # show_debug_telemetry's flag (nothing to draw it on)
        self.open_doors: set[str] = set()  # doors opened with open_door
        self.wheel_angles: dict[int, float] = {}  # set_wheel_steer_direction's visual angles
        self._speed_limit = (math.inf, math.inf, 0.0)  # (x, y) of the last lookup and its limit, km/h

    def _row(self) -> np.ndarray:
        """The vehicle's row of the dynamics table. A destroyed vehicle's is a row of zeros, read and
        written in vain: as CARLA's client, which reads a destroyed actor's state as an all-zero snapshot
        and sends setters and controls without waiting for an answer."""
        if self.slot < 0:
            return np.zeros(self._sim.vehicles.data.shape[1])
        return self._sim.vehicles.data[self.slot]

    # -- pose and motion --------------------------------------------------------------------
    def get_transform(self) -> carla.Transform:
        x, y, z, yaw, pitch, roll = self._row()[_POSE].tolist()
        return carla.Transform(carla.Location(x, y, z),
                               carla.Rotation(math.degrees(pitch), math.degrees(yaw), math.degrees(roll)))

    def get_location(self) -> carla.Location:
        if self.slot < 0:
            return carla.Location()
        x, y, z = self._sim.vehicles.data[self.slot, _LOCATION].tolist()
        return carla.Location(x, y, z)

    def get_velocity(self) -> carla.Vector3D:
        return carla.Vector3D(*self._sim.vehicles.velocity(self.slot))

    def get_angular_velocity(self) -> carla.Vector3D:
        return carla.Vector3D(0.0, 0.0, math.degrees(self._row()[COLUMN["yaw_rate"]]))

    def get_acceleration(self) -> carla.Vector3D:
        row = self._row()
        return carla.Vector3D(row[COLUMN["ax"]], row[COLUMN["ay"]], row[COLUMN["az"]])

    def set_transform(self, transform: carla.Transform) -> None:
        finite_transform(transform, f"{self.type_id}.set_transform")
        row = self._row()
        row[COLUMN["x"]], row[COLUMN["y"]], row[COLUMN["z"]] = (
            transform.location.x, transform.location.y, transform.location.z)
        row[COLUMN["yaw"]] = math.radians(transform.rotation.yaw)
        row[COLUMN["vz"]] = 0.0

    def set_target_velocity(self, velocity: carla.Vector3D) -> None:
        """Set the velocity (world frame, m/s): along the heading, across it (the tyres then remove
        the sideways part) and vertical."""
        finite_vector(velocity, f"{self.type_id}.set_target_velocity")
        row = self._row()
        yaw = row[COLUMN["yaw"]]
        row[COLUMN["speed"]] = velocity.x * math.cos(yaw) + velocity.y * math.sin(yaw)
        row[COLUMN["vy"]] = -velocity.x * math.sin(yaw) + velocity.y * math.cos(yaw)
        row[COLUMN["vz"]] = velocity.z

    def set_target_angular_velocity(self, angular_velocity: carla.Vector3D) -> None:
        """Set the yaw rate (deg/s, world z); the tyres bring it back to what the steering gives."""
        finite_vector(angular_velocity, f"{self.type_id}.set_target_angular_velocity")
        row = self._row()
        steering_rate = row[COLUMN["yaw_rate"]] - row[COLUMN["spin"]]
        row[COLUMN["spin"]] = math.radians(angular_velocity.z) - steering_rate

    def add_impulse(self, impulse: carla.Vector3D) -> None:
        """Add ``impulse`` (N·s, world frame) to the vehicle's momentum."""
        finite_vector(impulse, f"{self.type_id}.add_impulse")
        row = self._row()
        mass = row[COLUMN["mass"]]
        velocity = self.get_velocity()
        self.set_target_velocity(carla.Vector3D(velocity.x + impulse.x / mass, velocity.y + impulse.y / mass,
                                                velocity.z + impulse.z / mass))

    def add_force(self, force: carla.Vector3D) -> None:
        """Apply ``force`` (N, world frame, horizontal part) during the next tick."""
        finite_vector(force, f"{self.type_id}.add_force")
        row = self._row()
        row[COLUMN["force_x"]] += force.x
        row[COLUMN["force_y"]] += force.y

    def add_torque(self, torque: carla.Vector3D) -> None:
        """Apply ``torque`` (N·m, world frame, about z) during the next tick."""
        finite_vector(torque, f"{self.type_id}.add_torque")
        self._row()[COLUMN["torque_z"]] += torque.z

    def add_angular_impulse(self, angular_impulse: carla.Vector3D) -> None:
        """Add ``angular_impulse`` (N·m·s, about z) to the yaw rate."""
        finite_vector(angular_impulse, f"{self.type_id}.add_angular_impulse")
        row = self._row()
        row[COLUMN["spin"]] += angular_impulse.z / row[COLUMN["inertia"]]

    def enable_constant_velocity(self, velocity: carla.Vector3D) -> None:
        """Keep ``velocity.x`` (m/s, the vehicle's frame) along the heading until disabled; the
        steering still turns the vehicle, throttle and brake are ignored."""
        finite_vector(velocity, f"{self.type_id}.enable_constant_velocity")
        row = self._row()
        row[COLUMN["cv_on"]], row[COLUMN["cv_speed"]] = 1.0, float(velocity.x)

    def disable_constant_velocity(self) -> None:
        self._row()[COLUMN["cv_on"]] = 0.0

    def set_simulate_physics(self, enabled: bool = True) -> None:
        """Without physics the vehicle stands where it is (at rest) until moved by ``set_transform``."""
        super().set_simulate_physics(enabled)
        row = self._row()
        row[COLUMN["frozen"]] = 0.0 if enabled else 1.0
        if not enabled:
            row[COLUMN["speed"]] = row[COLUMN["vy"]] = row[COLUMN["yaw_rate"]] = row[COLUMN["spin"]] = 0.0

    # -- controls ---------------------------------------------------------------------------
    def apply_control(self, control: carla.VehicleControl) -> None:
        """Apply a control from the next tick on, clamped to CARLA's ranges (and stop following an
        Ackermann control); a control that is not a number raises ``ValueError``."""
        throttle, steer, brake = control.throttle, control.steer, control.brake
        if not (math.isfinite(throttle) and math.isfinite(steer) and math.isfinite(brake)):
            what = f"{self.type_id}.apply_control"
            for name, value in (("throttle", throttle), ("steer", steer), ("brake", brake)):
                finite_number(value, f"{what}: {name}")  # raises, naming the first that is not a number
        self._stop_ackermann()
        self._row()[_CONTROL] = (min(max(throttle, 0.0), 1.0), min(max(steer, -1.0), 1.0), min(max(brake, 0.0), 1.0),
                                 1.0 if control.reverse else 0.0, 1.0 if control.hand_brake else 0.0,
                                 1.0 if control.manual_gear_shift else 0.0, int(control.gear))

    def _write_control(self, control: carla.VehicleControl) -> None:
        self._row()[_CONTROL] = (control.throttle, control.steer, control.brake, 1.0 if control.reverse else 0.0,
                                 1.0 if control.hand_brake else 0.0, 1.0 if control.manual_gear_shift else 0.0,
                                 control.gear)

    def get_control(self) -> carla.VehicleControl:
        """The control applied (the traffic manager's for autopilot vehicles) and the gear engaged."""
        row = self._row()
        return carla.VehicleControl(throttle=float(row[COLUMN["throttle"]]), steer=float(row[COLUMN["steer"]]),
                                    brake=float(row[COLUMN["brake"]]), hand_brake=bool(row[COLUMN["hand_brake"]]),
                                    reverse=bool(row[COLUMN["reverse"]]), manual_gear_shift=bool(row[COLUMN["manual"]]),
                                    gear=int(row[COLUMN["gear"]]))

    def apply_ackermann_control(self, control: carla.VehicleAckermannControl) -> None:
        """Follow ``control`` (wheel angle in rad, + right; speed m/s; acceleration m/s²) with the
        Ackermann controller every tick until ``apply_control`` is called."""
        for field in ("steer", "steer_speed", "speed", "acceleration", "jerk"):
            finite_number(getattr(control, field), f"{self.type_id}.apply_ackermann_control: {field}")
        if self._ackermann is None:
            self._sim.add_pre_tick_hook(self._ackermann_step)
            self._sim.ackermann_driven.add(self)
        self._ackermann = carla.VehicleAckermannControl(
            steer=control.steer, steer_speed=control.steer_speed, speed=control.speed,
            acceleration=control.acceleration, jerk=control.jerk)

    def apply_ackermann_controller_settings(self, settings: carla.AckermannControllerSettings) -> None:
        self._ackermann_settings = carla.AckermannControllerSettings(
            speed_kp=settings.speed_kp, speed_ki=settings.speed_ki, speed_kd=settings.speed_kd,
            accel_kp=settings.accel_kp, accel_ki=settings.accel_ki, accel_kd=settings.accel_kd)

    def get_ackermann_controller_settings(self) -> carla.AckermannControllerSettings:
        return self._ackermann_settings

    def _stop_ackermann(self) -> None:
        if self._ackermann is not None:
            self._sim.remove_pre_tick_hook(self._ackermann_step)
            self._sim.ackermann_driven.discard(self)
            self._ackermann = None

    def _ackermann_step(self, dt: float) -> None:
        """The Ackermann controller: steer to the wheel angle, throttle or brake towards the speed
        (proportional, limited by the requested acceleration, 3 m/s² when none)."""
        if not self.is_alive:
            return
        target, row, states = self._ackermann, self._row(), self._sim.vehicles
        slot = np.array([self.slot])
        steer = target.steer / max(row[COLUMN["max_steer"]], 1e-3)
        speed = row[COLUMN["speed"]]
        limit = target.acceleration if target.acceleration > 0.0 else 3.0
        accel = float(np.clip((1.0 + 10.0 * self._ackermann_settings.speed_kp) * (target.speed - speed), -8.0, limit))
        throttle = float(states.throttle_for(slot, np.array([accel]))[0]) if accel > 0.0 else 0.0
        brake = min(-accel / float(states.brake_decel(slot)[0]), 1.0) if accel < -0.2 else 0.0
        self._write_control(carla.VehicleControl(throttle=throttle, steer=float(np.clip(steer, -1.0, 1.0)),
                                                 brake=brake, reverse=target.speed < -0.1))

    # -- physics control ----------------------------------------------------------------------
    def get_physics_control(self) -> carla.VehiclePhysicsControl:
        """The vehicle's physics, wheel positions in world coordinates (cm), as CARLA reports them."""
        control = copy_physics(self.physics)
        transform = self.get_transform()
        wheels = list(control.wheels)
        for wheel in wheels:
            local = carla.Location(wheel.position.x / 100.0, wheel.position.y / 100.0, wheel.position.z / 100.0)
            world = transform.transform(local)
            wheel.position = carla.Vector3D(world.x * 100.0, world.y * 100.0, world.z * 100.0)
        control.wheels = wheels
        return control

    def apply_physics_control(self, physics_control: carla.VehiclePhysicsControl) -> None:
        """Change the vehicle's physics (mass, engine, gears, brakes, steering, tyres...); wheel
        positions are read-only, as in CARLA."""
        applied = copy_physics(physics_control)
        wheels = list(applied.wheels)
        if len(wheels) != len(self.physics.wheels):
            raise RuntimeError(f"apply_physics_control: {len(wheels)} wheels given, the vehicle has "
                               f"{len(self.physics.wheels)}")
        for wheel, own in zip(wheels, self.physics.wheels):
            wheel.position = own.position
        applied.wheels = wheels
        self.physics = applied
        self._sim.vehicles.apply_physics(self.slot, applied)

    def get_wheel_steer_angle(self, wheel_location: carla.VehicleWheelLocation) -> float:
        """The steer angle of a wheel, degrees (+ right), from the steering input and Ackermann
        geometry: the inner front wheel turns more than the outer one."""
        row = self._row()
        two_wheeler = len(self.physics.wheels) == 2
        side = (0.0 if int(wheel_location) == 0 else None) if two_wheeler else _FRONT_WHEELS.get(int(wheel_location))
        if side is None:
            return 0.0
        curvature = float(self._sim.vehicles.curvature(np.array([self.slot]), np.array([row[COLUMN["steer_in"]]]),
                                                       np.array([row[COLUMN["speed"]]]))[0])
        if curvature == 0.0:
            return 0.0
        radius = 1.0 / abs(curvature)  # of the rear axle's centre
        offset = side * math.copysign(1.0, curvature) * row[COLUMN["track"]] / 2.0
        return math.copysign(math.degrees(math.atan2(row[COLUMN["wheelbase"]], radius - offset)), curvature)

    # -- traffic ------------------------------------------------------------------------------
    def set_autopilot(self, enabled: bool = True, tm_port: int = 8000) -> None:
        self._sim.traffic.set_autopilot(self, enabled, tm_port)

    def open_door(self, door_idx: carla.VehicleDoor) -> None:
        """Open doors stand out from the body (:meth:`door_boxes`): others collide with them, as in CARLA (the
        bounding box stays the body's)."""
        self.open_doors |= self._doors(door_idx)
        self._sim.doors_changed(self)

    def close_door(self, door_idx: carla.VehicleDoor) -> None:
        self.open_doors -= self._doors(door_idx)
        self._sim.doors_changed(self)

    def door_boxes(self) -> list[tuple[float, float, float, float, float, float, float]]:
        """The open doors' boxes ``(x, y, yaw, ex, ey, z0, z1)`` (as ``Simulation.boxes()`` gives them): each a
        :data:`DOOR_LENGTH` panel swung :data:`DOOR_ANGLE` out from its hinge on the body's side."""
        row = self._row()
        x, y, z, yaw = (float(row[COLUMN[name]]) for name in ("x", "y", "z", "yaw"))
        half_length, half_width = float(row[COLUMN["half_length"]]), float(row[COLUMN["half_width"]])
        height = float(row[COLUMN["height"]])
        boxes = []
        for door in sorted(self.open_doors):
            side = -1.0 if door[1] == "L" else 1.0  # CARLA's local +y is the right
            hinge = (0.3 if door[0] == "F" else -0.2) * half_length
            out_x, out_y = -math.cos(DOOR_ANGLE), side * math.sin(DOOR_ANGLE)
            local_x = hinge + 0.5 * DOOR_LENGTH * out_x
            local_y = side * half_width + 0.5 * DOOR_LENGTH * out_y
            c, s = math.cos(yaw), math.sin(yaw)
            boxes.append((x + c * local_x - s * local_y, y + s * local_x + c * local_y, yaw + math.atan2(out_y, out_x),
                          0.5 * DOOR_LENGTH, 0.05, z + 0.2 * height, z + 0.8 * height))
        return boxes

    @staticmethod
    def _doors(door: carla.VehicleDoor) -> set[str]:
        return {"FL", "FR", "RL", "RR"} if door == carla.VehicleDoor.All else {str(door)}

    def get_failure_state(self) -> carla.VehicleFailureState:
        """Rollover when the vehicle lies on its side or roof, else NONE (no engine or tyre failures)."""
        roll = self.get_transform().rotation.roll
        return carla.VehicleFailureState.Rollover if abs(roll) > 60.0 else carla.VehicleFailureState.NONE

    def set_wheel_steer_direction(self, wheel_location: carla.VehicleWheelLocation, angle_in_deg: float) -> None:
        """CARLA turns the wheel's mesh only (no physics); the embedded world records the angle."""
        self.wheel_angles[int(wheel_location)] = float(angle_in_deg)

    def show_debug_telemetry(self, enabled: bool = True) -> None:
        """CARLA draws a vehicle's telemetry on the server's window; the embedded world has none."""
        self.telemetry = bool(enabled)

    def set_light_state(self, light_state: carla.VehicleLightState) -> None:
        self._light_state = light_state

    def get_light_state(self) -> carla.VehicleLightState:
        return self._light_state

    def get_speed_limit(self) -> float:
        """Speed limit at the vehicle's position, km/h: its road's, looked up again after every metre driven
        (CARLA's client reads the limit of the last sign passed, as of the last tick)."""
        if self._sim.speed_limits.uniform:  # one limit everywhere: no position to read
            return self._sim.speed_limits.default
        location = self.get_location()
        x, y, limit = self._speed_limit
        if (location.x - x) ** 2 + (location.y - y) ** 2 > 1.0:
            limit = self._sim.speed_limits.at(location)
            self._speed_limit = (location.x, location.y, limit)
        return limit

    def get_traffic_light(self) -> Any:
        """The light whose trigger volume the vehicle's box overlaps, or None (as of the last tick, as CARLA)."""
        return self._sim.traffic_light_of(self.slot)

    def is_at_traffic_light(self) -> bool:
        return self.get_traffic_light() is not None

    def get_traffic_light_state(self) -> carla.TrafficLightState:
        """The state of the light affecting the vehicle; green when there is none, as CARLA."""
        light = self.get_traffic_light()
        return light.get_state() if light is not None else carla.TrafficLightState.Green


def apply_control_rows(vehicles: list[Vehicle], slots: np.ndarray, rows: np.ndarray, table: np.ndarray,
                       ackermann_driven: set[Vehicle]) -> None:
    """``Vehicle.apply_control`` of each of ``vehicles`` (in ``slots`` of the table) with
    ``carla.VehicleControl(throttle, steer, brake)`` from its row of ``rows`` (N, 3), the other fields at their
    defaults, written into the dynamics ``table`` at once (many heroes' controls a tick). The same values
    (``carla.VehicleControl`` holds 32-bit floats), the same clamping, the same ``ValueError`` for a value that is not
    a number, and each vehicle stops following an Ackermann control; a destroyed vehicle's control goes nowhere, as
    its own call's."""
    rows = np.asarray(rows, dtype=np.float64).reshape(len(vehicles), 3).astype(np.float32).astype(np.float64)
    if not kernel.all_finite(rows):
        bad = int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])
        throttle, steer, brake = rows[bad].tolist()
        vehicles[bad].apply_control(carla.VehicleControl(throttle=throttle, steer=steer, brake=brake))  # raises
    for vehicle in [vehicle for vehicle in vehicles if vehicle in ackermann_driven] if ackermann_driven else ():
        vehicle._stop_ackermann()  # (mostly none runs: no call a vehicle)
    kernel.write_controls(table, slots, rows)
