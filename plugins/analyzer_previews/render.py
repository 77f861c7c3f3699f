"""Drawing the previews: thumbnail, class-evidence overlay and AI-lens montage, as uint8 arrays.

Everything here is pure numpy + Pillow, so the rendering is the same in the daemon, in
``nanoaid process`` and in tests.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from nanoaid_daemon.preprocess import Geometry, finite_float32, resize_float, to_unit

__all__ = ["COLORMAP", "colorize", "fit_size", "thumbnail", "cam_to_frame", "overlay", "montage", "encode_png"]

# Dark indigo → blue → teal → green → yellow: lightness rises steadily, so brighter means more.
_ANCHORS = np.array([
    (0.00, 12, 7, 60),
    (0.25, 45, 70, 150),
    (0.50, 30, 150, 140),
    (0.75, 140, 200, 70),
    (1.00, 250, 235, 60),
], dtype=np.float64)
COLORMAP = np.stack(
    [np.interp(np.linspace(0, 1, 256), _ANCHORS[:, 0], _ANCHORS[:, c]) for c in (1, 2, 3)], axis=1
).round().astype(np.uint8)
BACKGROUND = 24
GAP_PX = 2


def colorize(unit: np.ndarray) -> np.ndarray:
    """[0, 1] values → RGB uint8 through the colour map."""
    return COLORMAP[np.clip(np.rint(unit * 255), 0, 255).astype(np.uint8)]


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """Size with the longest side at most ``max_side``; never enlarged."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def thumbnail(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Grey uint8 thumbnail, contrast from the robust percentiles."""
    values = finite_float32(pixels)
    h, w = fit_size(values.shape[0], values.shape[1], max_side)
    small = values if (h, w) == values.shape else resize_float(values, h, w)
    return np.rint(to_unit(small, "percentile") * 255).astype(np.uint8)


def _reproducible(unit: np.ndarray) -> np.ndarray:
    """Values in [0, 1] rounded to 1e-4: the same frame inferred alone or in a batch (or with
    another thread count) differs in the last float bits; rounding before colour-mapping keeps the
    PNG bytes, and so the sha256 in the sidecar, identical between the daemon, process and batch."""
    return np.round(unit, 4).astype(np.float32)


def cam_to_frame(cam: np.ndarray, geometry: Geometry, out_hw: tuple[int, int]) -> np.ndarray:
    """A class activation map (input coordinates) drawn onto a frame-shaped canvas, scaled to [0, 1]."""
    cam = np.maximum(np.nan_to_num(cam.astype(np.float32)), 0.0)
    peak = float(cam.max())
    canvas = np.zeros(out_hw, np.float32)
    if peak <= 0.0:
        return canvas
    cam = _reproducible(cam / peak)
    in_h, in_w = geometry.input_hw
    sy, sx = cam.shape[0] / in_h, cam.shape[1] / in_w
    top, left, h, w = geometry.dst
    box = (left * sx, top * sy, (left + w) * sx, (top + h) * sy)
    ty, tx = out_hw[0] / geometry.frame_hw[0], out_hw[1] / geometry.frame_hw[1]
    s_top, s_left, s_h, s_w = geometry.src
    r0, r1 = round(s_top * ty), round((s_top + s_h) * ty)
    c0, c1 = round(s_left * tx), round((s_left + s_w) * tx)
    if r1 > r0 and c1 > c0:
        canvas[r0:r1, c0:c1] = np.clip(resize_float(cam, r1 - r0, c1 - c0, box=box), 0.0, 1.0)
    return canvas


def overlay(grey: np.ndarray, heat: np.ndarray, alpha: float) -> np.ndarray:
    """Grey image with the heat map laid over it; cold places stay grey, hot ones take the colour."""
    weight = np.rint(np.clip(alpha * heat, 0.0, 1.0) * 256).astype(np.uint16)[..., None]  # 8-bit fixed point
    blended = grey[..., None].astype(np.uint16) * (256 - weight) + colorize(heat).astype(np.uint16) * weight
    return ((blended + 128) >> 8).astype(np.uint8)


def _tile(values: np.ndarray, height: int, width: int, grey: bool = False) -> np.ndarray:
    values = values.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    unit = _reproducible((values - low) / (high - low)) if high > low else np.zeros_like(values)
    if values.shape[0] < height:  # deep maps are small: show their cells, do not blur them
        image = Image.fromarray(unit, mode="F").resize((width, height), Image.Resampling.NEAREST)
        unit = np.asarray(image, dtype=np.float32)
    else:
        unit = resize_float(unit, height, width)
    if grey:
        return np.repeat(np.rint(np.clip(unit, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
    return colorize(unit)


def _tile_size(rows: int, cols: int, aspect: float, max_side: int) -> int:
    """Tile height so that [input panel | rows × cols grid] fits in max_side."""
    by_height = (max_side - (rows - 1) * GAP_PX) / rows
    by_width = (max_side - (rows - 1) * GAP_PX * aspect - cols * GAP_PX) / (aspect * (rows + cols))
    return max(2, int(min(by_height, by_width)))


def montage(model_input: np.ndarray, depths: Sequence[Sequence[np.ndarray]], max_side: int) -> np.ndarray:
    """The input on the left, then one row per depth of colour-mapped channel activations."""
    rows, cols = len(depths), max(len(d) for d in depths)
    aspect = model_input.shape[1] / model_input.shape[0]
    th = _tile_size(rows, cols, aspect, max_side)
    tw = max(1, int(th * aspect))
    panel_h = rows * th + (rows - 1) * GAP_PX
    panel_w = max(1, int(panel_h * aspect))
    width = panel_w + cols * (tw + GAP_PX)
    canvas = np.full((panel_h, width, 3), BACKGROUND, np.uint8)
    canvas[:, :panel_w] = _tile(model_input, panel_h, panel_w, grey=True)
    for r, channels in enumerate(depths):
        y = r * (th + GAP_PX)
        for c, activation in enumerate(channels):
            x = panel_w + GAP_PX + c * (tw + GAP_PX)
            canvas[y:y + th, x:x + tw] = _tile(activation, th, tw)
    return canvas


def encode_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
