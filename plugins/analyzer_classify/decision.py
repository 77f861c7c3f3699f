"""The operator decision of Modarres et al. (2017), and the views a frame is classified from.

Scores are rounded to six decimals *before* the decision is taken, and the rounded values are what
the sidecar stores. A float32 0.35 is 0.3499999940…; without rounding it would land in ``unknown``
while the sidecar shows 0.35. With it, anyone re-checking a sidecar gets the decision it states.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nanoaid_daemon.states import Decision

__all__ = ["SCORE_DECIMALS", "rounded_scores", "decide", "plan_views"]

SCORE_DECIMALS = 6


def rounded_scores(probs: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Class name → probability, clipped to [0, 1] and rounded, in model order."""
    clipped = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    return {name: round(float(p), SCORE_DECIMALS) for name, p in zip(classes, clipped)}


def decide(scores: dict[str, float], accept: float, review: float) -> tuple[str, float, str, list[str]]:
    """(label, top score, decision, suggestions).

    ``accepted`` when the top score is at or above ``accept``; ``review`` with the top two offered
    when it is at or above ``review``; ``unknown`` below that (the operator chooses). Ties go to
    the class that comes first in model order.
    """
    ranked = sorted(scores.items(), key=lambda item: -item[1])  # sort is stable: model order breaks ties
    label, top = ranked[0]
    if top >= accept:
        return label, top, Decision.ACCEPTED.value, []
    if top >= review:
        return label, top, Decision.REVIEW.value, [name for name, _ in ranked[:2]]
    return label, top, Decision.UNKNOWN.value, []


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
