"""The alignment head: the paper's second network, aligned vs. not-aligned nanowires.

Trained only on the two extremes (as Modarres et al. did with 114 aligned and 128 random
images); frames of intermediate order are kept out of training and used to check that the
score grades the degree of ordering (rank correlation with the drawn nematic order parameter).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backbone import N_BLOCKS
from .features import Source, TrunkRunner, ViewCounts, extract_features
from .heads import LinearHead, fit_logistic
from .synthsets import alignment_sources, ensure_alignment_set

__all__ = ["AlignmentResult", "train_alignment", "auc", "spearman"]


@dataclass
class AlignmentResult:
    head: LinearHead
    metrics: dict


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann–Whitney U with tied ranks averaged)."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return None
    ranks = _ranks(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        tie = values == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    return float(np.corrcoef(ra, rb)[0, 1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _folder(opts) -> Path:
    if opts.align is not None:
        return Path(opts.align)
    return ensure_alignment_set(Path(opts.work) / f"alignment-{opts.align_synthetic}-{opts.seed + 17}",
                                opts.align_synthetic, opts.seed + 17, workers=opts.threads)


def train_alignment(model, opts, runner: TrunkRunner | None = None) -> AlignmentResult:
    """Fit the logistic head on the (possibly fine-tuned) embedding of the alignment images."""
    sources = alignment_sources(_folder(opts))

    def counts(src: Source) -> ViewCounts:
        return (
            ViewCounts(clean=1, augmented=opts.views)
            if src.split == "train" and src.label >= 0
            else ViewCounts(clean=1)
        )

    runner = runner or TrunkRunner(model, N_BLOCKS, opts.input_size, opts.work, opts.threads)
    feats = extract_features(runner, sources, counts, size=opts.input_size, seed=opts.seed + 1)
    label = np.array([s.label for s in sources])[feats.source]
    split = np.array([s.split for s in sources])[feats.source]
    train = (split == "train") & (label >= 0)
    val = (split == "val") & (label >= 0) & (feats.kind == 0)
    best: tuple[float, float, LinearHead] | None = None
    for l2 in (1e-3, 1e-2, 1e-1):
        head = fit_logistic(feats.x[train], label[train], l2)
        p = np.clip(_sigmoid(head(feats.x[val])[:, 0]), 1e-6, 1 - 1e-6)
        loss = float(-np.mean(label[val] * np.log(p) + (1 - label[val]) * np.log(1 - p))) if val.any() else 0.0
        if best is None or loss < best[0] - 1e-4:
            best = (loss, l2, head)
    assert best is not None  # the l2 grid is not empty
    _, l2, head = best
    return AlignmentResult(head, _metrics(head, feats, sources, label, split, l2))


def _metrics(head: LinearHead, feats, sources, label, split, l2) -> dict:
    clean = feats.kind == 0
    score = _sigmoid(head(feats.x)[:, 0])
    held = clean & (split != "train") & (label >= 0)
    area = auc(score[held], label[held] == 1) if held.any() else None
    order = np.array([s.extra.get("order") if s.extra.get("order") is not None else np.nan for s in sources])[
        feats.source
    ]
    graded = clean & ((split != "train") | (label < 0)) & ~np.isnan(order)
    partial = clean & (label < 0)
    rho = spearman(score[graded], order[graded]) if graded.sum() >= 3 else None
    return {
        "l2": l2,
        "images": {
            "aligned": int(sum(s.label == 1 for s in sources)),
            "not_aligned": int(sum(s.label == 0 for s in sources)),
            "partial": int(sum(s.label < 0 for s in sources)),
        },
        "heldout_accuracy": round(float(np.mean((score[held] >= 0.5) == (label[held] == 1))), 4)
        if held.any()
        else None,
        "heldout_auc": None if area is None else round(area, 4),
        "partial_mean_score": round(float(score[partial].mean()), 4) if partial.any() else None,
        "spearman_vs_order_parameter": None if rho is None else round(rho, 4),
    }
