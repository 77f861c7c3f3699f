"""Evaluating classifiers on labelled folders (``nanoaid models eval``), without torch.

``folders`` lists NFFA-style class folders and fixes each file's split by its content hash,
``inputs`` prepares images exactly as the daemon does (databar found and cut, card-driven
preprocessing), ``metrics`` computes accuracy, calibration and the paper's operating statistics,
``plots`` draws the confusion matrix and reliability diagram with Pillow, ``report`` runs it all.
"""
from __future__ import annotations

from .folders import Item, scan_labelled, split_of
from .inputs import detect_databar, load_grey, prepare
from .metrics import classification_report

__all__ = ["Item", "scan_labelled", "split_of", "detect_databar", "load_grey", "prepare", "classification_report"]
