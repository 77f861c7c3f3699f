"""The databar: the strip of text SEMs burn in below the image, and how to cut it off.

Vendors that declare the image height (FEI ``ResolutionY``, TESCAN ``ImageStripSize``, Hitachi
``DataSize``…) are trusted; for an image with no metadata the band is detected from the pixels:
bottom rows that are nearly all one background value with a few glyph values on it, sharply
different from the noisy image rows above.
"""
from __future__ import annotations

import numpy as np

from ..frame import Page
from ..metadata import Instrument

__all__ = ["detect_databar", "databar_from_height", "make_page"]

_MAX_DISTINCT = 32  # a text row holds background, glyph colour and some anti-aliasing
_MIN_DOMINANT = 0.5  # ... and is mostly background
_MAX_GAP = 2  # rows of a logo or picture inside the bar that do not look like text


def _row_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: (bar-like, dominant value, number of distinct values), computed for all rows at once."""
    count, width = rows.shape
    if rows.dtype == np.uint8:  # one 2-D histogram instead of a sort per row
        hist = np.bincount((rows + (np.arange(count, dtype=np.int64) * 256)[:, None]).ravel(),
                           minlength=count * 256).reshape(count, 256)
        distinct, mode, top = (hist > 0).sum(1), hist.argmax(1).astype(np.float64), hist.max(1)
    else:
        ordered = np.sort(rows, axis=1)
        change = ordered[:, 1:] != ordered[:, :-1]
        distinct = change.sum(1) + 1
        mode, top = np.zeros(count), np.zeros(count, dtype=np.int64)
        for i in np.flatnonzero(distinct <= _MAX_DISTINCT):  # only candidate rows need the exact mode
            values, counts = np.unique(rows[i], return_counts=True)
            mode[i], top[i] = values[counts.argmax()], counts.max()
    bar_like = (distinct <= _MAX_DISTINCT) & (top >= _MIN_DOMINANT * width)
    return bar_like, mode, distinct


def detect_databar(pixels: np.ndarray, *, max_fraction: float = 0.4, min_rows: int = 8) -> int:
    """Height of a burned-in databar at the bottom of ``pixels`` (2-D), or 0 when there is none.

    An image that is uniform all the way up (blank, saturated) has no detectable bar: 0.
    """
    if pixels.ndim != 2:
        return 0
    height, width = pixels.shape
    if height < 4 * min_rows or width < 32:
        return 0
    limit = int(height * max_fraction)
    band, gap, text_rows, modes = 0, 0, 0, []
    for start in range(0, limit + 1, 64):  # bottom-up, a chunk of rows at a time
        stop = min(start + 64, limit + 1)
        bar_like, mode, distinct = _row_stats(pixels[height - stop: height - start][::-1])
        for i in range(stop - start):
            if bar_like[i]:
                band, gap = start + i + 1, 0
                text_rows += int(distinct[i] > 1)
                modes.append(float(mode[i]))
            else:
                gap += 1
                if gap > _MAX_GAP:
                    break
        if gap > _MAX_GAP:
            break
    if band < min_rows or band >= limit:
        return 0
    background_share = max(modes.count(m) for m in set(modes)) / len(modes)
    if text_rows < max(2, band // 10) or background_share < 0.6:
        return 0
    above = pixels[max(height - band - 8, 0): height - band]
    if int(_row_stats(above)[0].sum()) > 2:
        return 0
    return band


def databar_from_height(stored_rows: int, image_rows: int | None, warn=None, source: str = "") -> int | None:
    """Rows below a declared image height; None when the declaration is missing or impossible."""
    if image_rows is None or image_rows <= 0:
        return None
    if image_rows > stored_rows:
        if warn:
            warn(f"{source} declares {image_rows} image rows but the file stores only {stored_rows}; "
                 "no databar removed")
        return None
    return stored_rows - image_rows


def make_page(data: np.ndarray, databar_rows: int, instrument: Instrument) -> Page:
    """A Page with the databar cut off the bottom of the stored image."""
    height, width = data.shape
    if databar_rows < 0 or databar_rows >= height:
        databar_rows = 0
    pixels = data[: height - databar_rows] if databar_rows else data
    return Page(pixels, databar_rows, instrument, height, width)
