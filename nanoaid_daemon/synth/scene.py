"""What a class builder returns, and the substrate and clutter every scene shares."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .fields import fbm
from .shapes import random_walk_path, stamp_sphere, stamp_tube

__all__ = ["Scene", "substrate", "add_clutter", "pyramid_field", "stamp_pyramid", "log_uniform", "pick"]

F32 = np.float32


@dataclass
class Scene:
    """A specimen as the beam meets it.

    ``height`` is in pixels (so slopes are geometric), ``material`` a relative SE/BSE yield
    (1 = substrate), ``charging`` marks insulating parts (0..1). ``feature_nm`` is the physical size
    of the scene's characteristic feature and ``feature_px`` its size in pixels: together they fix
    the pixel size and hence the magnification written into the metadata.
    """

    height: np.ndarray
    material: np.ndarray | float = 1.0
    charging: np.ndarray | None = None
    feature_px: float = 10.0
    feature_nm: float = 100.0
    truth: dict = field(default_factory=dict)
    style: dict = field(default_factory=dict)


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Log-uniform in [lo, hi]; on frames too small for the range, ``hi`` shrinks to ``lo``."""
    hi = max(hi, lo)
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi) + 1e-9)))


def pick(rng: np.random.Generator, overrides: dict, key: str, options: list[str], weights=None) -> str:
    """``overrides[key]`` if given (and valid), else a weighted random choice."""
    if key in overrides and overrides[key] is not None:
        value = overrides[key]
        if value not in options:
            raise ValueError(f"{key}={value!r} is not one of {options}")
        return value
    p = None if weights is None else np.asarray(weights, float) / float(np.sum(weights))
    return str(rng.choice(options, p=p))


def substrate(rng: np.random.Generator, shape, roughness: float | None = None, cell: float | None = None) -> np.ndarray:
    """Background surface: smooth wafer to rough carbon tape, as a height field."""
    roughness = roughness if roughness is not None else log_uniform(rng, 0.05, 3.0)
    cell = cell if cell is not None else log_uniform(rng, 8, max(shape) / 3)
    return (roughness * fbm(rng, shape, cell, octaves=5, persistence=float(rng.uniform(0.45, 0.7)))).astype(F32)


def add_clutter(rng: np.random.Generator, h: np.ndarray, material, scale_px: float):
    """Dust specks, a scratch, a contamination rectangle, surface roughness: what real specimens carry
    besides the subject."""
    rows, cols = h.shape
    mat = np.broadcast_to(np.asarray(material, F32), h.shape).copy()
    if rng.random() < 0.35:  # organic-looking roughness everywhere, so texture alone never names the class
        h += fbm(rng, h.shape, log_uniform(rng, 3, 20), octaves=3) * log_uniform(rng, 0.3, 3.0)
    for _ in range(int(rng.poisson(1.5))):
        r = log_uniform(rng, 1.5, max(2.0, min(scale_px, 0.015 * max(rows, cols))))
        stamp_sphere(h, rng.uniform(0, rows), rng.uniform(0, cols), r, z=float(np.median(h)), flatten=0.8)
    if rng.random() < 0.12:
        path = random_walk_path(rng, (rng.uniform(0, rows), 0), rng.uniform(-0.5, 0.5), cols * 1.2, 20, 0.01)
        groove = np.zeros_like(h)
        stamp_tube(groove, path, float(rng.uniform(1, 3)))
        h -= groove
    if rng.random() < 0.12:  # the specimen's edge crosses the field: beyond it, far below, darker
        yy, xx = np.mgrid[0:rows, 0:cols].astype(F32)
        ang = rng.uniform(0, 2 * math.pi)
        d = (xx - cols * rng.uniform(0.1, 0.9)) * math.cos(ang) + (yy - rows * rng.uniform(0.1, 0.9)) * math.sin(ang)
        beyond = np.clip(d / 2.0, 0.0, 1.0)
        h -= beyond * log_uniform(rng, 20, 200)
        mat = mat * (1.0 - beyond * rng.uniform(0.2, 0.6))
    if rng.random() < 0.1:  # carbon contamination left by an earlier, smaller scan field
        r0, c0 = int(rng.uniform(0, rows * 0.7)), int(rng.uniform(0, cols * 0.7))
        r1, c1 = r0 + int(rows * rng.uniform(0.1, 0.3)), c0 + int(cols * rng.uniform(0.1, 0.3))
        mat[r0:r1, c0:c1] *= rng.uniform(0.6, 0.85)
    return h, mat


def pyramid_field(dy: np.ndarray, dx: np.ndarray, r: float, sides: int, angle: float) -> np.ndarray:
    """Normalised polygon 'radius' (1 on the outline of a regular ``sides``-gon of circumradius r)."""
    if sides <= 0 or sides > 12:
        return np.hypot(dy, dx) / r
    rho = np.full(dy.shape, -np.inf, F32)
    inner = r * math.cos(math.pi / sides)
    for k in range(sides):
        a = angle + 2 * math.pi * k / sides
        rho = np.maximum(rho, (dx * math.cos(a) - dy * math.sin(a)) / inner)
    return rho


def stamp_pyramid(h: np.ndarray, cy: float, cx: float, r: float, height: float, *, sides: int = 4,
                  angle: float = 0.0, plateau: float = 0.0, z: float = 0.0, wall: float = 1.0) -> None:
    """Truncated pyramid / prism / cylinder: ``plateau`` 0 → sharp apex, → 1 → flat top with steep walls."""
    r0, r1 = max(0, int(cy - r) - 1), min(h.shape[0], int(cy + r) + 2)
    c0, c1 = max(0, int(cx - r) - 1), min(h.shape[1], int(cx + r) + 2)
    if r0 >= r1 or c0 >= c1:
        return
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(F32)
    rho = pyramid_field(yy - cy, xx - cx, r, sides, angle)
    top = np.clip((1.0 - rho) / max(1e-3, (1.0 - plateau) * wall), 0.0, 1.0)
    bump = z + height * top
    sl = (slice(r0, r1), slice(c0, c1))
    np.maximum(h[sl], np.where(rho < 1.0, bump, -np.inf), out=h[sl])


def lattice_offsets(rng: np.random.Generator, shape, period: float, hexagonal: bool, angle: float, jitter: float = 0.0):
    """Per pixel: offset (dy, dx) from the nearest site of a square or hexagonal lattice, and a site key.

    Vectorised over the whole field, so a dense array costs the same as a sparse one. A hexagonal
    lattice is two rectangular ones offset by half a cell; the nearer of their two sites wins.
    ``jitter`` displaces each site by a random fraction of the period (imperfect lithography).
    """
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(F32)
    ca, sa = math.cos(angle), math.sin(angle)
    u = (xx - cols / 2) * ca - (yy - rows / 2) * sa
    v = (xx - cols / 2) * sa + (yy - rows / 2) * ca
    pv = period * (math.sqrt(3) if hexagonal else 1.0)
    table = rng.random((2, 8192)).astype(F32) - 0.5
    best: list[np.ndarray] | None = None
    for shift_u, shift_v, tag in ((0.0, 0.0, 0), (period / 2, pv / 2, 1)) if hexagonal else ((0.0, 0.0, 0),):
        iu, iv = np.round((u - shift_u) / period), np.round((v - shift_v) / pv)
        key = ((iu.astype(np.int64) * 73856093) ^ (iv.astype(np.int64) * 19349663) ^ tag) % 8192
        du = u - shift_u - iu * period - jitter * period * table[0][key]
        dv = v - shift_v - iv * pv - jitter * period * table[1][key]
        d2 = du * du + dv * dv
        if best is None:
            best = [du, dv, key, d2]
        else:
            closer = d2 < best[3]
            best = [np.where(closer, du, best[0]), np.where(closer, dv, best[1]), np.where(closer, key, best[2]),
                    np.minimum(d2, best[3])]
    assert best is not None  # the loop runs at least once
    du, dv, key = best[0], best[1], best[2]
    dx = du * ca + dv * sa
    dy = -du * sa + dv * ca
    return dy.astype(F32), dx.astype(F32), key


def site_values(rng: np.random.Generator, key: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value per lattice site (same for every pixel of that site)."""
    return rng.random(8192).astype(F32)[key]
