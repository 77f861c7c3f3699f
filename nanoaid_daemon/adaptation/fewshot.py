"""Few-shot evaluation: K labelled frames per class drawn from a folder, the rest scored, repeated.

Every image is embedded once (clean view plus the fitting augmentations); each repeat draws K
support frames per class with its own seed, fits exactly what ``nanoaid models adapt`` fits (the
same cross-validated calibration), and scores the other frames with the same decision rule the
classify analyzer applies. The shipped model is scored on the same query frames with the paper's
rule (accepted: top score ≥ 0.8; review: top two), so the two rows compare like with like.

With a groups file (``image,source`` lines, image relative to DIR or a file name), support is
drawn only from *other* sources than the scored one: how well labels from one lab carry to another.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..errors import ConfigError
from ..evaluation.folders import scan_labelled
from ..sidecar import CLASSES
from .fit import FitOptions, Support, adapt, decision_metrics, predict
from .head import unit
from .support import embed_frames, read_pixels

__all__ = ["embed_folder", "few_shot", "read_groups", "accuracy_png", "baseline_metrics"]


def embed_folder(data: Path, model: Any, host: Any) -> tuple[Support, list[Path]]:
    items = scan_labelled(data)
    support = embed_frames(model, ((read_pixels(host, it.path), it.label) for it in items))
    return support, [it.path for it in items]


def read_groups(path: Path, data: Path, paths: Sequence[Path]) -> np.ndarray:
    """Source name per image, from ``image,source`` CSV lines; every image must have one."""
    by_key: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) >= 2 and row[0] and not row[0].startswith("#") and row[0] != "image":
                by_key[row[0].strip()] = row[1].strip()
    out = []
    for p in paths:
        rel = p.relative_to(data).as_posix()
        source = by_key.get(rel, by_key.get(p.name))
        if source is None:
            raise ConfigError(f"groups file {path} has no source for {rel}; add a line '{rel},<source>'")
        out.append(source)
    return np.array(out)


def baseline_metrics(base_probs: np.ndarray, y: np.ndarray, accept: float = 0.8) -> dict[str, Any]:
    """The shipped model with the paper's rule: accepted at top ≥ accept, review offers the top two."""
    pred = base_probs.argmax(axis=1)
    right = pred == y
    accepted = base_probs.max(axis=1) >= accept
    top2 = np.argsort(-base_probs, axis=1)[:, :2]
    in_set = np.where(accepted, right, (top2 == y[:, None]).any(axis=1))
    recalls = [float(right[y == c].mean()) for c in np.unique(y)]
    return {"accuracy": round(float(right.mean()), 4), "macro_recall": round(float(np.mean(recalls)), 4),
            "accepted_fraction": round(float(accepted.mean()), 4),
            "accepted_precision": round(float(right[accepted].mean()), 4) if accepted.any() else None,
            "set_coverage": round(float(in_set.mean()), 4),
            "review_set_coverage": round(float(in_set[~accepted].mean()), 4) if (~accepted).any() else None}


def _draw(frame_labels: np.ndarray, k: int, rng: np.random.Generator, allowed: np.ndarray) -> np.ndarray:
    chosen = []
    for c in np.unique(frame_labels):
        pool = np.flatnonzero((frame_labels == c) & allowed)
        if len(pool):
            chosen += list(rng.choice(pool, size=min(k, len(pool)), replace=False))
    return np.array(sorted(chosen), dtype=int)


def _score(support: Support, frame_labels: np.ndarray, train: np.ndarray, query: np.ndarray,
           opts: FitOptions) -> dict[str, Any]:
    sub = support.subset(np.isin(support.frame, train))
    adapted = adapt(sub, len(CLASSES), opts)
    clean = np.flatnonzero(support.clean)[query]
    x = unit(support.emb[clean])
    probs = predict(adapted.head, x, support.base_probs[clean])
    dist = adapted.distance.score(x)
    counts = np.bincount(frame_labels[train], minlength=len(CLASSES))
    return decision_metrics(probs, frame_labels[query], dist, adapted.qhat, adapted.ood_threshold,
                            adapted.accept_gate, counts >= opts.min_support, adapted.qhat_review)


def _mean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = rows[0].keys() if rows else []
    out = {}
    for key in keys:
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[key] = round(float(np.mean(vals)), 4) if vals else None
    return out


def few_shot(support: Support, ks: Sequence[int], repeats: int, *, groups: np.ndarray | None = None,
             seed: int = 0, opts: FitOptions | None = None) -> dict[str, Any]:
    """Per K: mean figures of the adapted model and of the shipped model on the same query frames."""
    opts = opts or FitOptions()
    frame_labels = support.label[support.clean]
    n = len(frame_labels)
    report: dict[str, Any] = {"frames": n, "repeats": repeats, "per_k": {}}
    for k in ks:
        adapted_rows, base_rows, lso_rows = [], [], []
        for r in range(repeats):
            rng = np.random.default_rng(seed + 1000 * k + r)
            train = _draw(frame_labels, k, rng, np.ones(n, bool))
            query = np.setdiff1d(np.arange(n), train)
            if not len(query):
                continue
            adapted_rows.append(_score(support, frame_labels, train, query, opts))
            base_rows.append(baseline_metrics(support.base_probs[support.clean][query], frame_labels[query]))
            if groups is not None:
                source = np.unique(groups)[r % len(np.unique(groups))]
                other = _draw(frame_labels, k, rng, groups != source)
                held = np.flatnonzero(groups == source)
                if len(other) and len(held):
                    lso_rows.append(_score(support, frame_labels, other, held, opts))
        entry = {"adapted": _mean(adapted_rows), "shipped": _mean(base_rows)}
        if groups is not None:
            entry["adapted_leave_source_out"] = _mean(lso_rows)
        report["per_k"][str(k)] = entry
    return report


def accuracy_png(report: dict[str, Any], path: Path) -> None:
    """Accuracy vs K: adapted (blue), shipped (grey), leave-source-out (orange) when present."""
    ks = [int(k) for k in report["per_k"]]
    w, h, left, bottom = 520, 340, 60, 50
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    kmax = max(ks + [1])

    def xy(k: float, acc: float) -> tuple[float, float]:
        return left + (w - left - 20) * k / kmax, (h - bottom) - (h - bottom - 30) * acc

    draw.line([xy(0, 0), xy(kmax, 0)], fill="black")
    draw.line([xy(0, 0), xy(0, 1)], fill="black")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        draw.text((10, xy(0, tick)[1] - 6), f"{tick:.0%}", fill="black")
    for k in ks:
        draw.text((xy(k, 0)[0] - 4, h - bottom + 6), str(k), fill="black")
    draw.text((left, h - 20), "labelled frames per class (K)", fill="black")
    draw.text((left, 8), "accuracy on the frames not used as support", fill="black")
    legend = (("adapted", (31, 119, 180), "adapted"), ("shipped", (120, 120, 120), "shipped"),
              ("adapted_leave_source_out", (255, 127, 14), "adapted, support from other sources"))
    for i, (_, colour, text) in enumerate(legend):
        y0 = 22 + 14 * i
        draw.line([(w - 240, y0 + 6), (w - 226, y0 + 6)], fill=colour, width=2)
        draw.text((w - 222, y0), text, fill=colour)
    for key, colour, _ in legend:
        pts = [xy(int(k), v[key]["accuracy"]) for k, v in report["per_k"].items()
               if key in v and v[key].get("accuracy") is not None]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        for p in pts:
            draw.ellipse([p[0] - 3, p[1] - 3, p[0] + 3, p[1] + 3], fill=colour)
    img.save(path, format="PNG")
