"""Rasters in tiles (``common/tiles.py``): every pixel where ``tile_offset`` says it lies, the padding zeros."""

import numpy as np
import pytest

from rllib_integration.common.tiles import ALIGNMENT, TILE, tile_columns, tile_offset, tiled


@pytest.mark.parametrize("shape", [(1, 1), (TILE, TILE), (37, 50), (TILE + 1, 3 * TILE - 1)])
def test_every_pixel_lies_where_its_offset_says_and_the_padding_holds_zeros(shape):
    rng = np.random.default_rng(sum(shape))
    raster = rng.integers(1, 256, shape, dtype=np.uint8)
    tiles = tiled(raster, tail=3)
    across = tile_columns(shape[1])
    assert across == -(-shape[1] // TILE)
    rows, cols = np.indices(shape)
    offsets = np.array([tile_offset(r, c, across) for r, c in zip(rows.ravel(), cols.ravel())])
    assert np.array_equal(tiles[offsets], raster.ravel())
    assert len(set(offsets.tolist())) == raster.size  # no two pixels share a place
    assert len(tiles) == -(-shape[0] // TILE) * across * TILE * TILE + 3
    outside = np.ones(len(tiles), dtype=bool)
    outside[offsets] = False
    assert not tiles[outside].any()  # the tiles' padding past the last row and column, and the tail
    assert tiles.ctypes.data % ALIGNMENT == 0


def test_a_pixel_of_several_values_keeps_them_together():
    raster = np.arange(2 * 20 * 30, dtype=np.uint16).reshape(20, 30, 2).astype(np.uint8)
    tiles = tiled(raster)
    across = tile_columns(30)
    for r, c in [(0, 0), (19, 29), (TILE, TILE - 1), (7, 17)]:
        at = 2 * tile_offset(r, c, across)
        assert tiles[at] == raster[r, c, 0] and tiles[at + 1] == raster[r, c, 1]
