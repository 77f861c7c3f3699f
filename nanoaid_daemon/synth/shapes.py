"""Height-map primitives: spheres, ellipsoids, tubes, ridges and flat shapes, composed by maximum.

Heights are in pixels, so surface slopes (and hence SE contrast) come out right whatever the
magnification. Objects touch the map only inside their bounding boxes, which keeps hundreds of
them cheap.
"""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
from PIL import Image, ImageDraw

from .fields import blur

__all__ = [
    "stamp_sphere",
    "stamp_ellipsoid",
    "stamp_tube",
    "stamp_segment",
    "draw_lines",
    "draw_polygons",
    "polygon_mask",
    "rounded",
    "random_walk_path",
    "random_polygon",
]

F32 = np.float32


def _window(h: np.ndarray, cy: float, cx: float, ry: float, rx: float):
    r0, r1 = max(0, int(cy - ry) - 1), min(h.shape[0], int(cy + ry) + 2)
    c0, c1 = max(0, int(cx - rx) - 1), min(h.shape[1], int(cx + rx) + 2)
    if r0 >= r1 or c0 >= c1:
        return None
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(F32)
    return (slice(r0, r1), slice(c0, c1)), yy - cy, xx - cx


def stamp_sphere(h: np.ndarray, cy: float, cx: float, r: float, z: float = 0.0, flatten: float = 1.0) -> None:
    """Cap of a sphere (height scaled by ``flatten``) resting at level ``z``; composed by maximum."""
    win = _window(h, cy, cx, r, r)
    if win is None:
        return
    sl, dy, dx = win
    d2 = (dy * dy + dx * dx) / (r * r)
    cap = z + flatten * r * np.sqrt(np.clip(1.0 - d2, 0.0, None))
    np.maximum(h[sl], np.where(d2 < 1.0, cap, -np.inf), out=h[sl])


def stamp_ellipsoid(h: np.ndarray, cy: float, cx: float, ry: float, rx: float, angle: float,
                    height: float, z: float = 0.0, power: float = 0.5) -> None:
    """Rotated ellipsoid-like bump; ``power`` < 0.5 flattens the top (cells), > 0.5 sharpens it."""
    reach = max(ry, rx)
    win = _window(h, cy, cx, reach, reach)
    if win is None:
        return
    sl, dy, dx = win
    ca, sa = math.cos(angle), math.sin(angle)
    u = (dx * ca + dy * sa) / rx
    v = (-dx * sa + dy * ca) / ry
    d2 = u * u + v * v
    bump = z + height * np.clip(1.0 - d2, 0.0, None) ** power
    np.maximum(h[sl], np.where(d2 < 1.0, bump, -np.inf), out=h[sl])


def stamp_tube(h: np.ndarray, path: np.ndarray, radius, z: float = 0.0, flatten: float = 1.0) -> None:
    """Cylinder lying along a polyline (rows, cols), segment by segment.

    ``radius`` is a number or one value per vertex (a taper: needles, tips).
    """
    radii = np.broadcast_to(np.asarray(radius, dtype=float), (len(path),))
    for i, ((y0, x0), (y1, x1)) in enumerate(pairwise(path)):
        step = max(3.0, 2.0 * min(radii[i], radii[i + 1]))
        pieces = max(1, int(math.hypot(y1 - y0, x1 - x0) / step))
        for k in range(pieces):
            a, b = k / pieces, (k + 1) / pieces
            r = radii[i] + (a + b) / 2 * (radii[i + 1] - radii[i])
            stamp_segment(h, y0 + a * (y1 - y0), x0 + a * (x1 - x0), y0 + b * (y1 - y0), x0 + b * (x1 - x0),
                          max(float(r), 0.5), z, flatten)


def stamp_segment(h, ya, xa, yb, xb, r, z=0.0, flatten=1.0) -> None:
    """Capsule between two points: the building block of tubes."""
    cy, cx = (ya + yb) / 2, (xa + xb) / 2
    win = _window(h, cy, cx, abs(yb - ya) / 2 + r, abs(xb - xa) / 2 + r)
    if win is None:
        return
    sl, dy, dx = win
    vy, vx = yb - ya, xb - xa
    ll = vy * vy + vx * vx + 1e-9
    t = np.clip(((dy + cy - ya) * vy + (dx + cx - xa) * vx) / ll, 0.0, 1.0)
    py, px = dy + cy - (ya + t * vy), dx + cx - (xa + t * vx)
    d2 = (py * py + px * px) / (r * r)
    prof = z + flatten * r * np.sqrt(np.clip(1.0 - d2, 0.0, None))
    np.maximum(h[sl], np.where(d2 < 1.0, prof, -np.inf), out=h[sl])


def _canvas(shape, fill: float = 0.0):
    img = Image.new("F", (shape[1], shape[0]), float(fill))
    return img, ImageDraw.Draw(img)


def draw_lines(shape: tuple[int, int], paths: list[np.ndarray], widths, values, base: float = 0.0) -> np.ndarray:
    """Flat ridges along polylines, later paths drawn over earlier ones (their ``values`` are heights)."""
    img, draw = _canvas(shape, base)
    for path, width, value in zip(paths, widths, values, strict=True):
        pts = [(float(x), float(y)) for y, x in path]
        draw.line(pts, fill=float(value), width=max(1, int(round(width))), joint="curve")
    return np.asarray(img, dtype=F32).copy()


def draw_polygons(shape: tuple[int, int], polygons: list[np.ndarray], values, base: float = 0.0) -> np.ndarray:
    """Flat polygons (rows, cols vertices) painted in order onto a constant ``base``."""
    img, draw = _canvas(shape, base)
    for poly, value in zip(polygons, values, strict=True):
        draw.polygon([(float(x), float(y)) for y, x in poly], fill=float(value))
    return np.asarray(img, dtype=F32).copy()


def polygon_mask(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    return draw_polygons(shape, polygons, [1.0] * len(polygons))


def rounded(flat: np.ndarray, sigma: float, base: float | None = None) -> np.ndarray:
    """Soften flat-topped shapes into rounded ones (walls become slopes, tops stay level)."""
    smooth = blur(flat, sigma)
    if base is None:
        return smooth
    return np.where(flat > base, np.maximum(smooth, base), smooth).astype(F32)


def random_walk_path(rng: np.random.Generator, start, angle: float, length: float, step: float,
                     wiggle: float) -> np.ndarray:
    """Polyline that turns by N(0, wiggle) radians per step: wires, fibres, cracks."""
    n = max(2, int(length / step) + 1)
    turns = np.cumsum(rng.normal(0.0, wiggle, n - 1))
    ang = angle + turns
    dy, dx = -np.sin(ang) * step, np.cos(ang) * step
    ys = start[0] + np.concatenate([[0.0], np.cumsum(dy)])
    xs = start[1] + np.concatenate([[0.0], np.cumsum(dx)])
    return np.stack([ys, xs], 1)


def random_polygon(rng: np.random.Generator, cy: float, cx: float, r: float, n: int, irregular: float) -> np.ndarray:
    """Star-shaped polygon with ``n`` vertices at radius r·(1 ± irregular)."""
    ang = np.sort(rng.uniform(0, 2 * math.pi, n)) if irregular > 0.3 else np.linspace(0, 2 * math.pi, n, endpoint=False)
    ang = ang + rng.uniform(0, 2 * math.pi)
    rad = r * np.clip(1.0 + irregular * rng.uniform(-1, 1, n), 0.2, None)
    return np.stack([cy - rad * np.sin(ang), cx + rad * np.cos(ang)], 1)
