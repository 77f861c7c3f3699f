"""Test-split metrics computed through the exported file, the way ``nanoaid models eval`` does.

Evaluating the ONNX model (not the PyTorch one) on files prepared by the evaluation code means
the card's numbers are exactly what ``nanoaid models eval MODEL DATA --split test`` reprints.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..evaluation.metrics import classification_report
from ..evaluation.report import Session, predict
from ..sidecar import CLASSES
from .cards import classifier_input

__all__ = ["evaluate_exported"]

CARD_KEYS = ("n", "accuracy", "top2_accuracy", "balanced_accuracy", "ece", "nll", "mean_confidence", "operating",
             "per_class", "confusion_matrix")


def evaluate_exported(model_path: Path, opts, test_sources: list, scale: bool = False) -> dict | None:
    """Test-split figures; ``scale``: feed each source's field width (the scale input's known path)."""
    if not test_sources:
        return None
    width_of = (lambda s: s.extra.get("field_width_um")) if scale else None
    probs, _ = predict(Session(Path(model_path), classifier_input(opts.input_size), opts.threads), test_sources,
                       width_of=width_of)
    report = classification_report(probs, np.array([s.label for s in test_sources]), CLASSES)
    return {key: report[key] for key in CARD_KEYS}
