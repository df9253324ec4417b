"""CARLA's data formats and physical constants, as a real server delivers them.

- :data:`DVS_EVENT`: one record of ``carla.DVSEventArray.raw_data``;
- :data:`SEMANTIC_LIDAR_POINT`: one record of ``carla.SemanticLidarMeasurement.raw_data``;
- :data:`CITYSCAPES_PALETTE`: the colour of each semantic tag (``carla.CityObjectLabel`` values 0-28,
  CARLA 0.9.14+), as ``carla.ColorConverter.CityScapesPalette`` draws them;
- :data:`MAX_DEPTH`: the far plane of CARLA's depth camera, whose R, G, B bytes encode
  ``depth / MAX_DEPTH * (2**24 - 1)``;
- :data:`GRAVITY`: m/s² (an IMU at rest reads ``+GRAVITY`` on its z axis).
"""

from __future__ import annotations

import numpy as np

GRAVITY = 9.81
MAX_DEPTH = 1000.0
DEPTH_SCALE = 256 ** 3 - 1

DVS_EVENT = np.dtype([("x", np.uint16), ("y", np.uint16), ("t", np.int64), ("pol", np.bool_)])
SEMANTIC_LIDAR_POINT = np.dtype([("x", np.float32), ("y", np.float32), ("z", np.float32),
                                 ("cos_inc_angle", np.float32), ("object_idx", np.uint32),
                                 ("object_tag", np.uint32)])

#: CARLA's semantic tag -> CityScapes colour (RGB), tags 0-28 of CARLA 0.9.14+.
CITYSCAPES_PALETTE = np.array([
    (0, 0, 0), (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180),
    (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230),
    (119, 11, 32), (110, 190, 160), (170, 120, 50), (55, 90, 80), (45, 60, 150), (157, 234, 50),
    (81, 0, 81), (150, 100, 100), (230, 150, 140), (180, 165, 180)], dtype=np.uint8)
