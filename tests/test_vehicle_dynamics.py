"""Vehicle motion from VehicleControl: direction, steering sense, braking, clamping, determinism."""

import math

import carla
import pytest

from conftest import make_world, straight_spawn


def spawn_hero(world, transform=None, blueprint="vehicle.lincoln.mkz_2017"):
    bp = world.get_blueprint_library().find(blueprint)
    vehicle = world.spawn_actor(bp, transform or straight_spawn(world))
    for _ in range(20):  # settle onto the road (spawn points are 0.5 m up)
        world.tick()
    return vehicle


def drive(world, vehicle, control, ticks):
    vehicle.apply_control(control)
    for _ in range(ticks):
        world.tick()


def test_full_throttle_moves_forward_along_heading(world):
    hero = spawn_hero(world)
    start = hero.get_transform()
    assert hero.get_location().z == pytest.approx(0.0, abs=1e-6), "the hero rests on the road"
    drive(world, hero, carla.VehicleControl(throttle=1.0), 60)  # 3 s
    end = hero.get_transform()
    forward = start.get_forward_vector()
    moved = end.location - start.location
    along = moved.x * forward.x + moved.y * forward.y
    across = abs(-moved.x * forward.y + moved.y * forward.x)
    assert along > 10.0, "3 s of full throttle covers more than 10 m"
    assert across < 0.05 * along, "it moves along its heading"
    velocity = hero.get_velocity()
    assert velocity.x * forward.x + velocity.y * forward.y > 5.0
    assert hero.get_control().throttle == 1.0


def test_steering_right_turns_right_in_carla_left_handed_yaw(world):
    hero = spawn_hero(world)
    yaw0 = hero.get_transform().rotation.yaw
    drive(world, hero, carla.VehicleControl(throttle=0.5), 40)
    drive(world, hero, carla.VehicleControl(throttle=0.3, steer=0.5), 10)
    turned = (hero.get_transform().rotation.yaw - yaw0 + 180.0) % 360.0 - 180.0
    assert turned > 5.0, "positive steer (right) increases yaw in CARLA's left-handed frame"
    assert hero.get_angular_velocity().z > 0.0

    other = spawn_hero(world, carla.Transform(carla.Location(250.0, -150.0, 0.5)))
    yaw1 = other.get_transform().rotation.yaw
    drive(world, other, carla.VehicleControl(throttle=0.5), 40)
    drive(world, other, carla.VehicleControl(throttle=0.3, steer=-0.5), 10)
    assert (other.get_transform().rotation.yaw - yaw1 + 180.0) % 360.0 - 180.0 < -5.0


def test_full_brake_stops_and_decelerates(world):
    hero = spawn_hero(world)
    drive(world, hero, carla.VehicleControl(throttle=1.0), 60)
    speed_before = hero.get_velocity().length()
    drive(world, hero, carla.VehicleControl(brake=1.0), 1)
    forward = hero.get_transform().get_forward_vector()
    accel = hero.get_acceleration()
    assert accel.x * forward.x + accel.y * forward.y < -6.0, "braking decelerates along the heading"
    drive(world, hero, carla.VehicleControl(brake=1.0), 60)
    assert speed_before > 10.0
    assert hero.get_velocity().length() == pytest.approx(0.0, abs=1e-9)
    position = hero.get_location()
    drive(world, hero, carla.VehicleControl(brake=1.0), 20)
    assert hero.get_location().distance(position) < 1e-6, "a braked car does not creep or roll back"


def test_out_of_range_controls_are_clamped(server):
    results = []
    for throttle in (2.0, 1.0):
        _, world = make_world(server)
        hero = spawn_hero(world)
        drive(world, hero, carla.VehicleControl(throttle=throttle, steer=-3.0, brake=-1.0), 30)
        results.append((hero.get_transform(), hero.get_control()))
    (clamped_t, clamped_c), (full_t, _) = results
    assert clamped_c.throttle == 1.0 and clamped_c.steer == -1.0 and clamped_c.brake == 0.0
    assert clamped_t.location.distance(full_t.location) < 1e-9, "throttle 2.0 drives like 1.0"


def test_reverse_moves_backwards(world):
    hero = spawn_hero(world)
    start = hero.get_transform()
    drive(world, hero, carla.VehicleControl(throttle=0.5, reverse=True), 40)
    moved = hero.get_location() - start.location
    forward = start.get_forward_vector()
    assert moved.x * forward.x + moved.y * forward.y < -2.0
    assert hero.get_control().gear == -1


def test_motion_is_deterministic_and_independent_of_other_tick_slicing(server):
    """The same controls give the same trajectory; 0.05 s ticks equal 0.025 s ticks twice as often."""
    finals = []
    for delta, ticks in ((0.05, 40), (0.05, 40), (0.025, 80)):
        _, world = make_world(server, delta=delta)
        hero = spawn_hero(world)
        drive(world, hero, carla.VehicleControl(throttle=0.7, steer=0.2), ticks)
        finals.append(hero.get_transform())
    assert finals[0].location.distance(finals[1].location) == 0.0
    assert finals[0].location.distance(finals[2].location) < 0.05


def test_vehicle_leaving_the_map_falls(world):
    town_map = world.get_map()
    xs = [w.transform.location.x for w in town_map.generate_waypoints(10.0)]
    bp = world.get_blueprint_library().find("vehicle.audi.a2")
    car = world.spawn_actor(bp, carla.Transform(carla.Location(max(xs) + 500.0, 0.0, 0.5)))
    for _ in range(20):
        world.tick()
    assert car.get_location().z < -0.5, "no ground beyond the map: the vehicle falls"
    assert math.isfinite(car.get_location().z)
