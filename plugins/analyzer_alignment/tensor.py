"""OrientationJ's structure tensor in plain numpy.

Conventions (also in docs/analyzers.md):

* Gradient: ``gradients.py`` — OrientationJ's cubic B-spline by default; finite difference or
  Scharr on request. Borders are mirrored.
* Axes: x = column index (to the right), y = row index (downwards, as stored). With that,
  ``θ = ½·atan2(2·Jxy, Jyy − Jxx)`` is the direction *along* the structures, measured from the
  image x-axis counter-clockwise as the image is displayed, reported in [−90°, 90°). This is
  OrientationJ's own formula and sign convention (its gradients have the opposite sign on both
  axes, which leaves every product unchanged).
* Global coherency and orientation: OrientationJ's "Dominant Direction" — the tensor is the mean
  of ∇I∇Iᵀ over the interior pixels (the one-pixel border is left out, as OrientationJ does), and
  C = √((Jyy − Jxx)² + 4·Jxy²) / (Jxx + Jyy). That is the energy-weighted resultant length of all
  local orientations (doubled-angle mean): 1 for a perfectly aligned field, towards 0 for an
  isotropic one. It does not depend on the window.
* Local window: a Gaussian of standard deviation σ pixels gives each place its own tensor, from
  which the orientation histogram and the aligned fraction are taken, weighted by the local energy
  (trace of the tensor). For σ ≥ 2 the tensor products are first averaged over b×b blocks
  (b = ⌊σ⌋) and the Gaussian on the block grid is narrowed so that the whole window still has
  variance σ² — the same window shape to within a few percent, at a fraction of the cost, sampled
  every b pixels (ample for a histogram: the window is σ wide).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .gradients import DESCRIPTION, REACH, gradients, mirror_pad, padded_gradients

__all__ = ["GRADIENT_KERNEL", "Orientation", "gradients", "local_tensor", "tensor_orientation", "measure",
           "global_tensor"]

STRIP_PIXELS = 1 << 22  # rows per strip: about four million pixels
GRADIENT_KERNEL = DESCRIPTION  # kept for callers of 1.0


@dataclass(frozen=True)
class Orientation:
    coherency: float
    orientation_deg: float
    aligned_fraction: float
    counts: list[float]
    bin_width_deg: float
    start_deg: float
    block_px: int
    has_structure: bool


def _gaussian(sigma: float) -> np.ndarray:
    """Sampled Gaussian; below σ = 0.8 the three-tap kernel [a, 1 − 2a, a] with a = σ²/2, whose
    variance is exactly σ² (a sampled Gaussian that narrow has far less variance than σ²)."""
    if sigma < 0.8:
        a = 0.5 * sigma ** 2
        return np.array([a, 1.0 - 2.0 * a, a], np.float32)
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _correlate(a: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Symmetric kernel along one axis, mirrored borders; pairs of taps share one multiply."""
    r = len(kernel) // 2
    n = a.shape[axis]
    pad_mode: Literal["edge", "reflect"] = "edge" if n <= r else "reflect"  # too short to mirror: repeat the edge
    widths = [(0, 0)] * a.ndim
    widths[axis] = (r, r)
    p = np.pad(a, widths, mode=pad_mode)

    def tap(offset: int) -> np.ndarray:
        index = [slice(None)] * a.ndim
        index[axis] = slice(offset, offset + n)
        return p[tuple(index)]

    out = kernel[r] * tap(r)
    for i in range(r):
        out += kernel[i] * (tap(i) + tap(2 * r - i))
    return out


def _block_mean(a: np.ndarray, block: int) -> np.ndarray:
    """Mean over block×block tiles of the last two axes: whole rows added first (contiguous, the
    cheapest pass), then strided columns of the already four-times-smaller array."""
    h, w = (a.shape[-2] // block) * block, (a.shape[-1] // block) * block
    rows = a[..., 0:h:block, :w].copy()
    for i in range(1, block):
        rows += a[..., i:h:block, :w]
    out = rows[..., 0::block].copy()
    for j in range(1, block):
        out += rows[..., j::block]
    return out * np.float32(1.0 / block ** 2)


def _window(sigma: float, height: int, width: int) -> tuple[int, float]:
    """(block size b, Gaussian σ on the block grid) so that the whole window has variance σ².

    The block's own variance is kept to at most half the window's, so the Gaussian part still
    shapes the window: b = 4 for the default σ = 2, b = 2 for σ = 1. Blocks of 4 or more are
    sampled every second pixel (``_stride``), whose offsets have variance (b² − 4)/12."""
    block = max(1, min(int(math.floor(2 * sigma)), int(math.floor(math.sqrt(6 * sigma ** 2 + 1)))))
    if block == 1 or min(height, width) < 2 * block:
        return 1, sigma
    stride = _stride(block)
    box_variance = stride ** 2 * ((block // stride) ** 2 - 1) / 12.0
    return block, math.sqrt(max(sigma ** 2 - box_variance, 1e-6)) / block


def _stride(block: int) -> int:
    return 2 if block >= 4 and block % 2 == 0 else 1


def _smooth(grid: np.ndarray, sigma_grid: float) -> np.ndarray:
    kernel = _gaussian(sigma_grid)
    return _correlate(_correlate(grid, kernel, 2), kernel, 1)


def local_tensor(products: np.ndarray, sigma: float) -> tuple[np.ndarray, int]:
    """Gaussian-windowed tensors [3, h, w] from per-pixel products [3, H, W], and the block size b."""
    block, sigma_grid = _window(sigma, *products.shape[1:])
    grid = _block_mean(products, block) if block > 1 else products
    return _smooth(grid, sigma_grid), block


def tensor_orientation(jxx, jxy, jyy):
    """Orientation in degrees, [-90, 90): along the structures, counter-clockwise from x."""
    theta = 0.5 * np.degrees(np.arctan2(2 * jxy, jyy - jxx))
    return np.where(theta >= 90.0, theta - 180.0, theta)


def _wrap180(deg):
    return (np.asarray(deg) + 90.0) % 180.0 - 90.0


def _strip_gradients(pixels: np.ndarray, r0: int, r1: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Gradients (grey units) of rows r0..r1, with the real neighbouring rows, mirrored at the frame's edges.

    Mirroring is done on the stored values and the float32 copy made once; the grey offset needs no
    removal, since every kernel's taps sum to zero."""
    height = pixels.shape[0]
    reach = REACH[kind]
    lo, hi = max(0, r0 - reach), min(height, r1 + reach)
    rows = mirror_pad(pixels[lo:hi], reach - (r0 - lo), reach - (hi - r1), reach)
    return padded_gradients(rows, kind)


def _tensor_fields(pixels: np.ndarray, sigma: float, kind: str) -> tuple[np.ndarray, int, np.ndarray, int]:
    """(interior tensor sums, interior pixel count, local tensors on the block grid, block size),
    a strip of rows at a time so a large frame never needs more than the block grid plus one strip.

    Nothing is decimated in the image-wide sums: every interior pixel's products are summed (row by
    row in float32, rows in float64), so coherency and orientation are the whole frame's. Only the
    local window (histogram, aligned fraction) is sampled: block means of the products at every
    ``_stride``-th pixel."""
    height, width = pixels.shape
    block, sigma_grid = _window(sigma, height, width)
    stride = _stride(block)
    step = max(block, (STRIP_PIXELS // width) // block * block)
    sums, grids = np.zeros(3), []
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        gx, gy = _strip_gradients(pixels, r0, r1, kind)
        a, b = max(1, r0) - r0, min(height - 1, r1) - r0  # OrientationJ leaves out the frame's border
        if b > a:
            ix, iy = gx[a:b, 1:-1], gy[a:b, 1:-1]
            for k, (u, v) in enumerate(((ix, ix), (ix, iy), (iy, iy))):
                sums[k] += float(np.einsum("ij,ij->i", u, v).sum(dtype=np.float64))
        if gx.shape[0] >= block:
            sx, sy = gx[::stride, ::stride], gy[::stride, ::stride]
            products = np.stack([sx * sx, sx * sy, sy * sy])
            grids.append(_block_mean(products, block // stride) if block > 1 else products)
    return sums, (height - 2) * (width - 2), _smooth(np.concatenate(grids, axis=1), sigma_grid), block


def global_tensor(sums: np.ndarray, count: int) -> tuple[float, float]:
    """(coherency, orientation in degrees) of OrientationJ's dominant-direction tensor."""
    jxx, jxy, jyy = (float(v) / max(count, 1) for v in sums)
    total = jxx + jyy
    if total <= 0.0:
        return 0.0, 0.0
    coherency = min(1.0, math.sqrt((jyy - jxx) ** 2 + 4 * jxy ** 2) / total)
    return coherency, float(tensor_orientation(jxx, jxy, jyy))


def measure(pixels: np.ndarray, sigma: float = 2.0, bin_width_deg: float = 5.0,
            within_deg: float = 15.0, gradient: str = "spline") -> Orientation:
    """Global coherency and orientation, energy-weighted histogram and aligned fraction."""
    bins = int(round(180.0 / bin_width_deg))
    flat = Orientation(0.0, 0.0, 0.0, [0.0] * bins, bin_width_deg, -90.0, 1, False)
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or min(pixels.shape) < 3:
        return flat
    is_float = not np.issubdtype(pixels.dtype, np.integer)
    if is_float:
        pixels = np.nan_to_num(pixels.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(pixels.min()), float(pixels.max())
    if high <= low:
        return flat
    if is_float:  # any range of float data to [0, 1], so squared gradients stay finite in float32
        pixels = (pixels - np.float32(low)) * np.float32(1.0 / (high - low))
    # Grey units: squared gradients of 16-bit data (< 2^32) stay well inside float32's range.
    sums, count, local, block = _tensor_fields(pixels, sigma, gradient)
    if sums[0] + sums[2] <= 0.0:
        return flat
    coherency, dominant = global_tensor(sums, count)
    theta = tensor_orientation(local[0], local[1], local[2]).ravel()
    energy = (local[0] + local[2]).ravel().astype(np.float64)
    energy_sum = energy.sum()
    counts, _ = np.histogram(theta, bins=bins, range=(-90.0, 90.0), weights=energy)
    aligned = energy[np.abs(_wrap180(theta - dominant)) <= within_deg].sum()
    return Orientation(
        coherency=coherency,
        orientation_deg=dominant,
        aligned_fraction=float(min(1.0, aligned / energy_sum)) if energy_sum > 0 else 0.0,
        counts=[float(c) for c in counts / energy_sum] if energy_sum > 0 else [0.0] * bins,
        bin_width_deg=bin_width_deg,
        start_deg=-90.0,
        block_px=block,
        has_structure=True,
    )
