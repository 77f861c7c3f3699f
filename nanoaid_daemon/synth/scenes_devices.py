"""MEMS devices and electrodes: comb drives, interdigitated electrodes, pads with traces and
bonds, meander springs with perforated proof masses, gears and suspended bridges.

Geometry is laid out in a local frame (x along the fingers/beams) and rotated into the image,
mostly by a multiple of 90° as on a real die.
"""
from __future__ import annotations

import math

import numpy as np

from .fields import fbm
from .scene import Scene, lattice_offsets, log_uniform, pick, substrate
from .shapes import draw_lines, draw_polygons, rounded, stamp_sphere, stamp_tube

__all__ = ["mems"]

F32 = np.float32


def _rect(x0, y0, x1, y1):
    return np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], float)


class _Layout:
    """Polygons in a local frame, rotated about the field centre when placed."""

    def __init__(self, rng, shape):
        self.shape = shape
        self.angle = float(rng.choice([0, 0.5 * math.pi, math.pi, 1.5 * math.pi])) + float(
            rng.choice([0.0, 0.0, rng.normal(0, 0.3)])
        )
        self.polys: list[np.ndarray] = []
        self.values: list[float] = []

    def add(self, poly, value) -> None:
        rows, cols = self.shape
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        y, x = poly[:, 0] - rows / 2, poly[:, 1] - cols / 2
        self.polys.append(np.stack([rows / 2 + x * sa + y * ca, cols / 2 + x * ca - y * sa], 1))
        self.values.append(float(value))

    def render(self, base: float) -> np.ndarray:
        return draw_polygons(self.shape, self.polys, self.values, base=base)


def _comb(rng, lay: _Layout, rows, cols, top):
    pitch = log_uniform(rng, 6, min(rows, cols) / 12)
    width = pitch * rng.uniform(0.3, 0.45)
    length = cols * rng.uniform(0.3, 0.6)
    spine = pitch * rng.uniform(2, 6)
    overlap = length * rng.uniform(0.3, 0.8)
    x0 = cols / 2 - length + overlap / 2 - spine
    lay.add(_rect(x0 - cols, -rows, x0 + spine, 2 * rows), top)
    right = x0 + spine + 2 * length - overlap
    lay.add(_rect(right, -rows, right + cols, 2 * rows), top)
    for k, y in enumerate(np.arange(-rows, 2 * rows, pitch)):
        if k % 2:
            lay.add(_rect(x0 + spine - 1, y, x0 + spine + length, y + width), top)
        else:
            lay.add(_rect(right - length, y, right + 1, y + width), top)
    return pitch


def _pads(rng, lay: _Layout, rows, cols, top, h, mat):
    size = min(rows, cols) * rng.uniform(0.15, 0.35)
    centres = []
    for _ in range(int(rng.integers(2, 9))):
        cy, cx = rng.uniform(0.1, 0.9) * rows, rng.uniform(0.1, 0.9) * cols
        lay.add(_rect(cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), top)
        centres.append((cy, cx))
    return size, centres


def _springs(rng, lay: _Layout, rows, cols, top):
    beam = log_uniform(rng, 3, 15)
    amp = rows * rng.uniform(0.1, 0.25)
    turns = int(rng.integers(3, 9))
    xs = np.linspace(cols * 0.05, cols * 0.45, turns * 2)
    for i in range(turns * 2 - 1):
        y = rows / 2 + (amp if i % 2 else -amp)
        lay.add(
            _rect(
                xs[i] - beam / 2,
                min(y, rows / 2 - amp) - beam / 2,
                xs[i] + beam / 2,
                max(y, rows / 2 - amp) + beam / 2 + 2 * amp * (i % 2 == 0),
            ),
            top,
        )
        lay.add(_rect(xs[i], y - beam / 2, xs[i + 1], y + beam / 2), top)
    lay.add(_rect(cols * 0.45, rows * 0.1, cols * 1.2, rows * 0.9), top)  # proof mass
    return beam * 4


def _gear(rng, lay: _Layout, rows, cols, top):
    r = min(rows, cols) * rng.uniform(0.25, 0.45)
    teeth = int(rng.integers(10, 30))
    ang = np.linspace(0, 2 * math.pi, teeth * 4, endpoint=False)
    rad = np.where((np.arange(teeth * 4) // 2) % 2 == 0, r, r * rng.uniform(0.82, 0.9))
    cy, cx = rows / 2 + rng.normal(0, rows / 10), cols / 2 + rng.normal(0, cols / 10)
    lay.add(np.stack([cy - rad * np.sin(ang), cx + rad * np.cos(ang)], 1), top)
    hub = r * rng.uniform(0.12, 0.3)
    a = np.linspace(0, 2 * math.pi, 32, endpoint=False)
    lay.add(np.stack([cy - hub * np.sin(a), cx + hub * np.cos(a)], 1), -top)
    return r / teeth * 3


def _bridge(rng, lay: _Layout, rows, cols, top):
    width = rows * rng.uniform(0.05, 0.2)
    lay.add(
        _rect(-cols, rows / 2 - rows * 0.3, 2 * cols, rows / 2 - rows * 0.3 + 0.3 * rows * rng.uniform(0.1, 0.4)), top
    )
    lay.add(_rect(cols * 0.2, rows / 2 - width / 2, cols * 0.8, rows / 2 + width / 2), top)
    return width


def mems(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    mode = pick(
        rng, overrides, "arrangement", ["comb", "ide", "pads", "springs", "gear", "bridge"], [3, 2.5, 2.5, 1.5, 1, 1]
    )
    rows, cols = shape
    thin = mode in ("ide", "pads")
    top = log_uniform(rng, 1.5, 6) if thin else log_uniform(rng, 10, 80)
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.1, 1.5))
    floor = 0.0 if thin else -top
    lay = _Layout(rng, shape)
    mat = np.ones(shape, F32)
    if mode in ("comb", "ide"):
        feature = _comb(rng, lay, rows, cols, top)
    elif mode == "pads":
        feature, centres = _pads(rng, lay, rows, cols, top, h, mat)
    elif mode == "springs":
        feature = _springs(rng, lay, rows, cols, top)
    elif mode == "gear":
        feature = _gear(rng, lay, rows, cols, top)
    else:
        feature = _bridge(rng, lay, rows, cols, top)
    plate = lay.render(base=floor)
    device = plate > floor + 0.5
    if not thin and rng.random() < 0.5:  # release holes through the structural layer
        dy, dx, _ = lattice_offsets(rng, shape, log_uniform(rng, 10, 40), False, lay.angle, 0.0)
        hole = (np.abs(dy) < rng.uniform(2, 5)) & (np.abs(dx) < rng.uniform(2, 5))
        plate = np.where(device & hole, floor, plate)
    h = np.where(device, 0.0, h + floor) + rounded(plate, float(rng.uniform(0.6, 1.5)))
    if thin:
        mat = np.where(device, rng.uniform(1.4, 2.4), 1.0).astype(F32)
        traces = [
            np.array([[rng.uniform(0, rows), -10], [rng.uniform(0, rows), cols + 10]])
            for _ in range(int(rng.integers(0, 4)))
        ]
        if traces:
            lines = draw_lines(shape, traces, [feature * 0.2] * len(traces), [1.0] * len(traces), base=0.0)
            h += lines * top
            mat = np.where(lines > 0.5, 1.8, mat).astype(F32)
        if mode == "pads" and rng.random() < 0.6:  # ball bond with its wire leaving the field
            cy, cx = centres[0]
            stamp_sphere(h, cy, cx, feature * 0.3, z=top)
            wire = np.array([[cy, cx], [cy - rows * 0.3, cx + cols * 0.2], [cy - rows, cx + cols * 0.6]])
            stamp_tube(h, wire, feature * 0.12, z=top + feature * 0.3)
    h = h + fbm(rng, shape, 4, octaves=2) * rng.uniform(0.0, 0.3)
    charging = None if thin else np.where(device, 0.0, 1.0).astype(F32)
    return Scene(
        np.asarray(h, F32),
        mat,
        charging=charging,
        feature_px=float(feature),
        feature_nm=log_uniform(rng, 500, 200000),
        truth={"arrangement": mode},
        style={"edge": 1.3, "charging": 0.3},
    )
