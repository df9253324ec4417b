"""Traffic of the embedded world: what moves the actors nobody drives.

- :mod:`.traffic_manager`: ``carla.TrafficManager`` (a facade) and the registry of traffic managers
  by port that ``vehicle.set_autopilot`` reaches;
- :mod:`.autopilot`: the planner behind a traffic manager (routes, car following, lights, junctions);
- :mod:`.navigation`: the pedestrians' sidewalk graph;
- :mod:`.walker_ai`: the ``controller.ai.walker`` actor.

It uses the simulation kernel (:mod:`..sim`) through its public members, and the maps.
"""
