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


def test_a_one_channel_mask_band_sets_the_pixels_the_coverage_pass_sets():
    """Masks whose route sets one channel write it as the bands are walked (no coverage kept): the same pixels as a
    paint of two channels, which goes through every band's coverage first."""
    rng = np.random.default_rng(5)
    points = np.cumsum(rng.normal(0.0, 3.0, (6, 30, 2)), axis=1) + 32.0  # six wandering routes, some off the edge
    counts = np.array([30, 2, 17, 30, 1, 25])
    for half in (0.5, 1.0, 2.0, 3.5):
        one, two = blank(heroes=6, channels=3), blank(heroes=6, channels=3)
        raster.draw_routes(one, points, counts, half, 0.25, np.array([0.0, 255.0, 0.0]), True)
        raster.draw_routes(two, points, counts, half, 0.25, np.array([0.0, 255.0, 255.0]), True)
        assert one[..., 1].any() and not one[..., [0, 2]].any()
        assert np.array_equal(one[..., 1], two[..., 1]) and np.array_equal(two[..., 1], two[..., 2])


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


def views_of(rng, count, rows, cols):
    """``count`` random picture views of a source of ``rows`` x ``cols`` pixels at 8 px a metre (a 64 px picture
    at 2 px a metre, as the masks quickstart's): a quarter of them at right angles or 45 degrees, some at whole
    or half source pixels (rounding ties), some off the source's edges; and the source's pixels-to-world matrix."""
    to_world = np.array([[0.125, 0.0, -20.0], [0.0, 0.125, -15.0], [0.0, 0.0, 1.0]])
    yaw = rng.uniform(-180.0, 180.0, count)
    yaw[:count // 4] = rng.choice([0.0, 90.0, -90.0, 180.0, 45.0], count // 4)
    x = rng.uniform(-40.0, cols / 8.0, count)
    y = rng.uniform(-35.0, rows / 8.0, count)
    x[:count // 8] = np.round(x[:count // 8] * 16.0) / 16.0
    c, s, ppm = np.cos(np.radians(yaw)), np.sin(np.radians(yaw)), 2.0
    views = np.empty((count, 2, 3))
    views[:, 0, 0], views[:, 0, 1], views[:, 0, 2] = -s * ppm, c * ppm, SIZE / 2 - ppm * (-s * x + c * y)
    views[:, 1, 0], views[:, 1, 1], views[:, 1, 2] = -c * ppm, -s * ppm, SIZE / 2 + 16.0 + ppm * (c * x + s * y)
    return views, to_world


def test_map_masks_sample_the_source_as_opencvs_nearest_warp_and_write_every_mask_pixel():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(4)
    rows, cols = 600, 700
    source = rng.integers(1, 8, (rows, cols), dtype=np.uint8)  # (0: off the source)
    views, to_world = views_of(rng, 300, rows, cols)
    tables = np.array([(np.arange(256) >> bit) & 1 > 0 for bit in range(3)])
    for masks, targets in ((2, np.array([0, 1])), (3, np.array([0, 1, 7]))):
        pictures = np.full((len(views), SIZE, SIZE, 9), 77, dtype=np.uint8)  # cleared by the call
        raster.warp_masks(pictures, raster.mask_source(source), raster.inverse_maps(views @ to_world),
                          tables[:masks], targets, True)
        warped = np.stack([cv2.warpAffine(source, forward, (SIZE, SIZE), flags=cv2.INTER_NEAREST,
                                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                           for forward in views @ to_world])
        expected = np.zeros_like(pictures)
        for bit, target in enumerate(targets):
            expected[..., target] = np.where((warped >> bit) & 1 > 0, 255, 0)
        differing = (pictures != expected).any(axis=3)
        # the same pixels as OpenCV 5 on a core with FMA; elsewhere OpenCV rounds a few ties otherwise
        assert differing.mean() < 1e-4, f"{differing.sum()} of {differing.size} pixels differ from OpenCV's"
        assert (warped == 0).any() and (warped > 0).all(axis=(1, 2)).any()  # views off the edge and on the source


def test_map_masks_follow_their_arithmetic_exactly_and_leave_other_channels_of_a_strided_view():
    rng = np.random.default_rng(5)
    rows, cols = 300, 400
    source = rng.integers(0, 4, (rows, cols), dtype=np.uint8)
    views, to_world = views_of(rng, 40, rows, cols)
    inverses = raster.inverse_maps(views @ to_world)
    stacks = np.full((len(views), SIZE, SIZE, 18), 9, dtype=np.uint8)
    newest = stacks[..., 9:]
    newest[...] = 0  # cleared: the call writes the masks' channels only
    tables = np.array([(np.arange(256) >> bit) & 1 > 0 for bit in range(2)])
    raster.warp_masks(newest, raster.mask_source(source), inverses, tables, np.array([3, 5]), False)
    u, v = np.meshgrid(np.arange(SIZE, dtype=np.float32), np.arange(SIZE, dtype=np.float32))
    for h, (m0, m1, m2, m3, m4, m5) in enumerate(inverses):
        def fused(m, base):  # m * u + base rounded once to float32 (exact in double first), then half to even
            return np.rint((np.float64(m) * u + base.astype(np.float64)).astype(np.float32)).astype(np.int64)
        across, down = fused(m0, m1 * v + m2), fused(m3, m4 * v + m5)
        inside = (across >= 0) & (across < cols) & (down >= 0) & (down < rows)
        value = np.where(inside, source[np.clip(down, 0, rows - 1), np.clip(across, 0, cols - 1)], 0)
        assert np.array_equal(newest[h, ..., 3], np.where(value & 1, 255, 0))
        assert np.array_equal(newest[h, ..., 5], np.where(value & 2, 255, 0))
    assert not newest[..., [0, 1, 2, 4, 6, 7, 8]].any() and (stacks[..., :9] == 9).all()
