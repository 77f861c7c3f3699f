"""Training views of a frame: what varies between SEMs, labs and operators, applied on purpose.

A view starts exactly like inference (databar cut, stretched to the input size, grey values
mapped by robust percentiles) and then is disturbed the way frames from other instruments
differ: field of view and zoom (random crops), orientation (flips, quarter turns), contrast,
brightness and gamma, focus (blur), scan speed (noise), resampling and JPEG export, a databar
left on, and operator annotations (text, arrows, boxes) burnt into the image. ``strength`` 2 is
the "unseen instrument" setting used to calibrate confidence (see ``heads.fit_temperature``).
"""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..evaluation.inputs import resize_float, to_unit
from ..synth.fields import blur

__all__ = ["clean_view", "augmented_view", "augmented_view_scaled"]

F32 = np.float32


def clean_view(grey: np.ndarray, size: int) -> np.ndarray:
    """The inference-time view (databar already cut): [size, size] in [0, 1]."""
    return to_unit(resize_float(grey.astype(F32, copy=False), size, size), "percentile")


def _crop_box(rng: np.random.Generator, rows: int, cols: int) -> tuple[float, float, float, float]:
    if rng.random() < 0.3:
        return 0.0, 0.0, float(cols), float(rows)
    area = rng.uniform(0.25, 1.0)
    aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    w = min(cols, cols * math.sqrt(area * aspect))
    h = min(rows, rows * math.sqrt(area / aspect))
    x0, y0 = rng.uniform(0, cols - w), rng.uniform(0, rows - h)
    return x0, y0, x0 + w, y0 + h


def _jpeg(unit: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.rint(unit * 255).astype(np.uint8)).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im, dtype=F32) / 255.0


def _annotate(rng: np.random.Generator, unit: np.ndarray) -> np.ndarray:
    """Operator marks: a label, an arrow or a box, in black or white."""
    img = Image.fromarray(np.rint(unit * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    size = unit.shape[0]
    ink = 255 if rng.random() < 0.7 else 0
    x, y = int(rng.uniform(0, size * 0.7)), int(rng.uniform(0, size * 0.85))
    kind = rng.integers(0, 3)
    if kind == 0:
        try:
            font = ImageFont.load_default(size=int(rng.integers(8, 16)))
        except TypeError:
            font = ImageFont.load_default()
        draw.text((x, y), str(rng.choice(["a", "b)", "A1", "x2", "region 1", "500 nm", "#3"])), fill=ink, font=font)
    elif kind == 1:
        x1, y1 = x + int(rng.uniform(-40, 40)), y + int(rng.uniform(-40, 40))
        draw.line([(x, y), (x1, y1)], fill=ink, width=2)
        draw.polygon([(x1, y1), (x1 - 4, y1 - 6), (x1 + 4, y1 - 6)], fill=ink)
    else:
        w, h = int(rng.uniform(15, 80)), int(rng.uniform(15, 80))
        draw.rectangle([x, y, x + w, y + h], outline=ink, width=1 + int(rng.integers(0, 2)))
    return np.asarray(img, dtype=F32) / 255.0


def _photometric(rng: np.random.Generator, v: np.ndarray, strength: float) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0) ** math.exp(rng.normal(0.0, 0.25 * strength))
    v = (v - 0.5) * rng.uniform(1 - 0.25 * strength, 1 + 0.25 * strength) + 0.5 + rng.uniform(-0.1, 0.1) * strength
    if rng.random() < 0.25 * strength:
        v = blur(v.astype(F32), rng.uniform(0.4, 1.2 * strength))
    elif rng.random() < 0.15:
        v = v + rng.uniform(0.3, 1.0) * (v - blur(v.astype(F32), 1.5))  # unsharp mask, as some exports apply
    if rng.random() < 0.35 * strength:
        v = v + rng.normal(0.0, rng.uniform(0.01, 0.05 * strength), v.shape).astype(F32)
    return np.clip(v, 0.0, 1.0).astype(F32)


def augmented_view(
    rng: np.random.Generator, grey: np.ndarray, bar_rows: int, size: int, strength: float = 1.0
) -> np.ndarray:
    """A randomly disturbed view of a frame (databar rows at the bottom of ``grey``)."""
    return augmented_view_scaled(rng, grey, bar_rows, size, strength)[0]


def augmented_view_scaled(
    rng: np.random.Generator, grey: np.ndarray, bar_rows: int, size: int, strength: float = 1.0
) -> tuple[np.ndarray, float]:
    """:func:`augmented_view` and the view's horizontal field width as a share of the frame's.

    A crop narrows the field; after a quarter turn the view's width is the crop's height (square
    pixels), so the share follows the same random draws as the pixels.
    """
    keep_bar = bar_rows > 0 and rng.random() < 0.15
    frame = grey if keep_bar or not bar_rows else grey[: grey.shape[0] - bar_rows]
    frame = frame.astype(F32, copy=False)
    rows, cols = frame.shape
    box = (0.0, 0.0, float(cols), float(rows)) if keep_bar else _crop_box(rng, rows, cols)
    if rng.random() < 0.15 * strength:  # resampled export: detail lost, then scaled back up
        factor = rng.uniform(1.5, 3.0)
        small = resize_float(frame, max(8, int(size / factor)), max(8, int(size / factor)), box=box)
        view = resize_float(small, size, size)
    else:
        view = resize_float(frame, size, size, box=box)
    v = to_unit(view, "percentile")
    if rng.random() < 0.5:
        v = v[:, ::-1]
    if rng.random() < 0.5:
        v = v[::-1, :]
    share = (box[2] - box[0]) / cols
    if rng.random() < 0.25:
        v = np.rot90(v)
        share = (box[3] - box[1]) / cols
    v = _photometric(rng, np.ascontiguousarray(v), strength)
    if rng.random() < 0.3 * strength:
        v = _jpeg(v, int(rng.integers(max(10, int(90 - 40 * strength)), 95)))
    if rng.random() < 0.08 * strength:
        v = _annotate(rng, v)
    return np.ascontiguousarray(v, dtype=F32), float(share)
