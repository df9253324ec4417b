"""Sensors of the embedded world, world side: actors that measure after every tick.

- :mod:`.base`: the sensor actor (``listen``, ``stop``, ``sensor_tick``, noise);
- :mod:`.detectors`: collision, lane invasion and obstacle events;
- :mod:`.positioning`: GNSS and IMU;
- :mod:`.cameras`, :mod:`.ranging` (LiDAR, semantic LiDAR, radar), over :mod:`.raycast`;
- :mod:`.measurements`: the measurement classes in CARLA's formats;
- :mod:`.catalog`: blueprint ids, attributes and classes of them all.

It uses the simulation kernel (:mod:`..sim`), the maps, and :mod:`rllib_integration.common` (the map
raster and CARLA's formats); never the client-side :mod:`rllib_integration.sensors`.
"""
