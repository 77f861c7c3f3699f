"""``nanoaid train classifier``: transfer learning on labelled folders, as Modarres et al. did.

1. Every image gets its split from its content hash (train 70 %, validation 15 %, test 15 %).
2. The frozen ImageNet trunk turns views of each image into cached features: training images
   several augmented views, validation images a clean view plus "unseen instrument" views (heavy
   augmentation), test images one clean view — exactly what the daemon will compute.
3. A class-weighted linear softmax head is fitted; its L2 strength is chosen by the calibrated
   log-loss on the heavy validation views (robustness over fit to the training look).
4. Temperature scaling on those heavy views, so that confidence is not learned from images as
   clean as the training set (real frames from other instruments will not be).
5. The alignment head (aligned vs. random nanowires, the paper's second network) is a logistic
   regression on the same embedding.
6. Export, check against onnxruntime, evaluate the test split through the exported file, card.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..evaluation.folders import scan_labelled
from ..evaluation.metrics import classification_report
from ..sidecar import CLASSES
from .alignment import train_alignment
from .backbone import EMBED_DIM, N_BLOCKS, load_backbone
from .calibration import choose_head
from .cards import classifier_card
from .export import CLASSIFIER_OUTPUTS, ClassifierGraph, check_onnx, export_onnx, write_card
from .features import Source, TrunkRunner, ViewCounts, extract_features, to_tensor
from .finetune import finetune_tail
from .heads import fit_temperature
from .testsplit import evaluate_exported

__all__ = ["ClassifierOptions", "train_classifier", "set_determinism"]

log = logging.getLogger(__name__)


@dataclass
class ClassifierOptions:
    data: list[Path]
    out: Path
    align: Path | None = None
    name: str = "nffa-classifier"
    version: str = "1.0.0"
    input_size: int = 224
    views: int = 2
    heavy_views: int = 2
    finetune_blocks: int = 0
    finetune_epochs: int = 4
    l2_grid: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
    seed: int = 0
    threads: int = 2
    work: Path = Path(".cache/nanoaid-train")
    align_synthetic: int = 420
    data_kind: str = ""
    data_notes: list[str] = field(default_factory=list)
    reproduce: list[str] = field(default_factory=list)
    command: str = ""
    say: Callable[[str], None] = log.info


def set_determinism(seed: int, threads: int) -> None:
    """Same inputs, same bytes: fixed seeds, fixed thread count, deterministic kernels."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def _subtypes(folder: Path) -> dict[str, str]:
    """'Class/file.png' → sub-type, from a synthetic set's truth.jsonl (absent for real folders)."""
    index = Path(folder) / "truth.jsonl"
    if not index.is_file():
        return {}
    rows = (json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip())
    return {row["file"]: row.get("truth", {}).get("arrangement") for row in rows}


def _sources(folders: list[Path]) -> list[Source]:
    out = []
    for folder in folders:
        kinds = _subtypes(folder)
        for it in scan_labelled(folder):
            key = f"{it.path.parent.name}/{it.path.name}"
            out.append(Source(it.path, it.label, it.sha256, it.split, {"arrangement": kinds.get(key)}))
    seen, unique = set(), []
    for src in out:  # the same file twice (two folders, or a copy) counts once
        if src.sha256 not in seen:
            seen.add(src.sha256)
            unique.append(src)
    return unique


def _counts(opts: ClassifierOptions) -> Callable[[Source], ViewCounts]:
    def counts(src: Source) -> ViewCounts:
        if src.split == "train":
            return ViewCounts(clean=1, augmented=opts.views)
        if src.split == "val":
            return ViewCounts(clean=1, heavy=opts.heavy_views)
        return ViewCounts(clean=1)
    return counts


def _progress(say, what: str, every: int = 200):
    start = time.monotonic()

    def report(done: int, total: int) -> None:
        if done % every == 0 or done == total:
            say(f"{what}: {done}/{total} images ({time.monotonic() - start:.0f} s)")
    return report


def _rows(feats, sources: list[Source], split: str, kinds) -> np.ndarray:
    wanted = np.array([i for i, s in enumerate(sources) if s.split == split], np.int64)
    return feats.select(wanted, kinds)


def train_classifier(opts: ClassifierOptions) -> dict:
    """Train, export and card the classifier; returns a summary (paths, metrics, timings)."""
    started = time.monotonic()
    set_determinism(opts.seed, opts.threads)
    sources = _sources(opts.data)
    labels = np.array([s.label for s in sources])
    splits = {sp: sum(s.split == sp for s in sources) for sp in ("train", "val", "test")}
    if splits["train"] == 0 or splits["val"] == 0:
        raise ConfigError(f"too few images to train: {splits} (need some in both train and validation)")
    train_labels = labels[[s.split == "train" for s in sources]]
    missing = [CLASSES[c] for c in range(len(CLASSES)) if not np.any(train_labels == c)]
    if missing:
        opts.say(f"warning: no training images for {missing}; the model will not predict them")
    opts.say(f"{len(sources)} images: {splits}")
    cut = N_BLOCKS - opts.finetune_blocks
    model = load_backbone(opts.input_size)
    runner = TrunkRunner(model, cut, opts.input_size, opts.work, opts.threads)
    feats = extract_features(runner, sources, _counts(opts), size=opts.input_size, seed=opts.seed,
                             progress=_progress(opts.say, "features"))
    y_all = labels[feats.source]
    clean_val = _rows(feats, sources, "val", (0,))
    finetune_info = None
    if opts.finetune_blocks:
        feats, finetune_info = finetune_tail(model, cut, feats, y_all, _rows(feats, sources, "train", (0, 1)),
                                             clean_val, opts)
    choice = choose_head(feats, sources, y_all, opts.l2_grid, opts.seed, opts.say)
    head, l2, temperature = choice.head, choice.l2, choice.temperature
    t_clean = fit_temperature(head(feats.x[clean_val]), y_all[clean_val])
    val_report = classification_report(_softmax(head(feats.x[clean_val]), temperature), y_all[clean_val], CLASSES)
    opts.say(f"validation (clean views): accuracy {val_report['accuracy']:.3f}, T={temperature:.2f} "
             f"(clean-fit T {t_clean:.2f})")
    align = train_alignment(model, opts, runner if not opts.finetune_blocks else None)
    opts.say(f"alignment head: {align.metrics}")
    graph = ClassifierGraph(model, head, align.head, temperature).eval()
    model_path = Path(opts.out) / f"{opts.name}.onnx"
    example = to_tensor([np.full((opts.input_size, opts.input_size), 0.5, np.float32)] * 2)
    export_onnx(graph, example, model_path, CLASSIFIER_OUTPUTS)
    deviation = check_onnx(model_path, graph, example, CLASSIFIER_OUTPUTS)
    test = evaluate_exported(model_path, opts, [s for s in sources if s.split == "test"])
    summary = {
        "l2": l2, "temperature": temperature, "temperature_clean": t_clean, "splits": splits,
        "calibrated_on": choice.fitted_on, "unseen_subtypes": choice.unseen,
        "validation": {k: val_report[k] for k in ("accuracy", "top2_accuracy", "ece")},
        "test": test, "alignment": align.metrics, "finetune": finetune_info, "onnx_max_deviation": deviation,
        "per_class_images": {CLASSES[c]: int(np.sum(labels == c)) for c in range(len(CLASSES))},
        "duration_s": round(time.monotonic() - started, 1),
    }
    card_path = write_card(model_path, classifier_card(opts, summary, feat_hw=_feature_hw(graph, example)))
    summary.update({"model": str(model_path), "card": str(card_path)})
    return summary


def _softmax(logits: np.ndarray, t: float) -> np.ndarray:
    z = logits / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _feature_hw(graph: ClassifierGraph, example) -> tuple[int, int]:
    with torch.no_grad():
        feats = graph(example)[3]
    assert feats.shape[1] == EMBED_DIM
    return int(feats.shape[2]), int(feats.shape[3])
