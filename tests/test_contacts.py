"""Contacts as CARLA's physics resolves them: a vehicle driven into a curb, a pole or a wall at 10, 30
and 50 km/h, head-on or at an angle, then steered away, frees itself; a glancing contact slides instead
of pinning the vehicle; curbs are climbed when met steeply and glanced off when met at a shallow angle;
two vehicles are pushed apart, and a walker steps out of a vehicle's way."""

from __future__ import annotations

import math

import carla
import numpy as np
import pytest

from conftest import make_world, shared_map
from rllib_integration.embedded.sim import contacts
from rllib_integration.embedded.sim.dynamics import COLUMN

MKZ = "vehicle.lincoln.mkz_2017"
DELTA = 0.05


def _vector(yaw_deg: float) -> tuple[float, float]:
    return math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))


class Car:
    """A car with a collision sensor, launched at a speed along a heading."""

    def __init__(self, world, location: carla.Location, yaw: float) -> None:
        self.world = world
        self.actor = world.spawn_actor(world.get_blueprint_library().find(MKZ),
                                       carla.Transform(carla.Location(location.x, location.y, location.z + 0.3),
                                                       carla.Rotation(yaw=yaw)))
        self.events: list = []
        self.sensor = world.spawn_actor(world.get_blueprint_library().find("sensor.other.collision"), carla.Transform(),
                                        attach_to=self.actor)
        self.sensor.listen(self.events.append)
        for _ in range(30):  # settle on the ground, first gear engaged
            world.tick()

    def launch(self, speed_kmh: float) -> None:
        fx, fy = _vector(self.actor.get_transform().rotation.yaw)
        v = speed_kmh / 3.6
        self.actor.set_target_velocity(carla.Vector3D(fx * v, fy * v, 0.0))

    def hits(self, kind: str) -> list:
        return [e for e in self.events if e.other_actor.type_id == kind]

    def drive(self, seconds: float, control: carla.VehicleControl) -> None:
        for _ in range(int(seconds / DELTA)):
            self.actor.apply_control(control)
            self.world.tick()

    def speed(self) -> float:
        return self.actor.get_velocity().length()

    def destroy(self) -> None:
        self.sensor.stop()
        self.sensor.destroy()
        self.actor.destroy()


def crash_and_escape(world, start: carla.Location, yaw: float, speed_kmh: float, kind: str) -> dict:
    """Launch a car from ``start`` along ``yaw`` (coasting, throttle on) until it hits ``kind``; then, as a
    driver would, brake, reverse steering away from the obstacle for 2 s and drive on steering away."""
    car = Car(world, start, yaw)
    car.launch(speed_kmh)
    hit = None
    for _ in range(int(6.0 / DELTA)):
        before = car.speed()
        car.actor.apply_control(carla.VehicleControl(throttle=0.4))
        world.tick()
        if car.hits(kind):
            hit = (car.actor.get_location(), before, car.speed(), car.actor.get_transform())
            break
    assert hit is not None, f"the car never met the {kind}"
    where, before, after, pose = hit
    obstacle = car.hits(kind)[0]
    # which side the obstacle is on: the side the push came from (the impulse points away from it)
    impulse = obstacle.normal_impulse
    right_x, right_y = -math.sin(math.radians(pose.rotation.yaw)), math.cos(math.radians(pose.rotation.yaw))
    obstacle_right = impulse.x * right_x + impulse.y * right_y < 0.0  # pushed to the left: it stands right
    away = -1.0 if obstacle_right else 1.0
    car.drive(0.5, carla.VehicleControl(brake=1.0))
    car.drive(3.0, carla.VehicleControl(throttle=0.5, reverse=True, steer=-away))
    car.drive(3.0, carla.VehicleControl(throttle=0.5, steer=away))
    result = {"before": before, "after": after, "freed": car.actor.get_location().distance(where),
              "speed_at_end": car.speed(), "impulse": math.hypot(impulse.x, impulse.y)}
    car.destroy()
    return result


@pytest.fixture(scope="module")
def grid(request):
    from rllib_integration.embedded import EmbeddedServer
    server = EmbeddedServer.start("localhost", 40400)
    request.addfinalizer(server.stop)
    return make_world(server, "GridTown", DELTA)[1]


@pytest.mark.parametrize("speed", [10, 30, 50])
@pytest.mark.parametrize("angle", [0, 30, 60])
def test_a_car_driven_into_a_wall_bounces_back_and_drives_away(grid, speed, angle):
    grid.unload_map_layer(carla.MapLayer.Buildings | carla.MapLayer.Foliage | carla.MapLayer.Props)
    try:
        east = max(grid.get_environment_objects(carla.CityObjectLabel.Walls), key=lambda o: o.transform.location.x)
        face = east.transform.location.x - east.bounding_box.extent.x
        # 12 m from the wall, heading at it `angle` degrees off its normal
        start = carla.Location(face - 12.0, east.transform.location.y, 0.0)
        result = crash_and_escape(grid, start, float(angle), speed, "static.wall")
    finally:
        grid.load_map_layer(carla.MapLayer.All)
    assert result["impulse"] > 50.0 * speed / 10.0, "an impulse in N·s that grows with the speed"
    normal_before = result["before"] * math.cos(math.radians(angle))
    assert result["after"] < max(0.35 * result["before"], 1.0) + result["before"] * math.sin(math.radians(angle)), \
        "the speed into the wall is lost (what runs along it may stay)"
    assert normal_before > 0.0
    assert result["freed"] > 3.0 and result["speed_at_end"] > 1.0, f"held at the wall: {result}"


@pytest.mark.parametrize("speed", [10, 30, 50])
@pytest.mark.parametrize("offset", [0.0, 0.5, 0.9])
def test_a_car_driven_into_a_pole_frees_itself(grid, speed, offset):
    """``offset``: how far off the pole the car's centre line passes, in half widths (0.9: the corner hits)."""
    grid.unload_map_layer(carla.MapLayer.Buildings | carla.MapLayer.Foliage)
    try:
        pole = min(grid.get_environment_objects(carla.CityObjectLabel.Poles),
                   key=lambda o: o.transform.location.distance(carla.Location(190.0, -185.0, 0.0)))
        at = pole.transform.location
        lane = grid.get_map().get_waypoint(at).transform.location
        yaw = math.degrees(math.atan2(at.y - lane.y, at.x - lane.x))  # from the road across the curb to the pole
        fx, fy = _vector(yaw)
        side = offset * 0.95  # the car's half width
        start = carla.Location(at.x - fx * 10.0 - fy * side, at.y - fy * 10.0 + fx * side, 0.0)
        result = crash_and_escape(grid, start, yaw, speed, "static.pole")
    finally:
        grid.load_map_layer(carla.MapLayer.All)
    assert result["freed"] > 3.0 and result["speed_at_end"] > 1.0, f"held by the pole: {result}"


def test_a_glancing_contact_with_a_wall_slides_along_it(grid):
    """A car steering slightly into a wall at 30 km/h scrapes along it and keeps going (a contact that put
    the car back and stopped it would pin it there, throttle on)."""
    grid.unload_map_layer(carla.MapLayer.Buildings | carla.MapLayer.Foliage | carla.MapLayer.Props)
    try:
        east = max(grid.get_environment_objects(carla.CityObjectLabel.Walls), key=lambda o: o.transform.location.x)
        face = east.transform.location.x - east.bounding_box.extent.x
        start = carla.Location(face - 2.0, east.transform.location.y - 60.0, 0.0)
        car = Car(grid, start, 80.0)  # along the wall (+y), 10 degrees towards it
        car.launch(30.0)
        origin = car.actor.get_location()
        car.drive(5.0, carla.VehicleControl(throttle=0.6, steer=-0.05))  # keeps steering into it
        travelled = car.actor.get_location().y - origin.y
        scraped = len(car.hits("static.wall"))
        x = car.actor.get_location().x
        car.destroy()
    finally:
        grid.load_map_layer(carla.MapLayer.All)
    assert scraped > 0, "it touched the wall"
    assert travelled > 25.0, f"it slid along the wall ({travelled:.1f} m in 5 s)"
    assert x < face, "and never went through it"


@pytest.fixture(scope="module")
def town01(request):
    from rllib_integration.embedded import EmbeddedServer
    path = str(shared_map("Town01"))
    server = EmbeddedServer.start("localhost", 40410)
    request.addfinalizer(server.stop)
    return make_world(server, path, DELTA)[1]


@pytest.mark.parametrize("angle, climbs", [(10.0, False), (40.0, True), (70.0, True)])
def test_a_curb_met_at_speed_is_climbed_steeply_and_glanced_off_shallowly(town01, angle, climbs):
    """At 30 km/h a curb met at 10 degrees deflects the car along the road; at 40 or 70 degrees the car
    climbs it (losing speed, a jolt reported as ``static.sidewalk``), and backing and steering away (a
    building may stand behind the sidewalk) it drives down onto the road again."""
    town = town01.get_map()

    def curbside(point):
        lane = town.get_waypoint(point.location)
        while lane.get_right_lane() is not None and lane.get_right_lane().lane_type == carla.LaneType.Driving:
            lane = lane.get_right_lane()
        beyond = lane.get_right_lane()
        while beyond is not None and beyond.lane_type == carla.LaneType.Shoulder:  # a narrow shoulder first
            beyond = beyond.get_right_lane()
        return lane if beyond is not None and beyond.lane_type == carla.LaneType.Sidewalk else None
    lane = next(lane for lane in map(curbside, town.get_spawn_points()[5:]) if lane is not None)
    yaw = lane.transform.rotation.yaw
    car = Car(town01, lane.transform.location, yaw + angle)
    car.launch(30.0)
    before = car.speed()
    for _ in range(int(4.0 / DELTA)):
        car.actor.apply_control(carla.VehicleControl(throttle=0.4))
        town01.tick()
        if car.hits("static.sidewalk"):
            break
    assert car.hits("static.sidewalk"), "the curb was met at speed"
    after = car.speed()
    car.drive(0.5, carla.VehicleControl(throttle=0.3))
    raised = car.actor.get_location().z - lane.transform.location.z
    back = math.inf
    for _ in range(int(5.0 / DELTA)):  # back off the sidewalk, steering towards the road, then on along it
        reversing = climbs and _ < int(2.0 / DELTA)
        car.drive(DELTA, carla.VehicleControl(throttle=0.4, steer=0.4 if reversing else -0.4, reverse=reversing))
        back = min(back, car.actor.get_location().z - lane.transform.location.z)
    car.destroy()
    if climbs:
        assert raised > 0.07, "it climbed onto the sidewalk"
        assert after < 0.9 * before, "climbing the curb costs speed"
    else:
        assert raised < 0.05, "deflected, it stayed on the road"
        assert after > 0.8 * before, "a glancing curb keeps most of the speed"
    assert back < 0.05, "and it drives down onto the road again"


def test_two_cars_are_pushed_apart_and_a_walker_steps_aside(grid):
    grid.unload_map_layer(carla.MapLayer.Buildings | carla.MapLayer.Foliage | carla.MapLayer.Props)
    try:
        east = max(grid.get_environment_objects(carla.CityObjectLabel.Walls), key=lambda o: o.transform.location.x)
        base = carla.Location(east.transform.location.x - 30.0, east.transform.location.y + 100.0, 0.0)
        standing = Car(grid, carla.Location(base.x, base.y + 10.0, 0.0), 90.0)
        moving = Car(grid, base, 90.0)
        moving.launch(20.0)
        for _ in range(int(2.0 / DELTA)):
            grid.tick()
        assert standing.hits(MKZ) and moving.hits(MKZ), "a rear-end shunt, felt by both"
        assert standing.speed() > 1.0, "the car ahead is pushed"
        gap = standing.actor.get_location().distance(moving.actor.get_location())
        assert gap > 2.0 * standing.actor.bounding_box.extent.x - 0.2, "the boxes do not stay inside each other"
        standing.drive(3.0, carla.VehicleControl(brake=1.0))
        walker = grid.spawn_actor(grid.get_blueprint_library().find("walker.pedestrian.0001"),
                                  carla.Transform(carla.Location(base.x + 8.0, base.y - 20.0, 1.0)))
        walker.apply_control(carla.WalkerControl(carla.Vector3D(-1.0, 0.0, 0.0), 1.4))  # into the standing car's side
        target = standing.actor.get_location()
        walker.set_location(carla.Location(target.x + 3.0, target.y, 1.0))
        for _ in range(int(3.0 / DELTA)):
            grid.tick()
        assert standing.actor.get_location().distance(target) < 0.3, "a walker does not push a car"
        assert walker.get_location().distance(target) > standing.actor.bounding_box.extent.y, "nor walks through it"
        walker.destroy()
        standing.destroy()
        moving.destroy()
    finally:
        grid.load_map_layer(carla.MapLayer.All)


def test_a_walker_passes_one_standing_in_its_way(grid):
    """Walkers do not push each other: one walking into another that stood at its destination used to shove it
    along the sidewalk at a tenth of walking speed, and at times off it into a lane, where it stood for ever."""
    start = grid.get_random_location_from_navigation()
    library = grid.get_blueprint_library()
    standing = grid.spawn_actor(library.find("walker.pedestrian.0001"),
                                carla.Transform(carla.Location(start.x + 2.0, start.y, start.z + 1.0)))
    walking = grid.spawn_actor(library.find("walker.pedestrian.0002"),
                               carla.Transform(carla.Location(start.x, start.y, start.z + 1.0)))
    try:
        walking.apply_control(carla.WalkerControl(carla.Vector3D(1.0, 0.0, 0.0), 1.4))
        before = standing.get_location()
        for _ in range(int(3.0 / DELTA)):
            grid.tick()
        assert standing.get_location().distance(before) < 0.01
        assert walking.get_location().x > start.x + 3.5, "it walked on at its speed"
    finally:
        standing.destroy()
        walking.destroy()


def test_an_open_door_stands_in_the_way_of_a_car_passing_close(grid):
    """CARLA's doors are physical: a car passing half a metre from a parked car's side hits its open front door
    (the parked car is the other actor), and passes clear of it with the door shut; the bounding box stays the
    body's."""
    grid.unload_map_layer(carla.MapLayer.Buildings | carla.MapLayer.Foliage | carla.MapLayer.Props)
    try:
        east = max(grid.get_environment_objects(carla.CityObjectLabel.Walls), key=lambda o: o.transform.location.x)
        base = carla.Location(east.transform.location.x - 30.0, east.transform.location.y + 100.0, 0.0)
        hits = {}
        for door in (None, carla.VehicleDoor.FL):
            parked = Car(grid, carla.Location(base.x, base.y + 12.0, 0.0), 90.0)  # heading +y: its left is +x
            extent = parked.actor.bounding_box.extent
            if door is not None:
                parked.actor.open_door(door)
            passing = Car(grid, carla.Location(base.x + 2.0 * extent.y + 0.5, base.y, 0.0), 90.0)
            passing.launch(15.0)
            passing.drive(3.0, carla.VehicleControl(throttle=0.4))
            hits[door] = passing.hits(MKZ)
            assert parked.actor.bounding_box.extent == extent
            assert passing.actor.get_location().y > base.y + 12.0, "it drove past"
            parked.destroy()
            passing.destroy()
        assert not hits[None], "with the door shut it passes clear"
        assert hits[carla.VehicleDoor.FL], "the open door is hit"
    finally:
        grid.load_map_layer(carla.MapLayer.All)


def test_the_broad_phase_far_from_objects_and_sidewalks_changes_no_contact(grid):
    """A pose whose centre lies far from every object pixel skips its outline's reads (``object_clearance``), far
    from every sidewalk its wheels' (``sidewalk_clearance``): over poses scattered about GridTown's objects (at
    every distance, some touching them, some clear, some on curbs), the contacts, impulses and resolved rows are
    those of the full check, to the bit."""
    car = Car(grid, carla.Location(0.0, 0.0, 0.0), 0.0)
    sim = car.actor._sim
    static = sim.static.world
    template = sim.vehicles.data[car.actor.slot].copy()
    car.destroy()
    rng = np.random.default_rng(5)
    count = 600
    kerbs = np.argwhere(static.sidewalk)[:, ::-1] + 0.5  # (column, row) of sidewalk pixels' centres
    around = np.concatenate([static.centre[rng.integers(len(static.centre), size=count // 2), :2],
                             (static.origin_x, static.origin_y) + kerbs[rng.integers(len(kerbs), size=count // 2)]
                             / static.ppm])  # half about objects, half about sidewalks
    start = around + rng.normal(0.0, 4.0, (count, 2))
    poses = np.empty((3, count, 3))
    poses[0, :, :2], poses[0, :, 2] = start, rng.uniform(-math.pi, math.pi, count)
    for k in (1, 2):  # a tick's middle and end: a metre or so on
        poses[k, :, :2] = poses[0, :, :2] + k * rng.normal(0.0, 0.5, (count, 2))
        poses[k, :, 2] = poses[0, :, 2] + k * rng.normal(0.0, 0.05, count)
    data = np.tile(template, (count, 1))
    data[:, [COLUMN["x"], COLUMN["y"], COLUMN["yaw"]]] = poses[0]
    data[:, COLUMN["speed"]] = rng.uniform(0.0, 15.0, count)
    solid = np.r_[False, np.ones(len(static.objects), bool)]
    results = []
    never = np.zeros_like(static.object_clearance)  # (no pixel clear of anything: every read made)
    for objects, sidewalks in ((static.object_clearance, static.sidewalk_clearance), (never, never)):
        rows = data.copy()
        results.append((contacts.static_contacts(rows, count, poses, contacts.OUTLINE, static.object_index, solid,
                                                 objects, static.sidewalk, sidewalks, static.origin_x,
                                                 static.origin_y, static.ppm, 2.0, 0.15), rows))
    (fast, fast_rows), (full, full_rows) = results
    assert all(np.array_equal(a, b) for a, b in zip(fast, full)) and np.array_equal(fast_rows, full_rows)
    assert (full[0] == contacts.CURB_HIT).sum() >= 10 and (full[3] > 0).sum() >= 50, "curbs met and stood on"
    hit = (full[0] == contacts.SOLID_HIT).sum()
    clear = sum(contacts.clear_of_objects(data[i], *poses[k, i, :2], static.object_clearance, static.origin_x,
                                           static.origin_y, static.ppm) for i in range(count) for k in (1, 2))
    assert hit >= 50 and clear >= 100, (hit, clear)  # both kinds of pose were met
