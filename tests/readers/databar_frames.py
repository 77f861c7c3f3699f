"""A generated set of SEM-like frames with burned-in strips of 10–120 rows and their true heights.

Looks: the synthetic vendor bars (``fei``, ``zeiss``, ``plain`` from ``nanoaid_daemon.synth.databar``)
and ``tall``: a flat band with several lines of anti-aliased text (dozens of grey levels), a logo
picture on the right spanning most of the bar's height, a ruled line on top and a scale bar.
Above each bar: a noisy textured image, dark or bright.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nanoaid_daemon.synth.databar import draw_databar

LOOKS = ("fei", "zeiss", "plain", "tall")
HEIGHTS = tuple(range(10, 121, 5))
META = {"magnification": 25000.0, "beam_energy_kv": 5.0, "working_distance_mm": 4.1, "pixel_size_nm": 4.5,
        "width_px": 512, "detector": "TLD", "dwell_time_us": 3.0}


@dataclass(frozen=True)
class BarFrame:
    pixels: np.ndarray
    bar_rows: int
    look: str


def texture(rows: int, cols: int, rng: np.random.Generator, dark: bool) -> np.ndarray:
    """Smooth blobs plus shot-like noise, never a flat region."""
    coarse = rng.random((rows // 16 + 2, cols // 16 + 2))
    smooth = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((cols, rows), Image.BILINEAR),
                        np.float64) / 255
    base = (0.15 + 0.35 * smooth) if dark else (0.35 + 0.5 * smooth)
    noisy = base + rng.normal(0.0, 0.06, (rows, cols))
    return (noisy.clip(0.01, 0.99) * 255).astype(np.uint8)


def tall_bar(height: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Flat band, ruled top line, anti-aliased text lines, a logo picture and a scale bar."""
    light = bool(rng.integers(0, 2))
    background, ink = (230, 10) if light else (0, 250)
    img = Image.new("L", (cols, height), background)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, cols - 1, 1], fill=ink)
    lines = max(1, (height - 6) // 14)
    font = ImageFont.load_default(size=max(8, min(12, (height - 6) // lines - 3)))
    for line in range(lines):
        y = 4 + line * ((height - 6) // lines)
        draw.text((6, y), f"HV {5 + line} kV  WD 4.{line} mm  mag 25 kx  det TLD", fill=ink, font=font)
    logo = np.asarray(img).copy()
    lh, lw = max(4, int(height * 0.7)), min(60, cols // 6)
    top = (height - lh) // 2 + 1
    gradient = np.linspace(40, 220, lw)[None, :] + rng.normal(0, 12, (lh, lw))
    logo[top:top + lh, cols - lw - 4: cols - 4] = gradient.clip(0, 255).astype(np.uint8)
    y = min(height - 3, int(height * 0.75))
    logo[y: y + 2, cols // 2: cols // 2 + 80] = ink
    return logo


def bar(look: str, height: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    if look == "tall":
        return tall_bar(height, cols, rng)
    return draw_databar(look, height, cols, META)


def frames(shape: tuple[int, int] = (384, 512), seed: int = 0) -> Iterator[BarFrame]:
    """Every look at every height, alternating dark and bright images above the bar."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    for look in LOOKS:
        for i, height in enumerate(HEIGHTS):
            image = texture(rows, cols, rng, dark=bool(i % 2))
            image[rows - height:] = bar(look, height, cols, rng)
            yield BarFrame(image, height, look)
