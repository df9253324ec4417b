"""Vehicle motion against CARLA 0.9.x's published figures (shared/reference/carla-dynamics.md): each
figure is tested with its band. Also the sign conventions, input rates, gears, the physics API and
determinism."""

import math

import carla
import numpy as np
import pytest

from conftest import make_world, straight_spawn
from rllib_integration.embedded import Client
from rllib_integration.embedded.maps.osm import osm_to_opendrive
from rllib_integration.embedded.maps.procedural import straight_motorway

MKZ = "vehicle.lincoln.mkz_2017"


@pytest.fixture(scope="module")
def road_text():
    return osm_to_opendrive(straight_motorway())


@pytest.fixture
def road(server, road_text):
    client = Client("localhost", server.port)
    world = client.generate_opendrive_world(road_text)
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    return world


def spawn(world, blueprint=MKZ, transform=None, settle=30):
    """A vehicle 100 m into the outer lane (or at ``transform``), settled onto the road."""
    vehicle = world.spawn_actor(world.get_blueprint_library().find(blueprint),
                                transform or world.get_map().get_spawn_points()[10])
    for _ in range(settle):
        world.tick()
    return vehicle


def forward_speed(vehicle):
    velocity, forward = vehicle.get_velocity(), vehicle.get_transform().get_forward_vector()
    return velocity.x * forward.x + velocity.y * forward.y


def speed_trace(world, vehicle, control, seconds):
    vehicle.apply_control(control)
    trace = []
    for step in range(int(seconds / 0.05)):
        world.tick()
        trace.append(((step + 1) * 0.05, forward_speed(vehicle)))
    return np.array(trace)


def mean_acceleration(trace, kmh, width=1.5):
    """Mean acceleration while the speed crosses ``kmh`` +/- ``width`` m/s (what a fitted model reports)."""
    low, high = max(kmh / 3.6 - width, 0.05), kmh / 3.6 + width
    first, last = np.argmax(trace[:, 1] >= low), np.argmax(trace[:, 1] >= high)
    assert last > first, f"{kmh} km/h was not crossed"
    return (trace[last, 1] - trace[first, 1]) / (trace[last, 0] - trace[first, 0])


def within(value, target, band):
    return abs(value - target) <= band * target


# -- geometry and constants -------------------------------------------------------------------------
def test_published_geometry_and_constants(road):
    mkz = spawn(road, settle=1).get_physics_control()
    assert mkz.mass == pytest.approx(1696.0) and mkz.drag_coefficient == pytest.approx(0.3)
    front = [w for w in mkz.wheels if w.max_steer_angle > 0]
    rear = [w for w in mkz.wheels if w.max_steer_angle == 0]
    assert len(front) == len(rear) == 2 and all(w.max_steer_angle == pytest.approx(70.0) for w in front)
    assert all(w.tire_friction == pytest.approx(3.5) and w.radius == pytest.approx(35.5) for w in mkz.wheels)
    assert all(w.max_handbrake_torque == pytest.approx(1600.0) for w in rear), "hand brake on the rear wheels"
    assert all(w.max_handbrake_torque == 0.0 for w in front)
    for blueprint, wheelbase in ((MKZ, 2.871), ("vehicle.tesla.model3", 2.9996), ("vehicle.audi.a2", 2.5063)):
        vehicle = road.spawn_actor(road.get_blueprint_library().find(blueprint),
                                   road.get_map().get_spawn_points()[30])
        road.tick()
        wheels = vehicle.get_physics_control().wheels  # world positions, centimetres
        front_x = np.mean([(w.position.x, w.position.y) for w in wheels[:2]], axis=0)
        rear_x = np.mean([(w.position.x, w.position.y) for w in wheels[2:]], axis=0)
        assert np.linalg.norm(front_x - rear_x) / 100.0 == pytest.approx(wheelbase, abs=0.01)
        vehicle.destroy()


def test_every_class_keeps_plausible_constants_and_top_speeds(road):
    tops = {}
    for blueprint in ("vehicle.audi.a2", "vehicle.mercedes.sprinter", "vehicle.carlamotors.european_hgv",
                      "vehicle.mitsubishi.fusorosa", "vehicle.yamaha.yzf", "vehicle.bh.crossbike"):
        vehicle = spawn(road, blueprint, settle=30)
        physics = vehicle.get_physics_control()
        trace = speed_trace(road, vehicle, carla.VehicleControl(throttle=1.0), 30.0)
        tops[vehicle.attributes["base_type"]] = (trace[:, 1].max() * 3.6, physics.mass)
        vehicle.destroy()
    assert 100 < tops["car"][0] < 230 and 900 < tops["car"][1] < 2000
    assert 60 < tops["van"][0] < 190 and tops["van"][1] > 2000
    assert 40 < tops["truck"][0] < 130 and tops["truck"][1] > 4000
    assert 30 < tops["bus"][0] < 120 and tops["bus"][1] > tops["truck"][1]
    assert 100 < tops["motorcycle"][0] < 260 and tops["motorcycle"][1] < 400
    assert 15 < tops["bicycle"][0] < 40 and tops["bicycle"][1] < 150


# -- longitudinal ------------------------------------------------------------------------------------
def test_full_throttle_zero_to_hundred_and_the_acceleration_table(road):
    trace = speed_trace(road, spawn(road), carla.VehicleControl(throttle=1.0), 14.0)
    start = trace[np.argmax(trace[:, 1] > 0.05), 0]
    hundred = trace[np.argmax(trace[:, 1] >= 100 / 3.6), 0]
    assert within(hundred - start, 7.45, 0.20), f"0-100 km/h in {hundred - start:.2f} s"
    for kmh, target in ((0, 7.6), (20, 6.05), (40, 4.7), (60, 3.6), (80, 2.7), (100, 2.0)):
        measured = mean_acceleration(trace, kmh)
        assert within(measured, target, 0.25), f"{measured:.2f} m/s² at {kmh} km/h, CARLA {target}"


def test_half_throttle_and_the_dead_zone(road):
    trace = speed_trace(road, spawn(road), carla.VehicleControl(throttle=0.5), 25.0)
    assert within(mean_acceleration(trace, 0), 3.3, 0.25)
    assert within(mean_acceleration(trace, 50), 1.6, 0.25)
    vehicle = spawn(road, transform=road.get_map().get_spawn_points()[40])
    speed_trace(road, vehicle, carla.VehicleControl(throttle=1.0), 3.0)
    while forward_speed(vehicle) < 50 / 3.6:
        road.tick()
    for throttle, most in ((0.2, 0.0), (0.25, 0.6)):
        trace = speed_trace(road, vehicle, carla.VehicleControl(throttle=throttle), 1.5)
        gain = (trace[-1, 1] - trace[5, 1]) / (trace[-1, 0] - trace[5, 0])
        assert gain <= most, f"throttle {throttle} at 50 km/h: {gain:.2f} m/s²"


@pytest.mark.parametrize("speed", [10.0, 25.0])
def test_coasting_deceleration(road, speed):
    vehicle = spawn(road)
    vehicle.apply_control(carla.VehicleControl(throttle=1.0))
    while forward_speed(vehicle) < speed + 1.0:
        road.tick()
    trace = speed_trace(road, vehicle, carla.VehicleControl(), 1.5)
    decel = (trace[-1, 1] - trace[10, 1]) / (trace[-1, 0] - trace[10, 0])
    assert -0.67 <= decel <= -0.45


def test_full_brake_from_hundred(road):
    vehicle = spawn(road)
    vehicle.apply_control(carla.VehicleControl(throttle=1.0))
    while forward_speed(vehicle) < 100 / 3.6:
        road.tick()
    start = vehicle.get_location()
    trace = speed_trace(road, vehicle, carla.VehicleControl(brake=1.0), 6.0)
    stop = trace[np.argmax(trace[:, 1] <= 0.01), 0]
    assert 2.7 <= stop <= 4.0 and 38.0 <= vehicle.get_location().distance(start) <= 75.0
    rates = -np.diff(trace[:, 1]) / 0.05
    braking = rates[(trace[1:, 1] > 40 / 3.6) & (trace[1:, 0] > 0.3)]
    assert len(braking) and 5.0 <= braking.min() and braking.max() <= 8.0
    position = vehicle.get_location()
    speed_trace(road, vehicle, carla.VehicleControl(brake=1.0), 1.0)
    assert vehicle.get_location().distance(position) < 0.05, "a braked car does not creep or roll back"


def test_settling_after_spawn_and_reverse(road):
    vehicle = road.spawn_actor(road.get_blueprint_library().find(MKZ), road.get_map().get_spawn_points()[10])
    trace = speed_trace(road, vehicle, carla.VehicleControl(throttle=1.0), 3.0)
    moving = trace[np.argmax(trace[:, 1] > 0.5), 0]
    assert 0.5 <= moving <= 2.0, "CARLA's vehicles settle 0.5-2 s before they respond"
    assert vehicle.get_location().z == pytest.approx(0.0, abs=0.01), "it rests on the road"
    speed_trace(road, vehicle, carla.VehicleControl(brake=1.0), 4.0)
    trace = speed_trace(road, vehicle, carla.VehicleControl(throttle=0.6, reverse=True), 3.0)
    assert trace[-1, 1] < -2.0 and vehicle.get_control().gear == -1 and vehicle.get_control().reverse


def test_hand_brake_works_on_the_rear_wheels(road):
    vehicle = spawn(road)
    speed_trace(road, vehicle, carla.VehicleControl(throttle=1.0), 3.0)
    trace = speed_trace(road, vehicle, carla.VehicleControl(hand_brake=True), 1.0)
    assert 3.0 <= (trace[3, 1] - trace[-1, 1]) / (trace[-1, 0] - trace[3, 0]) <= 7.0
    physics = vehicle.get_physics_control()
    wheels = physics.wheels  # carla hands out copies: change them, then assign them back
    for wheel in wheels:
        wheel.max_handbrake_torque = 0.0
    physics.wheels = wheels
    vehicle.apply_physics_control(physics)
    speed_trace(road, vehicle, carla.VehicleControl(throttle=1.0), 2.0)
    trace = speed_trace(road, vehicle, carla.VehicleControl(hand_brake=True), 1.0)
    assert (trace[3, 1] - trace[-1, 1]) / (trace[-1, 0] - trace[3, 0]) < 1.0, "no rear torque, no hand brake"


# -- lateral -------------------------------------------------------------------------------------------
def test_steering_right_turns_right_and_small_steer_curvature(world):
    for steer in (0.1, 0.3, -0.2):
        hero = world.spawn_actor(world.get_blueprint_library().find(MKZ), straight_spawn(world))
        for _ in range(30):
            world.tick()
        speed_trace(world, hero, carla.VehicleControl(throttle=0.45), 1.5)
        hero.apply_control(carla.VehicleControl(throttle=0.3, steer=steer))
        for _ in range(12):
            world.tick()
        yaw_rate = math.radians(hero.get_angular_velocity().z)
        curvature = yaw_rate / forward_speed(hero)
        assert math.copysign(1.0, yaw_rate) == math.copysign(1.0, steer), "+steer turns right, +yaw"
        assert within(curvature / steer, 0.28, 0.30), f"curvature {curvature / steer:.3f} x steer per metre"
        hero.destroy()


def test_full_lock_wheel_angles_and_the_steering_rate(road):
    vehicle = spawn(road, "vehicle.tesla.model3")
    vehicle.apply_control(carla.VehicleControl(steer=-1.0))
    road.tick()
    first = vehicle.get_wheel_steer_angle(carla.VehicleWheelLocation.FL_Wheel)
    assert -49.0 * 0.2 < first < 0.0, "steer rises at 2.5/s: a tick of 0.05 s turns an eighth of the lock"
    for _ in range(10):
        road.tick()
    inner = vehicle.get_wheel_steer_angle(carla.VehicleWheelLocation.FL_Wheel)
    outer = vehicle.get_wheel_steer_angle(carla.VehicleWheelLocation.FR_Wheel)
    assert inner == pytest.approx(-49.0, abs=2.0) and outer == pytest.approx(-35.0, abs=2.0), "Ackermann, left lock"
    assert vehicle.get_wheel_steer_angle(carla.VehicleWheelLocation.BL_Wheel) == 0.0


def test_braking_in_a_curve_understeers(road):
    road.unload_map_layer(carla.MapLayer.All)  # no guard rails: the car leaves its lane
    rates = {}
    for brake in (0.0, 1.0):
        vehicle = spawn(road, transform=road.get_map().get_spawn_points()[20 + int(brake) * 40])
        vehicle.apply_control(carla.VehicleControl(throttle=1.0))
        while forward_speed(vehicle) < 16.0:
            road.tick()
        vehicle.apply_control(carla.VehicleControl(steer=0.5, brake=brake))
        for _ in range(8):
            road.tick()
        rates[brake] = math.radians(vehicle.get_angular_velocity().z) * forward_speed(vehicle)  # lateral m/s²
        vehicle.destroy()
    assert rates[0.0] == pytest.approx(9.81, rel=0.1), "cornering alone uses all the grip (mu = 1)"
    assert rates[1.0] < 0.8 * rates[0.0], "the friction circle: braking leaves less grip for the curve"


# -- conventions, API, determinism ------------------------------------------------------------------
def test_get_control_returns_the_applied_control_and_the_gear(road):
    vehicle = spawn(road)
    control = carla.VehicleControl(throttle=0.7, steer=-0.3, brake=0.0)
    vehicle.apply_control(control)
    road.tick()
    got = vehicle.get_control()
    assert (got.throttle, got.steer, got.brake) == pytest.approx((0.7, -0.3, 0.0)) and got.gear == 1
    vehicle.apply_control(carla.VehicleControl(throttle=2.0, steer=-3.0, brake=-1.0))
    road.tick()
    got = vehicle.get_control()
    assert (got.throttle, got.steer, got.brake) == (1.0, -1.0, 0.0), "clamped to CARLA's ranges"


def test_physics_control_changes_the_model(road):
    light, heavy = spawn(road), spawn(road, transform=road.get_map().get_spawn_points()[60])
    physics = heavy.get_physics_control()
    physics.mass *= 2.0
    heavy.apply_physics_control(physics)
    assert heavy.get_physics_control().mass == pytest.approx(2 * 1696.0)
    later = spawn(road, transform=road.get_map().get_spawn_points()[30], settle=1)  # spawned alike after the change
    assert light.get_physics_control().mass == later.get_physics_control().mass == pytest.approx(1696.0)
    later.destroy()
    gains = []
    for vehicle in (light, heavy):
        trace = speed_trace(road, vehicle, carla.VehicleControl(throttle=1.0), 2.0)
        gains.append(trace[-1, 1])
        vehicle.apply_control(carla.VehicleControl(brake=1.0))
    assert gains[1] == pytest.approx(gains[0] / 2.0, rel=0.25), "twice the mass, half the acceleration"


def test_target_velocity_impulse_constant_velocity_and_frozen(road):
    vehicle = spawn(road)
    forward = vehicle.get_transform().get_forward_vector()
    vehicle.set_target_velocity(carla.Vector3D(forward.x * 10.0, forward.y * 10.0, 0.0))
    assert forward_speed(vehicle) == pytest.approx(10.0, abs=1e-3)
    vehicle.add_impulse(carla.Vector3D(forward.x * 1696.0 * 5.0, forward.y * 1696.0 * 5.0, 0.0))
    assert forward_speed(vehicle) == pytest.approx(15.0, abs=1e-3), "5 m/s more for 5 s·g of momentum"
    vehicle.enable_constant_velocity(carla.Vector3D(8.0, 0.0, 0.0))
    vehicle.apply_control(carla.VehicleControl(brake=1.0))
    for _ in range(40):
        road.tick()
    assert forward_speed(vehicle) == pytest.approx(8.0, abs=1e-6), "constant velocity ignores the brake"
    vehicle.disable_constant_velocity()
    for _ in range(10):
        road.tick()
    assert forward_speed(vehicle) < 7.0
    vehicle.set_simulate_physics(False)
    where = vehicle.get_location()
    for _ in range(10):
        road.tick()
    assert vehicle.get_location().distance(where) == 0.0


def test_motion_is_deterministic_and_not_idealised(server):
    """The same controls give the same trajectory; the heading jitters by hundredths of a degree (an
    object dead ahead is never at exactly 0 deg, as with PhysX) and the car keeps to its line to cm."""
    runs = []
    for _ in range(2):
        _, world = make_world(server)
        hero = world.spawn_actor(world.get_blueprint_library().find(MKZ), straight_spawn(world))
        for _ in range(30):
            world.tick()
        start = hero.get_transform()
        hero.apply_control(carla.VehicleControl(throttle=0.5))
        poses = []
        for _ in range(100):
            world.tick()
            t = hero.get_transform()
            poses.append((t.location.x, t.location.y, t.rotation.yaw))
        runs.append((start, np.array(poses)))
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    start, poses = runs[0]
    forward = start.get_forward_vector()
    lateral = (poses[:, 0] - start.location.x) * -forward.y + (poses[:, 1] - start.location.y) * forward.x
    heading = (poses[:, 2] - start.rotation.yaw + 180.0) % 360.0 - 180.0
    assert np.abs(lateral).max() < 0.05 and np.abs(heading).max() < 0.3
    assert np.abs(heading).max() > 0.005, "the heading is not perfect to the last digit"
    ahead = np.float32(1.0), np.float32(0.0)
    angles = [math.degrees(math.acos(min(1.0, float(np.float32(math.cos(math.radians(h))) * ahead[0]))))
              for h in heading[10:]]
    assert np.mean(np.array(angles) > 0.0) > 0.5, "agents measure non-zero angles to objects dead ahead"


def test_ticks_of_other_lengths_give_the_same_motion(server):
    finals = []
    for delta, ticks in ((0.05, 60), (0.025, 120)):
        _, world = make_world(server, delta=delta)
        hero = world.spawn_actor(world.get_blueprint_library().find(MKZ), straight_spawn(world))
        for _ in range(int(1.5 / delta)):
            world.tick()
        hero.apply_control(carla.VehicleControl(throttle=0.7, steer=0.1))
        for _ in range(ticks):
            world.tick()
        finals.append(hero.get_location())
    assert finals[0].distance(finals[1]) < 0.5


def test_vehicles_spawned_alike_share_the_parameters_read_from_the_first_ones_physics():
    """The state table copies a fresh row's parameters, curves and gears from the first vehicle spawned with the
    same physics (blueprint, class and size) rather than reading its ``carla.VehiclePhysicsControl`` again: every
    row is what reading its own control gives, across blueprints, sizes and rows freed and reused."""
    from rllib_integration.embedded.sim.dynamics import VehicleStates
    from rllib_integration.embedded.sim.vehicle_physics import physics_control
    profiles = [("vehicle.lincoln.mkz_2020", "car", (2.1, 4.9, 1.5)), ("vehicle.carlamotors.carlacola", "truck",
                                                                     (2.6, 5.2, 2.6)),
                ("vehicle.yamaha.yzf", "motorcycle", (0.9, 2.2, 1.5)), ("vehicle.lincoln.mkz_2020", "car",
                                                                         (2.1, 4.9, 1.5))]
    shared, alone = VehicleStates(capacity=2), VehicleStates(capacity=2)
    rng = np.random.default_rng(0)
    for turn in range(40):
        profile = profiles[int(rng.integers(len(profiles)))]
        pose = tuple(float(v) for v in rng.normal(0.0, 50.0, 4))
        shared.add(turn, physics_control(*profile), profile[2], *pose, turn, physics_key=profile)
        alone.add(turn, physics_control(*profile), profile[2], *pose, turn)
        if turn % 3 == 2:  # a vehicle leaves: the last row moves into its slot
            slot = int(rng.integers(shared.count))
            shared.remove(slot)
            alone.remove(slot)
        assert np.array_equal(shared.data[:shared.count], alone.data[:alone.count], equal_nan=True)  # (ground: NaN)
        for name in shared.curves:
            assert np.array_equal(shared.curves[name][:shared.count], alone.curves[name][:alone.count])
        for name in shared.gears:
            assert np.array_equal(shared.gears[name][:shared.count], alone.gears[name][:alone.count])
    assert len({row.tobytes() for row in shared.data[:shared.count, -5:]}) >= 2, "different vehicles, rows"
