"""Shared, defensive building blocks for reader plugins.

Everything here turns the many ways a file can be bad into a :class:`ReaderError` with a reason a
person can act on, and refuses to allocate more than the file could honestly hold.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .errors import ReaderError

__all__ = [
    "MAX_PIXELS",
    "check_dimensions",
    "open_tiff",
    "tiff_page_pixels",
    "to_grey",
    "media_type_for",
]

log = logging.getLogger(__name__)

#: Largest image (width × height) any reader decodes: 32k × 32k, well above any SEM frame.
MAX_PIXELS = int(os.environ.get("NANOAID_MAX_PIXELS", 32768 * 32768))

_MEDIA_TYPES = {
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


def media_type_for(path: Path) -> str:
    return _MEDIA_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def check_dimensions(width: int, height: int, path: Path, *, samples: int = 1) -> None:
    """Refuse absurd sizes before anything is allocated (decompression bombs, forged headers)."""
    if width <= 0 or height <= 0:
        raise ReaderError(f"image has no pixels ({width}×{height})", path=path, code="empty_image")
    if width * height > MAX_PIXELS:
        raise ReaderError(
            f"image declares {width}×{height} pixels, more than the limit of {MAX_PIXELS:,}; "
            "refusing to decode it (possible decompression bomb)",
            path=path,
            code="too_large",
        )


def open_tiff(path: Path):
    """Open a TIFF with tifffile, mapping every failure to a ReaderError."""
    import tifffile

    try:
        return tifffile.TiffFile(path)
    except FileNotFoundError as exc:
        raise ReaderError("file vanished before it could be read", path=path, code="vanished") from exc
    except PermissionError as exc:
        raise ReaderError("no permission to read the file", path=path, code="permission") from exc
    except Exception as exc:
        raise ReaderError(f"not a readable TIFF: {exc}", path=path, code="corrupt") from exc


def _strips_inside(page, file_size: int) -> bool:
    offsets = page.dataoffsets or ()
    counts = page.databytecounts or ()
    return all(0 < o and o + c <= file_size for o, c in zip(offsets, counts)) and len(offsets) == len(counts)


def tiff_page_pixels(page, path: Path) -> np.ndarray:
    """Decode one TIFF page after checking its size and that its data lies inside the file."""
    check_dimensions(int(page.imagewidth), int(page.imagelength), path)
    file_size = Path(path).stat().st_size
    if not _strips_inside(page, file_size):
        raise ReaderError("truncated TIFF: image data extends past the end of the file", path=path, code="truncated")
    try:
        data = page.asarray()
    except MemoryError as exc:
        raise ReaderError("image too large to decode in memory", path=path, code="too_large") from exc
    except Exception as exc:
        raise ReaderError(f"cannot decode TIFF image data: {exc}", path=path, code="corrupt") from exc
    colormap = getattr(page, "colormap", None)
    if colormap is not None and data.ndim == 2 and np.issubdtype(data.dtype, np.integer):
        data = _apply_palette(data, colormap)
    return data


def _apply_palette(indices: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    """Palette image → grey values; a grey ramp palette keeps 8-bit values exact."""
    cmap = np.asarray(colormap)
    if cmap.ndim == 2 and cmap.shape[0] == 3:
        cmap = cmap.T
    idx = np.clip(indices, 0, len(cmap) - 1)
    rgb = cmap[idx]
    if cmap.max() > 255:
        rgb = (rgb // 257).astype(np.uint8)
    else:
        rgb = rgb.astype(np.uint8)
    return to_grey(rgb)


def to_grey(data: np.ndarray) -> np.ndarray:
    """2-D grey image from grey, RGB or RGBA data, keeping the dtype (Rec. 601 luma)."""
    if data.ndim == 2:
        return data
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        rgb = data[..., :3].astype(np.float32)
        grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if np.issubdtype(data.dtype, np.integer):
            grey = np.clip(np.rint(grey), 0, np.iinfo(data.dtype).max)
        return grey.astype(data.dtype)
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] > 4:
        return to_grey(np.moveaxis(data, 0, -1))
    if data.ndim == 3 and data.shape[-1] == 1:
        return data[..., 0]
    raise ValueError(f"cannot make a grey image from shape {data.shape}")
