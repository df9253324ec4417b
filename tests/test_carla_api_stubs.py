"""Every carla class, method and keyword the library calls on a real server exists in the installed
package's stubs (carla/libcarla.pyi) with those parameters; batch commands exist in carla.command."""

import ast
import os

import carla
import pytest

#: (class, member, keywords the library passes) for the calls the real-server path makes.
CALLS = [
    ("Client", "__init__", ["host", "port"]), ("Client", "set_timeout", []), ("Client", "get_world", []),
    ("Client", "load_world", ["map_name", "reset_settings", "map_layers"]), ("Client", "get_trafficmanager", []),
    ("Client", "apply_batch", []), ("Client", "apply_batch_sync", []), ("Client", "get_server_version", []),
    ("World", "get_settings", []), ("World", "apply_settings", []), ("World", "tick", []), ("World", "get_map", []),
    ("World", "set_weather", []), ("World", "get_blueprint_library", []), ("World", "get_snapshot", []),
    ("World", "spawn_actor", ["attach_to"]), ("World", "try_spawn_actor", []), ("World", "get_spectator", []),
    ("World", "get_actors", []), ("World", "get_actor", []), ("World", "set_pedestrians_seed", []),
    ("World", "get_random_location_from_navigation", []),
    ("WorldSettings", "synchronous_mode", None), ("WorldSettings", "fixed_delta_seconds", None),
    ("WorldSettings", "no_rendering_mode", None),
    ("TrafficManager", "set_synchronous_mode", []), ("TrafficManager", "set_hybrid_physics_mode", []),
    ("TrafficManager", "set_random_device_seed", []),
    ("BlueprintLibrary", "find", []), ("BlueprintLibrary", "filter", []),
    ("ActorBlueprint", "has_attribute", []), ("ActorBlueprint", "set_attribute", []),
    ("ActorBlueprint", "get_attribute", []), ("ActorAttribute", "recommended_values", None),
    ("Actor", "id", None), ("Actor", "type_id", None), ("Actor", "attributes", None),
    ("Actor", "bounding_box", None), ("Actor", "is_alive", None), ("Actor", "destroy", []),
    ("Actor", "get_transform", []), ("Actor", "get_location", []), ("Actor", "get_velocity", []),
    ("Actor", "set_transform", []), ("Actor", "get_world", []),
    ("Vehicle", "apply_control", []), ("Sensor", "listen", []), ("Sensor", "stop", []),
    ("WalkerAIController", "start", []), ("WalkerAIController", "go_to_location", []),
    ("WalkerAIController", "set_max_speed", []), ("WalkerAIController", "stop", []),
    ("Map", "name", None), ("Map", "get_spawn_points", []), ("Map", "get_waypoint", ["project_to_road", "lane_type"]),
    ("Map", "to_opendrive", []), ("Map", "get_topology", []), ("Map", "generate_waypoints", []),
    ("Map", "get_all_landmarks", []), ("Map", "get_waypoint_xodr", []), ("Map", "get_crosswalks", []),
    ("Waypoint", "next", []), ("Waypoint", "previous", []), ("Waypoint", "next_until_lane_end", []),
    ("Waypoint", "get_left_lane", []), ("Waypoint", "get_right_lane", []), ("Waypoint", "get_junction", []),
    ("Landmark", "get_lane_validities", []), ("TrafficLight", "get_state", []),
]


def stub_members():
    path = os.path.join(os.path.dirname(carla.__file__), "libcarla.pyi")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is absent: this carla package ships no stubs")
    with open(path, encoding="utf-8") as stream:
        tree = ast.parse(stream.read())
    members = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            entries = members.setdefault(node.name, {})
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    arguments = item.args.args + item.args.kwonlyargs
                    entries.setdefault(item.name, set()).update(a.arg for a in arguments)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    entries.setdefault(item.target.id, set())
    return members


@pytest.mark.parametrize("cls, member, keywords", CALLS, ids=[f"{c}.{m}" for c, m, _ in CALLS])
def test_called_api_exists_in_the_stubs(cls, member, keywords):
    members = stub_members()
    assert cls in members, f"carla.{cls} is not in the stubs"
    assert member in members[cls], f"carla.{cls}.{member} is not in the stubs"
    for keyword in keywords or []:
        assert keyword in members[cls][member], f"carla.{cls}.{member} has no parameter {keyword!r}"


def test_batch_commands_exist():
    for name in ("SpawnActor", "SetAutopilot", "DestroyActor", "FutureActor", "ApplyVehicleControl"):
        assert hasattr(carla.command, name)
