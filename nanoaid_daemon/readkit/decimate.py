"""Large frames read strip by strip and block-averaged down to a bounded analysis size.

A 16384² frame decoded whole, then converted and copied by each analyzer, cost gigabytes of
memory; the analysis needs no more than :data:`ANALYSIS_MAX_PIXELS`. A page above that is read one
strip or tile at a time (tifffile decodes segments) and each segment is summed into blocks of
``factor × factor`` stored pixels, so the memory a frame needs is set by the analysis image, not by
the stored one. The result is a :class:`Decimated` array that remembers the factor and the stored
shape, so the sidecar still states the stored dimensions and says that analysis ran decimated.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

__all__ = ["ANALYSIS_MAX_PIXELS", "Decimated", "decimation_factor", "read_decimated", "block_mean"]

#: Largest image analysis works on (4096 × 4096); larger pages are block-averaged to fit.
ANALYSIS_MAX_PIXELS = int(os.environ.get("NANOAID_ANALYSIS_MAX_PIXELS", 4096 * 4096))
_ROWS_PER_PASS = 256  # rows of an already-decoded image averaged at once (bounds the float copy)
_READ_BUFFER = 2 << 20  # bytes of compressed or raw strips tifffile reads from the file at once


class Decimated(np.ndarray):
    """A block-averaged image that knows its ``factor`` and the ``stored_shape`` it came from."""

    factor: int
    stored_shape: tuple[int, int]

    def __new__(cls, data: np.ndarray, factor: int, stored_shape: tuple[int, int]) -> Decimated:
        obj = np.asarray(data).view(cls)
        obj.factor = factor
        obj.stored_shape = stored_shape
        return obj

    def __array_finalize__(self, obj: object) -> None:
        self.factor = getattr(obj, "factor", 1)
        self.stored_shape = getattr(obj, "stored_shape", (0, 0))


def decimation_factor(width: int, height: int) -> int:
    """Smallest integer block side that brings ``width × height`` within the analysis size; 1 if it fits."""
    if width * height <= ANALYSIS_MAX_PIXELS:
        return 1
    factor = max(2, math.ceil(math.sqrt(width * height / ANALYSIS_MAX_PIXELS)))
    while math.ceil(width / factor) * math.ceil(height / factor) > ANALYSIS_MAX_PIXELS:
        factor += 1
    return factor


def _accumulate(sums: np.ndarray, block: np.ndarray, y0: int, x0: int, factor: int) -> None:
    """Add a 2-D block of stored pixels whose top-left is (y0, x0) into the per-cell sums."""
    rows = np.flatnonzero((np.arange(y0, y0 + block.shape[0]) % factor == 0) | (np.arange(block.shape[0]) == 0))
    cols = np.flatnonzero((np.arange(x0, x0 + block.shape[1]) % factor == 0) | (np.arange(block.shape[1]) == 0))
    part = np.add.reduceat(np.add.reduceat(block, rows, axis=0, dtype=np.float64), cols, axis=1)
    r0, c0 = y0 // factor, x0 // factor
    sums[r0:r0 + part.shape[0], c0:c0 + part.shape[1]] += part


def _finish(sums: np.ndarray, height: int, width: int, factor: int, dtype: np.dtype) -> Decimated:
    """Per-cell sums → means in the stored dtype (edge cells average the pixels they hold)."""
    row_n = np.minimum(factor, height - np.arange(sums.shape[0]) * factor).astype(np.float64)
    col_n = np.minimum(factor, width - np.arange(sums.shape[1]) * factor).astype(np.float64)
    sums /= row_n[:, None]
    sums /= col_n[None, :]
    if dtype in (np.uint8, np.uint16):
        info = np.iinfo(dtype)
        np.rint(sums, out=sums)  # in place: a temporary here would double the peak
        np.clip(sums, info.min, info.max, out=sums)
        out = sums.astype(dtype)
    else:
        out = sums.astype(np.float32)
    return Decimated(out, factor, (height, width))


def read_decimated(page, factor: int, to_grey: Callable[[np.ndarray], np.ndarray]) -> Decimated:
    """Decode ``page`` segment by segment, block-averaging by ``factor``; no full-size copy is made.

    ``to_grey`` maps one decoded segment (rows, columns[, samples]) to 2-D grey values in the
    analysis dtype; palette and MinIsWhite handling happen there, per segment.
    """
    height, width = int(page.imagelength), int(page.imagewidth)
    sums = np.zeros((math.ceil(height / factor), math.ceil(width / factor)), dtype=np.float64)
    dtype: np.dtype | None = None
    for segment, indices, _shape in page.segments(maxworkers=1, buffersize=_READ_BUFFER):
        y0, x0 = int(indices[2]), int(indices[3])
        if segment is None or y0 >= height or x0 >= width:
            continue
        data = np.asarray(segment)[0]  # (rows, columns, samples): one depth plane
        data = data[: height - y0, : width - x0]  # tiles at the edges are padded
        grey = to_grey(data[..., 0] if data.shape[-1] == 1 else data)
        dtype = grey.dtype
        _accumulate(sums, grey, y0, x0, factor)
    return _finish(sums, height, width, factor, np.dtype(dtype or np.uint8))


def block_mean(data: np.ndarray, factor: int) -> Decimated:
    """Block-average an image already decoded whole (Pillow's decoders), a few rows at a time."""
    height, width = data.shape
    sums = np.zeros((math.ceil(height / factor), math.ceil(width / factor)), dtype=np.float64)
    step = max(factor, (_ROWS_PER_PASS // factor) * factor)
    for y0 in range(0, height, step):
        _accumulate(sums, data[y0:y0 + step], y0, 0, factor)
    return _finish(sums, height, width, factor, data.dtype)
