"""Maps of the embedded world: what a world is built on, all static and built once per map.

- :mod:`.towns`: town names and files resolved to OpenDRIVE, the map object (a real ``carla.Map``)
  and its derived spawn points;
- :mod:`.procedural`: towns generated from synthetic OpenStreetMap data with ``carla.Osm2Odr``;
- :mod:`.ground`: the ground height field;
- :mod:`.rules`: speed limits and the lanes each traffic light controls.

It may use ``carla``, NumPy and OpenCV; nothing else of the embedded world.
"""
