"""Numbers that are not numbers never enter the embedded world: NaN, infinite or out-of-world transforms,
velocities, forces, controls, settings and replayer factors raise ``ValueError`` naming the call and the
value (a NaN location once made every later tick quadratic in the number of actors), in direct calls and in
batches; hypothesis throws NaN, infinities and huge values at the calls and no tick hangs."""

from __future__ import annotations

import math
import time

import carla
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_world
from rllib_integration.embedded import command

BAD = st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300])
ANY = st.one_of(BAD, st.floats(-50.0, 50.0))


@pytest.fixture(scope="module")
def world(request):
    from rllib_integration.embedded import EmbeddedServer
    server = EmbeddedServer.start("localhost", 40500)
    request.addfinalizer(server.stop)
    client, world = make_world(server, "GridTown")
    points = world.get_map().get_spawn_points()
    batch = [command.SpawnActor(world.get_blueprint_library().find("vehicle.audi.a2"), p) for p in points[:30]]
    client.apply_batch_sync(batch, True)
    world.client = client
    return world


def _car(world):
    return world.get_actors().filter("vehicle.*")[0]


def test_not_finite_values_are_refused_naming_the_call(world):
    car = _car(world)
    blueprint = world.get_blueprint_library().find("vehicle.audi.a2")
    cases = [
        (lambda: world.spawn_actor(blueprint, carla.Transform(carla.Location(math.nan, 0, 0))),
         "spawn_actor: transform.location.x: nan is not a finite number"),
        (lambda: world.try_spawn_actor(blueprint, carla.Transform(carla.Location(0, math.inf, 0))),
         "try_spawn_actor: transform.location.y: inf is not a finite number"),
        (lambda: car.set_transform(carla.Transform(carla.Location(0, 0, 0), carla.Rotation(yaw=math.nan))),
         "set_transform.rotation.yaw"),
        (lambda: car.set_location(carla.Location(1e9, 0, 0)), "set_transform.location.x: 1e+09 is outside"),
        (lambda: car.set_target_velocity(carla.Vector3D(math.nan, 0, 0)), "set_target_velocity.x"),
        (lambda: car.add_impulse(carla.Vector3D(0, math.inf, 0)), "add_impulse.y"),
        (lambda: car.add_force(carla.Vector3D(0, 0, math.nan)), "add_force.z"),
        (lambda: car.enable_constant_velocity(carla.Vector3D(math.nan, 0, 0)), "enable_constant_velocity.x"),
        (lambda: car.apply_control(carla.VehicleControl(throttle=math.nan)), "apply_control: throttle: nan"),
        (lambda: car.apply_ackermann_control(carla.VehicleAckermannControl(speed=math.inf)),
         "apply_ackermann_control: speed: inf"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value), (message, str(error.value))
    bad = world.get_settings()
    bad.fixed_delta_seconds = math.inf  # (libcarla's WorldSettings itself turns NaN and negative steps into None)
    with pytest.raises(ValueError, match="apply_settings: fixed_delta_seconds: inf"):
        world.apply_settings(bad)
    for factor in (math.nan, -1.0, math.inf):
        with pytest.raises(ValueError, match="set_replayer_time_factor"):
            world.client.set_replayer_time_factor(factor)
    with pytest.raises(ValueError, match="replay_file: start"):
        world.client.replay_file("none.log", math.nan, 0.0, 0)
    response = world.client.apply_batch_sync([command.SpawnActor(blueprint, carla.Transform(carla.Location(
        math.nan, 0, 0)))])[0]
    assert response.has_error() and "not a finite number" in response.error
    assert world.get_settings().fixed_delta_seconds == 0.05, "the world keeps its settings"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["set_location", "set_target_velocity", "add_impulse", "add_force", "add_torque",
                               "set_target_angular_velocity", "enable_constant_velocity", "apply_control",
                               "spawn_actor"]), x=ANY, y=ANY, z=ANY)
def test_no_value_thrown_at_the_api_hangs_the_world(world, method, x, y, z):
    car = _car(world)
    try:
        if method == "apply_control":
            car.apply_control(carla.VehicleControl(throttle=x, steer=y, brake=abs(z) if math.isfinite(z) else z))
        elif method == "spawn_actor":
            actor = world.try_spawn_actor(world.get_blueprint_library().find("vehicle.audi.a2"),
                                          carla.Transform(carla.Location(x, y, z)))
            if actor is not None:
                actor.destroy()
        elif method == "set_location":
            car.set_location(carla.Location(x, y, z))
        else:
            getattr(car, method)(carla.Vector3D(x, y, z))
    except ValueError as error:
        assert "finite" in str(error) or "outside" in str(error)
    car.disable_constant_velocity()
    started = time.perf_counter()
    for _ in range(3):
        world.tick()
    assert time.perf_counter() - started < 2.0, "three ticks of 30 cars"
    location = car.get_location()
    assert all(math.isfinite(v) for v in (location.x, location.y, location.z)), "no NaN got into the world"
    point = world.get_map().get_spawn_points()[0]
    car.set_transform(point)
    car.set_target_velocity(carla.Vector3D())
