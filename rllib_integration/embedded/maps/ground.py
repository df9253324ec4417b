"""The ground under the roads: a height field built once per map.

The embedded world's vehicles rest on it (``z`` = ground height), and sensors cast rays against it.
"""

from __future__ import annotations

import functools
import math

import carla
import cv2
import numpy as np

from .towns import EmbeddedMap


class GroundModel:
    """Ground height of a map on a 2 m grid: the road height nearest to each cell.

    Beyond the map's road extent plus ``margin`` metres there is no ground (vehicles fall).
    """

    CELL = 2.0

    def __init__(self, town_map: carla.Map, margin: float = 50.0) -> None:
        samples = np.array([(w.transform.location.x, w.transform.location.y, w.transform.location.z)
                            for w in town_map.generate_waypoints(self.CELL)])
        if len(samples) == 0:
            samples = np.zeros((1, 3))
        self.min_x, self.min_y = samples[:, 0].min() - margin, samples[:, 1].min() - margin
        self.max_x, self.max_y = samples[:, 0].max() + margin, samples[:, 1].max() + margin
        z_min, z_max = samples[:, 2].min(), samples[:, 2].max()
        self.flat = z_max - z_min < 1e-3
        self.constant = float(z_min)
        self.grid = None
        if not self.flat:
            self.grid = self._nearest_fill(samples)

    def _nearest_fill(self, samples: np.ndarray) -> np.ndarray:
        width = int(math.ceil((self.max_x - self.min_x) / self.CELL)) + 1
        height = int(math.ceil((self.max_y - self.min_y) / self.CELL)) + 1
        cols = ((samples[:, 0] - self.min_x) / self.CELL).astype(int)
        rows = ((samples[:, 1] - self.min_y) / self.CELL).astype(int)
        empty = np.full((height, width), 255, dtype=np.uint8)
        empty[rows, cols] = 0
        value = np.zeros((height, width))
        value[rows, cols] = samples[:, 2]
        _, labels = cv2.distanceTransformWithLabels(empty, cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        zero_rows, zero_cols = np.nonzero(empty == 0)
        order = np.zeros(labels.max() + 1, dtype=int)
        order[labels[zero_rows, zero_cols]] = zero_rows * width + zero_cols
        return value.ravel()[order[labels]]

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ground z under each point; NaN outside the ground's extent."""
        inside = (x >= self.min_x) & (x <= self.max_x) & (y >= self.min_y) & (y <= self.max_y)
        if self.flat:
            return np.where(inside, self.constant, np.nan)
        rows = np.clip(((y - self.min_y) / self.CELL).astype(int), 0, self.grid.shape[0] - 1)
        cols = np.clip(((x - self.min_x) / self.CELL).astype(int), 0, self.grid.shape[1] - 1)
        return np.where(inside, self.grid[rows, cols], np.nan)


@functools.lru_cache(maxsize=16)
def ground_model(town_map: EmbeddedMap) -> GroundModel:
    """The ground model of a map, built once per process."""
    return GroundModel(town_map)
