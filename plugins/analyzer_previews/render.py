"""Drawing the previews: thumbnail, class-evidence overlay and AI-lens montage, and their encoding.

Everything here is pure numpy + Pillow, so the rendering is the same in the daemon, in
``nanoaid process`` and in tests. What it costs, and why it is drawn this way (1024×768 frame):

* the full frame is converted to float and shrunk once (:func:`shrink`); the thumbnail, the
  overlay and the autoencoder's input all start from that small copy;
* the thumbnail and the overlay are photo-like: JPEG (about 1 ms instead of 10–20 ms of zlib);
* the AI lens is flat colour-mapped tiles: an 8-bit palette PNG (one byte a pixel, no blur).
"""
from __future__ import annotations

import io
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image

from nanoaid_daemon.modelcard import InputSpec
from nanoaid_daemon.preprocess import PERCENTILES, Geometry, finite_float32, resize_float

__all__ = ["COLORMAP", "LENS_PALETTE", "colorize", "fit_size", "shrink", "contrast", "thumbnail", "grey_thumbnail",
           "lens_input", "lens_size", "tile_shape", "cam_to_frame", "overlay", "montage", "lens_rgb", "encode_png",
           "encode_jpeg"]

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
CONTRAST_SAMPLES = 1 << 14
GAP_PX = 2


def colorize(unit: np.ndarray) -> np.ndarray:
    """[0, 1] values → RGB uint8 through the colour map."""
    return COLORMAP[np.clip(np.rint(unit * 255), 0, 255).astype(np.uint8)]


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """Size with the longest side at most ``max_side``; never enlarged."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """float32 grey values, longest side at most ``max_side``: the one resample of the full frame.

    Pillow first box-averages by the whole factor (``reducing_gap=1``), then filters what is left
    bilinearly. A 1024×768 frame is exactly halved, a 2×2 box: about three times cheaper than a
    bilinear filter over the full frame (which ``reducing_gap=2`` would still run at a factor of 2),
    and as smooth at preview size.
    """
    values = finite_float32(pixels)
    h, w = fit_size(values.shape[0], values.shape[1], max_side)
    if (h, w) == values.shape:
        return values
    image = Image.fromarray(np.ascontiguousarray(values), mode="F")
    return np.asarray(image.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=1.0), dtype=np.float32)


def contrast(small: np.ndarray) -> tuple[float, float]:
    """(low, high) grey values: the robust percentiles of a shrunk frame, from ~16k samples (a
    preview's contrast needs no more; the model inputs use their own, finer, estimate)."""
    flat = small.ravel()
    sample = flat[:: max(1, flat.size // CONTRAST_SAMPLES)]
    low, high = (float(v) for v in np.percentile(sample, PERCENTILES))
    if high <= low:
        low, high = float(small.min()), float(small.max())
    return low, high


def unit_from(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    low, high = bounds
    if high <= low:
        return np.zeros(values.shape, np.float32)
    return np.clip((values - np.float32(low)) * np.float32(1.0 / (high - low)), 0.0, 1.0)


def grey_thumbnail(small: np.ndarray, bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Grey uint8 image of an already shrunk frame, contrast from the robust percentiles."""
    unit = unit_from(small, bounds or contrast(small))
    return np.rint(unit * np.float32(255)).astype(np.uint8)


def lens_input(small: np.ndarray, bounds: tuple[float, float], spec: InputSpec,
               size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The autoencoder's input [C, H, W] from the shrunk frame and its contrast, for a card that
    stretches the frame and maps grey values by percentiles; None for any other card (then the
    model's own preprocessing runs). ``size`` (height, width) replaces the card's own, for an
    encoder that takes any size (:func:`lens_size`)."""
    if spec.resize != "stretch" or spec.intensity != "percentile":
        return None
    height, width = size or (spec.height, spec.width)
    image = Image.fromarray(np.ascontiguousarray(small, dtype=np.float32), mode="F")
    resized = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))
    unit = unit_from(resized, bounds)
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)
    return np.ascontiguousarray((np.broadcast_to(unit, (spec.channels, *unit.shape)) - mean) / std, dtype=np.float32)


def thumbnail(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Grey uint8 thumbnail, contrast from the robust percentiles."""
    return grey_thumbnail(shrink(pixels, max_side))


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
    """Grey image with the heat map laid over it; cold places stay grey, hot ones take the colour.

    Pillow blends (``Image.composite``, integer arithmetic in C): the same bytes on every host."""
    weight = np.rint(np.clip(alpha * heat, 0.0, 1.0) * 255).astype(np.uint8)
    levels = np.clip(np.rint(heat * 255), 0, 255).astype(np.uint8)
    colour = Image.fromarray(levels, mode="L").convert("P")
    colour.putpalette(COLORMAP.tobytes())
    base = Image.fromarray(grey, mode="L").convert("RGB")
    return np.asarray(Image.composite(colour.convert("RGB"), base, Image.fromarray(weight, mode="L")))


#: Palette of the AI lens: 128 steps of the colour map, then 128 grey levels (even values).
LENS_PALETTE = np.concatenate([COLORMAP[np.rint(np.linspace(0, 255, 128)).astype(int)],
                               np.repeat(np.arange(0, 256, 2, dtype=np.uint8)[:, None], 3, axis=1)])
_GREY0 = 128


def _tile(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """One activation map at tile size as palette indices 0–127 (the colour map)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros((height, width), np.uint8)
    # Resized first, scaled after (the two commute): the scaling touches the tile, not the map.
    # deep maps: show their cells, do not blur them
    mode = Image.Resampling.NEAREST if values.shape[0] < height else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(values, mode="F").resize((width, height), mode, reducing_gap=2.0))
    unit = _reproducible((small - low) / (high - low))
    return np.clip(np.rint(unit * 127), 0, 127).astype(np.uint8)


def _tile_size(rows: int, cols: int, aspect: float, max_side: int) -> int:
    """Tile height so that [input panel | rows × cols grid] fits in max_side."""
    by_height = (max_side - (rows - 1) * GAP_PX) / rows
    by_width = (max_side - (rows - 1) * GAP_PX * aspect - cols * GAP_PX) / (aspect * (rows + cols))
    return max(2, int(min(by_height, by_width)))


def tile_shape(frame_hw: tuple[int, int], rows: int, cols: int, max_side: int) -> tuple[int, int]:
    """(height, width) of one activation tile in a montage of ``rows`` × ``cols`` tiles."""
    aspect = frame_hw[1] / frame_hw[0]
    th = _tile_size(rows, cols, aspect, max_side)
    return th, max(1, int(th * aspect))


def lens_size(frame_hw: tuple[int, int], rows: int, cols: int, max_side: int, multiple: int,
              longest: int) -> tuple[int, int]:
    """Autoencoder input (height, width) that the montage can show: the frame's aspect ratio, twice a
    tile's size (so depth 1's maps are shrunk 2× into a tile and depth 2's, half the input, fill
    it one cell a pixel; deeper maps show their cells), rounded to a multiple of ``multiple`` (every pooling
    halves it exactly), its longest side at most about ``longest`` (the card's own input, say).

    A 1024×768 frame in a 512-pixel montage of 4 × 4 tiles of 46×61: 96×128 instead of the card's
    256×256, a fifth of the encoder's work, and the maps are no longer stretched to a square."""
    th, tw = tile_shape(frame_hw, rows, cols, max_side)
    scale = min(1.0, longest / (2 * max(th, tw)))

    def rounded(n: float) -> int:
        return max(multiple, round(n / multiple) * multiple)

    return rounded(2 * th * scale), rounded(2 * tw * scale)


def montage(grey: np.ndarray, depths: Sequence[Sequence[np.ndarray]], max_side: int) -> np.ndarray:
    """Palette indices (see :data:`LENS_PALETTE`): the frame on the left, then one row per depth
    of colour-mapped channel activations, every panel and tile at the frame's aspect ratio (the
    model's square input is a stretched frame, so its maps are stretched back)."""
    rows, cols = len(depths), max(len(d) for d in depths)
    aspect = grey.shape[1] / grey.shape[0]
    th, tw = tile_shape((grey.shape[0], grey.shape[1]), rows, cols, max_side)
    panel_h = rows * th + (rows - 1) * GAP_PX
    panel_w = max(1, int(panel_h * aspect))
    width = panel_w + cols * (tw + GAP_PX)
    canvas = np.full((panel_h, width), _GREY0 + BACKGROUND // 2, np.uint8)
    resized = Image.fromarray(grey, mode="L").resize((panel_w, panel_h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    panel = np.asarray(resized)
    canvas[:, :panel_w] = _GREY0 + (panel >> 1)
    for r, channels in enumerate(depths):
        y = r * (th + GAP_PX)
        for c, activation in enumerate(channels):
            x = panel_w + GAP_PX + c * (tw + GAP_PX)
            canvas[y:y + th, x:x + tw] = _tile(activation, th, tw)
    return canvas


def lens_rgb(indices: np.ndarray) -> np.ndarray:
    """The montage as RGB (what a viewer shows)."""
    return LENS_PALETTE[indices]


def encode_png(image: np.ndarray, compress_level: int = 1, palette: np.ndarray | None = None) -> bytes:
    """PNG bytes; with ``palette`` the image holds its indices and is written as 8-bit palette."""
    buffer = io.BytesIO()
    picture = Image.fromarray(image, mode="P" if palette is not None else None)
    if palette is not None:
        picture.putpalette(palette.tobytes())
    # Run-length zlib for palette images: ~1 ms instead of ~2.3 ms, 7 % larger (activation maps
    # are noise to a dictionary coder anyway).
    strategy = {"compress_type": zlib.Z_RLE} if palette is not None and compress_level > 0 else {}
    picture.save(buffer, format="PNG", compress_level=compress_level, **strategy)
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG, no chroma subsampling (colours stay on the object), no optimisation pass."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()
