"""Images for the pages: the daemon's previews by kind, or a thumbnail made from the frame itself.

The daemon's ``previews`` analyzer writes ``thumbnail``, ``cam`` (class evidence over the frame)
and ``ai_lens`` PNGs beside the sidecar. Where it did not run (disabled, or an older frame), the
console makes a grey thumbnail from the frame file the journal names, and keeps the last few
hundred in memory.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..journal import FrameRecord

__all__ = ["KINDS", "Thumbnails"]

KINDS = ("thumbnail", "cam", "ai_lens")
_MAX_SIDE = 320


def _to_grey8(img: Image.Image) -> Image.Image:
    """8-bit grey, stretched between the 0.5th and 99.5th percentile (16-bit SEM frames look black otherwise)."""
    if img.mode in ("L", "RGB", "RGBA", "P"):
        return img.convert("L")
    arr = np.asarray(img, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    lo, hi = np.percentile(arr, (0.5, 99.5))
    scaled = np.clip((arr - lo) / max(hi - lo, 1e-9), 0, 1) * 255
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def make_thumbnail(path: Path, databar_rows: int = 0) -> bytes | None:
    """PNG bytes of a thumbnail of the frame file, or None when it cannot be read."""
    try:
        with Image.open(path) as img:
            img.draft("L", (_MAX_SIDE, _MAX_SIDE))
            grey = _to_grey8(img)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    if databar_rows and databar_rows < grey.height:
        grey = grey.crop((0, 0, grey.width, grey.height - databar_rows))
    grey.thumbnail((_MAX_SIDE, _MAX_SIDE))
    out = io.BytesIO()
    grey.save(out, format="PNG")
    return out.getvalue()


class Thumbnails:
    """An LRU of thumbnails made from frame files (frame ids are content hashes: never stale)."""

    def __init__(self, size: int = 512):
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, frame: FrameRecord, databar_rows: int = 0) -> bytes | None:
        with self._lock:
            if frame.frame_id in self._items:
                self._items.move_to_end(frame.frame_id)
                return self._items[frame.frame_id]
        data = make_thumbnail(Path(frame.path), databar_rows)
        if data is not None:
            with self._lock:
                self._items[frame.frame_id] = data
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return data
