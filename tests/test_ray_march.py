"""The virtual LiDAR's compiled ray march (``sensors/ray_march.py``) against a plain reference that reads every sample
of every ray, on generated towns: any number of rays (the march takes them four at a time), ranges shorter than a
sample, heroes off the raster and on its border, obstacles around them."""


import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rllib_integration.common.map_raster import MARKING_LABELS, ROAD_LABELS, map_layer
from rllib_integration.embedded.maps.towns import load_map, resolve_town
from rllib_integration.sensors import virtual_lidar
from rllib_integration.sensors.ray_march import box_distance, clearances, march_cells, march_rays, ray_directions

STEP = virtual_lidar.MARCH_STEP
_TOWNS: dict[int, tuple] = {}


def town_raster(seed: int) -> tuple:
    """(cells, road and marking masks, layer, lane points) of RandomTown<seed>, built once per test session."""
    if seed not in _TOWNS:
        town_map = load_map(*resolve_town(f"RandomTown{seed}"))
        layer = map_layer(town_map, virtual_lidar.RASTER_PPM)
        road, marking = ROAD_LABELS[layer.labels], MARKING_LABELS[layer.labels]
        cells = march_cells(road, marking, *clearances(road, marking, layer.pixels_per_meter, STEP))
        points = np.array([(w.transform.location.x, w.transform.location.y) for w in town_map.generate_waypoints(3.0)])
        _TOWNS[seed] = cells, (road, marking), layer, points
    return _TOWNS[seed]


def reference(x: float, y: float, direction: np.ndarray, max_range: float, masks: tuple, layer
              ) -> tuple[float, float]:
    """The first road edge and marking of one ray (unit ``direction``), every sample of the ``masks`` (road, marking)
    read (off the raster: off the road, no marking), where ``march_rays`` says its samples lie."""
    road_mask, marking_mask = masks
    ppm = layer.pixels_per_meter
    column0, row0 = (x - layer.origin_x) * ppm, (y - layer.origin_y) * ppm
    column_step, row_step = direction[0] * (STEP * ppm), direction[1] * (STEP * ppm)
    steps = int(max_range / STEP + 1e-6)
    edge = line = max_range
    for k in range(1, steps + 1):
        distance = k * STEP
        px, py = int(column0 + k * column_step), int(row0 + k * row_step)
        inside = 0 <= px < road_mask.shape[1] and 0 <= py < road_mask.shape[0]
        road = inside and bool(road_mask[py, px])
        marking = inside and bool(marking_mask[py, px])
        if edge == max_range and not road:
            edge = distance - STEP
        if line == max_range and marking:
            line = distance - STEP
        if edge < max_range and line < max_range:
            break
    return edge, line


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), rays=st.integers(1, 37), max_range=st.sampled_from([0.2, 0.25, 7.0, 40.0, 75.0]),
       data=st.data())
def test_the_march_meets_the_first_edge_marking_and_box_that_every_sample_meets(seed, rays, max_range, data):
    cells, masks, layer, points = town_raster(seed)
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 31), label="placement"))
    heroes = 6
    origins = points[rng.integers(len(points), size=heroes)] + rng.normal(0.0, 2.0, (heroes, 2))
    origins[0] = (layer.origin_x + rng.uniform(-3.0, 1.0), layer.origin_y + rng.uniform(0.0, 20.0))  # the border
    origins[1] = (layer.origin_x - 30.0, layer.origin_y - 30.0)  # off the raster
    yaws = rng.uniform(-4.0, 4.0, heroes)
    yaws[2:4] = rng.choice([0.0, np.pi / 2, np.pi, -np.pi / 2], 2)  # rays along the pixel grid (chessboard bound)
    angles = virtual_lidar.ray_angles(rays, data.draw(st.sampled_from([360.0, 120.0]), label="fov"))
    boxes = 5
    centres = origins[rng.integers(heroes, size=boxes)] + rng.normal(0.0, 6.0, (boxes, 2))
    box_yaws, extents = rng.uniform(-3.0, 3.0, boxes), rng.uniform(0.3, 2.5, (boxes, 2))
    box_ids, self_ids = np.arange(100, 100 + boxes), np.arange(100, 100 + heroes)  # hero k is box 100 + k, if any
    out = np.empty((heroes, rays, 3), dtype=np.float32)
    march_rays(origins, yaws, self_ids, angles, STEP, max_range, cells, layer.origin_x, layer.origin_y,
               layer.pixels_per_meter, centres, box_yaws, extents, box_ids, out)
    directions = ray_directions(yaws, angles)
    assert np.allclose(directions, np.stack([np.cos(yaws[:, None] + angles), np.sin(yaws[:, None] + angles)], -1))
    for h in range(heroes):
        for r in range(rays):
            (dx, dy) = direction = directions[h, r]
            edge, line = reference(origins[h, 0], origins[h, 1], direction, max_range, masks, layer)
            near = [b for b in range(boxes) if box_ids[b] != self_ids[h]
                    and np.sum((centres[b] - origins[h]) ** 2) <= (max_range + 10.0) ** 2]
            obstacle = min([box_distance(origins[h, 0], origins[h, 1], dx, dy,
                                         centres[b, 0], centres[b, 1], box_yaws[b], extents[b, 0], extents[b, 1])
                            for b in near] + [max_range])
            expected = np.array([edge, line, obstacle], dtype=np.float32)
            assert np.array_equal(out[h, r], expected), (h, r, out[h, r], expected)
    first_sample = 0.0 if max_range >= STEP else max_range  # a range short of one sample meets nothing
    assert (out[1, :, 0] == first_sample).all() and (out[1, :, 1] == max_range).all(), "off the raster: off the road"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), nudge=st.sampled_from([-2, -1, 0, 1, 2]), data=st.data())
def test_samples_on_and_a_hair_off_whole_pixels_read_the_pixel_the_floats_give(seed, nudge, data):
    """The march computes a sample's pixel in fixed point and hands it to floats where it lies within a hair of a whole
    pixel: heroes at whole pixels, or a few floats beside them, with rays along the grid and its diagonals (every
    sample of such a ray lies on or beside a pixel's edge) read what every sample of the reference reads."""
    cells, masks, layer, points = town_raster(seed)
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 31), label="placement"))
    heroes, ppm = 8, layer.pixels_per_meter
    origins = points[rng.integers(len(points), size=heroes)]
    pixels = np.round((origins - (layer.origin_x, layer.origin_y)) * ppm)  # whole pixels, nudged a few floats
    origins = np.nextafter(pixels / ppm + (layer.origin_x, layer.origin_y), np.inf * nudge) if nudge else \
        pixels / ppm + (layer.origin_x, layer.origin_y)
    for _ in range(abs(nudge) - 1):
        origins = np.nextafter(origins, np.inf * nudge)
    yaws = rng.choice(np.arange(8) * (np.pi / 4), heroes)
    angles = virtual_lidar.ray_angles(8, 360.0)  # every 45 degrees from the heading
    no_box = np.zeros((0, 2))
    out = np.empty((heroes, len(angles), 3), dtype=np.float32)
    march_rays(origins, yaws, np.arange(heroes), angles, STEP, 40.0, cells, layer.origin_x, layer.origin_y, ppm,
               no_box, np.zeros(0), no_box, np.zeros(0, dtype=np.int64), out)
    directions = ray_directions(yaws, angles)
    for h in range(heroes):
        for r in range(len(angles)):
            edge, line = reference(origins[h, 0], origins[h, 1], directions[h, r], 40.0, masks, layer)
            assert (out[h, r, 0], out[h, r, 1]) == (np.float32(edge), np.float32(line)), (h, r, out[h, r])
