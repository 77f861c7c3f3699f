"""Image gradients for the structure tensor: OrientationJ's cubic B-spline (default), finite difference, Scharr.

Every kernel takes a block already padded by ``REACH[kind]`` mirrored pixels on each side and returns
(∂I/∂x, ∂I/∂y) of the unpadded interior, x along the columns, y down the rows, in float32.

**Cubic B-spline** (OrientationJ's default; Unser's B-spline signal processing, as described in
Püspöki et al. 2016). Along each row the image is interpolated by a cubic spline — coefficients
c = (B₃)⁻¹ s, the recursive filter with pole z = √3 − 2 and mirror boundaries — and the gradient
is the spline's exact derivative at the samples, (c[k+1] − c[k−1]) / 2; the same down each column.
Nothing smooths across the derivative axis. The inverse filter's impulse response is √3·z^|k|, so
the whole operator is the antisymmetric kernel t[m] = (√3/2)(z^|m+1| − z^|m−1|). It is applied as
a finite kernel of half-length ``SPLINE_REACH`` = 8 (|z|⁸ ≈ 2.6·10⁻⁵, so each gradient is within
3·10⁻⁵ of the recursive filter's, relative to the grey range) with whole-sample mirrored borders,
exactly the boundary the recursive filter assumes. It runs as small matrix products over 32-pixel
tiles (one banded Toeplitz matrix for every tile), far faster than 16 shifted array passes.

**Finite difference**: (I[k+1] − I[k−1]) / 2 along each axis (OrientationJ's other option, up to a
constant factor that cancels in every measure here).

**Scharr** 3×3: the derivative ``[-1, 0, 1] / 2`` across the axis smoothed by ``[3, 10, 3] / 16``
along the other (this project's kernel before 1.1; nearly rotation invariant, but its smoothing
raises coherency above OrientationJ's on fine structure).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

__all__ = ["GradientKind", "REACH", "DESCRIPTION", "spline_taps", "mirror_pad", "padded_gradients", "gradients"]

GradientKind = Literal["spline", "finite-difference", "scharr"]
SPLINE_POLE = math.sqrt(3.0) - 2.0
SPLINE_REACH = 8
_TILE = 32
_PIECE = 128
REACH: dict[str, int] = {"spline": SPLINE_REACH, "finite-difference": 1, "scharr": 1}
DESCRIPTION: dict[str, str] = {
    "spline": "cubic B-spline (OrientationJ default): exact derivative of the interpolating cubic spline "
              "along each axis, pole sqrt(3)-2, mirror borders, kernel half-length 8",
    "finite-difference": "central difference (I[k+1]-I[k-1])/2 along each axis, mirror borders",
    "scharr": "scharr3x3: derivative [-1,0,1]/2 across, smoothing [3,10,3]/16 along, mirrored borders",
}


def spline_taps(reach: int = SPLINE_REACH) -> np.ndarray:
    """t[m] for m = −reach…reach: gradient[k] = Σ_m s[k − m]·t[m]."""
    m = np.arange(-reach - 1, reach + 2)
    h = math.sqrt(3.0) * SPLINE_POLE ** np.abs(m)  # impulse response of the inverse B-spline filter
    return 0.5 * (h[2:] - h[:-2])


@lru_cache(maxsize=4)
def _tile_matrix(tile: int, reach: int) -> np.ndarray:
    """(tile + 2·reach) × tile matrix M with out[j] = Σ_i window[i]·M[i, j] for one tile."""
    taps = spline_taps(reach)
    matrix = np.zeros((tile + 2 * reach, tile), np.float32)
    for j in range(tile):
        matrix[j: j + 2 * reach + 1, j] = taps[::-1]
    return matrix


def _spline_rows(p: np.ndarray, reach: int) -> np.ndarray:
    """Spline derivative along axis 1 of a block padded by ``reach`` columns each side.

    The row is cut into overlapping windows of ``tile + 2·reach`` samples (a strided view, no copy)
    and every window is multiplied by one small banded matrix in a single batched ``matmul``. The
    windows overlap, so numpy runs its own loop rather than the BLAS — which is what we want: the
    BLAS would start threads for such small products, and under load those cost far more CPU than
    they save."""
    height, width = p.shape[0], p.shape[1] - 2 * reach
    tiles = -(-width // _TILE)
    if tiles * _TILE != width:  # widen so every tile is whole; the extra outputs are dropped
        p = np.pad(p, ((0, 0), (0, tiles * _TILE - width)), mode="edge")
    windows = sliding_window_view(p, _TILE + 2 * reach, axis=1)[:, ::_TILE]
    return np.matmul(windows, _tile_matrix(_TILE, reach)).reshape(height, tiles * _TILE)[:, :width]


def _spline_cols(p: np.ndarray, reach: int) -> np.ndarray:
    """Spline derivative along axis 0 of a float32 block padded by ``reach`` rows each side.

    Each (tile + 2·reach)-row band, cut into 128-column pieces (a strided view), is multiplied from
    the left by the transposed tile matrix in one batched ``matmul``; the pieces are small enough
    (32 × 48 × 128) for the BLAS to run each on the calling thread."""
    height, width = p.shape[0] - 2 * reach, p.shape[1]
    tiles, pieces = -(-height // _TILE), -(-width // _PIECE)
    grow_rows, grow_cols = tiles * _TILE - height, pieces * _PIECE - width
    if grow_rows or grow_cols:
        p = np.pad(p, ((0, grow_rows), (0, grow_cols)), mode="edge")
    rows, item = p.strides[0], p.strides[1]
    bands = as_strided(p, shape=(tiles, pieces, _TILE + 2 * reach, _PIECE),
                       strides=(_TILE * rows, _PIECE * item, rows, item), writeable=False)
    out = np.matmul(_tile_matrix(_TILE, reach).T, bands)  # (tiles, pieces, tile, piece)
    return out.transpose(0, 2, 1, 3).reshape(tiles * _TILE, pieces * _PIECE)[:height, :width]


def _spline(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both derivatives; the stored values are converted to float32 in the same pass as the copy."""
    r = SPLINE_REACH
    return (_spline_rows(np.ascontiguousarray(p[r:-r], dtype=np.float32), r),
            _spline_cols(np.ascontiguousarray(p[:, r:-r], dtype=np.float32), r))


def _finite_difference(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half = np.float32(0.5)
    return (p[1:-1, 2:] - p[1:-1, :-2]) * half, (p[2:, 1:-1] - p[:-2, 1:-1]) * half


def _scharr(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dx = p[:, 2:] - p[:, :-2]
    gx = (3 * dx[:-2] + 10 * dx[1:-1] + 3 * dx[2:]) * np.float32(1 / 32)
    dy = p[2:] - p[:-2]
    gy = (3 * dy[:, :-2] + 10 * dy[:, 1:-1] + 3 * dy[:, 2:]) * np.float32(1 / 32)
    return gx, gy


_KERNELS = {"spline": _spline, "finite-difference": _finite_difference, "scharr": _scharr}


def padded_gradients(p: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 gradients of the interior of a block (any real dtype) padded by ``REACH[kind]`` on every side."""
    return _KERNELS[kind](p if kind == "spline" else p.astype(np.float32, copy=False))


def mirror_pad(rows: np.ndarray, top: int, bottom: int, side: int) -> np.ndarray:
    """Whole-sample mirror padding (``s[-k] = s[k]``), repeated when the block is thinner than the padding."""
    while top or bottom or side:
        h, w = rows.shape
        t, b, s = min(top, h - 1), min(bottom, h - 1), min(side, w - 1)
        if max(t, b, s) <= 0:
            return np.pad(rows, ((top, bottom), (side, side)), mode="edge")
        rows = np.pad(rows, ((t, b), (s, s)), mode="reflect")
        top, bottom, side = top - t, bottom - b, side - s
    return rows


def gradients(image: np.ndarray, kind: str = "spline") -> tuple[np.ndarray, np.ndarray]:
    """(∂I/∂x, ∂I/∂y) of a whole 2-D image with mirrored borders."""
    image = np.asarray(image, np.float32)
    reach = REACH[kind]
    return padded_gradients(mirror_pad(image, reach, reach, reach), kind)
