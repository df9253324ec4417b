"""The embedded, CARLA-compatible world: the server side of the carla API in Python.

Use it where ``carla`` would be used for the world side::

    from rllib_integration import embedded
    client = embedded.Client("localhost", 2000)
    world = client.load_world("GridTown")

Value types (``Location``, ``Transform``, ``VehicleControl``, ``WorldSettings``...) and the map
(``carla.Map``, waypoints) are the real ``carla`` package's; the rest is implemented here, in layers
(each subpackage's docstring says what it owns and what it may use):

- :mod:`.maps`: towns, procedural towns, the ground, speed limits and signal placements (static);
- :mod:`.sim`: the simulation kernel (actors, vehicle dynamics, collisions, lights, the tick);
- :mod:`.traffic`: traffic managers, their autopilot, pedestrian navigation and walker AI;
- :mod:`.sensors`: the world-side sensors;
- the facades with CARLA's API at this level: :mod:`.client`, :mod:`.world`, :mod:`.command`, and the
  in-process :mod:`.server` that composes them.

Batch commands come from :mod:`.command` (see its docstring). ``python -m rllib_integration.embedded run
SCRIPT`` runs an unmodified CARLA client script against an embedded world (:mod:`.runner`); what is not
simulated is listed, with reasons, in :mod:`.not_simulated`.
"""

from . import command
from .client import Client
from .maps.towns import UnknownTownError, available_towns
from .server import EmbeddedServer, SimulatorCrash
from .world import World

__all__ = ["Client", "EmbeddedServer", "SimulatorCrash", "UnknownTownError", "World", "available_towns",
           "command"]
