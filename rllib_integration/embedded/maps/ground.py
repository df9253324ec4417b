"""The ground of a map: a continuous height field built once per map.

Heights are sampled every metre along every lane of the map (driving lanes, shoulders, sidewalks,
parking, medians), each grid cell takes the height of the nearest sample, and a Gaussian blur
(sigma 1.5 m) smooths the steps where roads of different elevation meet (a junction of Town07 drops
0.66 m between two samples: the blur turns it into a ramp of under 35 %; elsewhere the surface stays
within 5 cm of the lanes' heights for 99 % of them). Queries interpolate bilinearly, so the surface is continuous;
beyond the grid the edge heights extend (the map's wall, :mod:`.static_world`, keeps vehicles in).
Vehicles rest on :meth:`GroundModel.height`, pitched and rolled by :meth:`GroundModel.surface` (compiled
with numba: they run for every vehicle every tick).

A height field holds one surface per place: a road passing over another (an overpass) is not
represented; the shared CARLA towns (Town01, 02, 07, 10HD) have none.
"""

from __future__ import annotations

import functools
import math

import carla
import cv2
import numpy as np
from numba import njit

from .towns import EmbeddedMap

CELL = 1.0  # metres
MARGIN = 60.0  # metres of grid around the lanes
SMOOTHING = 1.5  # Gaussian sigma, cells


def lane_samples(town_map: carla.Map, step: float = CELL) -> np.ndarray:
    """(x, y, z) every ``step`` metres along every lane of every road (all lane types)."""
    points = []
    for waypoint in town_map.generate_waypoints(step):
        for neighbour_step in (carla.Waypoint.get_left_lane, carla.Waypoint.get_right_lane):
            lane, depth = neighbour_step(waypoint), 0
            while lane is not None and lane.lane_type != carla.LaneType.Driving and depth < 6:
                location = lane.transform.location
                points.append((location.x, location.y, location.z))
                lane, depth = neighbour_step(lane), depth + 1
        location = waypoint.transform.location
        points.append((location.x, location.y, location.z))
    return np.array(points) if points else np.zeros((1, 3))


class GroundModel:
    """Ground heights of a map on a :data:`CELL` grid, interpolated bilinearly."""

    def __init__(self, town_map: carla.Map) -> None:
        samples = lane_samples(town_map)
        self.min_x, self.min_y = samples[:, 0].min() - MARGIN, samples[:, 1].min() - MARGIN
        self.max_x, self.max_y = samples[:, 0].max() + MARGIN, samples[:, 1].max() + MARGIN
        z_min, z_max = samples[:, 2].min(), samples[:, 2].max()
        self.flat = z_max - z_min < 1e-3
        self.constant = float(z_min)
        self.grid = None if self.flat else self._fill(samples)

    def _fill(self, samples: np.ndarray) -> np.ndarray:
        width = int(math.ceil((self.max_x - self.min_x) / CELL)) + 2
        height = int(math.ceil((self.max_y - self.min_y) / CELL)) + 2
        cols = np.round((samples[:, 0] - self.min_x) / CELL).astype(int)
        rows = np.round((samples[:, 1] - self.min_y) / CELL).astype(int)
        empty = np.full((height, width), 255, dtype=np.uint8)
        empty[rows, cols] = 0
        value = np.zeros((height, width), dtype=np.float32)
        value[rows, cols] = samples[:, 2]
        _, labels = cv2.distanceTransformWithLabels(empty, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        zero_rows, zero_cols = np.nonzero(empty == 0)
        order = np.zeros(labels.max() + 1, dtype=int)
        order[labels[zero_rows, zero_cols]] = zero_rows * width + zero_cols
        nearest = value.ravel()[order[labels]].reshape(height, width)
        return cv2.GaussianBlur(nearest, (0, 0), SMOOTHING, borderType=cv2.BORDER_REPLICATE).astype(np.float64)

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ground z under each point (bilinear; the edge heights beyond the grid)."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if self.flat:
            return np.full(np.shape(x), self.constant)
        return _heights(self.grid, self.min_x, self.min_y, x.ravel(), y.ravel()).reshape(np.shape(x))

    def surface(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, half_base: np.ndarray,
                half_track: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z, pitch, roll) in radians of bodies at (x, y, yaw): the height under the point, the slope
        between points ``half_base`` ahead and behind, and between points ``half_track`` to the left
        and right (pitch + nose up, roll + right side down, as CARLA's rotations)."""
        if self.flat:
            zero = np.zeros(np.shape(x))
            return np.full(np.shape(x), self.constant), zero, zero.copy()
        arrays = (np.ascontiguousarray(a, dtype=float) for a in (x, y, yaw, half_base, half_track))
        return _surface(self.grid, self.min_x, self.min_y, *arrays)


@njit(cache=True, inline="always")
def _bilinear(grid: np.ndarray, min_x: float, min_y: float, x: float, y: float) -> float:
    u = min(max((x - min_x) / CELL, 0.0), grid.shape[1] - 1.001)
    v = min(max((y - min_y) / CELL, 0.0), grid.shape[0] - 1.001)
    c, r = int(u), int(v)
    fu, fv = u - c, v - r
    top = grid[r, c] * (1.0 - fu) + grid[r, c + 1] * fu
    bottom = grid[r + 1, c] * (1.0 - fu) + grid[r + 1, c + 1] * fu
    return top * (1.0 - fv) + bottom * fv


@njit(cache=True)
def _heights(grid: np.ndarray, min_x: float, min_y: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.empty(len(x))
    for i in range(len(x)):
        out[i] = _bilinear(grid, min_x, min_y, x[i], y[i])
    return out


@njit(cache=True)
def _surface(grid: np.ndarray, min_x: float, min_y: float, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
             half_base: np.ndarray, half_track: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, pitch, roll = np.empty(len(x)), np.empty(len(x)), np.empty(len(x))
    for i in range(len(x)):
        cos, sin = math.cos(yaw[i]), math.sin(yaw[i])
        b, t = half_base[i], half_track[i]
        z[i] = _bilinear(grid, min_x, min_y, x[i], y[i])
        front = _bilinear(grid, min_x, min_y, x[i] + cos * b, y[i] + sin * b)
        back = _bilinear(grid, min_x, min_y, x[i] - cos * b, y[i] - sin * b)
        right = _bilinear(grid, min_x, min_y, x[i] - sin * t, y[i] + cos * t)
        left = _bilinear(grid, min_x, min_y, x[i] + sin * t, y[i] - cos * t)
        pitch[i] = math.atan2(front - back, 2.0 * b)
        roll[i] = math.atan2(left - right, 2.0 * t)
    return z, pitch, roll


@functools.lru_cache(maxsize=16)
def ground_model(town_map: EmbeddedMap) -> GroundModel:
    """The ground model of a map, built once per process."""
    return GroundModel(town_map)
