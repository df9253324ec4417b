"""OpenStreetMap data built in code and converted to OpenDRIVE by ``carla.Osm2Odr``: what the procedural
and the random towns (:mod:`.procedural`, :mod:`.random_towns`) are made of.

Coordinates are local metres projected with an explicit transverse Mercator at (0, 0), so
geo-references work offline (libcarla ships no proj.db).
"""

from __future__ import annotations

import os
from xml.sax.saxutils import quoteattr

import carla

#: Metres per degree of latitude on the projection sphere used by the conversion.
_METRES_PER_DEGREE = 111319.49


class OsmBuilder:
    """Collects nodes and ways and writes OSM XML."""

    def __init__(self) -> None:
        self.nodes: list[tuple[int, float, float, dict[str, str]]] = []
        self.ways: list[tuple[list[int], dict[str, str]]] = []

    def node(self, x: float, y: float, **tags: str) -> int:
        node_id = len(self.nodes) + 1
        self.nodes.append((node_id, x, y, tags))
        return node_id

    def way(self, node_ids: list[int], **tags: str) -> None:
        self.ways.append((node_ids, tags))

    def xml(self) -> str:
        lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6' generator='rllib_integration'>"]
        for node_id, x, y, tags in self.nodes:
            lat, lon = y / _METRES_PER_DEGREE, x / _METRES_PER_DEGREE
            body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append(f"<node id='{node_id}' visible='true' lat='{lat:.9f}' lon='{lon:.9f}'>{body}</node>")
        for index, (node_ids, tags) in enumerate(self.ways, start=1):
            refs = "".join(f"<nd ref='{n}'/>" for n in node_ids)
            body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append(f"<way id='{index}' visible='true'>{refs}{body}</way>")
        lines.append("</osm>")
        return "\n".join(lines)


def osm_to_opendrive(osm_xml: str) -> str:
    """Convert OSM XML to OpenDRIVE text with ``carla.Osm2Odr``, silencing its C++ chatter."""
    settings = carla.Osm2OdrSettings()
    settings.use_offsets = False
    settings.center_map = False
    settings.proj_string = "+proj=tmerc +lat_0=0 +lon_0=0 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    settings.generate_traffic_lights = True
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            return carla.Osm2Odr.convert(osm_xml, settings)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
