"""Discrete objects on a substrate: Particles, Powder and Biological specimens."""
from __future__ import annotations

import math

import numpy as np

from .fields import blur, fbm, worley
from .scene import Scene, lattice_offsets, log_uniform, pick, site_values, stamp_pyramid, substrate
from .shapes import draw_polygons, random_polygon, stamp_ellipsoid, stamp_sphere, stamp_tube

__all__ = ["particles", "powder", "biological"]

F32 = np.float32


def _positions(rng, shape, n: int, mode: str, spread: float):
    rows, cols = shape
    if mode == "clustered":
        k = max(1, int(rng.integers(1, 6)))
        centres = rng.uniform([0, 0], [rows, cols], (k, 2))
        pts = centres[rng.integers(0, k, n)] + rng.normal(0, spread, (n, 2))
        return pts
    return rng.uniform([-0.05 * rows, -0.05 * cols], [1.05 * rows, 1.05 * cols], (n, 2))


def particles(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Dispersed or clustered spheres, close-packed colloidal monolayers, faceted crystals."""
    mode = pick(rng, overrides, "arrangement", ["dispersed", "clustered", "monolayer", "polyhedra"], [3, 3, 1.5, 2])
    rows, cols = shape
    r_mean = log_uniform(rng, 3.0, min(rows, cols) / 10)
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.05, 1.0))
    mat = np.ones(shape, F32)
    if mode == "monolayer":
        dy, dx, key = lattice_offsets(rng, shape, 2 * r_mean * rng.uniform(1.0, 1.08), True, rng.uniform(0, 1.05), 0.02)
        present = site_values(rng, key) >= rng.uniform(0.0, 0.08)
        cap = r_mean * np.sqrt(np.clip(1.0 - (dy * dy + dx * dx) / (r_mean * r_mean), 0.0, None))
        h = np.maximum(h, np.where(present, cap, 0.0)).astype(F32)
        pts = np.zeros((0, 2))
        radii = np.zeros(0)
    else:
        coverage = rng.uniform(0.03, 0.45)
        n = int(min(1500, coverage * rows * cols / (math.pi * r_mean**2)))
        pts = _positions(rng, shape, max(n, 3), mode, rng.uniform(2, 10) * r_mean)
        radii = r_mean * rng.lognormal(0.0, rng.uniform(0.05, 0.5), len(pts))
    pz = float(rng.uniform(1.1, 1.8))
    for (cy, cx), r in zip(pts, radii.tolist(), strict=True):
        r = float(max(1.2, r))
        z = float(h[int(np.clip(cy, 0, rows - 1)), int(np.clip(cx, 0, cols - 1))]) if mode == "clustered" else 0.0
        if mode == "polyhedra":
            sides = int(rng.choice([3, 4, 4, 6, 6, 8]))
            stamp_pyramid(h, cy, cx, r, r * rng.uniform(0.6, 1.4), sides=sides, angle=rng.uniform(0, 2 * math.pi),
                          plateau=float(rng.choice([0.0, 0.5, 0.85])), z=z * 0.7)
        else:
            stamp_sphere(h, cy, cx, r, z=z * 0.8)
    mat = np.where(h > 0.3 * r_mean, pz, 1.0).astype(F32)
    return Scene(h, mat, charging=None, feature_px=2 * r_mean, feature_nm=log_uniform(rng, 8, 5000),
                 truth={"arrangement": mode}, style={"edge": 1.2})


def powder(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Irregular angular grains of broad size, piled; agglomerates of fine primaries; flakes."""
    mode = pick(rng, overrides, "arrangement", ["grains", "agglomerates", "flakes"], [4, 2, 1.5])
    rows, cols = shape
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.2, 3.0))
    r_mean = log_uniform(rng, 10.0, min(rows, cols) / 8)
    n = int(rng.uniform(0.3, 1.6) * rows * cols / (math.pi * r_mean**2))
    n = int(np.clip(n, 3, 260))
    if mode == "agglomerates":
        prim = max(1.5, r_mean / rng.uniform(4, 10))
        for _ in range(max(1, n // 3)):
            cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
            blob = r_mean * rng.lognormal(0, 0.5)
            k = int(np.clip((blob / prim) ** 2 * 1.5, 4, 400))
            offs = rng.normal(0, blob / 2, (k, 2))
            for dy, dx in offs:
                y, x = cy + dy, cx + dx
                z = float(h[int(np.clip(y, 0, rows - 1)), int(np.clip(x, 0, cols - 1))])
                stamp_sphere(h, y, x, prim * rng.uniform(0.6, 1.4), z=z * 0.85)
    else:
        radii = np.sort(np.minimum(r_mean * rng.lognormal(0, 0.5, n), min(rows, cols) / 3))[::-1]
        for r in radii:
            cy, cx = rng.uniform(-0.05, 1.05) * rows, rng.uniform(-0.05, 1.05) * cols
            z = float(h[int(np.clip(cy, 0, rows - 1)), int(np.clip(cx, 0, cols - 1))]) * 0.6
            z += float(rng.uniform(0, r)) if mode == "grains" else 0.0  # piled, not tiled
            if mode == "flakes":
                _flake(rng, h, cy, cx, float(r), z)
            else:
                _grain(rng, h, cy, cx, float(r), z)
    h = h + fbm(rng, shape, max(3.0, r_mean / 4), octaves=3) * rng.uniform(0.2, 1.5)
    charging = np.clip((h - np.percentile(h, 80)) / (h.std() + 1e-6), 0, 1) if rng.random() < 0.5 else None
    return Scene(h, 1.0, charging=charging, feature_px=2 * r_mean, feature_nm=log_uniform(rng, 200, 100000),
                 truth={"arrangement": mode}, style={"edge": 1.0, "charging": 0.5})


def _grain(rng, h, cy, cx, r, z) -> None:
    """An irregular grain: a rounded random outline cut by a few flat facets, composed by maximum."""
    size = int(2.6 * r) + 6
    poly = random_polygon(rng, size / 2, size / 2, r, int(rng.integers(5, 12)), float(rng.uniform(0.15, 0.45)))
    soft = blur(draw_polygons((size, size), [poly], [1.0]), max(0.8, r * rng.uniform(0.12, 0.35)))
    top = r * rng.uniform(0.6, 1.2)
    dome = top * np.sqrt(np.clip(soft, 0.0, 1.0))
    yy, xx = np.mgrid[0:size, 0:size].astype(F32) - size / 2
    for _ in range(int(rng.integers(0, 4))):  # cleavage planes
        gy, gx = rng.normal(0, 0.3, 2)
        dome = np.minimum(dome, top * rng.uniform(0.6, 1.0) + gy * yy + gx * xx)
    _paste_max(h, np.where(soft > 0.02, dome + z, -np.inf), cy, cx)


def _paste_max(h, patch, cy, cx) -> None:
    size_r, size_c = patch.shape
    r0, c0 = int(cy - size_r / 2), int(cx - size_c / 2)
    rr0, cc0 = max(0, r0), max(0, c0)
    rr1, cc1 = min(h.shape[0], r0 + size_r), min(h.shape[1], c0 + size_c)
    if rr0 >= rr1 or cc0 >= cc1:
        return
    region = h[rr0:rr1, cc0:cc1]
    np.maximum(region, patch[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0], out=region)


def _flake(rng, h, cy, cx, r, z) -> None:
    poly = random_polygon(rng, 0, 0, r, int(rng.integers(5, 10)), 0.35)
    size = int(2 * r + 6)
    local = draw_polygons((size, size), [poly + size / 2], [1.0])
    thick = max(1.5, r * rng.uniform(0.05, 0.15))
    tilt = rng.normal(0, 0.15, 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(F32) - size / 2
    plate = z + thick + tilt[0] * yy + tilt[1] * xx
    _paste_max(h, np.where(local > 0.5, plate, -np.inf), cy, cx)


def biological(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Cells with ruffled membranes and filopodia, rod bacteria, pollen, red blood cells, diatoms."""
    mode = pick(rng, overrides, "arrangement", ["cells", "rods", "pollen", "erythrocytes", "diatoms"],
                [3, 3, 2, 1.5, 1])
    rows, cols = shape
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.05, 1.0))
    builders = {"cells": _cells, "rods": _rods, "pollen": _pollen, "erythrocytes": _erythrocytes, "diatoms": _diatoms}
    builder = builders[mode]
    feature_px, feature_nm = builder(rng, h)
    charging = np.clip(h / (np.percentile(h, 99) + 1e-6), 0, 1) if rng.random() < 0.5 else None
    return Scene(h, 1.0, charging=charging, feature_px=feature_px, feature_nm=feature_nm,
                 truth={"arrangement": mode}, style={"edge": 0.9, "charging": 0.8})


def _cells(rng, h):
    rows, cols = h.shape
    r = log_uniform(rng, 30, min(rows, cols) / 3)
    n = int(np.clip(rng.poisson(rows * cols / (math.pi * r * r) * rng.uniform(0.3, 1.0)), 1, 30))
    for _ in range(n):
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        ry, rx = r * rng.uniform(0.6, 1.3), r * rng.uniform(0.6, 1.3)
        for _ in range(int(rng.integers(0, 14))):  # filopodia reaching out to the substrate
            ang = rng.uniform(0, 2 * math.pi)
            length = r * rng.uniform(0.8, 2.5)
            path = np.array([[cy, cx], [cy - math.sin(ang) * length, cx + math.cos(ang) * length]])
            stamp_tube(h, path, float(rng.uniform(1.0, 2.5)), z=0.0)
        stamp_ellipsoid(h, cy, cx, ry, rx, rng.uniform(0, math.pi), r * rng.uniform(0.3, 0.8),
                        power=float(rng.uniform(0.25, 0.6)))
    ruffles = fbm(rng, h.shape, log_uniform(rng, 4, 16), octaves=3)  # membrane folds and blebs
    villi = np.clip(fbm(rng, h.shape, log_uniform(rng, 2, 5), octaves=1) - 1.2, 0, None)  # microvilli
    h += np.where(h > 2, ruffles * rng.uniform(1.0, 4.0) + villi * rng.uniform(0, 6), 0.0)
    return 2 * r, log_uniform(rng, 3000, 60000)


def _rods(rng, h):
    rows, cols = h.shape
    w = log_uniform(rng, 4, 30)
    n = int(np.clip(rows * cols / (w * w * 4) * rng.uniform(0.03, 0.4), 3, 400))
    centres = _positions(rng, h.shape, n, "clustered" if rng.random() < 0.6 else "dispersed", w * rng.uniform(3, 12))
    for cy, cx in centres:
        length = w * rng.uniform(1.5, 5)
        ang = rng.uniform(0, 2 * math.pi)
        bend = rng.normal(0, 0.15)
        pts = np.array([[cy - math.sin(ang + t * bend) * t * length / 2, cx + math.cos(ang + t * bend) * t * length / 2]
                        for t in (-1.0, -0.3, 0.3, 1.0)])
        z = float(h[int(np.clip(cy, 0, rows - 1)), int(np.clip(cx, 0, cols - 1))]) * 0.7
        stamp_tube(h, pts, w / 2, z=z)
    return w, log_uniform(rng, 300, 2000)


def _pollen(rng, h):
    rows, cols = h.shape
    r = log_uniform(rng, 60, min(rows, cols) / 2.2)
    for _ in range(int(rng.integers(1, 5))):
        cy, cx = rng.uniform(0.1, 0.9) * rows, rng.uniform(0.1, 0.9) * cols
        stamp_sphere(h, cy, cx, r * rng.uniform(0.8, 1.2))
    ornament = rng.random()
    if ornament < 0.5:  # reticulate: a net of ridges
        f1, f2, _ = worley(rng, h.shape, r / rng.uniform(2.5, 6))
        h += np.where(h > 1, 4.0 * np.exp(-((f2 - f1) / 2.0) ** 2), 0.0)
    else:  # echinate: spines
        spines = fbm(rng, h.shape, max(2.0, r / rng.uniform(6, 14)), octaves=1)
        h += np.where(h > 1, np.clip(spines - 0.8, 0, None) * r * 0.25, 0.0)
    return 2 * r, log_uniform(rng, 10000, 80000)


def _erythrocytes(rng, h):
    rows, cols = h.shape
    r = log_uniform(rng, 20, min(rows, cols) / 4)
    n = int(np.clip(rows * cols / (math.pi * r * r) * rng.uniform(0.3, 0.9), 2, 150))
    for cy, cx in rng.uniform([0, 0], [rows, cols], (n, 2)):
        rr = r * rng.normal(1, 0.06)
        stamp_ellipsoid(h, cy, cx, rr * rng.uniform(0.85, 1.0), rr, rng.uniform(0, 3.2), rr * 0.35, power=0.35)
        stamp_ellipsoid(h, cy, cx, rr * 0.45, rr * 0.45, 0.0, -rr * 0.12, z=rr * 0.33, power=0.5)
        dimple = np.zeros_like(h)
        stamp_sphere(dimple, cy, cx, rr * 0.5, flatten=0.25)
        h -= dimple
    return 2 * r, log_uniform(rng, 6000, 9000)


def _diatoms(rng, h):
    rows, cols = h.shape
    r = log_uniform(rng, 40, min(rows, cols) / 2.5)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0.15, 0.85) * rows, rng.uniform(0.15, 0.85) * cols
        stamp_ellipsoid(h, cy, cx, r, r * rng.uniform(1.0, 2.5), rng.uniform(0, 3.2), r * 0.25, power=0.2)
        yy, xx = np.mgrid[0 : h.shape[0], 0 : h.shape[1]].astype(F32)
        rad, ang = np.hypot(yy - cy, xx - cx), np.arctan2(yy - cy, xx - cx)
        pores = (np.cos(ang * int(rng.integers(20, 60))) > 0.6) & (np.cos(rad / rng.uniform(2, 5)) > 0.3)
        h -= np.where(pores & (h > 2), 2.0, 0.0)
    return 2 * r, log_uniform(rng, 10000, 100000)

