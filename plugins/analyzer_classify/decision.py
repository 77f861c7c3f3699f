"""The operator decision of Modarres et al. (2017), and the views a frame is classified from.

Scores are rounded to six decimals *before* the decision is taken, and the rounded values are what
the sidecar stores. A float32 0.35 is 0.3499999940…; without rounding it would land in ``unknown``
while the sidecar shows 0.35. With it, anyone re-checking a sidecar gets the decision it states.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["SCORE_DECIMALS", "rounded_scores", "decide", "decide_trusted", "decide_calibrated", "prediction_set",
           "plan_views"]

SCORE_DECIMALS = 6
Decision = Literal["accepted", "review", "unknown"]


def rounded_scores(probs: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Class name → probability, clipped to [0, 1] and rounded, in model order."""
    clipped = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    return {name: round(float(p), SCORE_DECIMALS) for name, p in zip(classes, clipped, strict=True)}


def decide(scores: dict[str, float], accept: float, review: float) -> tuple[str, float, Decision, list[str]]:
    """(label, top score, decision, suggestions).

    ``accepted`` when the top score is at or above ``accept``; ``review`` with the top two offered
    when it is at or above ``review``; ``unknown`` below that (the operator chooses). Ties go to
    the class that comes first in model order.
    """
    ranked = sorted(scores.items(), key=lambda item: -item[1])  # sort is stable: model order breaks ties
    label, top = ranked[0]
    if top >= accept:
        return label, top, "accepted", []
    if top >= review:
        return label, top, "review", [name for name, _ in ranked[:2]]
    return label, top, "unknown", []


def prediction_set(scores: dict[str, float], qhat: float) -> list[str]:
    """Conformal (LAC) set: every class scoring at least 1 − qhat, best first; never empty."""
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return [name for name, p in ranked if p >= 1.0 - qhat] or [ranked[0][0]]


def decide_trusted(scores: dict[str, float], accept: float, review: float, qhat: float, ood: float,
                   ood_threshold: float) -> tuple[str, float, Decision, list[str], list[str]]:
    """The paper's decision, made safe by an adapted model's calibration.

    *accepted* needs all three: top score ≥ ``accept``, a familiar frame (``ood`` ≤ threshold) and a
    prediction set of one class. Otherwise the frame goes to review with the prediction set offered
    (at least the top two), or to unknown when the top score is below ``review`` and the set is wide.
    """
    label, top, decision, _ = decide(scores, accept, review)
    pset = prediction_set(scores, qhat)
    ranked = [name for name, _ in sorted(scores.items(), key=lambda item: -item[1])]
    offered = pset if len(pset) >= 2 else ranked[:2]
    if decision == "accepted" and ood <= ood_threshold and len(pset) == 1:
        return label, top, "accepted", [], pset
    if decision == "unknown" and len(pset) > 3:
        return label, top, "unknown", [], pset
    return label, top, "review", offered, pset


def decide_calibrated(scores: dict[str, float], accept: float, review: float, ood: float, calibration: dict,
                      support_counts: dict[str, int]) -> tuple[str, float, Decision, list[str], list[str]]:
    """:func:`decide_trusted` with an adapted model card's calibration.

    The accept gate is the paper's threshold or the card's ``accept_gate`` (raised until
    cross-validated accepts were precise enough), whichever is higher; a class with fewer than
    ``min_support`` support frames is never accepted; a frame in review is offered the set
    calibrated on review frames (``qhat_review``).
    """
    conformal = calibration["conformal"]
    qhat = float(conformal["qhat"])
    gate = max(accept, float(calibration.get("accept_gate", accept)))
    limit = float(calibration["ood"]["threshold"])
    label, top, decision, _, pset = decide_trusted(scores, gate, review, qhat, ood, limit)
    if decision == "accepted" and support_counts.get(label, 0) < int(calibration.get("min_support", 2)):
        decision = "review"
    if decision == "accepted":
        return label, top, decision, [], pset
    pset = prediction_set(scores, float(conformal.get("qhat_review", qhat)))
    ranked = [name for name, _ in sorted(scores.items(), key=lambda item: -item[1])]
    suggestions = [] if decision == "unknown" else (pset if len(pset) >= 2 else ranked[:2])
    return label, top, decision, suggestions, pset


def _tiles(pixels: np.ndarray) -> list[np.ndarray]:
    h, w = pixels.shape
    rows, cols = (0, h // 2, h), (0, w // 2, w)
    return [pixels[rows[i]:rows[i + 1], cols[j]:cols[j + 1]] for i in range(2) for j in range(2)]


def plan_views(pixels: np.ndarray, mode: str, tile_min_side_px: int) -> tuple[list[np.ndarray], str]:
    """The whole frame, plus its four quadrants when the frame is large enough to lose detail.

    Shrinking a 2048×1536 frame to a 224-pixel input throws away the texture that separates, say,
    Powder from Particles; the quadrants keep 2× more of it. Scores are averaged over the views.
    """
    use_tiles = mode == "tiles" or (mode == "auto" and min(pixels.shape) >= tile_min_side_px)
    if use_tiles and min(pixels.shape) >= 2:
        return [pixels, *_tiles(pixels)], "full+4tiles"
    return [pixels], "full"
