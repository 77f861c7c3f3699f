"""From labelled frames to a complete models folder: embed, fit, export, write the card, copy the rest.

The output folder is self-contained: the adapted classifier under the base's file names (so the
classify plugin's default ``model = "nffa-classifier"`` finds it with no configuration change) and a
copy of every other model of the base folder (the autoencoder), each still matching its card.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_text
from ..errors import ConfigError
from ..evaluation.folders import scan_labelled
from ..modelcard import ModelCard, file_sha256, find_cards, verify_model
from ..sidecar import CLASSES
from .export import build_adapted_onnx
from .fit import Adapted, FitOptions, Support, adapt
from .support import AUGMENTATIONS, embed_frames, read_pixels

__all__ = ["SupportFrame", "Result", "adapt_folder", "fit_and_write", "copy_other_models", "METHOD"]

METHOD = ("class-balanced multinomial logistic head on the L2-normalised frozen embedding, "
          "fitted on each support frame and 5 augmented views (flips, quarter turn, two 70 % crops); "
          "classes without support keep the base model's probability; temperature, conformal "
          "prediction sets (LAC) and an out-of-distribution threshold (low-rank Mahalanobis) from "
          "cross-validation on the support frames")


@dataclass(frozen=True)
class SupportFrame:
    sha256: str
    label: int
    source: str  # file path or frame id, for the card


@dataclass
class Result:
    card: ModelCard
    card_path: Path
    adapted: Adapted
    seconds: float


def adapt_folder(labelled: Path, out_dir: Path, base_model, *, reader_host, name: str = "nffa-classifier-adapted",
                 version: str = "1", options: FitOptions | None = None) -> Result:
    """``nanoaid models adapt``: every image under ``labelled/<Class>/`` becomes support."""
    started = time.perf_counter()
    items = scan_labelled(labelled)
    frames = [SupportFrame(item.sha256, item.label, str(item.path)) for item in items]
    support = embed_frames(base_model, ((read_pixels(reader_host, item.path), item.label) for item in items))
    result = fit_and_write(support, frames, out_dir, base_model, name=name, version=version, options=options)
    copy_other_models(Path(base_model.path).parent, out_dir, skip=base_model.card.name)
    result.seconds = time.perf_counter() - started
    return result


def fit_and_write(support: Support, frames: Sequence[SupportFrame], out_dir: Path, base_model, *, name: str,
                  version: str, options: FitOptions | None = None, extra: dict[str, Any] | None = None) -> Result:
    """Fit on ``support`` and write ``out_dir/<base file>.onnx`` + card; returns the new card."""
    started = time.perf_counter()
    opts = options or FitOptions()
    opts.accept = float(base_model.card.thresholds.get("accept", opts.accept))
    adapted = adapt(support, len(CLASSES), opts)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = base_model.card
    onnx_path = out_dir / base.file
    build_adapted_onnx(Path(base_model.path), adapted, onnx_path)
    extra = dict(extra or {})
    if opts.keep_base_head:
        extra["method_note"] = "base model's scores kept unchanged; only the trust gate was fitted on the frames"
    card = _card(base, onnx_path, adapted, frames, name, version, opts, extra)
    card_path = out_dir / f"{base.name}.card.json"
    atomic_write_text(card_path, json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
    return Result(card, card_path, adapted, time.perf_counter() - started)


def _card(base: ModelCard, onnx_path: Path, adapted: Adapted, frames: Sequence[SupportFrame], name: str,
          version: str, opts: FitOptions, extra: dict[str, Any]) -> ModelCard:
    counts = {c: 0 for c in CLASSES}
    for f in frames:
        counts[CLASSES[f.label]] += 1
    outputs = [o for o in base.outputs]
    outputs += [type(base.outputs[0])(name="base_probs", shape=["N", len(CLASSES)],
                                      description="the base model's probabilities (prior for classes without support)"),
                type(base.outputs[0])(name="ood_score", shape=["N"],
                                      description="Mahalanobis distance per dimension to the nearest support class")]
    return base.model_copy(update={
        "name": name, "version": version, "file": onnx_path.name, "sha256": file_sha256(onnx_path),
        "size_bytes": onnx_path.stat().st_size, "outputs": outputs,
        "calibration": {
            "method": "temperature on cross-validated support predictions",
            "temperature": round(adapted.temperature, 6),
            "conformal": {"alpha": opts.alpha, "qhat": round(adapted.qhat, 6), "score": "1 - p(class)",
                          "qhat_review": round(adapted.qhat_review, 6)},
            "min_support": opts.min_support,
            "accept_gate": round(adapted.accept_gate, 6),
            "ood": {"threshold": round(adapted.ood_threshold, 6), "alpha": opts.ood_alpha,
                    "score": "ood_score output (Mahalanobis per dimension, nearest class)"},
            "decision": ("accepted only if top score >= max(accept, accept_gate), ood_score <= threshold, "
                         "the prediction set (qhat) holds one class and the class has at least min_support "
                         "support frames; otherwise review offers the review set (qhat_review)"),
        },
        "training": {
            "base": {"name": base.name, "version": base.version, "sha256": base.sha256},
            "method": METHOD, "augmentations": list(AUGMENTATIONS), "l2": opts.l2,
            "support": {"counts": counts, "frames": [{"sha256": f.sha256, "class": CLASSES[f.label]} for f in frames]},
            **extra,
        },
        "metrics": {"cross_validated_on_support": adapted.metrics},
        "limitations": ("Fitted on the support frames listed here; figures are cross-validated on those frames and "
                        "hold for frames like them (same instrument, same specimens). Classes without support keep "
                        "the base model's prior. " + base.limitations),
    })


def copy_other_models(base_dir: Path, out_dir: Path, *, skip: str) -> list[str]:
    """Copy every other verified model + card (e.g. the autoencoder) so ``out_dir`` is complete."""
    copied = []
    for card_path in find_cards(base_dir):
        card, model_path = verify_model(card_path)
        if card.name == skip or card_path.name == f"{skip}.card.json":
            continue
        shutil.copyfile(model_path, Path(out_dir) / model_path.name)
        shutil.copyfile(card_path, Path(out_dir) / card_path.name)
        copied.append(card.name)
    return copied


def check_out_dir(out_dir: Path, base_dir: Path) -> None:
    if Path(out_dir).resolve() == Path(base_dir).resolve():
        raise ConfigError(f"--out {out_dir} is the base models folder; choose a new folder (the base stays intact)")


def counts_of(support: Support) -> np.ndarray:
    return np.bincount(support.label[support.clean], minlength=len(CLASSES))
