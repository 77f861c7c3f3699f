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
from . import CLASSIFIER_VERSION
from .alignment import train_alignment
from .backbone import EMBED_DIM, N_BLOCKS, load_backbone
from .calibration import choose_head
from .cards import classifier_card
from .export import (
    CLASSIFIER_OUTPUTS,
    SCALE_INPUT,
    ClassifierGraph,
    check_onnx,
    export_onnx,
    make_input_optional,
    write_card,
)
from .features import FeatureSet, Source, TrunkRunner, ViewCounts, extract_features, to_tensor
from .finetune import finetune_tail
from .heads import fit_temperature
from .realrows import RealFrames, card_entry, committed_frames, fit_with_real, real_design
from .scale import scale_features
from .testsplit import evaluate_exported

__all__ = ["ClassifierOptions", "train_classifier", "set_determinism"]

log = logging.getLogger(__name__)


@dataclass
class ClassifierOptions:
    data: list[Path]
    out: Path
    align: Path | None = None
    name: str = "nffa-classifier"
    version: str = CLASSIFIER_VERSION
    input_size: int = 224
    views: int = 2
    heavy_views: int = 2
    finetune_blocks: int = 0
    finetune_epochs: int = 4
    scale: bool = True  # the field-width input (training/scale.py), trained with scale dropout
    devset: Path | None = None  # a dev-set manifest: its committed real frames join the final head (realrows.py)
    devset_weight: int = 10
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


def _truth(folder: Path) -> dict[str, dict]:
    """'Class/file.png' → {sub-type, field width in µm}, from a synthetic set's truth.jsonl (absent
    for real folders: no sub-type, width unknown)."""
    index = Path(folder) / "truth.jsonl"
    if not index.is_file():
        return {}
    rows = (json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip())
    return {row["file"]: {"arrangement": row.get("truth", {}).get("arrangement"),
                          "field_width_um": (row.get("meta") or {}).get("horizontal_field_width_um")} for row in rows}


def _sources(folders: list[Path]) -> list[Source]:
    out = []
    for folder in folders:
        truth = _truth(folder)
        for it in scan_labelled(folder):
            key = f"{it.path.parent.name}/{it.path.name}"
            extra = truth.get(key, {})
            out.append(Source(it.path, it.label, it.sha256, it.split,
                              {"arrangement": extra.get("arrangement"), "field_width_um": extra.get("field_width_um")}))
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
    if opts.scale and not any(s.extra.get("field_width_um") for s in sources):
        opts.say("no field widths in the data (no truth.jsonl): the classifier gets no scale input")
        opts.scale = False
    real = committed_frames(opts.devset, opts.devset_weight) if opts.devset else None
    if real and opts.finetune_blocks:
        raise ConfigError("real frames (--devset) join a frozen-trunk head only; drop --finetune-blocks or --devset")
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
    if opts.scale:
        feats = with_scale(feats)
        y_all = labels[feats.source]
        clean_val = _rows(feats, sources, "val", (0,))
        shown = feats.width[: len(feats.width) // 2] if feats.width is not None else np.zeros(0)
        opts.say(f"scale input: {int(np.isfinite(shown).sum())} of {len(shown)} views "
                 "with a field width (every view also enters with it hidden)")
    choice = choose_head(feats, sources, y_all, opts.l2_grid, opts.seed, opts.say)
    head, l2, temperature = choice.head, choice.l2, choice.temperature
    if real:
        train_rows = _rows(feats, sources, "train", (0, 1))  # the rows choose_head fitted its head on
        head = _with_real(feats.x[train_rows], y_all[train_rows], real, runner, opts, l2)
    t_clean = fit_temperature(head(feats.x[clean_val]), y_all[clean_val])
    val_report = classification_report(_softmax(head(feats.x[clean_val]), temperature), y_all[clean_val], CLASSES)
    opts.say(f"validation (clean views): accuracy {val_report['accuracy']:.3f}, T={temperature:.2f} "
             f"(clean-fit T {t_clean:.2f})")
    align = train_alignment(model, opts, runner if not opts.finetune_blocks else None)
    opts.say(f"alignment head: {align.metrics}")
    graph = ClassifierGraph(model, head, align.head, temperature, scale=opts.scale).eval()
    model_path = Path(opts.out) / f"{opts.name}.onnx"
    image = to_tensor([np.full((opts.input_size, opts.input_size), 0.5, np.float32)] * 2)
    example, names = _export(graph, image, model_path, opts.scale)
    deviation = check_onnx(model_path, graph, example, CLASSIFIER_OUTPUTS, input_names=names)
    tested = [s for s in sources if s.split == "test"]
    test = evaluate_exported(model_path, opts, tested)
    test_scale = evaluate_exported(model_path, opts, tested, scale=True) if opts.scale else None
    summary = {
        "l2": l2, "temperature": temperature, "temperature_clean": t_clean, "splits": splits,
        "calibrated_on": choice.fitted_on, "unseen_subtypes": choice.unseen,
        "validation": {k: val_report[k] for k in ("accuracy", "top2_accuracy", "ece")},
        "test": test, "test_with_scale": test_scale, "alignment": align.metrics, "finetune": finetune_info,
        "onnx_max_deviation": deviation,
        "real_frames": card_entry(real, opts.views) if real else None,
        "per_class_images": {CLASSES[c]: int(np.sum(labels == c)) for c in range(len(CLASSES))},
        "duration_s": round(time.monotonic() - started, 1),
    }
    card_path = write_card(model_path, classifier_card(opts, summary, feat_hw=_feature_hw(graph, image)))
    summary.update({"model": str(model_path), "card": str(card_path)})
    return summary


def _with_real(x_syn: np.ndarray, y_syn: np.ndarray, real: RealFrames, runner: TrunkRunner,
               opts: ClassifierOptions, l2: float):
    """The final head refitted with the committed dev frames (clean + augmented views, width hidden)."""
    feats = extract_features(runner, real.sources, lambda _s: ViewCounts(clean=1, augmented=opts.views),
                             size=opts.input_size, seed=opts.seed, progress=_progress(opts.say, "real frames"))
    y_real = np.array([s.label for s in real.sources])[feats.source]
    opts.say(f"real frames: {len(real.sources)} from {len({r.source for r in real.rows})} sources, "
             f"{len(feats.x)} views, each counted {real.weight}x in the final head")
    return fit_with_real(x_syn, y_syn, real_design(feats.x, opts.scale), y_real, l2, real.weight)


def with_scale(feats: FeatureSet) -> FeatureSet:
    """Scale dropout by construction: every view row twice, with its field-width features and hidden.

    The hidden copies make the scale-free part of the head (the whole head when a frame's width is
    unknown) a full classifier on its own; the shown copies fit what the width adds.
    """
    width = feats.width if feats.width is not None else np.full(len(feats.source), np.nan)
    hidden = np.full(len(width), np.nan)
    x = np.vstack([np.hstack([feats.x, scale_features(width)]), np.hstack([feats.x, scale_features(hidden)])])
    return FeatureSet(x, np.concatenate([feats.source, feats.source]), np.concatenate([feats.kind, feats.kind]),
                      np.concatenate([width, hidden]))


def _export(graph: ClassifierGraph, image: torch.Tensor, path: Path,
            scale: bool) -> tuple[tuple[torch.Tensor, ...], tuple[str, ...]]:
    """Export the graph; with scale, its width input gets a default of 'unknown' (NaN), so a caller
    that does not know about it runs the scale-free head."""
    if not scale:
        export_onnx(graph, image, path, CLASSIFIER_OUTPUTS)
        return (image,), ("image",)
    width = torch.tensor([[25.0], [float("nan")]], dtype=torch.float32)
    names = ("image", SCALE_INPUT)
    export_onnx(graph, (image, width), path, CLASSIFIER_OUTPUTS, input_names=names)
    make_input_optional(path, SCALE_INPUT, np.full((1, 1), np.nan, np.float32))
    return (image, width), names


def _softmax(logits: np.ndarray, t: float) -> np.ndarray:
    z = logits / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _feature_hw(graph: ClassifierGraph, example) -> tuple[int, int]:
    with torch.no_grad():
        feats = graph(example)[3]
    assert feats.shape[1] == EMBED_DIM
    return int(feats.shape[2]), int(feats.shape[3])
