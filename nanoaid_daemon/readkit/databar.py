"""The databar: the strip of text SEMs burn in below the image, and how to cut it off.

Vendors that declare the image height (FEI ``ResolutionY``, TESCAN ``ImageStripSize``, Hitachi
``DataSize``…) are trusted; otherwise the band is found from the pixels. A databar is a flat band —
most of every row is one exact grey level, the bar's background, which noisy image rows never
are — carrying high-contrast, text-like marks (glyphs, boxes, a scale bar) and blank margins. The
band is followed upwards from the bottom row while rows are mostly background, or are ruled lines
in another level; a few rows dense with ink, a logo or a picture inside the bar are bridged. Where
the rows stop being background is where the bar begins. Tall bars (a hundred rows and more, many
text lines, anti-aliased fonts with dozens of grey levels) are found whole: nothing here counts
grey levels. A vendor's own declaration, where one exists but is known to be unreliable, only
confirms: within ``CONFIRM_ROWS`` of the pixels' answer it wins, otherwise the pixels do.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..frame import Page
from ..metadata import Instrument

__all__ = ["detect_databar", "databar_from_height", "make_page", "stored_shape", "CONFIRM_ROWS"]

_BACKGROUND_SHARE = 0.3  # a bar row is at least this much background (text rarely inks more)
_RULE_SHARE = 0.9  # a ruled line: one level (not the background) across the row
_BLANK_SHARE = 0.97  # a margin row: background but for a box outline or two
_MAX_GAP = 3  # rows inside the bar that are neither (dense ink, a logo, a picture)
_MAX_RULES = 3  # consecutive ruled rows in another level before it is image, not bar
CONFIRM_ROWS = 3


def _background(rows: np.ndarray) -> float:
    """The bar's background: the commonest value of the bottom rows."""
    values, counts = np.unique(rows[-6:], return_counts=True)
    return values[counts.argmax()]


def _mode_share(row: np.ndarray) -> float:
    return float(np.unique(row, return_counts=True)[1].max()) / row.size


def _band(rows_up: np.ndarray, share: np.ndarray) -> int:
    """Rows, counted from the bottom, up to the highest row that still belongs to the bar."""
    band = gap = rules = 0
    for i in range(len(share)):
        if share[i] >= _BACKGROUND_SHARE:
            band, gap, rules = i + 1, 0, 0
        elif _mode_share(rows_up[i]) >= _RULE_SHARE and rules < _MAX_RULES:
            band, gap, rules = i + 1, 0, rules + 1
        else:
            gap += 1
            if gap > _MAX_GAP:
                break
    return band


def _text_like(band_rows: np.ndarray, share: np.ndarray, background: float, contrast: float) -> bool:
    """Inked rows with marks far from the background, and blank margins: text, not a flat image region."""
    inked = int(np.sum(share < 0.995))
    blank = int(np.sum(share >= _BLANK_SHARE))
    marks = band_rows[band_rows != background].astype(np.float64)
    if inked < max(2, len(share) // 10) or blank < 2 or marks.size == 0:
        return False
    return float(np.median(np.abs(marks - float(background)))) >= 0.25 * contrast


def detect_databar(pixels: np.ndarray, *, max_fraction: float = 0.4, min_rows: int = 8,
                   declared: int | None = None) -> int:
    """Height of a burned-in databar at the bottom of ``pixels`` (2-D), or 0 when there is none.

    ``declared``: a vendor's own (unreliable) bar height, taken when the pixels agree within
    ``CONFIRM_ROWS``. An image that is uniform all the way up (blank, saturated) has no bar: 0.
    """
    if pixels.ndim != 2:
        return 0
    height, width = pixels.shape
    if height < 4 * min_rows or width < 32:
        return 0
    limit = int(height * max_fraction)
    rows_up = pixels[height - limit:][::-1]
    background = _background(pixels[height - 6:])
    share = (rows_up == background).mean(axis=1)
    band = _band(rows_up, share)
    if band < min_rows or band >= limit:
        return 0
    contrast = float(pixels.max()) - float(pixels.min())
    if not _text_like(rows_up[:band], share[:band], background, contrast):
        return 0
    factor = _factor(pixels)  # a decimated page: the answer is in stored rows, like a vendor's
    if declared is not None and abs(declared - band * factor) <= CONFIRM_ROWS * factor and declared >= min_rows:
        return declared
    return band * factor


def databar_from_height(stored_rows: int, image_rows: int | None, warn: Callable[[str], None] | None = None,
                        source: str = "") -> int | None:
    """Rows below a declared image height; None when the declaration is missing or impossible."""
    if image_rows is None or image_rows <= 0:
        return None
    if image_rows > stored_rows:
        if warn:
            warn(f"{source} declares {image_rows} image rows but the file stores only {stored_rows}; "
                 "no databar removed")
        return None
    return stored_rows - image_rows


def _factor(data: np.ndarray) -> int:
    return int(getattr(data, "factor", 1) or 1)


def stored_shape(data: np.ndarray) -> tuple[int, int]:
    """(rows, columns) as stored in the file, also for a block-averaged (``Decimated``) page.

    Readers derive pixel sizes, field widths and databar heights from these, never from the
    analysed shape.
    """
    stored = getattr(data, "stored_shape", None)
    if _factor(data) > 1 and stored:
        return int(stored[0]), int(stored[1])
    height, width = data.shape
    return int(height), int(width)


def make_page(data: np.ndarray, databar_rows: int, instrument: Instrument) -> Page:
    """A Page with the databar (``databar_rows``, in stored rows) cut off the bottom of the image.

    For a block-averaged (``Decimated``) image the Page keeps the stored dimensions, cuts the bar
    rounded up to whole analysed rows, and records the factor as ``decimation``.
    """
    factor = _factor(data)
    stored_height, stored_width = stored_shape(data)
    data = np.asarray(data)
    if databar_rows < 0 or databar_rows >= stored_height:
        databar_rows = 0
    cut = -(-databar_rows // factor)
    if cut >= data.shape[0]:
        cut = databar_rows = 0
    pixels = data[: data.shape[0] - cut] if cut else data
    return Page(pixels, databar_rows, instrument, stored_height, stored_width, decimation=factor)
