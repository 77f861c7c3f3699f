"""Turning whatever a file stores into the 2-D grey array analysis expects.

Analysis works on one grey channel in uint8, uint16 or float32. Palette, RGB(A), bilevel and
exotic sample formats are mapped onto those once, here, so every reader behaves alike.
"""
from __future__ import annotations

import numpy as np

__all__ = ["to_grey", "apply_palette", "analysis_dtype"]

_LUMA_INT = np.array([299, 587, 114], dtype=np.uint32)  # Rec. 601, sums to 1000: grey RGB stays exact
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_grey(data: np.ndarray) -> np.ndarray:
    """2-D grey image from grey, grey+alpha, RGB or RGBA data, keeping the dtype (Rec. 601 luma)."""
    if data.ndim == 2:
        return data
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        return _luma(data[..., :3])
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] > 4:
        return to_grey(np.moveaxis(data, 0, -1))
    if data.ndim == 3 and data.shape[-1] in (1, 2):  # grey, or grey + alpha
        return data[..., 0]
    raise ValueError(f"cannot make a grey image from shape {data.shape}")


def _luma(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8 or rgb.dtype == np.uint16:
        acc = rgb.astype(np.uint32) @ _LUMA_INT
        return ((acc + 500) // 1000).astype(rgb.dtype)
    grey = rgb.astype(np.float32) @ _LUMA
    if np.issubdtype(rgb.dtype, np.integer):
        info = np.iinfo(rgb.dtype)
        grey = np.clip(np.rint(grey), info.min, info.max)
    return grey.astype(rgb.dtype)


def apply_palette(indices: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    """Palette image → uint8 grey through a lookup table; a grey-ramp palette keeps values exact."""
    cmap = np.asarray(colormap)
    if cmap.ndim == 2 and cmap.shape[0] == 3 and cmap.shape[1] != 3:
        cmap = cmap.T
    if cmap.ndim != 2 or cmap.shape[1] < 3 or len(cmap) == 0:
        raise ValueError(f"palette has shape {cmap.shape}, expected (N, 3)")
    rgb = cmap[:, :3].astype(np.float64)
    if rgb.max(initial=0) > 255:
        rgb = rgb / 257.0
    lut = np.clip(np.rint(rgb @ _LUMA.astype(np.float64)), 0, 255).astype(np.uint8)
    if indices.dtype == np.uint8 and len(lut) >= 256 and np.array_equal(lut[:256], np.arange(256)):
        return indices  # the usual grey ramp: indices already are the grey values
    idx = np.clip(indices, 0, len(lut) - 1) if indices.max(initial=0) >= len(lut) else indices
    return lut[idx]


def analysis_dtype(data: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float32 only: bilevel → 0/255, other integers and floats → float32."""
    if data.dtype in (np.uint8, np.uint16, np.float32):
        return data
    if data.dtype == np.bool_:
        return data.astype(np.uint8) * np.uint8(255)
    if data.dtype == np.int8:
        return (data.astype(np.int16) + 128).astype(np.uint8)
    if np.issubdtype(data.dtype, np.complexfloating):
        return np.abs(data).astype(np.float32)
    return data.astype(np.float32)
