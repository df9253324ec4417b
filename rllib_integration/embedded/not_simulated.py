"""What of CARLA 0.9.16's server-side API the embedded world does not simulate, and why.

Each entry is ``"Class.method": reason``. Calling one of these on an embedded object raises
:class:`NotSimulatedError` naming the method and the reason (never an ``AttributeError``);
``tests/test_api_coverage.py`` checks that every other method of the installed
``carla/libcarla.pyi`` exists, and the README lists this table.
"""

from __future__ import annotations

from typing import NoReturn

_RENDERING = "the embedded world has no textures or meshes to change"
_FILES = "the embedded world reads towns from disk; there is no server to fetch files from"

NOT_SIMULATED: dict[str, str] = {
    "Client.request_file": _FILES, "Client.get_required_files": _FILES, "Client.set_files_base_folder": _FILES,
    "World.apply_color_texture_to_object": _RENDERING, "World.apply_color_texture_to_objects": _RENDERING,
    "World.apply_float_color_texture_to_object": _RENDERING, "World.apply_float_color_texture_to_objects": _RENDERING,
    "World.apply_textures_to_object": _RENDERING, "World.apply_textures_to_objects": _RENDERING,
    "World.get_names_of_all_objects": "the static world is generated, its objects have no Unreal names",
    "Sensor.listen_to_gbuffer": "cameras have no Unreal G-buffer", "Sensor.stop_gbuffer": "cameras have no Unreal G-buffer",
    "Sensor.is_listening_gbuffer": "cameras have no Unreal G-buffer",
    "Vehicle.enable_carsim": "only the embedded vehicle dynamics exist (no CarSim)",
    "Vehicle.use_carsim_road": "only the embedded vehicle dynamics exist (no CarSim)",
    "Vehicle.enable_chrono_physics": "only the embedded vehicle dynamics exist (no Chrono)",
    "Walker.blend_pose": "walkers have no skeleton", "Walker.hide_pose": "walkers have no skeleton",
    "Walker.show_pose": "walkers have no skeleton", "Walker.get_bones": "walkers have no skeleton",
    "Walker.get_pose_from_animation": "walkers have no skeleton", "Walker.set_bones": "walkers have no skeleton",
}


class NotSimulatedError(NotImplementedError):
    """A CARLA method the embedded world does not simulate; the message says why."""


def refuse(class_names: list[str], name: str) -> NoReturn:
    """Raise :class:`NotSimulatedError` for ``name`` if one of ``class_names`` lists it, else AttributeError."""
    for class_name in class_names:
        reason = NOT_SIMULATED.get(f"{class_name}.{name}")
        if reason is not None:
            raise NotSimulatedError(f"{class_name}.{name} is not simulated by the embedded world: {reason}. "
                                    f"Run this code against a CARLA server for it.")
    raise AttributeError(f"'{class_names[0]}' object has no attribute '{name}'")
