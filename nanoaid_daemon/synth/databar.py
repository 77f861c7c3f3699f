"""Vendor-like information bars burnt into the bottom of a frame, with a scale bar.

Three looks: ``fei`` (black bar, white boxed fields, micron bar on the right), ``zeiss`` (light
panel, black ``EHT = … kV`` fields, scale bar on the left) and ``plain`` (a single text line).
The model must learn to ignore them, and readers/cropping code must find where they start.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["STYLES", "bar_rows", "draw_databar", "nice_scale"]

STYLES = ("fei", "zeiss", "plain")


def bar_rows(style: str, rows: int, cols: int) -> int:
    frac = {"fei": 0.075, "zeiss": 0.1, "plain": 0.05}[style]
    return max(16, int(round(max(rows, cols * 0.75) * frac)))


def nice_scale(field_nm: float) -> tuple[float, str]:
    """A round scale-bar length near a fifth of the field, and its label."""
    target = field_nm / 5
    exp = 10 ** math.floor(math.log10(target))
    length = max(m * exp for m in (1, 2, 5) if m * exp <= target * 1.5)
    if length >= 1e6:
        return length, f"{length / 1e6:g} mm"
    if length >= 1e3:
        return length, f"{length / 1e3:g} um"
    return length, f"{length:g} nm"


def _font(px: int):
    try:
        return ImageFont.load_default(size=max(8, px))
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fields(meta: dict) -> list[tuple[str, str]]:
    mag = meta["magnification"]
    mag_text = f"{mag / 1000:.1f} kx" if mag >= 1000 else f"{mag:.0f} x"
    return [
        ("HV", f"{meta['beam_energy_kv']:.2f} kV"),
        ("mag", mag_text),
        ("WD", f"{meta['working_distance_mm']:.1f} mm"),
        ("HFW", _length(meta["pixel_size_nm"] * meta["width_px"])),
        ("det", meta["detector"]),
        ("dwell", f"{meta['dwell_time_us']:g} us"),
    ]


def _length(nm: float) -> str:
    if nm >= 1e6:
        return f"{nm / 1e6:.2f} mm"
    return f"{nm / 1e3:.2f} um" if nm >= 1e3 else f"{nm:.0f} nm"


def draw_databar(style: str, height: int, cols: int, meta: dict) -> np.ndarray:
    """The bar as a uint8 array of ``height`` × ``cols``."""
    dark = style != "zeiss"
    img = Image.new("L", (cols, height), 0 if dark else 225)
    draw = ImageDraw.Draw(img)
    ink = 255 if dark else 0
    font = _font(int(height * (0.32 if style != "plain" else 0.5)))
    scale_nm, label = nice_scale(meta["pixel_size_nm"] * meta["width_px"])
    bar_px = max(4, int(round(scale_nm / meta["pixel_size_nm"])))
    if style == "fei":
        draw.rectangle([0, 0, cols - 1, 0], fill=ink)
        draw.rectangle([0, height - 1, cols - 1, height - 1], fill=ink)
        fields = _fields(meta)[:5]
        box = int(cols * 0.6 / len(fields))
        for i, (name, value) in enumerate(fields):
            x = i * box
            draw.rectangle([x, 0, x + box - 1, height - 1], outline=ink)
            draw.text((x + 4, 2), name, fill=ink, font=font)
            draw.text((x + 4, height // 2), value, fill=ink, font=font)
        x0 = int(cols * 0.62)
        draw.text((x0 + bar_px // 2 - len(label) * 3, 2), label, fill=ink, font=font)
        y = int(height * 0.72)
        draw.rectangle([x0, y - 1, x0 + bar_px, y + 1], fill=ink)
        draw.rectangle([x0, y - 4, x0 + 1, y + 4], fill=ink)
        draw.rectangle([x0 + bar_px - 1, y - 4, x0 + bar_px, y + 4], fill=ink)
    elif style == "zeiss":
        draw.rectangle([0, 0, cols - 1, 1], fill=0)
        draw.text((10, 4), label, fill=ink, font=font)
        y = int(height * 0.6)
        draw.rectangle([10, y, 10 + bar_px, y + 2], fill=ink)
        draw.rectangle([10, y - 6, 11, y + 8], fill=ink)
        draw.rectangle([9 + bar_px, y - 6, 10 + bar_px, y + 8], fill=ink)
        col = max(bar_px + 40, int(cols * 0.22))
        texts = [f"EHT = {meta['beam_energy_kv']:.2f} kV", f"WD = {meta['working_distance_mm']:.1f} mm",
                 f"Signal A = {meta['detector']}", f"Mag = {_zeiss_mag(meta['magnification'])}"]
        for i, text in enumerate(texts):
            draw.text((col + (i // 2) * int(cols * 0.28), 4 + (i % 2) * height // 2), text, fill=ink, font=font)
    else:
        text = "   ".join(f"{k} {v}" for k, v in _fields(meta)) + f"   {label}"
        draw.text((6, height // 5), text, fill=ink, font=font)
    return np.asarray(img, dtype=np.uint8).copy()


def _zeiss_mag(mag: float) -> str:
    return f"{mag / 1000:.2f} K X" if mag >= 1000 else f"{mag:.0f} X"
