"""Choosing the head's L2 strength and the softmax temperature for frames unlike the training set.

Real frames will differ from the training frames in kind, not only in noise. When the data say
which sub-type each frame is (the synthetic set's ``truth.jsonl`` does: cracked vs. grainy films,
comb drives vs. pads, …), one sub-type per class is held out of a calibration head; the L2
strength and the temperature are the ones that give the lowest log-loss on those never-seen
sub-types, and that head's accuracy on them is reported as an estimate of how the model copes
with specimens it was not shown. The final head is then refitted on everything with the chosen
L2 and keeps the temperature. Without sub-type labels (real folders), the strongly perturbed
validation views play that role.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..evaluation.metrics import classification_report
from ..sidecar import CLASSES
from .heads import LinearHead, fit_softmax, fit_temperature, softmax_nll

__all__ = ["HeadChoice", "holdout_plan", "choose_head"]


@dataclass
class HeadChoice:
    head: LinearHead
    l2: float
    temperature: float
    fitted_on: str
    unseen: dict | None


def holdout_plan(sources, seed: int) -> dict[int, str]:
    """Class index → the sub-type held out of the calibration head (classes with ≥ 2 sub-types)."""
    kinds: dict[int, set] = defaultdict(set)
    for src in sources:
        if src.extra.get("arrangement"):
            kinds[src.label].add(src.extra["arrangement"])
    return {c: sorted(k)[(seed + c) % len(k)] for c, k in sorted(kinds.items()) if len(k) >= 2}


def _softmax(logits: np.ndarray, t: float) -> np.ndarray:
    z = logits / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _search(x, y, fit, cal, grid, say, what: str) -> tuple[float, LinearHead, float]:
    best: tuple[float, float, LinearHead, float] | None = None
    for l2 in grid:
        head = fit_softmax(x[fit], y[fit], len(CLASSES), l2)
        logits = head(x[cal])
        t = fit_temperature(logits, y[cal])
        nll = softmax_nll(logits, y[cal], t)
        say(f"head l2={l2:g}: calibrated log-loss on {what} {nll:.4f} (T={t:.2f})")
        if best is None or nll < best[0] - 1e-4:
            best = (nll, l2, head, t)
    if best is None:
        raise ValueError("empty grid of l2 strengths")
    return best[1], best[2], best[3]


def choose_head(feats, sources, y: np.ndarray, grid, seed: int, say) -> HeadChoice:
    split = np.array([s.split for s in sources])[feats.source]
    train = (split == "train") & np.isin(feats.kind, (0, 1))
    plan = holdout_plan(sources, seed)
    if not plan:
        cal = (split == "val") & (feats.kind == 2)
        l2, head, t = _search(feats.x, y, train, cal, grid, say, "perturbed validation views")
        return HeadChoice(head, l2, t, "validation split, heavily perturbed views (noise, blur, contrast, crops, JPEG)",
                          None)
    held_src = np.array([plan.get(s.label) == s.extra.get("arrangement") for s in sources])
    held = held_src[feats.source] & (split != "test")
    l2, cal_head, t = _search(feats.x, y, train & ~held, held, grid, say, "held-out sub-types")
    clean = held & (feats.kind == 0)
    scaled = feats.width is not None and bool(np.isfinite(feats.width).any())
    if scaled:  # each view is there twice (training/classifier.with_scale): count the frames once
        known = np.isfinite(feats.width)
        blind = classification_report(_softmax(cal_head(feats.x[clean & ~known]), t), y[clean & ~known], CLASSES)
        clean = clean & known
    report = classification_report(_softmax(cal_head(feats.x[clean]), t), y[clean], CLASSES)
    unseen = {
        "held_out": {CLASSES[c]: a for c, a in plan.items()},
        "images": int(clean.sum()),
        "accuracy": round(report["accuracy"], 4),
        "top2_accuracy": round(report["top2_accuracy"], 4),
        "ece": round(report["ece"], 4),
        "accepted_fraction": report["operating"]["accepted_fraction"],
        "accepted_accuracy": report["operating"]["accepted_accuracy"],
    }
    if scaled:
        unseen["field_width"] = "given (synthetic truth); the same frames with it hidden score accuracy_without_scale"
        unseen["accuracy_without_scale"] = round(blind["accuracy"], 4)
    say(f"sub-types never shown to the calibration head: accuracy {unseen['accuracy']:.3f}, "
        f"top-2 {unseen['top2_accuracy']:.3f}")
    head = fit_softmax(feats.x[train], y[train], len(CLASSES), l2)
    fitted_on = ("one specimen sub-type per class held out of a calibration head (train and validation splits, "
                 "clean and augmented views)")
    return HeadChoice(head, l2, t, fitted_on, unseen)
