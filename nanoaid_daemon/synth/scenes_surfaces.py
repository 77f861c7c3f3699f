"""Surfaces that fill the field: films and coatings, patterned arrays and porous sponges."""
from __future__ import annotations

import math

import numpy as np

from .fields import blur, fbm, smoothstep, worley
from .scene import Scene, lattice_offsets, log_uniform, pick, pyramid_field, site_values, stamp_pyramid, substrate
from .shapes import stamp_sphere

__all__ = ["films", "patterned", "porous"]

F32 = np.float32


def films(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Grainy, cracked, smooth, wrinkled or nodular films, and layered cross-sections."""
    mode = pick(rng, overrides, "arrangement",
                ["grainy", "cracked", "smooth", "wrinkled", "nodular", "cross_section", "polished"],
                [3, 2.5, 2, 1.2, 1.2, 1, 1.5])
    rows, cols = shape
    grain = log_uniform(rng, 7, min(rows, cols) / 8)
    mat: np.ndarray | float = 1.0
    if mode == "grainy":
        f1, f2, ident = worley(rng, shape, grain)
        levels = rng.normal(0, 1, int(ident.max()) + 1).astype(F32)[ident]
        dome = smoothstep(0, grain * rng.uniform(0.15, 0.5), f2 - f1)
        h = grain * (rng.uniform(0.15, 0.5) * dome + rng.uniform(0, 0.15) * levels)
        mat = 1.0 + rng.uniform(0, 0.15) * levels
    elif mode == "cracked":
        h = _cracked(rng, shape, log_uniform(rng, 25, min(rows, cols) / 2.5))
    elif mode == "smooth":
        h = substrate(rng, shape, roughness=log_uniform(rng, 0.05, 0.8))
        for _ in range(int(rng.poisson(6))):  # pinholes and particulates
            r = log_uniform(rng, 1.5, 12)
            stamp_sphere(h, rng.uniform(0, rows), rng.uniform(0, cols), r, flatten=float(rng.choice([-0.6, 0.8])))
        if rng.random() < 0.4:  # film edge: part of the field is bare substrate
            edge = _half_plane(rng, shape, rng.uniform(0.2, 0.8))
            h = h + edge * log_uniform(rng, 2, 30)
            mat = 1.0 + 0.3 * edge
    elif mode == "wrinkled":
        band = fbm(rng, shape, log_uniform(rng, 12, 60), octaves=1)
        h = np.tanh(3 * band) * log_uniform(rng, 2, 10)
    elif mode == "nodular":
        f1, f2, _ = worley(rng, shape, grain, jitter=1.0)
        rad = 0.5 * (f1 + f2)
        h = rad * np.sqrt(np.clip(1.0 - (f1 / np.maximum(rad, 1e-3)) ** 2, 0.0, None)) * rng.uniform(0.4, 0.9)
    elif mode == "polished":
        h, mat = _polished(rng, shape, log_uniform(rng, 20, min(rows, cols) / 3))
        grain = min(rows, cols) / 6
    else:
        h, mat = _cross_section(rng, shape)
    h = h + fbm(rng, shape, max(2.0, grain / 3), octaves=2) * rng.uniform(0.05, 0.6)
    return Scene(np.asarray(h, F32), mat, feature_px=grain, feature_nm=log_uniform(rng, 5, 5000),
                 truth={"arrangement": mode}, style={"edge": 0.9})


def _half_plane(rng, shape, frac: float) -> np.ndarray:
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(F32)
    ang = rng.uniform(0, 2 * math.pi)
    d = (xx - cols * frac) * math.cos(ang) + (yy - rows * frac) * math.sin(ang)
    wobble = blur(rng.normal(0, 1, shape).astype(F32), 8) * 40
    return smoothstep(-1.5, 1.5, d + wobble)


def _cracked(rng, shape, cell: float) -> np.ndarray:
    f1, f2, ident = worley(rng, shape, cell, jitter=1.0)
    gap = rng.uniform(1.0, 5.0)
    plates = smoothstep(gap * 0.5, gap * 1.5, f2 - f1)
    n = int(ident.max()) + 1
    ty, tx = rng.normal(0, 0.03, n).astype(F32), rng.normal(0, 0.03, n).astype(F32)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(F32)
    curl = (ty[ident] * (yy % cell) + tx[ident] * (xx % cell)) * rng.uniform(0, 1.5)
    thickness = cell * rng.uniform(0.05, 0.3)
    under = substrate(rng, shape, roughness=0.5)
    return np.where(plates > 0, plates * (thickness + curl), 0.0) + under - thickness * 0.2


def _polished(rng, shape, grain: float):
    """A polished section: flat, grains told apart by channelling contrast, twins, pores, scratches."""
    rows, cols = shape
    f1, f2, ident = worley(rng, shape, grain, jitter=1.0)
    n = int(ident.max()) + 1
    level = rng.uniform(0.75, 1.3, n).astype(F32)
    mat = level[ident]
    yy, xx = np.mgrid[0:rows, 0:cols].astype(F32)
    twin_angle, twin_on = rng.uniform(0, np.pi, n).astype(F32), rng.random(n) < 0.3
    u = xx * np.cos(twin_angle[ident]) + yy * np.sin(twin_angle[ident])
    twins = twin_on[ident] & (np.sin(u / (grain * rng.uniform(0.08, 0.25))) > 0.6)
    mat = np.where(twins, mat * rng.uniform(0.8, 1.2), mat)
    mat = np.where(f2 - f1 < rng.uniform(0.5, 1.5), mat * 0.85, mat).astype(F32)  # grain boundaries
    h = substrate(rng, shape, roughness=0.1)
    for _ in range(int(rng.poisson(8))):  # pores
        stamp_sphere(h, rng.uniform(0, rows), rng.uniform(0, cols), log_uniform(rng, 1.5, 8), flatten=-0.8)
    ang = rng.uniform(0, np.pi)
    scratches = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * rng.uniform(0.3, 1.5) + fbm(rng, shape, 40, 1) * 3)
    h = h - np.clip(scratches - 0.97, 0, None) * rng.uniform(0, 20)
    return h, mat


def _cross_section(rng, shape):
    rows, cols = shape
    yy = np.arange(rows, dtype=F32)[:, None]
    top = rows * rng.uniform(0.15, 0.45)
    edges = np.sort(top + rng.uniform(0, rows - top, int(rng.integers(1, 4))))
    wobble = fbm(rng, (1, cols), 50, octaves=3)[0] * rng.uniform(0.5, 4)
    mat = np.full(shape, 1.0, F32)
    for i, e in enumerate(edges):
        mat = np.where(yy > e + wobble[None, :] * (i + 1) * 0.3, rng.uniform(0.6, 1.6), mat)
    h = np.where(yy < top + wobble[None, :], -log_uniform(rng, 10, 100), 0.0).astype(F32)
    cols_tex = fbm(rng, (4, cols), rng.uniform(2, 12), octaves=2)[0]
    h = h + np.where(yy >= top, cols_tex[None, :] * rng.uniform(0, 1.5), 0.0)  # columnar grains
    return h + substrate(rng, shape, roughness=0.3), mat


def patterned(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Lithographic arrays: pillars, holes, line gratings, squares, rings, cones."""
    mode = pick(rng, overrides, "arrangement", ["pillars", "holes", "lines", "squares", "rings", "cones"],
                [3, 2.5, 2.5, 1.5, 1, 1])
    rows, cols = shape
    period = log_uniform(rng, 14, min(rows, cols) / 4)
    angle = float(rng.choice([0.0, 0.0, 0.0, rng.uniform(0, math.pi)])) + rng.normal(0, 0.01)
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.05, 0.6))
    depth = period * rng.uniform(0.1, 0.8)
    if mode == "lines":
        yy, xx = np.mgrid[0:rows, 0:cols].astype(F32)
        u = xx * math.cos(angle) - yy * math.sin(angle)
        rough = fbm(rng, shape, log_uniform(rng, 4, 30), octaves=2) * period * rng.uniform(0, 0.05)
        duty = rng.uniform(0.25, 0.75)
        phase = np.mod(u + rough, period) / period
        h = h + depth * smoothstep(0, 0.04, phase) * (1 - smoothstep(duty, duty + 0.04, phase))
    else:
        dy, dx, key = lattice_offsets(rng, shape, period, bool(rng.random() < 0.5), angle, rng.uniform(0, 0.04))
        present = site_values(rng, key) >= float(rng.choice([0.0, 0.0, 0.02, 0.08]))
        r = period * rng.uniform(0.2, 0.42)
        sides = {"squares": 4, "pillars": int(rng.choice([0, 0, 4, 6]))}.get(mode, 0)
        rho = pyramid_field(dy, dx, r, sides, angle)
        plateau = 0.0 if mode == "cones" else rng.uniform(0.75, 0.92)
        bumps = np.clip((1.0 - rho) / (1.0 - plateau), 0.0, 1.0)
        if mode == "rings":
            bumps = bumps * (1.0 - np.clip((0.6 - rho) / 0.08, 0.0, 1.0))
        bumps = depth * np.where(present, bumps, 0.0)
        h = h + (-bumps if mode == "holes" else bumps)
    return Scene(np.asarray(h, F32), 1.0, feature_px=period, feature_nm=log_uniform(rng, 50, 20000),
                 truth={"arrangement": mode, "period_px": round(period, 3)}, style={"edge": 1.2})


def porous(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Open-cell foams, bicontinuous sponges, macroporous and nanoporous surfaces."""
    mode = pick(rng, overrides, "arrangement", ["foam", "sponge", "macroporous", "nanoporous", "anodic"],
                [3, 3, 2, 2, 1])
    rows, cols = shape
    cell = log_uniform(rng, 10, min(rows, cols) / 4)
    depth = cell * rng.uniform(0.6, 2.0)
    if mode == "foam":
        f1, f2, _ = worley(rng, shape, cell, jitter=1.0)
        wall = cell * rng.uniform(0.04, 0.2)
        h = depth * (1 - smoothstep(0, wall * 1.5, f2 - f1)) - depth * 0.4 * np.clip(f1 / cell, 0, 1)
        under = worley(rng, shape, cell * 0.6, jitter=1.0)
        h = np.maximum(h, depth * 0.4 * (1 - smoothstep(0, wall, under[1] - under[0])) - depth * 0.6)
    elif mode in ("sponge", "nanoporous"):
        scale = cell if mode == "sponge" else log_uniform(rng, 5, 14)
        n = fbm(rng, shape, scale, octaves=2, persistence=0.4) + rng.uniform(-0.4, 0.4)
        h = depth * smoothstep(-0.15, 0.35, n) - depth * 0.5 * smoothstep(-1.5, -0.2, -n)
        cell = scale
    elif mode == "macroporous":
        h = substrate(rng, shape, roughness=0.5)
        count = int(min(3000, rows * cols / (cell * cell) * rng.uniform(0.3, 1.2)))
        holes = np.zeros(shape, F32)
        ys, xs = rng.uniform(0, rows, count), rng.uniform(0, cols, count)
        for cy, cx, rr in zip(ys, xs, cell / 2 * rng.lognormal(0, 0.45, count), strict=True):
            stamp_pyramid(holes, cy, cx, float(rr), depth, sides=0, plateau=float(rng.uniform(0.5, 0.9)))
        h = h - holes
    else:
        dy, dx, key = lattice_offsets(rng, shape, cell, True, rng.uniform(0, math.pi), rng.uniform(0.03, 0.12))
        radius = cell * (rng.uniform(0.25, 0.4) + 0.05 * site_values(rng, key))
        holes = depth * np.clip((1.0 - np.hypot(dy, dx) / radius) / 0.15, 0.0, 1.0)
        h = substrate(rng, shape, roughness=0.3) - holes
    h = h + fbm(rng, shape, max(2.0, cell / 5), octaves=2) * rng.uniform(0.05, 0.5)
    return Scene(np.asarray(h, F32), 1.0, feature_px=cell, feature_nm=log_uniform(rng, 5, 200000),
                 truth={"arrangement": mode}, style={"edge": 1.1, "charging": 0.4})
