"""The map raster: a map rendered once into a label image and cached (the BirdView's static layer,
the embedded cameras' ground texture).

The layer is a uint8 image whose pixels hold a :class:`Label` (road, shoulder, sidewalk, lane
marking colours, direction arrows, stop lines). One label image serves the BirdView outputs (the
RGB picture through :data:`PALETTE`, the binary masks) and the embedded world's sensors (the
semantic tag of each label, :data:`LABEL_TAGS`). It is drawn with NumPy/OpenCV
from the carla map API only (so a real server's map works the same), once per map and process,
and cached on disk in the user cache folder keyed by the SHA-1 of the OpenDRIVE text.

Content follows CARLA's ``no_rendering_mode.py`` as the original did: shoulders and parking lanes,
sidewalks, driving lanes, solid/broken/double lane markings in their colours (outside junctions),
direction arrows every 20 m, and stop/yield lines from the map's landmarks.
"""

from __future__ import annotations

import collections
import enum
import json
import logging
import math
import os
from dataclasses import dataclass

import carla
import cv2
import numpy as np

from .map_cache import map_digest, map_stem

logger = logging.getLogger(__name__)

MARGIN = 50.0  # metres around the road network
MAX_SIDE = 16383  # largest side of the layer in pixels, as the original
TRACE_STEP = 0.25  # metres between traced waypoints
VERSION = 3  # of the drawing below; part of the disk cache's file names


class Label(enum.IntEnum):
    """Pixel classes of the static layer and the dynamic BirdView."""

    BACKGROUND = 0
    SHOULDER = 1
    SIDEWALK = 2
    ROAD = 3
    MARKING_WHITE = 4
    MARKING_YELLOW = 5
    MARKING_BLUE = 6
    MARKING_GREEN = 7
    MARKING_RED = 8
    MARKING_OTHER = 9
    ARROW = 10
    STOP_LINE = 11
    BUILDING = 12  # drawn only where asked (the BirdView's ``buildings`` option)


#: Label -> RGB colour (the original's Tango palette).
PALETTE = np.zeros((256, 3), dtype=np.uint8)
PALETTE[list(Label)] = [(85, 87, 83), (66, 62, 64), (136, 138, 133), (46, 52, 54), (186, 189, 182),
                        (252, 175, 62), (114, 159, 207), (138, 226, 52), (239, 41, 41), (0, 0, 0),
                        (186, 189, 182), (186, 189, 182), (143, 89, 2)]

#: Label -> CARLA semantic tag (``carla.CityObjectLabel``) of what a camera sees there.
LABEL_TAGS = np.zeros(256, dtype=np.uint8)
LABEL_TAGS[[Label.BACKGROUND, Label.SHOULDER, Label.SIDEWALK, Label.ROAD]] = [
    int(carla.CityObjectLabel.Terrain), int(carla.CityObjectLabel.Roads), int(carla.CityObjectLabel.Sidewalks),
    int(carla.CityObjectLabel.Roads)]
LABEL_TAGS[[Label.MARKING_WHITE, Label.MARKING_YELLOW, Label.MARKING_BLUE, Label.MARKING_GREEN, Label.MARKING_RED,
            Label.MARKING_OTHER, Label.ARROW, Label.STOP_LINE]] = int(carla.CityObjectLabel.RoadLines)
LABEL_TAGS[Label.BUILDING] = int(carla.CityObjectLabel.Buildings)

ROAD_LABELS = np.array([Label.ROAD <= label <= Label.STOP_LINE for label in range(256)])
MARKING_LABELS = np.array([Label.MARKING_WHITE <= label <= Label.MARKING_OTHER for label in range(256)])

_MARKING_COLOUR = {carla.LaneMarkingColor.White: Label.MARKING_WHITE,
                   carla.LaneMarkingColor.Yellow: Label.MARKING_YELLOW,
                   carla.LaneMarkingColor.Blue: Label.MARKING_BLUE,
                   carla.LaneMarkingColor.Green: Label.MARKING_GREEN,
                   carla.LaneMarkingColor.Red: Label.MARKING_RED}
_DOUBLE = {carla.LaneMarkingType.SolidSolid: ("solid", "solid"),
           carla.LaneMarkingType.SolidBroken: ("solid", "broken"),
           carla.LaneMarkingType.BrokenSolid: ("broken", "solid"),
           carla.LaneMarkingType.BrokenBroken: ("broken", "broken")}
_SIDE_LANES = {carla.LaneType.Shoulder: Label.SHOULDER, carla.LaneType.Parking: Label.SHOULDER,
               carla.LaneType.Biking: Label.SHOULDER, carla.LaneType.Sidewalk: Label.SIDEWALK}


@dataclass
class MapLayer:
    """A rendered static layer: ``labels[row, col]`` covers world ``(x, y)`` with
    ``col = (x - origin_x) * pixels_per_meter`` and ``row = (y - origin_y) * pixels_per_meter``."""

    labels: np.ndarray
    origin_x: float
    origin_y: float
    pixels_per_meter: float


class _Trace:
    """Arrays along one lane: centre points, right vectors, widths and the waypoints."""

    def __init__(self, waypoints: list[carla.Waypoint]) -> None:
        self.waypoints = waypoints
        transforms = [w.transform for w in waypoints]
        self.points = np.array([(t.location.x, t.location.y) for t in transforms])
        yaw = np.radians([t.rotation.yaw for t in transforms])
        self.forward = np.stack([np.cos(yaw), np.sin(yaw)], axis=1)
        self.right = np.stack([-np.sin(yaw), np.cos(yaw)], axis=1)
        self.width = np.array([w.lane_width for w in waypoints])

    def edge(self, side: float, offset: float = 0.0) -> np.ndarray:
        """Points along the left (side=-1) or right (side=+1) edge, moved ``offset`` m inwards."""
        return self.points + self.right * (side * (self.width / 2.0 - offset))[:, None]


class MapRenderer:
    """Draws the label layer of a map."""

    def __init__(self, town_map: carla.Map, pixels_per_meter: float) -> None:
        self.map = town_map
        waypoints = town_map.generate_waypoints(2.0)
        xs = [w.transform.location.x for w in waypoints]
        ys = [w.transform.location.y for w in waypoints]
        self.origin_x, self.origin_y = min(xs) - MARGIN, min(ys) - MARGIN
        width_m, height_m = max(xs) + MARGIN - self.origin_x, max(ys) + MARGIN - self.origin_y
        self.ppm = min(pixels_per_meter, (MAX_SIDE - 1) / max(width_m, height_m))
        self.labels = np.full((int(math.ceil(height_m * self.ppm)) + 1, int(math.ceil(width_m * self.ppm)) + 1),
                              Label.BACKGROUND, dtype=np.uint8)

    def pixels(self, points: np.ndarray) -> np.ndarray:
        """World (x, y) -> fixed-point pixel coordinates (4 fractional bits) for OpenCV."""
        scaled = np.stack([(points[:, 0] - self.origin_x), (points[:, 1] - self.origin_y)], axis=1) * self.ppm
        return np.round(scaled * 16.0).astype(np.int32)

    def _polygon(self, left: np.ndarray, right: np.ndarray, label: Label) -> None:
        polygon = self.pixels(np.concatenate([left, right[::-1]]))
        cv2.fillPoly(self.labels, [polygon], int(label), lineType=cv2.LINE_8, shift=4)

    def _line(self, points: np.ndarray, label: Label, width_m: float) -> None:
        thickness = max(1, int(round(width_m * self.ppm)))
        cv2.polylines(self.labels, [self.pixels(points)], False, int(label), thickness, cv2.LINE_8, shift=4)

    def render(self) -> MapLayer:
        traces = self._lane_traces()
        for trace in traces:  # shoulders, parking lanes and sidewalks beside the driving lanes
            self._side_lanes(trace)
        for trace in traces:
            self._polygon(trace.edge(-1.0), trace.edge(1.0), Label.ROAD)
        for trace in traces:
            if not trace.waypoints[0].is_junction:
                self._markings(trace)
                self._arrows(trace)
        self._stop_lines()
        return MapLayer(self.labels, self.origin_x, self.origin_y, self.ppm)

    def _lane_traces(self) -> list[_Trace]:
        """A trace per driving lane segment: the topology's, and those it leaves out (a map without
        junctions has no topology at all)."""
        starts = [start for start, _ in self.map.get_topology()]
        covered = {(w.road_id, w.section_id, w.lane_id) for w in starts}
        first: dict[tuple[int, int, int], carla.Waypoint] = {}
        for waypoint in self.map.generate_waypoints(2.0):  # the lane's first along its direction
            key = (waypoint.road_id, waypoint.section_id, waypoint.lane_id)
            known = first.get(key)
            if key not in covered and (known is None or (waypoint.s < known.s) == (waypoint.lane_id < 0)):
                first[key] = waypoint
        starts += first.values()
        traces = []
        for start in starts:
            waypoints = [start] + start.next_until_lane_end(TRACE_STEP)
            if len(waypoints) >= 2:
                traces.append(_Trace(waypoints))
        return traces

    def _side_lanes(self, trace: _Trace) -> None:
        for step in (carla.Waypoint.get_left_lane, carla.Waypoint.get_right_lane):
            runs: dict[tuple[int, Label], list[carla.Waypoint]] = {}
            for waypoint in trace.waypoints:
                lane, depth = step(waypoint), 0
                while lane is not None and lane.lane_type in _SIDE_LANES and depth < 4:
                    runs.setdefault((depth, _SIDE_LANES[lane.lane_type]), []).append(lane)
                    lane, depth = step(lane), depth + 1
            for (_, label), lanes in sorted(runs.items(), key=lambda item: item[0][0]):
                if len(lanes) >= 2:
                    side = _Trace(lanes)
                    self._polygon(side.edge(-1.0), side.edge(1.0), label)

    def _markings(self, trace: _Trace) -> None:
        for side, attribute in ((-1.0, "left_lane_marking"), (1.0, "right_lane_marking")):
            marking = getattr(trace.waypoints[0], attribute)
            if marking is None or marking.type in (carla.LaneMarkingType.NONE, carla.LaneMarkingType.Grass,
                                                   carla.LaneMarkingType.Curb):
                continue
            label = _MARKING_COLOUR.get(marking.color, Label.MARKING_OTHER)
            if marking.type in _DOUBLE:
                for offset, style in zip((-0.25, 0.25), _DOUBLE[marking.type]):
                    self._marking_line(trace.edge(side, offset * side), style, label)
            else:
                style = "broken" if marking.type == carla.LaneMarkingType.Broken else "solid"
                self._marking_line(trace.edge(side), style, label)

    def _marking_line(self, points: np.ndarray, style: str, label: Label) -> None:
        if style == "solid":
            self._line(points, label, 0.25)
            return
        per_metre = int(round(1.0 / TRACE_STEP))  # dashes of 1 m every 3 m, as the original
        for start in range(0, len(points) - 1, 3 * per_metre):
            self._line(points[start:start + per_metre + 1], label, 0.25)

    def _arrows(self, trace: _Trace) -> None:
        every = int(round(20.0 / TRACE_STEP))
        for index in range(every // 2, len(trace.points), every):
            end, forward, right = trace.points[index], trace.forward[index], trace.right[index]
            start = end + 2.0 * forward  # the head points along the lane
            head = np.array([start - 0.8 * forward + 0.4 * right, start, start - 0.8 * forward - 0.4 * right])
            self._line(np.array([end, start]), Label.ARROW, 0.4)
            self._line(head, Label.ARROW, 0.4)

    def _stop_lines(self) -> None:
        for landmark in self.map.get_all_landmarks():
            if landmark.type not in ("206", "205"):  # stop, yield
                continue
            for from_lane, to_lane in landmark.get_lane_validities():
                for lane_id in range(from_lane, to_lane + 1):
                    if lane_id == 0:
                        continue
                    waypoint = self.map.get_waypoint_xodr(landmark.road_id, lane_id, landmark.s)
                    if waypoint is None or waypoint.lane_type != carla.LaneType.Driving:
                        continue
                    trace = _Trace([waypoint])
                    self._line(np.concatenate([trace.edge(-1.0), trace.edge(1.0)]), Label.STOP_LINE, 0.3)


_LAYERS: dict[tuple[str, float], MapLayer] = {}
#: Renders and disk loads, in all and by resolution (``renders@10`` for 10 px/m), for tests and logs.
RENDER_COUNT: collections.Counter = collections.Counter()


def map_layer(town_map: carla.Map, pixels_per_meter: float) -> MapLayer:
    """The static layer of ``town_map`` at ``pixels_per_meter``: from this process's cache, else
    from the disk cache, else rendered (and saved)."""
    key = (map_digest(town_map), round(pixels_per_meter, 4))
    if key in _LAYERS:
        return _LAYERS[key]
    stem = f"{map_stem(town_map, 'birdview', str(VERSION))}_{key[1]:g}ppm"
    layer = _load(stem)
    if layer is None:
        layer = MapRenderer(town_map, pixels_per_meter).render()
        RENDER_COUNT["renders"] += 1
        RENDER_COUNT[f"renders@{key[1]:g}"] += 1
        _save(stem, layer)
    _LAYERS[key] = layer
    return layer


def _load(stem: str) -> MapLayer | None:
    try:
        with open(stem + ".json", encoding="utf-8") as stream:
            meta = json.load(stream)
        labels = cv2.imread(stem + ".png", cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError):
        return None
    if labels is None or labels.ndim != 2:
        return None
    RENDER_COUNT["disk_loads"] += 1
    RENDER_COUNT[f"disk_loads@{meta['pixels_per_meter']:g}"] += 1
    return MapLayer(labels, meta["origin_x"], meta["origin_y"], meta["pixels_per_meter"])


def _save(stem: str, layer: MapLayer) -> None:
    """Write the image, then its metadata, each atomically: a reader that finds the metadata
    finds a whole image, also with concurrent workers."""
    temporary = f"{stem}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        if not cv2.imwrite(temporary + ".png", layer.labels):
            raise OSError("cv2.imwrite failed")
        with open(temporary + ".json", "w", encoding="utf-8") as stream:
            json.dump({"origin_x": layer.origin_x, "origin_y": layer.origin_y,
                       "pixels_per_meter": layer.pixels_per_meter}, stream)
        os.replace(temporary + ".png", stem + ".png")
        os.replace(temporary + ".json", stem + ".json")
    except OSError as error:
        logger.warning("could not cache the BirdView map layer at %s: %s", stem, error)


def with_buildings(layer: MapLayer, boxes: list[carla.BoundingBox]) -> MapLayer:
    """A copy of ``layer`` with the footprints of ``boxes`` (world-space building boxes, as
    ``world.get_level_bbs(carla.CityObjectLabel.Buildings)`` gives them) drawn as :attr:`Label.BUILDING`."""
    labels = layer.labels.copy()
    for box in boxes:
        yaw = math.radians(box.rotation.yaw)
        c, s = math.cos(yaw), math.sin(yaw)
        corners = [(box.location.x + c * dx - s * dy, box.location.y + s * dx + c * dy)
                   for dx, dy in ((box.extent.x, box.extent.y), (box.extent.x, -box.extent.y),
                                  (-box.extent.x, -box.extent.y), (-box.extent.x, box.extent.y))]
        polygon = np.array([((x - layer.origin_x) * layer.pixels_per_meter * 16, (y - layer.origin_y)
                             * layer.pixels_per_meter * 16) for x, y in corners], dtype=np.int32)
        cv2.fillConvexPoly(labels, polygon, int(Label.BUILDING), cv2.LINE_8, shift=4)
    return MapLayer(labels, layer.origin_x, layer.origin_y, layer.pixels_per_meter)
