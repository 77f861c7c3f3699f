"""Generated line and wire fields with a known orientation and angular spread (ground truth)."""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def grating(shape=(384, 512), theta_deg=0.0, period_px=9.0) -> np.ndarray:
    """Parallel lines along ``theta_deg`` (counter-clockwise from the x-axis as displayed)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    t = math.radians(theta_deg)
    # The normal to a line running along (cos t, -sin t) in (col, row) coordinates.
    across = cols * math.sin(t) + rows * math.cos(t)
    return (0.5 + 0.5 * np.cos(2 * math.pi * across / period_px)).astype(np.float32)


def wire_angles(n: int, theta_deg: float, spread_deg: float | None) -> np.ndarray:
    """Stratified angles: normal with std ``spread_deg`` around theta, or uniform when None."""
    q = (np.arange(n) + 0.5) / n
    if spread_deg is None:
        return -90.0 + 180.0 * q
    inv = NormalDist().inv_cdf
    return theta_deg + spread_deg * np.array([inv(v) for v in q])


def wire_field(shape=(512, 512), theta_deg=0.0, spread_deg: float | None = 0.0, n_wires=600,
               length_px=90.0, width_px=1.6, seed=0, noise=0.02) -> np.ndarray:
    """Bright anti-aliased wires on a dark background, centres uniformly random."""
    rng = np.random.default_rng(seed)
    angles = rng.permutation(wire_angles(n_wires, theta_deg, spread_deg))
    image = np.zeros(shape, np.float32)
    half = length_px / 2
    reach = int(half + 4 * width_px) + 1
    for phi in angles:
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        ux, uy = math.cos(math.radians(phi)), -math.sin(math.radians(phi))
        r0, r1 = max(0, int(cy) - reach), min(shape[0], int(cy) + reach)
        c0, c1 = max(0, int(cx) - reach), min(shape[1], int(cx) + reach)
        if r0 >= r1 or c0 >= c1:
            continue
        rr, cc = np.mgrid[r0:r1, c0:c1].astype(np.float32)
        dx, dy = cc - cx, rr - cy
        t = np.clip(dx * ux + dy * uy, -half, half)
        d2 = (dx - t * ux) ** 2 + (dy - t * uy) ** 2
        np.maximum(image[r0:r1, c0:c1], np.exp(-d2 / (2 * width_px ** 2)), out=image[r0:r1, c0:c1])
    return image + noise * rng.standard_normal(shape).astype(np.float32)
