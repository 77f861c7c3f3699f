"""Evaluation by source: how a classifier does on each lab's frames, not only on the pooled set.

A model shipped from synthetic frames has seen none of the development set's sources, so every
source is already "left out". A model whose card lists real training frames
(``training.real_frames.sources``, ``training/realrows.py``) has seen those sources: their frames
are reported apart and every headline figure is over the other sources only. The figure that
matters is the per-source and per-class breakdown (a pooled accuracy can hide one lab carrying the
rest). A ``groups.csv`` (``file,source``, as written by ``datasets/devset/rebuild.py``) maps each
image of a labelled folder to its source.
Kept apart from ``report`` so that other evaluation options can grow there independently.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..modelcard import ModelCard
from .folders import scan_labelled
from .metrics import classification_report
from .plots import confusion_png
from .report import Session, predict

__all__ = ["read_groups", "by_source", "evaluate_grouped"]


def _rows(path: Path, columns: set[str], what: str) -> list[dict[str, str]]:
    """A CSV's rows once it is there and has ``columns``; a clear ConfigError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist; it gives {','.join(sorted(columns))} per image")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not columns <= set(reader.fieldnames):
            raise ConfigError(f"{path}: needs the columns {','.join(sorted(columns))}")
        return list(reader)


def read_groups(path: Path, data: Path) -> dict[Path, str]:
    """``file,source`` rows (file relative to ``data``) → {resolved path: source}."""
    return {(Path(data) / row["file"]).resolve(): row["source"] for row in _rows(path, {"file", "source"}, "groups")}


def read_widths(path: Path, data: Path) -> dict[Path, float]:
    """``file,field_width_um`` rows (file relative to ``data``) → {resolved path: width in µm}."""
    out = {}
    for n, row in enumerate(_rows(path, {"file", "field_width_um"}, "widths"), start=2):
        try:
            out[(Path(data) / row["file"]).resolve()] = float(row["field_width_um"])
        except ValueError:
            raise ConfigError(f"{path} line {n}: field_width_um {row['field_width_um']!r} "
                              "is not a number") from None
    return out


def by_source(probs: np.ndarray, labels: np.ndarray, sources: list[str], classes: list[str],
              accept: float, review: float) -> dict:
    """Per-source accuracy, top-2 and accepted share, and their unweighted mean over sources."""
    rows = {}
    for name in sorted(set(sources)):
        mask = np.array([s == name for s in sources])
        rep = classification_report(probs[mask], labels[mask], classes, accept=accept, review=review)
        rows[name] = {"n": rep["n"], "accuracy": rep["accuracy"], "top2_accuracy": rep["top2_accuracy"],
                      "accepted_fraction": rep["operating"]["accepted_fraction"],
                      "accepted_accuracy": rep["operating"]["accepted_accuracy"],
                      "classes": sorted({classes[int(v)] for v in labels[mask]})}
    accs = [r["accuracy"] for r in rows.values() if r["accuracy"] is not None]
    return {"sources": rows, "mean_source_accuracy": float(np.mean(accs)) if accs else None}


def evaluate_grouped(card: ModelCard, model_path: Path, data: Path, groups: Path, out_dir: Path | None, *,
                     threads: int = 2, widths: Path | None = None) -> dict:
    """The usual report over every image of ``data`` plus the per-source breakdown.

    ``widths``: a file,field_width_um CSV; a model with a scale input gets those frames' widths
    (the others run its unknown-width path), and the report adds the figures on those frames.
    """
    items = scan_labelled(data)
    mapping = read_groups(groups, data)
    unmapped = [str(it.path) for it in items if it.path.resolve() not in mapping]
    if unmapped:
        raise ConfigError(f"{groups}: no source for {len(unmapped)} image(s), e.g. {unmapped[0]}; "
                          "add a file,source row for each")
    known = read_widths(widths, data) if widths is not None else {}
    width_of = (lambda it: known.get(it.path.resolve())) if known and card.scale_input is not None else None
    sources = [mapping[it.path.resolve()] for it in items]
    trained_on = set((card.training.get("real_frames") or {}).get("sources") or [])
    seen = np.array([s in trained_on for s in sources], bool)
    if seen.all():
        raise ConfigError(f"every frame of {data} comes from sources {card.name} {card.version} was trained on "
                          "(its card's training.real_frames): nothing independent to evaluate; "
                          "datasets/devset/recipe_loso.py gives leave-source-out figures")
    probs_all, _ = predict(Session(model_path, card.input, threads), items, width_of=width_of)
    labels_all = np.array([it.label for it in items])
    accept = card.thresholds.get("accept", 0.8)
    review = card.thresholds.get("review", 0.35)
    probs, labels = probs_all[~seen], labels_all[~seen]
    unseen_items = [it for it, s in zip(items, seen, strict=True) if not s]
    report = classification_report(probs, labels, card.classes, accept=accept, review=review)
    report["by_source"] = by_source(probs, labels, [s for s, k in zip(sources, seen, strict=True) if not k],
                                    list(card.classes), accept, review)
    if seen.any():
        apart = classification_report(probs_all[seen], labels_all[seen], card.classes, accept=accept, review=review)
        report["seen_sources"] = {
            "n": int(seen.sum()), "sources": sorted(trained_on & set(sources)),
            "accuracy": apart["accuracy"], "top2_accuracy": apart["top2_accuracy"],
            "note": "the model was trained on committed frames of these sources: not an independent figure; "
                    "every other figure of this report leaves them out"}
    if known:
        mask = np.array([it.path.resolve() in known for it in unseen_items])
        subset = classification_report(probs[mask], labels[mask], card.classes, accept=accept, review=review)
        report["with_field_width"] = {"n": int(mask.sum()), "fed_to_model": width_of is not None,
                                      "accuracy": subset["accuracy"], "top2_accuracy": subset["top2_accuracy"]}
    report.update({"model": {"name": card.name, "version": card.version, "sha256": card.sha256},
                   "data": str(data), "split": "all"})
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (out / "confusion.png").write_bytes(confusion_png(report["confusion_matrix"], card.classes,
                                                          f"{card.name} on {Path(data).name}, by source"))
        with open(out / "predictions.jsonl", "w", encoding="utf-8") as fh:
            for item, p, src, was_seen in zip(items, probs_all, sources, seen, strict=True):
                fh.write(json.dumps({"file": str(item.path), "source": src, "label": card.classes[item.label],
                                     "predicted": card.classes[int(np.argmax(p))],
                                     "score": round(float(np.max(p)), 5), "seen_in_training": bool(was_seen)})
                         + "\n")
    return report
