"""What a reader hands the pipeline: pixels of the image proper plus normalised metadata."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .metadata import Instrument

__all__ = ["Page", "ReadResult", "BY_HOST"]

#: What a reader puts in ``ReadResult.reader``: the host stamps its manifest name there.
BY_HOST = ""


@dataclass(frozen=True)
class Page:
    """One image of a file.

    ``pixels`` is 2-D (rows, columns): the image proper with any databar cut off, grey values in
    the stored dtype (uint8, uint16 or float32). RGB is converted to luminance by the reader.
    A frame above the analysis size is block-averaged while it is read (``decimation`` > 1);
    ``stored_*_px`` and ``databar_rows`` always count stored pixels.
    """

    pixels: np.ndarray
    databar_rows: int
    instrument: Instrument
    stored_height_px: int
    stored_width_px: int
    #: Block side (stored pixels per analysed pixel) when a large frame was read decimated; 1 = as stored.
    decimation: int = 1

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise ValueError(f"Page.pixels must be 2-D, got shape {self.pixels.shape}")
        if self.databar_rows < 0:
            raise ValueError("databar_rows must be >= 0")
        if self.decimation < 1:
            raise ValueError("decimation must be >= 1")


@dataclass(frozen=True)
class ReadResult:
    """Everything a reader learned from one file. ``pages[0]`` is the frame that is analysed.

    ``reader`` is the reader plugin's manifest name, stamped by the host (``PluginHost.read``);
    a reader passes :data:`BY_HOST`.
    """

    path: Path
    reader: str
    media_type: str
    dtype: str
    pages: list[Page]
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.pages:
            raise ValueError("a ReadResult needs at least one page")

    @property
    def primary(self) -> Page:
        return self.pages[0]
