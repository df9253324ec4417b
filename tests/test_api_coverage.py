"""Every method of CARLA 0.9.16's server-side classes (from the installed carla/libcarla.pyi) exists
on the embedded world's objects, or is listed as not simulated with a reason and raises that reason."""

import ast
import os

import carla
import pytest

from conftest import make_world
from rllib_integration.embedded.not_simulated import NOT_SIMULATED, NotSimulatedError

PYI = os.path.join(os.path.dirname(carla.__file__), "libcarla.pyi")


def pyi_members() -> dict[str, list[str]]:
    """Public methods and properties of every class of the stub file."""
    tree = ast.parse(open(PYI).read())
    return {node.name: [n.name for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
            for node in tree.body if isinstance(node, ast.ClassDef)}


@pytest.fixture
def instances(server):
    client, world = make_world(server)
    library = world.get_blueprint_library()
    vehicle = world.spawn_actor(library.find("vehicle.audi.a2"), world.get_map().get_spawn_points()[0])
    walker = world.spawn_actor(library.find("walker.pedestrian.0001"),
                               carla.Transform(world.get_random_location_from_navigation()))
    controller = world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), attach_to=walker)
    camera = world.spawn_actor(library.find("sensor.camera.rgb"), carla.Transform(), attach_to=vehicle)
    light = world.get_actors().filter("traffic.traffic_light")[0]
    world.tick()
    blueprint = library.find("vehicle.audi.a2")
    return {"Client": client, "World": world, "Actor": vehicle, "Vehicle": vehicle, "Walker": walker,
            "WalkerAIController": controller, "Sensor": camera, "TrafficLight": light, "TrafficSign": light,
            "TrafficManager": client.get_trafficmanager(8000), "DebugHelper": world.debug,
            "WorldSnapshot": world.get_snapshot(), "ActorBlueprint": blueprint,
            "ActorAttribute": blueprint.get_attribute("color"), "BlueprintLibrary": library,
            "ActorList": world.get_actors(), "LightManager": world.get_lightmanager()}


def test_every_server_side_method_exists_or_is_listed_as_not_simulated(instances):
    members = pyi_members()
    missing = [f"{name}.{member}" for name, instance in instances.items() for member in members[name]
               if f"{name}.{member}" not in NOT_SIMULATED and not hasattr(instance, member)]
    assert not missing, f"neither implemented nor listed in NOT_SIMULATED: {missing}"
    checked = sum(len(members[name]) for name in instances)
    assert checked > 200, "the stub file's classes were read"


def test_not_simulated_methods_raise_their_reason_and_the_list_has_no_stale_entries(instances):
    members = pyi_members()
    for key, reason in NOT_SIMULATED.items():
        class_name, member = key.split(".")
        assert member in members[class_name], f"{key} is not in CARLA 0.9.16's API"
        with pytest.raises(NotSimulatedError, match=reason.split(":")[0][:30]):
            getattr(instances[class_name], member)
    with pytest.raises(AttributeError):
        instances["World"].no_such_method
