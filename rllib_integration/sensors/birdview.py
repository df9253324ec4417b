"""The BirdView pseudo-sensor (``type: sensor.birdview``): an egocentric top view of the hero.

The picture is the original's: ``size`` x ``size`` pixels over ``2 * radius`` metres
(``pixels_per_meter = size / (2 * radius)``), the hero at the horizontal centre facing up, ``radius / 2``
metres below the image centre (it sees ``1.5 * radius`` ahead, ``0.5 * radius`` behind and ``radius``
to each side). Each frame is the static map layer (rendered once per map, see
:mod:`rllib_integration.common.map_raster`) cropped and rotated by one affine warp, plus the actors
near the hero: vehicles as arrows (hero green, two-wheelers chocolate, others sky blue), walkers as
rectangles twice their box, traffic lights as discs in their state's colour. Pictures coarser than
4 pixels per metre (64 px over 32 m, the DQN example's) draw the map at 4 px/m and average it down, and
leave the direction arrows out, so lane markings stay lines instead of a speckle; their ``masks`` mark a pixel where
the averaged road, marking or building coverage interpolated at its centre reaches a threshold, read off a layer of
those decisions made once per map at the finer scale (:func:`mask_bits_layer`). The route, lights and actors are
drawn over the map by compiled kernels (:mod:`.birdview_raster`): anti-aliased edges in ``rgb`` (a pixel takes the
share of a shape that covers it), and in ``masks`` the pixels whose centre a shape covers, at their geometric size
(a 2 m band is 2 m wide, a 4.9 m car 4.9 m long). :func:`render_many` renders the heroes of one world together (their
views at once, the lights and actors near each found in one pass, every picture's shapes drawn in one call a kind):
the pictures each renderer's :meth:`BirdviewRenderer.render` gives, which goes the same way for one hero. Creating a
renderer sets OpenCV to one thread for the process (``cv2.setNumThreads(1)``; call it again after to change it): on
pictures this small its thread pool's wake-ups cost more than they share (measured on a 16-core machine: 86-107 µs a
hero's picture with one thread, 426-509 µs with sixteen; on 2 cores 218-267 µs against 304-331 µs).

Attributes: ``size`` (pixels, default 84), ``radius`` (metres, default 15), ``output``: ``rgb``
(uint8 ``(size, size, 3)``, the default) or ``masks`` (uint8 ``(size, size, 8)``, 0 or 255, one
channel each in :data:`MASK_CHANNELS` order), ``buildings`` (default false, the original's look):
draw the footprints of ``world.get_level_bbs(Buildings)`` in brown, and add a ninth mask channel;
``debug`` (default true): in ``rgb``, draw the shapes of ``world.debug`` (points, lines, arrows, boxes,
and strings from 128 pixels up) as CARLA's cameras show them; the embedded world keeps them, a real
server's are only on its own window; ``route`` (default false): draw the rest of the hero's route
(given by the core when the episode has one, see ``CarlaCore.reset_hero``) as a 2 m band, in
teal in ``rgb`` and as a last mask channel ``route`` in ``masks``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import carla
import cv2
import numpy as np

from ..errors import ConfigError
from ..common.identity_cache import IdentityCache
from ..common.per_frame import PerFrame, PerWorld, forget_gone, same_ids
from ..common.map_raster import MARKING_LABELS, PALETTE, ROAD_LABELS, Label, MapLayer, map_layer, with_buildings
from ..routes.progress import RouteProgress
from ..routes.progress_batch import route_rows
from . import birdview_raster as raster
from .sensor import PseudoSensor

#: Channels of the ``masks`` output.
MASK_CHANNELS = ("road", "lane_markings", "vehicles", "walkers", "traffic_light_red",
                 "traffic_light_yellow", "traffic_light_green", "hero")
#: The extra channel of the ``masks`` output with ``buildings: true``.
BUILDING_CHANNEL = "buildings"
#: The extra channel of the ``masks`` output with ``route: true`` (last).
ROUTE_CHANNEL = "route"
ROUTE_COLOUR = (0, 190, 190)
ROUTE_WIDTH = 2.0  # metres
#: Pixels the route's drawn centre line may stray from its points: the route points (about a metre apart) are
#: thinned to those that bend it by more, a few a picture (drawing all of them costs several times as long).
ROUTE_TOLERANCE = 0.25

HERO_COLOUR = (138, 226, 52)
VEHICLE_COLOUR = (114, 159, 207)
TWO_WHEELER_COLOUR = (193, 125, 17)
WALKER_COLOUR = (173, 127, 168)
LIGHT_COLOURS = {carla.TrafficLightState.Red: (239, 41, 41), carla.TrafficLightState.Yellow: (252, 233, 79),
                 carla.TrafficLightState.Green: (138, 226, 52), carla.TrafficLightState.Off: (85, 87, 83)}
LIGHT_CHANNELS = {carla.TrafficLightState.Red: "traffic_light_red",
                  carla.TrafficLightState.Yellow: "traffic_light_yellow",
                  carla.TrafficLightState.Green: "traffic_light_green"}
LIGHT_RADIUS = 1.4  # metres
GROUP_COLOURS = {"walkers": WALKER_COLOUR, "vehicles": VEHICLE_COLOUR, "two_wheelers": TWO_WHEELER_COLOUR,
                 "hero": HERO_COLOUR}
DRAW_ORDER = ("walkers", "vehicles", "two_wheelers", "hero")
HERO_RANK = DRAW_ORDER.index("hero")
MASK_GROUPS = {"walkers": "walkers", "vehicles": "vehicles", "two_wheelers": "vehicles", "hero": "hero"}

TEXT_MIN_SIZE = 128  # pixels: smaller pictures leave debug strings out (unreadable)
MIN_SIZE, MAX_SIZE = 8, 2048  # pixels of the picture's side
MAX_RADIUS = 1000.0  # metres
SMOOTH_PPM = 4.0  # pixels per metre: below it, the map is drawn this fine and averaged down to the output
ARROW_MIN_PPM = 4.0  # pixels per metre: below it, direction arrows are left out
MARKING_COVERAGE = 0.2  # share of a supersampled pixel a lane marking must cover in the masks output
#: Coverage (0-255) from which the averaged layer's road, lane-marking and building channels mark a mask pixel.
MASK_THRESHOLDS = (128, 255 * MARKING_COVERAGE, 128)


_AVERAGED: dict[tuple, tuple[np.ndarray, ...]] = {}  # (id of the labels, k, arrows) -> (labels, averaged...)


def averaged_layer(layer: MapLayer, k: int, arrows: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``layer`` averaged over ``k`` x ``k`` pixel blocks (once per layer in a process): its colours
    (RGB, without direction arrows unless ``arrows``), its road / lane-marking / building coverage
    (0-255, three channels), each with a fourth channel of zeros, and the 3x3 matrix from their pixels to world
    (x, y). (OpenCV's bilinear warp of four channels is vectorised where three are not: twice as fast, the same
    values, measured.)"""
    key = (id(layer.labels), k, arrows)
    if key not in _AVERAGED:
        palette = PALETTE
        if not arrows:
            palette = PALETTE.copy()
            palette[Label.ARROW] = PALETTE[Label.ROAD]
        rows, cols = (n // k * k for n in layer.labels.shape)
        labels = layer.labels[:rows, :cols]
        size = (cols // k, rows // k)
        colours = cv2.cvtColor(cv2.resize(palette[labels], size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2RGBA)
        masks = np.stack([ROAD_LABELS[labels], MARKING_LABELS[labels], labels == Label.BUILDING], axis=2)
        coverage = cv2.cvtColor(cv2.resize(masks.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA),
                                cv2.COLOR_RGB2RGBA)
        colours[..., 3], coverage[..., 3] = 0, 0
        step, centre = k / layer.pixels_per_meter, (k - 1) / 2.0 / layer.pixels_per_meter  # block u: hi pixels uk..uk+k-1
        to_world = np.array([[step, 0.0, layer.origin_x + centre], [0.0, step, layer.origin_y + centre], [0.0, 0.0, 1.0]])
        _AVERAGED[key] = (layer.labels, colours, coverage, to_world)  # the labels held: their id stays theirs
    return _AVERAGED[key][1:]


_MASK_BITS: dict[tuple, tuple[np.ndarray, ...]] = {}  # (id of the labels, k) -> (labels, bits, to_world)


def mask_bits_layer(layer: MapLayer, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The masks of ``layer`` averaged over ``k`` x ``k`` blocks (:func:`averaged_layer`), decided at each pixel of
    ``layer`` (once per layer in a process): bit ``c`` of a pixel is set where coverage ``c`` (road, lane markings,
    buildings), bilinearly interpolated between the blocks' centres at the pixel's, reaches its
    :data:`MASK_THRESHOLDS`; and the 3x3 matrix from its pixels to world (x, y). A masks picture reads it by nearest
    sample: the thresholds of the averaged coverage at each output pixel's centre, placed to the nearest ``1 / k`` of
    an output pixel (at a third of the cost of warping the coverage bilinearly and thresholding it, measured)."""
    key = (id(layer.labels), k)
    if key not in _MASK_BITS:
        _, coverage, _ = averaged_layer(layer, k, arrows=False)
        rows, cols = coverage.shape[0] * k, coverage.shape[1] * k
        # (OpenCV's bilinear resize places fine pixel i at block (i - (k - 1) / 2) / k: the blocks' centres)
        fine = cv2.resize(coverage, (cols, rows), interpolation=cv2.INTER_LINEAR)
        bits = np.zeros((rows, cols), dtype=np.uint8)
        for bit, threshold in enumerate(MASK_THRESHOLDS):
            bits |= (fine[..., bit] >= threshold).astype(np.uint8) << bit
        _MASK_BITS[key] = (layer.labels, bits, pixels_to_world(layer))  # the labels held: their id stays theirs
    return _MASK_BITS[key][1:]


def pixels_to_world(layer: MapLayer) -> np.ndarray:
    """The 3x3 matrix from ``layer``'s pixels (column, row) to world (x, y)."""
    scale = 1.0 / layer.pixels_per_meter
    return np.array([[scale, 0.0, layer.origin_x], [0.0, scale, layer.origin_y], [0.0, 0.0, 1.0]])


def light_ids(lights: Sequence[Any]) -> tuple[int, ...]:
    """The Python ids of the traffic ``lights`` objects, in their order (a renderer's :attr:`batch_key`)."""
    return tuple(id(light) for light in lights)


def light_locations(lights: Sequence[Any]) -> np.ndarray:
    """(N, 3): the x, y, z of each of the traffic ``lights``."""
    locations = [light.get_location() for light in lights]
    return np.array([(loc.x, loc.y, loc.z) for loc in locations]).reshape(-1, 3)


#: The locations of the traffic lights of the last lists of them given to renderers (by the very list).
_LIGHT_XYZ: IdentityCache[np.ndarray] = IdentityCache(4)
#: The ids of the traffic lights of those lists (one tuple a list: the batch keys of its renderers compare fast).
_LIGHT_IDS: IdentityCache[tuple[int, ...]] = IdentityCache(4)
#: The labels or mask bits that masks pictures read, as :func:`~.birdview_raster.warp_masks` reads them (by layer).
_MASK_SOURCES: IdentityCache[raster.MaskSource] = IdentityCache(4)


class BirdviewRenderer:
    """Renders BirdView frames of one hero in one world."""

    def __init__(self, world: Any, hero: Any, size: int, radius: float, output: str = "rgb",
                 buildings: bool = False, debug: bool = True, route: bool = False,
                 lights: list | None = None) -> None:
        """``lights``: the traffic lights to draw (default: the world's); a list given is taken to stay as it is
        (its lights' locations are read once for every renderer given that very list)."""
        self.world, self.hero, self.hero_id = world, hero, hero.id
        if cv2.getNumThreads() != 1:  # (see the module docstring)
            cv2.setNumThreads(1)
        shapes = getattr(world.debug, "shapes", None) if debug else None  # the embedded world's record
        self._debug_shapes = shapes if callable(shapes) else None
        self.size, self.radius, self.output = size, radius, output
        self.ppm = size / (2.0 * radius)
        # small pictures: the map drawn at SMOOTH_PPM and averaged down (thin markings stay continuous lines,
        # not a speckle of nearest-neighbour samples), without direction arrows (a pixel blob at this size)
        self.supersample = max(1, math.ceil(SMOOTH_PPM / self.ppm - 1e-9))
        self.layer = map_layer(world.get_map(), self.ppm * self.supersample)
        self.channels = MASK_CHANNELS + ((BUILDING_CHANNEL,) if buildings else ()) + ((ROUTE_CHANNEL,) if route else ())
        self.draws_route = route
        self._progress: RouteProgress | None = None  # the hero's route and how far along it is
        if buildings:
            self.layer = with_buildings(self.layer, world.get_level_bbs(carla.CityObjectLabel.Buildings))
        self._averaged = averaged_layer(self.layer, self.supersample, arrows=self.ppm >= ARROW_MIN_PPM) \
            if self.supersample > 1 and output != "masks" else None
        # masks read the mask bits of a coarse picture, else the labels (flattened for warp_masks, once per layer)
        self._mask_bits = mask_bits_layer(self.layer, self.supersample) \
            if self.supersample > 1 and output == "masks" else None
        if output == "masks":
            labels = self._mask_bits[0] if self._mask_bits is not None else self.layer.labels
            self._mask_source = (_MASK_SOURCES.get(labels, raster.mask_source), pixels_to_world(self.layer))
        self._lights = list(world.get_actors().filter("traffic.traffic_light*") if lights is None else lights)
        # traffic lights stand still: their locations are read once (for a list of them given, once for every
        # renderer given that very list: a batched experiment's heroes, episode after episode)
        self._light_xyz = light_locations(self._lights) if lights is None else _LIGHT_XYZ.get(lights, light_locations)
        self._view = 2.0 * radius  # actors farther than this from the hero are off the picture
        self._scene = actor_scene(world)
        # what each shape paints (see birdview_raster): colours in rgb, 255 in its channel in masks
        self._route_paint = self._shape_paint(ROUTE_COLOUR, ROUTE_CHANNEL if route else None)
        self._ring = self._shape_paint((255, 255, 255), None)  # the lights' rims (rgb only)
        self._light_paints: dict[carla.TrafficLightState, np.ndarray] = {}  # by state, as first drawn
        self._group_paints = np.stack([self._shape_paint(GROUP_COLOURS[group], MASK_GROUPS[group])
                                       for group in DRAW_ORDER])
        self._map_masks = self._map_mask_tables()
        #: Renderers with equal keys are rendered together by :func:`render_many` (one world, one configuration).
        self.batch_key = (id(world), size, radius, output, id(self.layer), debug, route,
                          light_ids(self._lights) if lights is None else _LIGHT_IDS.get(lights, light_ids))

    def _shape_paint(self, colour: tuple[int, int, int], channel: str | None) -> np.ndarray:
        """A shape's paint: ``colour`` in ``rgb``; in ``masks``, 255 in ``channel`` (None: nothing)."""
        if self.output != "masks":
            return np.array(colour, dtype=np.float64)
        paint = np.zeros(len(self.channels))
        if channel is not None:
            paint[self.channels.index(channel)] = 255.0
        return paint

    def _map_mask_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The road, lane-marking and building masks (those this output has) from the map's labels, or for a coarse
        picture :func:`mask_bits_layer`'s bits: which of the 256 values each takes (labels of its kind, or its bit
        set) and its output channel."""
        kinds = ("road", "lane_markings", BUILDING_CHANNEL)
        names = [name for name in kinds if name in self.channels]
        values = np.arange(256)
        if self._mask_bits is None:
            labels = {"road": ROAD_LABELS, "lane_markings": MARKING_LABELS, BUILDING_CHANNEL: values == Label.BUILDING}
            tables = [labels[name] for name in names]
        else:
            tables = [(values >> kinds.index(name)) & 1 > 0 for name in names]
        return (np.array(tables, dtype=np.bool_).reshape(len(names), 256),
                np.array([self.channels.index(name) for name in names], dtype=np.int64))

    def _light_paint(self, state: carla.TrafficLightState) -> np.ndarray:
        """The paint of a traffic light in ``state`` (an unknown state black; off has no mask), made once a state."""
        paint = self._light_paints.get(state)
        if paint is None:
            paint = self._light_paints[state] = self._shape_paint(LIGHT_COLOURS.get(state, (0, 0, 0)),
                                                                  LIGHT_CHANNELS.get(state))
        return paint

    def world_to_view(self, transform: carla.Transform) -> np.ndarray:
        """2x3 affine matrix from world (x, y) to output pixels for the hero ``transform``."""
        location = transform.location
        return self.views(np.array([[location.x, location.y, location.z, transform.rotation.yaw]]))[0]

    def views(self, poses: np.ndarray) -> np.ndarray:
        """(H, 2, 3) affine matrices from world (x, y) to output pixels for heroes at ``poses`` (H, 4): x, y, z,
        yaw (degrees)."""
        yaw = np.radians(poses[:, 3])  # (NumPy's sines and cosines, the pictures' since they were first drawn)
        return raster.hero_views(poses, np.cos(yaw), np.sin(yaw), float(self.ppm), self.size / 2.0,
                                 self.size / 2.0 + self.radius / 2.0 * self.ppm)

    def follow(self, hero: Any) -> None:
        """Draw ``hero`` from now on, in the same world (a renderer kept for a hero's next episode: building one costs
        more than its frame), its route unset."""
        self.hero, self.hero_id, self._progress = hero, hero.id, None

    def set_route(self, progress: RouteProgress | None) -> None:
        """The route to draw from the hero's progress along it (kept up to date by its owner), or None."""
        self._progress = progress

    def route_points(self, renderers: Sequence["BirdviewRenderer"], views: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``renderers`` (this one's configuration) seen through ``views`` (H, 2, 3): the route ahead of
        its hero in view pixels (H, K, 2), and how many of its points to draw (up to the first past the view; below
        2: none), every hero's points placed in one compiled call."""
        reach = int(3.0 * self._view) + 2 if self.draws_route else 0  # route points are about a metre apart
        ahead, counts = np.empty((len(renderers), reach, 2)), np.zeros(len(renderers), dtype=np.int64)  # (read:
        # each hero's first ``counts`` points)
        if not reach:
            return ahead, counts
        routed, chosen = [], []  # the rows of heroes on a route, and their progresses
        for row, renderer in enumerate(renderers):
            if renderer._progress is not None:
                routed.append(row)
                chosen.append(renderer._progress)
        if len(routed) == 1:  # one hero's picture: a slice of its route (rows are for routes drawn together)
            progress = chosen[0]
            points = progress.points[progress.index:progress.index + reach, :2]
            ahead[routed[0], :len(points)], counts[routed[0]] = points, len(points)
        elif routed:  # the next ``reach`` points of each, gathered off the world's rows of routes in one call
            routes = route_rows(self.world)
            rows = routes.sync(chosen)  # (first: it may grow the arrays)
            raster.gather_routes(routes.points, routes.counts, rows,
                                 np.array([progress.index for progress in chosen], dtype=np.int64),
                                 np.array(routed, dtype=np.int64), ahead, counts)
        pixels, ends = np.empty_like(ahead), np.empty_like(counts)  # (every hero's end, its first ``ends`` pixels)
        raster.place_route(ahead, counts, views, self._view + 2.0, pixels, ends)
        return pixels, ends

    def render(self, frame: int | None = None) -> np.ndarray:
        """One frame in the configured output format (the actors as read once for every hero of the world at
        ``frame``; ``None``: read for this call)."""
        return render_many([self], frame)[0]

    def backdrops(self, views: np.ndarray, out: np.ndarray | None = None, cleared: bool = False) -> np.ndarray:
        """The pictures of the map alone seen through each of ``views`` (H, 2, 3), in the output format: (H, S, S,
        3) colours or (H, S, S, channels) masks with the map's (road, lane markings, buildings), in ``out`` (any
        strides; ``cleared``: it holds zeros already, which masks then need not write) where given. Masks read the
        map's labels, or for a coarse picture its mask bits (:func:`mask_bits_layer`), at each picture's pixels in
        one compiled call for all heroes (:func:`~.birdview_raster.warp_masks`, nearest); colours warp the labels
        (nearest) or for a coarse picture the averaged colours (bilinear, four channels) into each picture by
        ``cv2.warpAffine``, then colour them for all heroes at once."""
        layer, size, count = self.layer, self.size, len(views)
        if self.output == "masks":
            source, to_world = self._mask_source
            pictures = np.zeros((count, size, size, len(self.channels)), dtype=np.uint8) if out is None else out
            raster.warp_masks(pictures, source, raster.inverse_maps(views @ to_world),
                              *self._map_masks, out is not None and not cleared)
            return pictures
        source, interpolation, border, to_world = layer.labels, cv2.INTER_NEAREST, 0, pixels_to_world(layer)
        if self._averaged is not None:
            source, _, to_world = self._averaged
            interpolation, border = cv2.INTER_LINEAR, tuple(int(v) for v in PALETTE[Label.BACKGROUND]) + (0,)
        warped = np.empty((count, size, size) + source.shape[2:], dtype=np.uint8)
        for k, forward in enumerate(views @ to_world):
            cv2.warpAffine(source, forward, (size, size), dst=warped[k], flags=interpolation,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=border)
        if self._averaged is None:
            pictures = PALETTE[warped]
        else:
            pictures = cv2.cvtColor(warped.reshape(count * size, size, 4), cv2.COLOR_RGBA2RGB)
        if out is None:
            return pictures.reshape(count, size, size, 3)
        out[...] = pictures.reshape(count, size, size, 3)
        return out

    def light_shapes(self, poses: np.ndarray, views: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The traffic lights near the heroes at ``poses`` (H, 4) seen through ``views``: for each light near a
        hero, hero by hero, the hero's row, the light's centre in its view pixels and the paint of its state (placed in
        one compiled call, each light's state read once)."""
        if not self._lights:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros((0, len(self._ring)))
        heroes, lights, centres = raster.place_points(self._light_xyz, poses, views, self._view + LIGHT_RADIUS)
        by_light: dict[int, np.ndarray] = {}
        for k in lights.tolist():
            if k not in by_light:
                by_light[k] = self._light_paint(self._lights[k].get_state())
        paints = np.array([by_light[k] for k in lights.tolist()]).reshape(len(lights), len(self._ring))
        return heroes, centres, paints

    def actor_shapes(self, hero_ids: np.ndarray, poses: np.ndarray, views: np.ndarray,
                     frame: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The vehicles and walkers near each of the heroes ``hero_ids`` (actor ids) at ``poses`` (H, 4) seen through
        ``views``: the hero's row, the polygon in its view pixels and its group's paint of each, hero by hero in drawing
        order (walkers, vehicles, two-wheelers, the hero on top; the actors read once a frame for every hero of the
        world, placed in one compiled call)."""
        scene = self._scene.at(self.world, frame)
        rows, polygons, ranks = raster.place_polygons(scene.positions, scene.polygons, scene.ranks, scene.ids, poses,
                                                      hero_ids, views, self._view + 10.0, HERO_RANK)
        return rows, polygons, self._group_paints[ranks]

    def draw(self, renderers: Sequence["BirdviewRenderer"], poses: np.ndarray, frame: int | None,
             out: np.ndarray | None = None, cleared: bool = False) -> np.ndarray:
        """The pictures (H, S, S, channels) of ``renderers`` (this one's configuration) of heroes at ``poses`` (H,
        4): the map, then each one's route, the traffic lights and the actors drawn for all of them in compiled
        calls (:mod:`.birdview_raster`), then, in ``rgb``, ``world.debug``'s shapes; drawn into ``out`` (any
        strides, such as the newest frame's channels of frame stacks; ``cleared``: holding zeros) where given."""
        views = self.views(poses)
        pictures = self.backdrops(views, out, cleared)
        binary = self.output == "masks"
        points, counts = self.route_points(renderers, views)
        if self.draws_route:  # (a hero with fewer than 2 points to draw has none drawn)
            raster.draw_routes(pictures, points, counts, max(1, int(round(ROUTE_WIDTH * self.ppm))) / 2.0,
                               ROUTE_TOLERANCE, self._route_paint, binary)
        heroes, centres, paints = self.light_shapes(poses, views)
        if len(heroes):
            raster.draw_discs(pictures, heroes, centres, paints, float(max(1, int(round(LIGHT_RADIUS * self.ppm)))),
                              self._ring, binary)
        heroes, polygons, paints = self.actor_shapes(np.array([renderer.hero_id for renderer in renderers],
                                                              dtype=np.int64), poses, views, frame)
        if len(heroes):
            raster.draw_polygons(pictures, heroes, polygons, paints, binary)
        shapes = self._debug_shapes() if self._debug_shapes is not None and not binary else ()
        if shapes:
            for picture, view in zip(pictures, views):
                drawn = picture if picture.flags.c_contiguous else picture.copy()  # (OpenCV draws into contiguous ones)
                self._draw_debug(drawn, view, shapes)
                if drawn is not picture:
                    picture[...] = drawn
        return pictures

    def _draw_debug(self, image: np.ndarray, world_to_view: np.ndarray, shapes: Sequence[Any]) -> None:
        """Draw ``world.debug``'s live ``shapes`` (sizes in metres, at least a pixel)."""
        for shape in shapes:
            points = np.array([(x, y, 1.0) for x, y, _ in shape.points]) @ world_to_view.T
            pixels = [tuple(int(round(v)) for v in p) for p in points]
            width = max(1, int(round(shape.size * self.ppm)))
            if shape.kind == "point":
                cv2.circle(image, pixels[0], max(1, width // 2), shape.color, -1, cv2.LINE_AA)
            elif shape.kind == "line":
                cv2.line(image, pixels[0], pixels[1], shape.color, width, cv2.LINE_AA)
            elif shape.kind == "arrow":
                cv2.arrowedLine(image, pixels[0], pixels[1], shape.color, width, cv2.LINE_AA, tipLength=0.3)
            elif shape.kind == "box":
                hull = cv2.convexHull(np.round(points).astype(np.int32))
                cv2.polylines(image, [hull], True, shape.color, width, cv2.LINE_AA)
            elif shape.kind == "string" and self.size >= TEXT_MIN_SIZE:
                cv2.putText(image, shape.text, pixels[0], cv2.FONT_HERSHEY_SIMPLEX, self.size / 800.0, shape.color,
                            1, cv2.LINE_AA)


def render_many(renderers: Sequence[BirdviewRenderer], frame: int | None = None,
                poses: np.ndarray | None = None) -> list[np.ndarray]:
    """What each renderer's :meth:`BirdviewRenderer.render` gives, for many heroes' renderers at once: those of
    one world and one configuration (equal :attr:`BirdviewRenderer.batch_key`) are drawn together
    (:meth:`BirdviewRenderer.draw`: the traffic lights and actors near each found in one pass, each light's state
    read once, every picture's shapes drawn in one compiled call a kind); the others group by group the same way.
    ``poses`` (len(renderers), 4): each hero's x, y, z and yaw as its ``get_transform`` gives them, where the caller
    has read them already (a batched experiment's kinematics); otherwise each hero's transform is read."""
    frames: list[np.ndarray | None] = [None] * len(renderers)
    batches: dict[tuple, list[int]] = {}
    for index, renderer in enumerate(renderers):
        batches.setdefault(renderer.batch_key, []).append(index)
    for indices in batches.values():
        members = [renderers[k] for k in indices]
        first = members[0]
        if poses is None:
            transforms = [renderer.hero.get_transform() for renderer in members]
            at = np.array([(t.location.x, t.location.y, t.location.z, t.rotation.yaw) for t in transforms])
        else:
            at = np.asarray(poses, dtype=np.float64)[indices]
        for k, picture in zip(indices, first.draw(members, at, frame)):
            frames[k] = picture
    return frames


def render_stacked(renderers: Sequence[BirdviewRenderer], frame: int | None, poses: np.ndarray,
                   out: np.ndarray | None = None, cleared: bool = False) -> np.ndarray:
    """:func:`render_many`'s pictures as one array (H, S, S, channels), or in ``out`` (any strides; ``cleared``: it
    holds zeros already) where given: drawn straight into it where the renderers share one configuration (one
    :attr:`BirdviewRenderer.batch_key`, as a batched experiment's do)."""
    key = renderers[0].batch_key if renderers else None  # (a batched experiment's renderers share their lights' ids:
    if key is not None and all(renderer.batch_key == key for renderer in renderers):  # equal keys compare fast)
        return renderers[0].draw(renderers, np.asarray(poses, dtype=np.float64), frame, out, cleared)
    pictures = np.stack(render_many(renderers, frame, poses))
    if out is None:
        return pictures
    out[...] = pictures
    return out


class ActorScene(PerFrame):
    """The vehicles and walkers of one world at one frame as world-frame polygons, read once per frame for
    every hero's BirdView (the heroes of a world share it)."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.positions = np.zeros((0, 2))  # each drawn actor's location (x, y)
        self.polygons = np.zeros((0, 5, 2))  # and its polygon's corners in world (x, y)
        self.ranks = np.zeros(0, dtype=np.int64)  # each one's group's place in DRAW_ORDER (walkers, vehicles, ...)
        self._facts: dict[int, tuple] = {}  # actor id -> (group, local polygon), ("", None) for one not drawn
        self._layout: tuple | None = None  # the ids last read, the rows of those drawn, their ranks, polygons, ids

    def read(self, world: Any) -> None:
        poses = getattr(world, "actor_poses", None)  # the embedded world reads every pose in one call
        ids, poses = poses() if callable(poses) else self._poses_one_by_one(world)
        if self._layout is None or not same_ids(self._layout[0], ids):  # actors came or went: what to draw
            forget_gone(self._facts, ids.tolist())
            facts = [(k, self._drawing_facts(world, actor_id)) for k, actor_id in enumerate(ids.tolist())]
            facts = [(k, group, local) for k, (group, local) in facts if group]
            rows = np.array([k for k, _, _ in facts], dtype=np.int64)
            self._layout = (ids if not ids.flags.writeable else ids.copy(), rows,
                            np.array([DRAW_ORDER.index(group) for _, group, _ in facts], dtype=np.int64),
                            np.array([local for _, _, local in facts]) if facts else np.zeros((0, 5, 2)), ids[rows])
        _, rows, self.ranks, local, self.ids = self._layout  # local: (K, 5, 2)
        self.positions, self.polygons = np.empty((len(rows), 2)), np.empty((len(rows), 5, 2))
        yaws = poses[rows, 2]
        raster.world_polygons(poses, rows, np.cos(yaws), np.sin(yaws), local, self.positions, self.polygons)

    def _poses_one_by_one(self, world: Any) -> tuple[np.ndarray, np.ndarray]:
        """Ids and (x, y, yaw radians) of the actors drawn, read actor by actor (a CARLA server's world)."""
        ids, poses = [], []
        actors = list(world.get_actors())
        forget_gone(self._facts, {actor.id for actor in actors})
        for actor in actors:
            if self._drawing_facts(world, actor.id, actor)[0]:
                t = actor.get_transform()
                ids.append(actor.id)
                poses.append((t.location.x, t.location.y, math.radians(t.rotation.yaw)))
        return np.array(ids, dtype=np.int64), np.array(poses).reshape(-1, 3)

    def _drawing_facts(self, world: Any, actor_id: int, actor: Any = None) -> tuple:
        """``(group, local polygon)`` of an actor, ``("", None)`` for one not drawn (cached by id)."""
        facts = self._facts.get(actor_id)
        if facts is None:
            actor = actor if actor is not None else world.get_actor(actor_id)
            facts = self._facts[actor_id] = (describe(actor) if actor is not None else None) or ("", None)
        return facts


def describe(actor: Any) -> tuple[str, np.ndarray] | None:
    """Static drawing facts of an actor: its group and its polygon of 5 points in the actor's frame
    (vehicles: the original's arrow; walkers: a rectangle twice their box, one side split in two), or None."""
    type_id = actor.type_id
    box = actor.bounding_box
    ex, ey = box.extent.x, box.extent.y
    if type_id.startswith("walker.pedestrian"):
        group = "walkers"
        local = np.array([(-2 * ex, -2 * ey), (2 * ex, -2 * ey), (2 * ex, 0.0), (2 * ex, 2 * ey),
                          (-2 * ex, 2 * ey)])
    elif type_id.startswith("vehicle."):
        group = "two_wheelers" if actor.attributes.get("number_of_wheels") == "2" else "vehicles"
        local = np.array([(-ex, -ey), (-ex, ey), (ex - 0.8, ey), (ex, 0.0), (ex - 0.8, -ey)])
    else:
        return None
    return group, local + np.array([box.location.x, box.location.y])


#: Each world's actor scene (the very world object: the heroes of one world share it), kept while the world is.
actor_scene: PerWorld[ActorScene] = PerWorld(ActorScene)


def output_channels(attributes: Mapping[str, Any]) -> int:
    """Channels of the pictures a ``sensor.birdview`` with ``attributes`` gives: 3 (``rgb``), or one per mask
    (``masks``: :data:`MASK_CHANNELS`, and the buildings and route channels where they are asked for)."""
    if attributes.get("output", "rgb") != "masks":
        return 3
    return len(MASK_CHANNELS) + bool(attributes.get("buildings", False)) + bool(attributes.get("route", False))


def configured_renderer(attributes: Mapping[str, Any], world: Any, hero: Any,
                        lights: list | None = None) -> BirdviewRenderer:
    """The renderer of a ``sensor.birdview`` with ``attributes`` (checked, defaults left out) on ``hero``: what the
    sensor renders, for code that renders it itself (a batched experiment); ``lights`` as
    :class:`BirdviewRenderer` takes them."""
    get = attributes.get
    return BirdviewRenderer(world, hero, get("size", 84), float(get("radius", 15.0)), get("output", "rgb"),
                            get("buildings", False), get("debug", True), get("route", False), lights)


class BirdviewSensor(PseudoSensor):
    """``sensor.birdview``: renders one frame per simulator frame, synchronously, when the
    sensor interface collects that frame."""

    KIND = "BirdView"
    ATTRIBUTES = frozenset({"size", "radius", "output", "buildings", "debug", "route"})

    @classmethod
    def check_attributes(cls, where: str, attributes: Mapping[str, Any]) -> None:
        size, radius = attributes.get("size", 84), attributes.get("radius", 15.0)
        if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
            raise ConfigError(f"{where}.size: expected a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got "
                              f"{size!r}.")
        if not isinstance(radius, (int, float)) or isinstance(radius, bool) or not 0 < radius <= MAX_RADIUS:
            raise ConfigError(f"{where}.radius: expected metres above 0 and at most {MAX_RADIUS:g}, got {radius!r}.")
        if attributes.get("output", "rgb") not in ("rgb", "masks"):
            raise ConfigError(f"{where}.output: expected 'rgb' or 'masks', got {attributes['output']!r}.")
        for key, default in (("buildings", False), ("debug", True), ("route", False)):
            if not isinstance(attributes.get(key, default), bool):
                raise ConfigError(f"{where}.{key}: expected true or false, got {attributes[key]!r}.")

    def __init__(self, name: str, attributes: Mapping[str, Any], interface: Any, parent: Any) -> None:
        super().__init__(name, attributes, interface, parent)
        self.renderer = configured_renderer(self.attributes, parent.get_world(), parent)

    def set_route(self, progress: RouteProgress | None) -> None:
        """The hero's progress along its route (drawn with ``route: true``)."""
        self.renderer.set_route(progress)

    def compute(self, frame: int) -> None:
        self.update_sensor(self.renderer.render(frame), frame)

    def parse(self, data: np.ndarray) -> np.ndarray:
        return data
