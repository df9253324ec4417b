"""The embedded, CARLA-compatible world: the server side of the carla API in Python.

Use it where ``carla`` would be used for the world side::

    from rllib_integration import embedded
    client = embedded.Client("localhost", 2000)
    world = client.load_world("GridTown")

Value types (``Location``, ``Transform``, ``VehicleControl``, ``WorldSettings``...) and the map
(``carla.Map``, waypoints) are the real ``carla`` package's; actors, blueprints, the world and its
physics are implemented here. Batch commands come from :mod:`.command` (see its docstring).
"""

from . import command
from .client import Client, EmbeddedServer
from .towns import UnknownTownError, available_towns
from .world import World

__all__ = ["Client", "EmbeddedServer", "UnknownTownError", "World", "available_towns", "command"]
