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


def _row_stats(row: np.ndarray) -> tuple[bool, float, int]:
    """(bar-like, dominant value, number of distinct values) of one row."""
    values, counts = np.unique(row, return_counts=True)
    top = int(counts.argmax())
    bar_like = len(values) <= _MAX_DISTINCT and counts[top] >= _MIN_DOMINANT * row.size
    return bar_like, float(values[top]), len(values)


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
    for offset in range(limit + 1):
        bar_like, mode, distinct = _row_stats(pixels[height - 1 - offset])
        if bar_like:
            band, gap = offset + 1, 0
            text_rows += distinct > 1
            modes.append(mode)
        else:
            gap += 1
            if gap > _MAX_GAP:
                break
    if band < min_rows or band >= limit:
        return 0
    background_share = max(modes.count(m) for m in set(modes)) / len(modes)
    if text_rows < max(2, band // 10) or background_share < 0.6:
        return 0
    above = pixels[max(height - band - 8, 0): height - band]
    if sum(_row_stats(row)[0] for row in above) > 2:
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
