"""Rasters kept in square tiles: what the compiled loops that sample a town's raster along lines read.

A town's raster takes megabytes, more than a core's cache holds, and a picture or a ray samples it along lines in
any direction. Kept row after row, a line across the rows meets a new cache line (and now and then a new page) at
every sample; kept in tiles of :data:`TILE` x :data:`TILE` pixels, tile rows then tile columns, each tile's pixels
row after row, the samples a few pixels apart in any direction fall in a few tiles, each a few cache lines.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TILE_BITS = 4
TILE = 1 << TILE_BITS  # pixels on a side of a tile
ALIGNMENT = 64  # bytes: a tile of one-byte pixels starts a cache line


@njit(cache=True, inline="always")
def tile_offset(row: int, column: int, tile_columns: int) -> int:
    """The place of pixel (``row``, ``column``) in a raster's tiles (:func:`tiled`), ``tile_columns`` tiles a row, in
    pixels (its byte offset times the bytes of a pixel)."""
    tile = (row >> TILE_BITS) * tile_columns + (column >> TILE_BITS)
    return (tile << (2 * TILE_BITS)) + ((row & (TILE - 1)) << TILE_BITS) + (column & (TILE - 1))


@njit(cache=True)
def tile_columns(columns: int) -> int:
    """How many tiles a row of ``columns`` pixels takes."""
    return (columns + TILE - 1) >> TILE_BITS


def tiled(raster: np.ndarray, tail: int = 0) -> np.ndarray:
    """``raster`` (rows, columns, and any further axes: a pixel's values) as one flat uint8 array of tiles (see the
    module docstring; the tiles past its last row and column padded with zeros), starting a cache line, with
    ``tail`` zeros after its last tile."""
    rows, columns = raster.shape[:2]
    tile_rows, across = -(-rows // TILE), tile_columns(columns)
    padded = np.zeros((tile_rows * TILE, across * TILE) + raster.shape[2:], dtype=np.uint8)
    padded[:rows, :columns] = raster
    flat = padded.reshape((tile_rows, TILE, across, TILE) + raster.shape[2:]).swapaxes(1, 2).reshape(-1)
    aligned = np.empty(flat.size + tail + ALIGNMENT, dtype=np.uint8)
    start = -aligned.ctypes.data % ALIGNMENT
    tiles = aligned[start:start + flat.size + tail]
    tiles[:flat.size], tiles[flat.size:] = flat, 0
    return tiles
