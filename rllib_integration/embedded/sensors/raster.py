"""The cameras' rasterizer, compiled with numba: the scene drawn primitive by primitive into a depth buffer.

Each oriented box (an actor, a traffic-light head, a static object) is projected: its faces that look at the
camera are scanned over the pixels their projected polygons cover (pixel centres, edge functions; a face
reaching behind the camera is first clipped at a plane just in front of it), and a pixel takes the face when
the face's depth there, computed exactly from the face's plane along the pixel's ray, is nearer than what the
pixel holds. Then every pixel the boxes left farther than the ground takes the ground (the plane at the ground
height under the camera, textured by the map's labels) or the sky. The same picture as casting a ray per pixel, at the cost of the covered area instead of a search.

Outputs per pixel: planar depth (along the optical axis), the box (-1: ground or sky), the face (0-5: -x, +x,
-y, +y, -z, +z of the box; 6 ground, 7 sky), the semantic tag and the RGB colour (boxes shaded by their face's
normal, the ground in the map's palette, the sky a gradient).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

GROUND, SKY = 6, 7  # face codes of the ground and the sky
NEAR = 0.05  # metres: corners nearer than this to the camera plane make a box "partly behind"
LIGHT = (0.3, -0.4, 0.87)  # the shading direction (not normalised, as the ray-cast cameras had it)
#: Local normal of each face code 0-5.
FACE_NORMALS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]], np.float64)
#: Corner indices (of the 8 corners, sign bits x, y, z) of each face, in order around it.
FACE_CORNERS = np.array([[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]],
                        np.int64)


@njit(cache=True)
def _corner(centre, c, s, extent, index):
    lx = extent[0] * (1.0 if index & 4 else -1.0)
    ly = extent[1] * (1.0 if index & 2 else -1.0)
    lz = extent[2] * (1.0 if index & 1 else -1.0)
    return centre[0] + c * lx - s * ly, centre[1] + s * lx + c * ly, centre[2] + lz


@njit(cache=True)
def _to_camera(x, y, z, origin, rotation):
    """World point -> camera frame (forward, right, up)."""
    dx, dy, dz = x - origin[0], y - origin[1], z - origin[2]
    return (rotation[0, 0] * dx + rotation[1, 0] * dy + rotation[2, 0] * dz,
            rotation[0, 1] * dx + rotation[1, 1] * dy + rotation[2, 1] * dz,
            rotation[0, 2] * dx + rotation[1, 2] * dy + rotation[2, 2] * dz)


@njit(cache=True)
def _clip_near(polygon, count, out):
    """The polygon (camera frame, ``count`` vertices) clipped to the half-space forward >= NEAR, into ``out``;
    returns its vertex count (Sutherland-Hodgman against one plane)."""
    kept = 0
    for i in range(count):
        j = (i + 1) % count
        ai, aj = polygon[i, 0] - NEAR, polygon[j, 0] - NEAR
        if ai >= 0.0:
            out[kept, 0], out[kept, 1], out[kept, 2] = polygon[i, 0], polygon[i, 1], polygon[i, 2]
            kept += 1
        if (ai >= 0.0) != (aj >= 0.0):
            r = ai / (ai - aj)
            for axis in range(3):
                out[kept, axis] = polygon[i, axis] + r * (polygon[j, axis] - polygon[i, axis])
            kept += 1
    return kept


@njit(cache=True)
def _scan_polygon(width, height, focal, us, vs, count, nearest, nx, ny, nz, h, pixel_depth, which, face, k, f):
    """The pixels whose centres lie inside the projected convex polygon (``count`` vertices us, vs), row by
    row between its edges; a pixel already nearer than the polygon's ``nearest`` depth is passed over, else its
    depth comes from the face's plane n . X = h (camera frame) along its ray (forward component 1)."""
    v_low, v_high = vs[0], vs[0]
    for i in range(1, count):
        v_low, v_high = min(v_low, vs[i]), max(v_high, vs[i])
    v0, v1 = max(int(math.ceil(v_low - 0.5)), 0), min(int(math.floor(v_high - 0.5)), height - 1)
    for row in range(v0, v1 + 1):
        pv = row + 0.5
        left, right = np.inf, -np.inf
        for i in range(count):
            j = (i + 1) % count
            a, b = vs[i], vs[j]
            if (a <= pv <= b or b <= pv <= a) and a != b:
                u = us[i] + (pv - a) * (us[j] - us[i]) / (b - a)
                left, right = min(left, u), max(right, u)
        if left > right:
            continue
        u0, u1 = max(int(math.ceil(left - 0.5)), 0), min(int(math.floor(right - 0.5)), width - 1)
        cv = -(pv - height / 2.0) / focal
        base = row * width
        for col in range(u0, u1 + 1):
            pixel = base + col
            if pixel_depth[pixel] <= nearest:
                continue
            cu = (col + 0.5 - width / 2.0) / focal
            denominator = nx + ny * cu + nz * cv
            if abs(denominator) < 1e-12:
                continue
            t = h / denominator
            if 0.0 < t < pixel_depth[pixel]:
                pixel_depth[pixel], which[pixel], face[pixel] = t, k, f


@njit(cache=True)
def draw_boxes(width, height, focal, origin, rotation, centre, yaw, extent, order, depth, which, face):
    """The boxes, in ``order`` (nearest first, so hidden faces are passed over quickly), into the depth, box and
    face buffers (flat, ``height * width``)."""
    us, vs = np.empty(8), np.empty(8)
    cam = np.empty((8, 3))
    polygon, clipped = np.empty((4, 3)), np.empty((8, 3))
    for k in order:
        c, s = math.cos(yaw[k]), math.sin(yaw[k])
        behind = 0
        u_low, u_high, v_low, v_high = np.inf, -np.inf, np.inf, -np.inf
        for index in range(8):
            x, y, z = _corner(centre[k], c, s, extent[k], index)
            cam[index, 0], cam[index, 1], cam[index, 2] = _to_camera(x, y, z, origin, rotation)
            if cam[index, 0] < NEAR:
                behind += 1
            else:
                u = width / 2.0 + focal * cam[index, 1] / cam[index, 0]
                v = height / 2.0 - focal * cam[index, 2] / cam[index, 0]
                u_low, u_high, v_low, v_high = min(u_low, u), max(u_high, u), min(v_low, v), max(v_high, v)
        if behind == 8 or behind == 0 and (u_high < 0.0 or u_low > width or v_high < 0.0 or v_low > height):
            continue  # behind the camera, or beside the picture
        for f in range(6):
            # the face's outward normal and a point on it, in the camera frame
            lx, ly, lz = FACE_NORMALS[f, 0], FACE_NORMALS[f, 1], FACE_NORMALS[f, 2]
            wx, wy, wz = c * lx - s * ly, s * lx + c * ly, lz
            nx = rotation[0, 0] * wx + rotation[1, 0] * wy + rotation[2, 0] * wz
            ny = rotation[0, 1] * wx + rotation[1, 1] * wy + rotation[2, 1] * wz
            nz = rotation[0, 2] * wx + rotation[1, 2] * wy + rotation[2, 2] * wz
            first = FACE_CORNERS[f, 0]
            h = nx * cam[first, 0] + ny * cam[first, 1] + nz * cam[first, 2]
            if h >= 0.0:  # the camera is behind the face's plane: it looks away
                continue
            for i in range(4):
                corner = FACE_CORNERS[f, i]
                polygon[i, 0], polygon[i, 1], polygon[i, 2] = cam[corner, 0], cam[corner, 1], cam[corner, 2]
            count = _clip_near(polygon, 4, clipped) if behind else 4
            source = clipped if behind else polygon
            if count < 3:
                continue
            nearest = np.inf
            for i in range(count):
                us[i] = width / 2.0 + focal * source[i, 1] / source[i, 0]
                vs[i] = height / 2.0 - focal * source[i, 2] / source[i, 0]
                nearest = min(nearest, source[i, 0])
            _scan_polygon(width, height, focal, us, vs, count, nearest, nx, ny, nz, h, depth, which, face, k, f)


@njit(cache=True, error_model="numpy")
def shade(width, height, focal, origin, rotation, ground_z, max_depth, depth, which, face, yaw, box_colour,
          box_tag, labels, layer_x, layer_y, ppm, palette, label_tags, background, sky_top, sky_horizon, sky_tag,
          rgb, tags):
    """Ground, sky and colours: every pixel the boxes left farther than the ground takes the ground (or the sky
    where no surface is within ``max_depth``); then its colour and tag."""
    rows, cols = labels.shape
    for pixel in range(width * height):
        row, col = pixel // width, pixel % width
        cu, cv = (col + 0.5 - width / 2.0) / focal, -(row + 0.5 - height / 2.0) / focal
        dx = rotation[0, 0] + rotation[0, 1] * cu + rotation[0, 2] * cv
        dy = rotation[1, 0] + rotation[1, 1] * cu + rotation[1, 2] * cv
        dz = rotation[2, 0] + rotation[2, 1] * cu + rotation[2, 2] * cv
        if dz < -1e-9:
            t = (ground_z - origin[2]) / dz
            if 0.0 < t < depth[pixel]:
                depth[pixel], which[pixel], face[pixel] = t, -1, GROUND
        if depth[pixel] >= max_depth:
            depth[pixel], which[pixel], face[pixel] = max_depth, -1, SKY
        f = face[pixel]
        if f == SKY:
            elevation = min(max(dz / math.sqrt(dx * dx + dy * dy + dz * dz), 0.0), 1.0)
            for channel in range(3):
                value = sky_horizon[channel] + (sky_top[channel] - sky_horizon[channel]) * elevation
                rgb[pixel, channel] = int(min(max(value, 0.0), 255.0))
            tags[pixel] = sky_tag
        elif f == GROUND:
            t = depth[pixel]
            x, y = origin[0] + dx * t, origin[1] + dy * t
            c, r = int((x - layer_x) * ppm), int((y - layer_y) * ppm)
            label = labels[r, c] if 0 <= r < rows and 0 <= c < cols else background
            for channel in range(3):
                rgb[pixel, channel] = palette[label, channel]
            tags[pixel] = label_tags[label]
        else:
            k = which[pixel]
            c, s = math.cos(yaw[k]), math.sin(yaw[k])
            lx, ly, lz = FACE_NORMALS[f, 0], FACE_NORMALS[f, 1], FACE_NORMALS[f, 2]
            lit = (c * lx - s * ly) * LIGHT[0] + (s * lx + c * ly) * LIGHT[1] + lz * LIGHT[2]
            factor = 0.55 + 0.45 * min(max(lit, 0.0), 1.0)
            for channel in range(3):
                rgb[pixel, channel] = int(min(max(box_colour[k, channel] * factor, 0.0), 255.0))
            tags[pixel] = box_tag[k]


def face_normals(yaw: np.ndarray, which: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The world normal of each pixel's surface (the ground's and the sky's: up)."""
    normal = np.zeros((len(face), 3))
    normal[:, 2] = 1.0
    on_box = face < GROUND
    if on_box.any():
        local = FACE_NORMALS[face[on_box]]
        angle = yaw[which[on_box]]
        c, s = np.cos(angle), np.sin(angle)
        normal[on_box] = np.stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1],
                                   local[:, 2]], axis=1)
    return normal
