"""The simulation kernel of the embedded world and what it is made of.

- :mod:`.kernel`: :class:`~.kernel.Simulation`, the actor registry, clock and tick phases;
- :mod:`.actors`: ``carla.Actor``, ``Vehicle``, ``Walker`` facades over the kernel's state;
- :mod:`.dynamics`: the vehicle state table and its vectorised dynamics;
- :mod:`.collisions`, :mod:`.geometry`: oriented boxes and the collisions of a tick;
- :mod:`.lights`: the traffic-light actors, their cycles and stop lines;
- :mod:`.blueprints`: CARLA 0.9.16's blueprint ids, attributes and sizes;
- :mod:`.snapshot`: ``carla.WorldSnapshot``.

It may use the maps (:mod:`..maps`) and :mod:`rllib_integration.common`; the traffic subsystem and
the sensors build on it, never the other way round (they plug in through the kernel's hooks, its
sensor list and its ``traffic`` service).
"""
