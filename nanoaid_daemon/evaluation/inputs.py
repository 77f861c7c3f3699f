"""Images from disk to model inputs, the way the daemon feeds its models.

Preprocessing follows the model card's ``InputSpec`` in a fixed order — geometry first (crop /
stretch / letterbox, antialiased bilinear on the raw grey values), then the grey-value mapping to
[0, 1] measured on the resized content (0.5/99.5 percentiles by default), then channel
replication and normalisation — so training, ``nanoaid models eval`` and the daemon see identical
tensors.

Files in a labelled folder carry no reader metadata, so their databar is found here by looking
for it: a band of rows at the bottom whose background is one flat grey level (text and scale bar
are thin ink on it) directly under rows of image content.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ReaderError
from ..modelcard import InputSpec

__all__ = ["load_grey", "detect_databar", "resize_float", "to_unit", "prepare", "PERCENTILES"]

PERCENTILES = (0.5, 99.5)
Image.MAX_IMAGE_PIXELS = 200_000_000


def load_grey(path: Path) -> np.ndarray:
    """First image of a file as a 2-D array (uint8, uint16 or float32); colour → luminance."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.seek(0)
                if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                    return np.asarray(im, dtype=np.uint16).copy()
                if im.mode in ("I", "F"):
                    return np.asarray(im, dtype=np.float32).copy()
                return np.asarray(im.convert("L"), dtype=np.uint8).copy()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        if path.suffix.lower() in (".tif", ".tiff"):
            return _load_tiff(path, exc)
        raise ReaderError(f"not a readable image: {exc}", path=path, code="corrupt") from exc


def _load_tiff(path: Path, first_error: Exception) -> np.ndarray:
    import tifffile

    try:
        data = tifffile.imread(path, key=0)
    except Exception as exc:
        raise ReaderError(f"not a readable image: {first_error}; {exc}", path=path, code="corrupt") from exc
    if data.ndim == 3:
        data = data[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if data.ndim != 2:
        raise ReaderError(f"expected a 2-D image, got shape {data.shape}", path=path, code="unsupported")
    return data


def _as_8bit(grey: np.ndarray) -> np.ndarray:
    if grey.dtype == np.uint8:
        return grey
    if grey.dtype == np.uint16:
        return (grey >> 8).astype(np.uint8)
    lo, hi = float(np.min(grey)), float(np.max(grey))
    return np.zeros(grey.shape, np.uint8) if hi <= lo else ((grey - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def detect_databar(grey: np.ndarray, *, max_fraction: float = 0.22) -> int:
    """Number of databar rows at the bottom of ``grey`` (0 when there is none).

    A bar row is mostly one exact grey level (the bar's background; noise never is) or a ruled
    line in another level; one text row dense with ink is tolerated inside the bar, a stray scan
    line under it too. A real bar has blank margins around its text, which clipped black image
    regions (also exactly flat) usually lack.
    """
    rows = grey.shape[0]
    span = int(rows * max_fraction)
    if span < 8:
        return 0
    bottom = _as_8bit(grey[rows - span :]).astype(np.int16)
    median = np.median(bottom, axis=1)
    flat = np.mean(bottom == median[:, None], axis=1)
    background = float(np.bincount(np.rint(median[-16:]).astype(np.int64)).argmax())
    is_bar = (flat >= 0.35) & (np.abs(median - background) <= 6)
    is_rule = flat >= 0.9
    run = ruled = 0
    for i in range(span - 1, 0, -1):
        ok = bool(is_bar[i] or is_rule[i])
        if not ok and run and i >= 2 and is_bar[i - 1] and is_bar[i - 2]:
            ok = True  # a text row dense with ink
        if not ok and span - i <= 2 and (is_bar[i - 1] or is_rule[i - 1]):
            ok = True  # a stray last scan line under the bar
        if not ok:
            break
        ruled = ruled + 1 if not is_bar[i] else 0
        if ruled > 3:  # more than a ruled line in another grey: this is image, not bar
            run -= 3
            break
        run += 1
    blank = int(np.sum(flat[span - run :] >= 0.97)) if run else 0
    return run if 8 <= run < span - 1 and blank >= 2 else 0


def resize_float(values: np.ndarray, height: int, width: int, box=None) -> np.ndarray:
    """Bilinear resize of a float image; downscaling is antialiased (Pillow widens the filter)."""
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.BILINEAR, box=box), dtype=np.float32)


def to_unit(values: np.ndarray, mode: str = "percentile", dtype=None) -> np.ndarray:
    """Grey values mapped to [0, 1] by robust percentiles, min/max or the stored dtype's range."""
    values = values.astype(np.float32, copy=False)
    if mode == "dtype" and dtype is not None and np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(np.dtype(dtype))
        lo, hi = float(info.min), float(info.max)
    elif mode == "minmax":
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = (float(v) for v in np.percentile(values, PERCENTILES))
        if hi <= lo:
            lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros_like(values)
    return np.clip((values - lo) * (1.0 / (hi - lo)), 0.0, 1.0)


def _geometry(height: int, width: int, spec: InputSpec):
    in_h, in_w = spec.height, spec.width
    if spec.resize == "center_crop":
        scale = max(in_h / height, in_w / width)
        ch, cw = in_h / scale, in_w / scale
        return ((width - cw) / 2, (height - ch) / 2, (width + cw) / 2, (height + ch) / 2), (0, 0, in_h, in_w)
    if spec.resize == "letterbox":
        scale = min(in_h / height, in_w / width)
        oh, ow = max(1, round(height * scale)), max(1, round(width * scale))
        return (0, 0, width, height), ((in_h - oh) // 2, (in_w - ow) // 2, oh, ow)
    return (0, 0, width, height), (0, 0, in_h, in_w)


def unit_view(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The frame as the model's [H, W] grey input in [0, 1], before channel normalisation."""
    values = np.nan_to_num(pixels.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    box, (top, left, h, w) = _geometry(*values.shape, spec)
    content = to_unit(resize_float(values, h, w, box=box), spec.intensity, pixels.dtype)
    canvas = np.zeros((spec.height, spec.width), np.float32)
    canvas[top : top + h, left : left + w] = content
    return canvas


def normalise(unit: np.ndarray, spec: InputSpec) -> np.ndarray:
    """[H, W] values in [0, 1] → [C, H, W] model input with the card's mean/std."""
    mean = np.asarray(spec.mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, np.float32).reshape(-1, 1, 1)
    return np.ascontiguousarray((np.broadcast_to(unit, (spec.channels, *unit.shape)) - mean) / std, dtype=np.float32)


def prepare(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """One frame (databar already removed) as a float32 [C, H, W] model input."""
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"expected a 2-D grey image, got shape {pixels.shape}")
    return normalise(unit_view(pixels, spec), spec)
