"""The BirdView's compiled drawing (``sensors.birdview_raster``): shapes land where their geometry says, with the
area they have, anti-aliased in ``rgb`` and whole pixels in ``masks``."""

import math

import numpy as np
import pytest

from rllib_integration.sensors import birdview_raster as raster

SIZE = 64
WHITE = np.array([255.0, 255.0, 255.0])


def blank(heroes=1, channels=3):
    return np.zeros((heroes, SIZE, SIZE, channels), dtype=np.uint8)


def coverage(pictures, hero=0):
    """Each pixel's share of white over black."""
    return pictures[hero, ..., 0] / 255.0


def test_a_polygon_covers_its_area_and_only_its_own_heros_picture():
    square = np.array([[[10.25, 12.5], [30.25, 12.5], [30.25, 22.5], [20.25, 22.5], [10.25, 22.5]]])  # 20 x 10 px
    pictures = blank(heroes=2)
    raster.draw_polygons(pictures, np.array([1]), square, WHITE[None], False)
    assert not pictures[0].any()
    assert coverage(pictures, 1).sum() == pytest.approx(200.0, rel=0.02)
    assert coverage(pictures, 1)[17, 20] == 1.0 and coverage(pictures, 1)[30, 20] == 0.0
    clockwise = square[:, ::-1].copy()  # either turn
    again = blank()
    raster.draw_polygons(again, np.array([0]), clockwise, WHITE[None], False)
    assert np.array_equal(again[0], pictures[1])


def test_a_turned_polygon_keeps_its_area_and_masks_take_the_pixels_whose_centre_it_covers():
    angle = math.radians(30.0)
    c, s = math.cos(angle), math.sin(angle)
    corners = np.array([(-8.0, -3.0), (8.0, -3.0), (8.0, 3.0), (0.0, 3.0), (-8.0, 3.0)])
    turned = np.stack([32.0 + c * corners[:, 0] - s * corners[:, 1], 32.0 + s * corners[:, 0] + c * corners[:, 1]],
                      axis=1)[None]
    pictures = blank()
    raster.draw_polygons(pictures, np.array([0]), turned, WHITE[None], False)
    assert coverage(pictures).sum() == pytest.approx(96.0, rel=0.03)
    masks = blank(channels=2)
    raster.draw_polygons(masks, np.array([0]), turned, np.array([[0.0, 255.0]]), True)
    assert not masks[..., 0].any() and set(np.unique(masks[..., 1])) == {0, 255}
    v, u = np.mgrid[0:SIZE, 0:SIZE]
    x, y = u - 32.0, v - 32.0  # pixel centres in the rectangle's frame
    inside = (np.abs(c * x + s * y) < 8.0 - 1e-6) & (np.abs(-s * x + c * y) < 3.0 - 1e-6)
    outside = (np.abs(c * x + s * y) > 8.0 + 1e-6) | (np.abs(-s * x + c * y) > 3.0 + 1e-6)
    assert (masks[0, ..., 1][inside] == 255).all() and (masks[0, ..., 1][outside] == 0).all()


def test_a_route_band_is_as_wide_as_asked_and_follows_its_bend():
    points = np.zeros((1, 40, 2))
    points[0, :20] = np.stack([np.full(20, 20.0), np.linspace(60.0, 30.0, 20)], axis=1)  # up column 20
    points[0, 20:] = np.stack([np.linspace(21.0, 50.0, 20), np.full(20, 30.0)], axis=1)  # then right along row 30
    pictures = blank()
    raster.draw_routes(pictures, points, np.array([40]), 2.0, 0.25, WHITE, False)
    cover = coverage(pictures)
    assert cover[45].sum() == pytest.approx(4.0, abs=0.05)  # across the straight upward leg: 4 px
    assert cover[:, 40].sum() == pytest.approx(4.0, abs=0.05)  # across the leg to the right
    assert cover[45, 20] == 1.0 and cover[30, 40] == 1.0 and cover[10, 10] == 0.0
    assert cover[30, 20] == 1.0, "the corner is covered (the union of the legs' bands)"
    assert cover.max() == 1.0, "overlapping segments do not paint twice"
    masks = blank(channels=1)
    raster.draw_routes(masks, points, np.array([40]), 2.0, 0.25, np.array([255.0]), True)
    assert (masks[0, 45, :, 0] == 255).sum() in (4, 5)
    nothing = blank()
    raster.draw_routes(nothing, points, np.array([1]), 2.0, 0.25, WHITE, False)  # a single point: no band
    assert not nothing.any()


def test_a_light_is_a_disc_with_a_rim_and_shapes_beyond_the_edge_are_clipped():
    pictures = blank()
    red, rim = np.array([[200.0, 0.0, 0.0]]), WHITE
    raster.draw_discs(pictures, np.array([0]), np.array([[20.0, 20.0]]), red, 4.0, rim, False)
    assert tuple(pictures[0, 20, 20]) == (200, 0, 0)
    assert tuple(pictures[0, 20, 24]) == (255, 255, 255), "the rim lies on the disc's edge"
    assert not pictures[0, 20, 27].any()
    edge = blank()
    raster.draw_discs(edge, np.array([0]), np.array([[-1.0, 63.5]]), red, 4.0, rim, False)
    raster.draw_polygons(edge, np.array([0]), np.array([[[60.0, -5.0], [80.0, -5.0], [80.0, 5.0], [70.0, 5.0],
                                                          [60.0, 5.0]]]), WHITE[None], False)
    assert edge[0, 60:, :3].any() and edge[0, :5, 60:].any()
