"""Classification metrics, including the operating statistics of Modarres et al. (2017).

The paper's workflow assigns a label automatically when the top score is ≥ 0.8, suggests the top
two when it lies in 0.35–0.8 and leaves the choice to the operator below 0.35; so besides
accuracy we report how many frames fall in each band and how often the band's promise holds
(top-1 right when accepted, right class within the top two when reviewed).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["classification_report", "expected_calibration_error", "reliability_bins", "confusion_matrix"]


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (labels, predicted), 1)
    return cm


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width confidence bins: count, mean confidence and accuracy of each."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        n = int(mask.sum())
        bins.append({
            "lo": float(edges[b]),
            "hi": float(edges[b + 1]),
            "count": n,
            "confidence": float(confidence[mask].mean()) if n else None,
            "accuracy": float(correct[mask].mean()) if n else None,
        })
    return bins


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """Σ_b (n_b / N) · |accuracy_b − confidence_b| over equal-width bins of the top score."""
    total = len(confidence)
    if total == 0:
        return float("nan")
    ece = 0.0
    for b in reliability_bins(confidence, correct, n_bins):
        if b["count"]:
            ece += b["count"] / total * abs(b["accuracy"] - b["confidence"])
    return float(ece)


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def _operating(top: np.ndarray, correct: np.ndarray, in_top2: np.ndarray, accept: float, review: float) -> dict:
    n = len(top)
    acc_mask = top >= accept
    rev_mask = (top >= review) & ~acc_mask
    low_mask = top < review
    return {
        "accept_threshold": accept,
        "review_threshold": review,
        "accepted_fraction": _ratio(acc_mask.sum(), n),
        "accepted_accuracy": _ratio(correct[acc_mask].sum(), acc_mask.sum()),
        "review_fraction": _ratio(rev_mask.sum(), n),
        "review_top2_accuracy": _ratio(in_top2[rev_mask].sum(), rev_mask.sum()),
        "review_top1_accuracy": _ratio(correct[rev_mask].sum(), rev_mask.sum()),
        "unknown_fraction": _ratio(low_mask.sum(), n),
        "unknown_top2_accuracy": _ratio(in_top2[low_mask].sum(), low_mask.sum()),
    }


def classification_report(probs: np.ndarray, labels: np.ndarray, classes, *, accept: float = 0.8,
                          review: float = 0.35, n_bins: int = 10) -> dict:
    """Everything ``nanoaid models eval`` reports, as plain JSON-ready values."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.int64)
    n, k = probs.shape
    order = np.argsort(-probs, axis=1, kind="stable")
    predicted = order[:, 0]
    correct = predicted == labels
    in_top2 = (order[:, :2] == labels[:, None]).any(axis=1)
    top = probs[np.arange(n), predicted]
    cm = confusion_matrix(labels, predicted, k)
    per_class = {}
    for c, name in enumerate(classes):
        tp = int(cm[c, c])
        per_class[name] = {
            "support": int(cm[c].sum()),
            "predicted": int(cm[:, c].sum()),
            "precision": _ratio(tp, cm[:, c].sum()),
            "recall": _ratio(tp, cm[c].sum()),
        }
    nll = -float(np.mean(np.log(np.clip(probs[np.arange(n), labels], 1e-12, 1.0)))) if n else math.nan
    return {
        "n": int(n),
        "accuracy": _ratio(correct.sum(), n),
        "top2_accuracy": _ratio(in_top2.sum(), n),
        "balanced_accuracy": float(np.mean([v["recall"] for v in per_class.values() if v["recall"] is not None]))
        if n else None,
        "ece": expected_calibration_error(top, correct, n_bins),
        "nll": nll,
        "mean_confidence": float(top.mean()) if n else None,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "classes": list(classes),
        "operating": _operating(top, correct, in_top2, accept, review),
        "reliability": reliability_bins(top, correct, n_bins),
    }
