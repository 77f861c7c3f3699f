"""Fast 2-D field operations the renderer is built from (numpy + Pillow only, float32).

A 1024×768 frame must render in a fraction of a second on one core, so blurs are box-filter
cascades on cumulative sums (downsampled first when wide) and noise fields are sums of upsampled
random grids rather than FFT syntheses.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

__all__ = ["resize", "blur", "blur_x", "fbm", "worley", "smoothstep", "normalise"]

F32 = np.float32


def resize(a: np.ndarray, shape: tuple[int, int],
           resample: Image.Resampling = Image.Resampling.BILINEAR) -> np.ndarray:
    """``a`` resampled to ``shape`` (rows, cols); Pillow's area-aware filters do the work."""
    if a.shape == tuple(shape):
        return a.astype(F32, copy=False)
    img = Image.fromarray(np.ascontiguousarray(a, dtype=F32), "F")
    return np.asarray(img.resize((int(shape[1]), int(shape[0])), resample), dtype=F32)


def _gauss(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian with at most 7 taps (sigma up to ~1.6 px), edges replicated."""
    r = 3 if sigma > 0.9 else 2
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / max(sigma, 1e-3)) ** 2)
    k = (k / k.sum()).astype(F32)
    rows, cols = a.shape
    p = np.pad(a, [(r, r), (0, 0)], mode="edge")
    out = k[0] * p[0:rows]
    for i in range(1, 2 * r + 1):
        out += k[i] * p[i : i + rows]
    p = np.pad(out, [(0, 0), (r, r)], mode="edge")
    out = k[0] * p[:, 0:cols]
    for i in range(1, 2 * r + 1):
        out += k[i] * p[:, i : i + cols]
    return out


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Approximate Gaussian blur; wide kernels run on an area-downsampled copy."""
    a = a.astype(F32, copy=False)
    if sigma < 0.3:
        return a
    if sigma <= 1.6:
        return _gauss(a, sigma)
    factor = math.ceil(sigma / 1.4)
    small_shape = (max(2, math.ceil(a.shape[0] / factor)), max(2, math.ceil(a.shape[1] / factor)))
    small = resize(a, small_shape, Image.Resampling.BOX)
    residual = math.sqrt(max(sigma * sigma - 0.2 * factor * factor, 0.09)) / factor
    return resize(_gauss(small, residual), a.shape, Image.Resampling.BILINEAR)


def blur_x(a: np.ndarray, tau: float) -> np.ndarray:
    """Causal exponential smoothing along rows: the detector amplifier's finite bandwidth."""
    if tau < 0.05:
        return a
    decay = math.exp(-1.0 / tau)
    taps = np.array([decay**i for i in range(max(2, int(4 * tau) + 1))], dtype=F32)
    taps /= taps.sum()
    pad = np.pad(a, [(0, 0), (len(taps) - 1, 0)], mode="edge")
    n = a.shape[1]
    out = np.zeros_like(a, dtype=F32)
    for i, w in enumerate(taps):
        out += w * pad[:, len(taps) - 1 - i : len(taps) - 1 - i + n]
    return out


def fbm(rng: np.random.Generator, shape: tuple[int, int], cell_px: float, octaves: int = 4,
        persistence: float = 0.55) -> np.ndarray:
    """Fractal value noise, zero mean, std ≈ 1: random grids of halving cell size, upsampled bicubically."""
    out = np.zeros(shape, F32)
    amp, total = 1.0, 0.0
    cell = float(cell_px)
    for _ in range(octaves):
        gh = max(2, int(shape[0] / cell) + 2)
        gw = max(2, int(shape[1] / cell) + 2)
        grid = rng.standard_normal((gh, gw)).astype(F32)
        out += amp * resize(grid, shape, Image.Resampling.BICUBIC)
        total += amp * amp
        amp *= persistence
        cell /= 2.0
        if cell < 1.5:
            break
    out /= math.sqrt(total)
    return out / max(float(out.std()), 1e-6)


def worley(rng: np.random.Generator, shape: tuple[int, int], cell_px: float, jitter: float = 0.9, work_scale: int = 2):
    """Jittered-grid Voronoi: (F1, F2, cell id) with distances in pixels.

    One seed per grid cell, so the nearest seeds lie in the 3×3 neighbourhood: cost is 9 distance
    evaluations per pixel, done at 1/work_scale resolution and upsampled (distances are smooth).
    """
    rows, cols = shape
    sr, sc = max(2, rows // work_scale), max(2, cols // work_scale)
    cell = cell_px / work_scale
    gh, gw = int(sr / cell) + 3, int(sc / cell) + 3
    seeds = (np.stack(np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij"), -1) - 1 + 0.5
             + jitter * (rng.random((gh, gw, 2)) - 0.5)) * cell
    yy, xx = np.mgrid[0:sr, 0:sc].astype(F32)
    ci, cj = (yy / cell).astype(np.int32) + 1, (xx / cell).astype(np.int32) + 1
    f1 = np.full((sr, sc), np.inf, F32)
    f2 = np.full((sr, sc), np.inf, F32)
    ident = np.zeros((sr, sc), np.int32)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            i, j = np.clip(ci + di, 0, gh - 1), np.clip(cj + dj, 0, gw - 1)
            d = np.hypot(seeds[i, j, 0] - yy, seeds[i, j, 1] - xx).astype(F32)
            closer = d < f1
            f2 = np.where(closer, f1, np.minimum(f2, d))
            ident = np.where(closer, i * gw + j, ident)
            f1 = np.where(closer, d, f1)
    f1 = resize(f1, shape) * work_scale
    f2 = resize(f2, shape) * work_scale
    ident = np.asarray(Image.fromarray(ident).resize((cols, rows), Image.Resampling.NEAREST))
    return f1, f2, ident


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0 + 1e-12), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(F32)


def normalise(a: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] (a constant field becomes zeros)."""
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)).astype(F32)
