"""What the simulator side (:mod:`rllib_integration.embedded`) and the client side (sensors, the
BirdView, experiments) both need, below both of them:

- :mod:`.formats`: CARLA's data formats and constants (structured dtypes of sensor records, the
  semantic tags and their CityScapes colours, the depth encoding, gravity);
- :mod:`.map_raster`: a map rendered once into a raster of labels (roads, markings, sidewalks...),
  cached per map, with its palette and the semantic tag of each label.

This package imports only ``carla``, NumPy and OpenCV; nothing else of the library.
"""
