"""Confusion matrix and reliability diagram as PNGs, drawn with Pillow (no plotting library)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["confusion_png", "reliability_png"]

SHORT = {
    "Biological": "Bio",
    "Fibres": "Fibres",
    "Films_Coated_Surface": "Films",
    "MEMS_devices_and_electrodes": "MEMS",
    "Nanowires": "Wires",
    "Particles": "Particles",
    "Patterned_surface": "Patterned",
    "Porous_Sponge": "Porous",
    "Powder": "Powder",
    "Tips": "Tips",
}


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _blues(fraction: float) -> tuple[int, int, int]:
    f = float(np.clip(fraction, 0.0, 1.0))
    return int(247 - 200 * f), int(251 - 150 * f), int(255 - 90 * f)


def confusion_png(cm: list[list[int]], classes: list[str], title: str = "") -> bytes:
    """Rows: true class, columns: predicted; cells coloured by the row-normalised fraction."""
    cm_arr = np.asarray(cm, np.float64)
    k = len(classes)
    cell, left, top = 56, 110, 120
    img = Image.new("RGB", (left + k * cell + 20, top + k * cell + 50), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(13), _font(11)
    draw.text((10, 8), title or "Confusion matrix (rows: true, columns: predicted)", fill="black", font=font)
    rows = cm_arr.sum(axis=1, keepdims=True)
    frac = np.divide(cm_arr, rows, out=np.zeros_like(cm_arr), where=rows > 0)
    for j, name in enumerate(classes):
        label = SHORT.get(name, name[:9])
        layer = Image.new("RGBA", (top - 30, 16), (255, 255, 255, 0))
        ImageDraw.Draw(layer).text((0, 0), label, fill="black", font=small)
        img.paste(layer.rotate(90, expand=True), (left + j * cell + cell // 2 - 8, 30), layer.rotate(90, expand=True))
    for i, name in enumerate(classes):
        draw.text((8, top + i * cell + cell // 2 - 7), SHORT.get(name, name[:9]), fill="black", font=small)
        for j in range(k):
            x0, y0 = left + j * cell, top + i * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=_blues(frac[i, j]), outline=(200, 200, 200))
            count = int(cm_arr[i, j])
            if count:
                ink = "white" if frac[i, j] > 0.55 else "black"
                draw.text((x0 + 6, y0 + cell // 2 - 7), str(count), fill=ink, font=small)
    draw.text((left, top + k * cell + 12), "colour: fraction of the true class's frames", fill="black", font=small)
    return _png(img)


def reliability_png(bins: list[dict], ece: float, title: str = "") -> bytes:
    """Accuracy against confidence per bin, the diagonal of perfect calibration, and bin counts."""
    size, margin = 420, 60
    img = Image.new("RGB", (size + 2 * margin, size + 2 * margin + 20), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(13), _font(11)
    draw.text((margin, 10), title or f"Reliability diagram (ECE {ece:.3f})", fill="black", font=font)
    x0, y0 = margin, margin + size
    draw.rectangle([x0, margin, x0 + size, y0], outline="black")
    draw.line([x0, y0, x0 + size, margin], fill=(150, 150, 150), width=1)
    total = max(1, sum(b["count"] for b in bins))
    for b in bins:
        bx0, bx1 = x0 + b["lo"] * size, x0 + b["hi"] * size
        share = b["count"] / total
        draw.rectangle([bx0 + 1, y0 - share * size * 0.3, bx1 - 1, y0], fill=(220, 220, 220))
        if b["count"]:
            draw.rectangle([bx0 + 3, y0 - b["accuracy"] * size, bx1 - 3, y0], outline=(31, 119, 180), width=2)
            cy = y0 - b["confidence"] * size
            draw.line([bx0 + 3, cy, bx1 - 3, cy], fill=(214, 39, 40), width=2)
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        draw.text((x0 + t * size - 8, y0 + 6), f"{t:.1f}", fill="black", font=small)
        draw.text((x0 - 30, y0 - t * size - 6), f"{t:.1f}", fill="black", font=small)
    draw.text((x0 + size // 2 - 60, y0 + 24), "confidence (top score)", fill="black", font=small)
    draw.text(
        (x0, y0 + 42), "blue: accuracy per bin · red: mean confidence · grey: share of frames", fill="black", font=small
    )
    return _png(img)
