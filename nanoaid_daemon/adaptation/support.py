"""Support frames → embeddings of the frozen base classifier, exactly as the daemon would see them.

Frames are read by the reader plugins (vendor TIFFs included; the databar is cut as at inference)
and prepared by the base model's card. Each frame gives a clean view (what the daemon classifies)
and, for fitting, a few cheap augmentations: flips, a quarter turn and two crops. SEM frames have
no preferred orientation, so these are label-preserving; they measurably help at 1–5 frames per
class (docs/adaptation.md).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ReaderError
from ..inference import Model
from .fit import Support

__all__ = ["AUGMENTATIONS", "views_of", "embed_views", "embed_frames", "read_pixels"]

AUGMENTATIONS = ("flip_h", "flip_v", "rot90", "crop_tl", "crop_br")
_BATCH = 16


def _crop(pixels: np.ndarray, corner: str, share: float = 0.7) -> np.ndarray:
    h, w = pixels.shape
    ch, cw = max(1, int(h * share)), max(1, int(w * share))
    return pixels[:ch, :cw] if corner == "tl" else pixels[h - ch:, w - cw:]


def views_of(pixels: np.ndarray, augmentations: Sequence[str] = AUGMENTATIONS) -> list[np.ndarray]:
    """The clean frame first, then each named augmentation."""
    make: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "flip_h": lambda p: p[:, ::-1], "flip_v": lambda p: p[::-1], "rot90": np.rot90,
        "crop_tl": lambda p: _crop(p, "tl"), "crop_br": lambda p: _crop(p, "br"),
    }
    unknown = [a for a in augmentations if a not in make]
    if unknown:
        raise ConfigError(f"unknown augmentation {unknown[0]!r}; known: {', '.join(make)}")
    return [pixels, *(np.ascontiguousarray(make[a](pixels)) for a in augmentations)]


def embed_views(model: Model, views: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(embedding [N, D], base probs [N, C]) for each view, in batches."""
    embs, probs = [], []
    for start in range(0, len(views), _BATCH):
        batch = np.stack([model.prepare(v)[0] for v in views[start:start + _BATCH]])
        out = model.infer(batch, ["embedding", "probs"])
        embs.append(out["embedding"].astype(np.float64))
        probs.append(out["probs"].astype(np.float64))
    return np.concatenate(embs), np.concatenate(probs)


def read_pixels(host, path: Path) -> np.ndarray:
    """The analysed page's pixels (databar removed) through the reader plugins; errors name the file."""
    try:
        return host.read(Path(path)).primary.pixels
    except ReaderError as exc:
        raise ConfigError(f"support frame {path} cannot be read: {exc}; remove it or convert it") from exc


def embed_frames(model: Model, frames: Iterable[tuple[np.ndarray, int]],
                 augmentations: Sequence[str] = AUGMENTATIONS) -> Support:
    """A :class:`Support` from (pixels, class index) pairs; frame order fixes the folds."""
    embs, probs, labels, frame_ix, clean = [], [], [], [], []
    for i, (pixels, label) in enumerate(frames):
        e, p = embed_views(model, views_of(pixels, augmentations))
        embs.append(e)
        probs.append(p)
        labels += [label] * len(e)
        frame_ix += [i] * len(e)
        clean += [True] + [False] * (len(e) - 1)
    if not embs:
        raise ConfigError("no support frames: label at least one frame of one class")
    return Support(np.concatenate(embs), np.concatenate(probs), np.array(labels), np.array(frame_ix),
                   np.array(clean))
