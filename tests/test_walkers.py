"""Walkers and their AI controllers (``controller.ai.walker``) on the embedded world: routes over the sidewalks and
crossings, and the way round a car standing on a crossing, walker by walker and many at once."""

import math

import carla
import numpy as np
import pytest

from conftest import make_world
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.embedded.traffic.navigation import navigation_for


def test_walker_reaches_its_destination_on_the_sidewalk(server):
    _, world = make_world(server, "GridTown")
    world.set_pedestrians_seed(4)
    library = world.get_blueprint_library()
    start, goal = world.get_random_location_from_navigation(), world.get_random_location_from_navigation()
    walker = world.spawn_actor(library.find("walker.pedestrian.0002"),
                               carla.Transform(carla.Location(start.x, start.y, start.z + 1.0)))
    controller = world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), walker)
    controller.start()
    controller.go_to_location(goal)
    controller.set_max_speed(2.0)
    for _ in range(int(3 * start.distance(goal) / 2.0 / 0.05)):
        world.tick()
    end = walker.get_location()
    assert math.hypot(end.x - goal.x, end.y - goal.y) < 1.0
    assert world.get_map().get_waypoint(end, project_to_road=False, lane_type=carla.LaneType.Sidewalk) is not None


def test_no_walker_is_sent_to_a_sidewalk_drawn_over_or_beside_the_lanes_of_a_junction():
    """Osm2Odr junctions can draw a connecting road's sidewalk over another road's driving lanes: walkers sent
    there stood in the lane, and the autopilot behind them waited until the evaluator called it blocked."""
    town_map = load_map(*resolve_town("Boulevards"))
    points = navigation_for(town_map).points
    assert len(points) > 100
    near_lanes = [p for p in points for dx, dy in ((0.0, 0.0), (0.45, 0.0), (-0.45, 0.0), (0.0, 0.45), (0.0, -0.45))
                  if town_map.get_waypoint(carla.Location(float(p[0]) + dx, float(p[1]) + dy, float(p[2])),
                                           project_to_road=False, lane_type=carla.LaneType.Driving) is not None]
    assert not near_lanes, "a walker standing at a node would stand (partly) in a lane"


@pytest.mark.parametrize("side", [0.0, 0.9, -0.9])
def test_a_walker_crossing_the_road_walks_around_a_car_standing_on_its_crossing(server, side):
    """A car stopped on a crosswalk (the autopilot waits there for walkers on its path): the walker goes round it
    and reaches the far sidewalk; it used to push against the car's side for ever, and the car waited for it."""
    _, world = make_world(server, "GridTown")
    navigation = navigation_for(world.get_map())
    points = navigation.points
    a, b = next((a, b) for a, edges in enumerate(navigation.edges) for b in edges
                if 8.0 < np.linalg.norm(points[a, :2] - points[b, :2]) < 12.0)
    start, goal = points[a], points[b]
    across = (goal[:2] - start[:2]) / np.linalg.norm(goal[:2] - start[:2])
    middle = (start[:2] + goal[:2]) / 2.0 + side * np.array([-across[1], across[0]])  # the car's centre
    library = world.get_blueprint_library()
    car = world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"), carla.Transform(
        carla.Location(float(middle[0]), float(middle[1]), 0.5),
        carla.Rotation(yaw=math.degrees(math.atan2(across[0], -across[1])))))  # along the road, across the walk
    car.apply_control(carla.VehicleControl(hand_brake=True, brake=1.0))
    walker = world.spawn_actor(library.find("walker.pedestrian.0002"),
                               carla.Transform(carla.Location(float(start[0]), float(start[1]), float(start[2]) + 1.0)))
    controller = world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), walker)
    controller.start()
    controller.go_to_location(carla.Location(float(goal[0]), float(goal[1]), float(goal[2])))
    for _ in range(int(40.0 / 0.05)):
        world.tick()
    end = walker.get_location()
    assert math.hypot(end.x - goal[0], end.y - goal[1]) < 1.0, f"the walker stands at {end}, 40 s after it set off"
    assert car.get_location().distance(carla.Location(float(middle[0]), float(middle[1]), car.get_location().z)) < 0.3


def test_walkers_at_several_crossings_each_walk_around_the_car_on_their_own_crossing(server):
    """The walkers of a world step together (one test of every walker against every vehicle): four walkers, each
    with a car standing on its crossing (and the others' cars elsewhere), all reach their far sidewalks without
    touching a car, and a fifth with nothing in its way walks straight on meanwhile."""
    _, world = make_world(server, "GridTown")
    navigation = navigation_for(world.get_map())
    points = navigation.points
    crossings = [(a, b) for a, edges in enumerate(navigation.edges) for b in edges
                 if a < b and 8.0 < np.linalg.norm(points[a, :2] - points[b, :2]) < 12.0]
    chosen: list[tuple[int, int]] = []
    for a, b in crossings:  # crossings at least 30 m from each other
        if all(np.linalg.norm(points[a, :2] - points[c, :2]) > 30.0 for c, _ in chosen):
            chosen.append((a, b))
    chosen = chosen[:5]
    assert len(chosen) == 5
    library = world.get_blueprint_library()
    walkers, goals, touched = [], [], []
    for number, (a, b) in enumerate(chosen):
        start, goal = points[a], points[b]
        if number < 4:  # a car standing across this crossing, a little off its middle
            across = (goal[:2] - start[:2]) / np.linalg.norm(goal[:2] - start[:2])
            middle = (start[:2] + goal[:2]) / 2.0 + (0.9 * (number - 1.5) / 1.5) * np.array([-across[1], across[0]])
            car = world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"), carla.Transform(
                carla.Location(float(middle[0]), float(middle[1]), 0.5),
                carla.Rotation(yaw=math.degrees(math.atan2(across[0], -across[1])))))
            car.apply_control(carla.VehicleControl(hand_brake=True, brake=1.0))
        walker = world.spawn_actor(library.find("walker.pedestrian.0002"), carla.Transform(
            carla.Location(float(start[0]), float(start[1]), float(start[2]) + 1.0)))
        controller = world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), walker)
        controller.start()
        controller.go_to_location(carla.Location(float(goal[0]), float(goal[1]), float(goal[2])))
        sensor = world.spawn_actor(library.find("sensor.other.collision"), carla.Transform(), walker)
        sensor.listen(lambda event, number=number: touched.append((number, event.other_actor.type_id)))
        walkers.append(walker)
        goals.append(goal)
    for _ in range(int(40.0 / 0.05)):
        world.tick()
    for number, (walker, goal) in enumerate(zip(walkers, goals)):
        end = walker.get_location()
        assert math.hypot(end.x - goal[0], end.y - goal[1]) < 1.0, f"walker {number} stands at {end} after 40 s"
    assert not touched, f"walkers touched cars: {sorted(set(touched))}"
