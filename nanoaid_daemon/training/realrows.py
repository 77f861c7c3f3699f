"""Real frames in the classifier's head: the development set's committed copies, next to the synthetic frames.

The synthetic frames fix the head's L2 strength and the temperature (``calibration.py``: held-out
synthetic sub-types); the committed, openly licensed frames of ``datasets/devset`` then join the
final head fit — each frame's clean view and the recipe's augmented views, with the field width
hidden (the copies are downscaled PNGs without metadata), every row counted ``weight`` times.
Measured leave-source-out on the whole development set (``datasets/devset/recipe_loso.py``, which
fits its heads with :func:`fit_with_real`): with weight 10 the right class is among the top two
more often, significantly so, and accepted labels are no less often right (``docs/devset.md``).

A model trained this way has seen those sources: ``nanoaid models eval-devset`` reads them from the
card (``training.real_frames.sources``) and reports their frames apart from the headline figures.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..evaluation.devset import DevImage, load_manifest
from ..hashing import sha256_file
from ..sidecar import CLASSES
from .features import Source
from .heads import LinearHead, fit_softmax
from .scale import scale_features

__all__ = ["RealFrames", "committed_frames", "real_design", "fit_with_real", "card_entry"]


@dataclass(frozen=True)
class RealFrames:
    manifest: Path
    rows: list[DevImage]
    sources: list[Source]  # one per committed copy, split "train", in manifest order
    weight: int


def committed_frames(manifest: Path, weight: int) -> RealFrames:
    """The manifest's committed copies (rows with a ``file``), checked to be present and intact.

    ``file`` paths are relative to the checkout that holds the manifest (``<root>/datasets/devset/``).
    """
    if weight < 1:
        raise ConfigError(f"the weight of real frames must be >= 1, not {weight}")
    manifest = Path(manifest)
    rows = [r for r in load_manifest(manifest) if r.file]
    if not rows:
        raise ConfigError(f"{manifest}: no row has a committed copy (the 'file' column); nothing to train on")
    root = manifest.resolve().parents[2]
    sources = []
    for row in rows:
        path = root / row.file
        if not path.is_file():
            raise ConfigError(f"{manifest}: the committed copy {row.file} of row {row.id!r} is missing "
                              f"(looked in {root}); run from a full checkout or drop the manifest option")
        sources.append(Source(path, row.label, sha256_file(path)[0], "train", {"field_width_um": None}))
    return RealFrames(manifest, rows, sources, weight)


def real_design(x: np.ndarray, scale: bool) -> np.ndarray:
    """Real rows as the head sees them: with a scale input, the width-unknown features appended."""
    return np.hstack([x, scale_features(np.full(len(x), np.nan))]) if scale else x


def fit_with_real(x_syn: np.ndarray, y_syn: np.ndarray, x_real: np.ndarray, y_real: np.ndarray, l2: float,
                  weight: int) -> LinearHead:
    """The shipped kind of head (class-weighted linear softmax) on synthetic rows plus real rows × ``weight``."""
    rows = np.repeat(np.arange(len(x_real)), weight)
    return fit_softmax(np.vstack([x_syn, x_real[rows]]), np.concatenate([y_syn, y_real[rows]]), len(CLASSES), l2)


def card_entry(real: RealFrames, views: int) -> dict:
    """What the card says about the real frames: exactly which, from where, under which licences."""
    per_class = Counter(r.cls for r in real.rows)
    return {
        "manifest": real.manifest.as_posix(),
        "frames": len(real.rows),
        "sources": sorted({r.source for r in real.rows}),
        "per_class": {c: per_class.get(c, 0) for c in CLASSES},
        "licences": dict(sorted(Counter(r.licence for r in real.rows).items())),
        "ids": [r.id for r in real.rows],
        "sha256_of_copies": [s.sha256 for s in real.sources],
        "views": f"clean view + {views} augmented views per frame, field width hidden",
        "weight": real.weight,
        "used_for": "the final head fit only (L2 strength and temperature come from the synthetic calibration)",
        "evaluation": ("these sources are seen: `nanoaid models eval-devset` reports their frames apart; the "
                       "leave-source-out figure on the whole set is datasets/devset/recipe_loso.py's"),
    }
