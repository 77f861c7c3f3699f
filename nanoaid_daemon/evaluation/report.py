"""``nanoaid models eval``: run a classifier over a labelled folder and write what it got right.

Images go through the same path as in training and in the daemon: databar found and cut,
card-driven preprocessing, one onnxruntime session on the CPU.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelUnavailable
from ..modelcard import InputSpec, ModelCard, verify_model
from ..states import ACCEPT_THRESHOLD, REVIEW_THRESHOLD
from .folders import Item, scan_labelled
from .inputs import detect_databar, load_grey, prepare
from .metrics import classification_report
from .plots import confusion_png, reliability_png

__all__ = ["resolve_model", "Session", "predict", "evaluate_folder", "summary_lines"]


def resolve_model(spec: str | Path, models_dir: Path) -> tuple[ModelCard, Path, Path]:
    """(card, model file, card file) for a model name, a ``.card.json`` or an ``.onnx`` path."""
    text = str(spec)
    if text.endswith(".card.json"):
        card_path = Path(text)
    elif text.endswith(".onnx"):
        card_path = Path(text[: -len(".onnx")] + ".card.json")
    else:
        card_path = Path(models_dir) / f"{text}.card.json"
    card, model_path = verify_model(card_path)
    return card, model_path, card_path


@dataclass
class Session:
    """A CPU onnxruntime session and the input spec its images are prepared with."""

    model_path: Path
    spec: InputSpec
    threads: int = 2

    def __post_init__(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelUnavailable(f"onnxruntime cannot load {self.model_path}: {exc}") from exc
        self.outputs = [o.name for o in self._session.get_outputs()]

    def run(self, batch: np.ndarray, outputs: list[str], widths: np.ndarray | None = None,
            scale_input: str = "field_width_um") -> dict[str, np.ndarray]:
        """Outputs for ``batch``; ``widths`` [N, 1] (µm, NaN unknown) feed a model's scale input."""
        feeds = {self.spec.name: np.ascontiguousarray(batch, np.float32)}
        if widths is not None:
            feeds[scale_input] = np.asarray(widths, np.float32).reshape(-1, 1)
        values = self._session.run(outputs, feeds)
        return dict(zip(outputs, values, strict=True))


def _batches(items: list, spec: InputSpec, size: int) -> Iterator[tuple[list, np.ndarray]]:
    chunk: list = []
    tensors = []
    for item in items:
        grey = load_grey(item.path)
        bar = detect_databar(grey) if spec.databar == "crop" else 0
        tensors.append(prepare(grey[: grey.shape[0] - bar] if bar else grey, spec))
        chunk.append(item)
        if len(chunk) == size:
            yield chunk, np.stack(tensors)
            chunk, tensors = [], []
    if chunk:
        yield chunk, np.stack(tensors)


def predict(session: Session, items: list, batch: int = 16,
            width_of: Callable[[Any], float | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N, classes] and alignment scores [N] of images (anything with ``.path``).

    ``width_of(item)``: the item's field width (µm) for a model with a scale input; without it the
    model runs its scale-free path.
    """
    probs, align = [], []
    wanted = ["probs"] + (["align_prob"] if "align_prob" in session.outputs else [])
    for chunk, tensors in _batches(items, session.spec, batch):
        widths = None if width_of is None else np.array([width_of(it) or np.nan for it in chunk], np.float32)
        out = session.run(tensors, wanted, widths)
        probs.append(out["probs"])
        align.append(out.get("align_prob", np.full((len(tensors), 1), np.nan, np.float32)))
    return np.concatenate(probs), np.concatenate(align)[:, 0]


def _select(items: Iterable[Item], split: str, limit: int | None) -> list[Item]:
    chosen = [it for it in items if split == "all" or it.split == split]
    if limit:
        chosen = chosen[:limit]
    if not chosen:
        raise ConfigError(f"no images in split {split!r}; use --split all to evaluate every image")
    return chosen


def evaluate_folder(card_path: Path, model_path: Path, card: ModelCard, data: Path, out_dir: Path | None, *,
                    split: str = "all", limit: int | None = None, accept: float | None = None,
                    review: float | None = None, threads: int = 2) -> dict:
    """Metrics of ``card``'s classifier on the labelled folder ``data``; files written to ``out_dir``."""
    if card.task != "classifier":
        raise ConfigError(f"{card_path}: models eval needs a classifier, this card is a {card.task}")
    items = _select(scan_labelled(data), split, limit)
    probs, align = predict(Session(model_path, card.input, threads), items)
    accept = card.thresholds.get("accept", ACCEPT_THRESHOLD) if accept is None else accept
    review = card.thresholds.get("review", REVIEW_THRESHOLD) if review is None else review
    report = classification_report(probs, np.array([it.label for it in items]), card.classes, accept=accept,
                                   review=review)
    report.update({"model": {"name": card.name, "version": card.version, "sha256": card.sha256},
                   "data": str(data), "split": split})
    if out_dir is not None:
        _write(Path(out_dir), report, items, probs, align, card)
    return report


def _write(out: Path, report: dict, items: list[Item], probs: np.ndarray, align: np.ndarray, card: ModelCard) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "confusion.png").write_bytes(
        confusion_png(
            report["confusion_matrix"], card.classes, f"{card.name} on {Path(report['data']).name} ({report['split']})"
        )
    )
    (out / "reliability.png").write_bytes(reliability_png(report["reliability"], report["ece"]))
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as fh:
        for item, p, a in zip(items, probs, align, strict=True):
            row = {
                "file": str(item.path),
                "label": card.classes[item.label],
                "predicted": card.classes[int(np.argmax(p))],
                "score": round(float(np.max(p)), 5),
                "align_prob": None if np.isnan(a) else round(float(a), 5),
            }
            fh.write(json.dumps(row) + "\n")


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def summary_lines(report: dict) -> list[str]:
    op = report["operating"]
    lines = [
        f"model {report['model']['name']} {report['model']['version']} on {report['data']} "
        f"(split {report['split']}, {report['n']} images)",
        f"accuracy {_pct(report['accuracy'])}   top-2 {_pct(report['top2_accuracy'])}   "
        f"balanced {_pct(report['balanced_accuracy'])}   ECE {report['ece']:.3f}",
        f"score >= {op['accept_threshold']}: {_pct(op['accepted_fraction'])} of frames, "
        f"{_pct(op['accepted_accuracy'])} right",
        f"{op['review_threshold']} <= score < {op['accept_threshold']}: {_pct(op['review_fraction'])} of frames, "
        f"right class in top two {_pct(op['review_top2_accuracy'])}",
        f"score < {op['review_threshold']}: {_pct(op['unknown_fraction'])} of frames",
        "class                          precision  recall  support",
    ]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<30} {_pct(row['precision']):>9} {_pct(row['recall']):>7} {row['support']:>8}")
    return lines
