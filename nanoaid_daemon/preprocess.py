"""Turn a frame's pixels into a model input exactly as the model card's ``InputSpec`` says.

The order is fixed so that ``nanoaid process`` and the daemon feed a model identical tensors:
geometry first (crop / resize on the raw grey values, antialiased), then the grey-value mapping to
[0, 1] measured on the resized content, then channel replication and the card's normalisation.
Readers already cut the databar off ``Page.pixels``, so ``databar="crop"`` needs no work here and
``databar="keep"`` cannot bring it back (the runtime logs that once per model).

:class:`Geometry` records which part of the frame ended up where in the input, so maps computed
on the input (class activation maps) can be drawn back onto the frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .modelcard import InputSpec

__all__ = ["Geometry", "prepare", "to_unit", "resize_float", "finite_float32"]

PERCENTILES = (0.5, 99.5)
PERCENTILE_SAMPLES = 1 << 16
LARGE_PIXELS = 1 << 26  # 64 Mpx; above this the float copy is block-averaged first
STRIP_PIXELS = 1 << 22
_Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Geometry:
    """Frame box ``src`` (top, left, height, width in frame pixels) shown at input box ``dst``."""

    src: _Box
    dst: _Box
    input_hw: tuple[int, int]
    frame_hw: tuple[int, int]


def _finite(values: np.ndarray) -> np.ndarray:
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32)
    return np.nan_to_num(values.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)


def _block_mean_rows(rows: np.ndarray, factor: int) -> np.ndarray:
    h, w = (rows.shape[0] // factor) * factor, (rows.shape[1] // factor) * factor
    cols = rows[:h, 0:w:factor].copy()
    for j in range(1, factor):
        cols += rows[:h, j:w:factor]
    out = cols[0::factor].copy()
    for i in range(1, factor):
        out += cols[i::factor]
    return out * np.float32(1.0 / factor ** 2)


def finite_float32(pixels: np.ndarray) -> np.ndarray:
    """float32 grey values with NaN and infinities (float frames only) set to 0.

    Frames above ``LARGE_PIXELS`` (stitched maps) are first averaged over f×f blocks, a strip of
    rows at a time, so a float copy of a gigapixel frame is never made; every consumer of this
    copy shrinks it far more anyway (model inputs, 512-pixel previews).
    """
    factor = math.ceil(math.sqrt(pixels.size / LARGE_PIXELS)) if pixels.size > LARGE_PIXELS else 1
    factor = min(factor, *pixels.shape)
    if factor == 1:
        return _finite(pixels)
    step = max(factor, (STRIP_PIXELS // pixels.shape[1]) // factor * factor)
    strips = [_block_mean_rows(_finite(pixels[r:r + step]), factor) for r in range(0, pixels.shape[0], step)]
    return np.concatenate([s for s in strips if s.size], axis=0)


def resize_float(values: np.ndarray, height: int, width: int, box: tuple | None = None) -> np.ndarray:
    """Bilinear resize of a float image; downscaling is antialiased (Pillow widens the filter)."""
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR, box=box), dtype=np.float32)


def _sample(values: np.ndarray) -> np.ndarray:
    """At most ~2**16 evenly strided values: percentiles of a large image need no more."""
    flat = values.ravel()
    step = max(1, flat.size // PERCENTILE_SAMPLES)
    return flat[::step]


def to_unit(values: np.ndarray, mode: str, dtype: np.dtype | str | None = None) -> np.ndarray:
    """Map grey values to [0, 1]: robust percentiles, min/max, or the stored dtype's full range."""
    values = values.astype(np.float32, copy=False)
    if mode == "dtype" and dtype is not None and np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(np.dtype(dtype))
        lo, hi = float(info.min), float(info.max)
    elif mode == "minmax":
        lo, hi = float(values.min()), float(values.max())
    else:  # "percentile", and "dtype" for float data whose range is unknown
        lo, hi = (float(v) for v in np.percentile(_sample(values), PERCENTILES))
        if hi <= lo:
            lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros_like(values)
    return np.clip((values - lo) * (1.0 / (hi - lo)), 0.0, 1.0)


def _fit(height: int, width: int, spec: InputSpec) -> tuple[_Box, _Box]:
    """(src box in the frame, dst box in the input) for the card's resize mode."""
    in_h, in_w = spec.height, spec.width
    if spec.resize == "center_crop":
        scale = max(in_h / height, in_w / width)
        crop_h, crop_w = in_h / scale, in_w / scale
        return ((height - crop_h) / 2, (width - crop_w) / 2, crop_h, crop_w), (0, 0, in_h, in_w)
    if spec.resize == "letterbox":
        scale = min(in_h / height, in_w / width)
        out_h, out_w = max(1, round(height * scale)), max(1, round(width * scale))
        top, left = (in_h - out_h) // 2, (in_w - out_w) // 2
        return (0, 0, height, width), (top, left, out_h, out_w)
    return (0, 0, height, width), (0, 0, in_h, in_w)


def prepare(pixels: np.ndarray, spec: InputSpec, dtype: np.dtype | str | None = None) -> tuple[np.ndarray, Geometry]:
    """One frame as a float32 [C, H, W] input, and where the frame lies in it."""
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise ValueError(f"expected a 2-D grey image, got shape {pixels.shape}")
    dtype = dtype if dtype is not None else pixels.dtype
    values = finite_float32(pixels)
    height, width = values.shape
    src, dst = _fit(height, width, spec)
    top, left, h, w = src
    content = resize_float(values, int(dst[2]), int(dst[3]), box=(left, top, left + w, top + h))
    content = to_unit(content, spec.intensity, dtype)
    canvas = np.zeros((spec.height, spec.width), dtype=np.float32)
    canvas[dst[0]:dst[0] + dst[2], dst[1]:dst[1] + dst[3]] = content
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)
    tensor = (np.broadcast_to(canvas, (spec.channels, spec.height, spec.width)) - mean) / std
    fy, fx = pixels.shape[0] / values.shape[0], pixels.shape[1] / values.shape[1]  # 1 unless block-averaged
    src_frame = (float(src[0] * fy), float(src[1] * fx), float(src[2] * fy), float(src[3] * fx))
    dst_input = (float(dst[0]), float(dst[1]), float(dst[2]), float(dst[3]))
    geometry = Geometry(src_frame, dst_input, (spec.height, spec.width), (pixels.shape[0], pixels.shape[1]))
    return np.ascontiguousarray(tensor, dtype=np.float32), geometry
