"""``nanoaid train autoencoder`` and ``nanoaid train all`` (the deterministic rebuild of ``models/``)."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..evaluation.folders import IMAGE_SUFFIXES, split_of
from ..evaluation.inputs import detect_databar, load_grey, unit_view
from ..hashing import sha256_file
from . import AUTOENCODER_VERSION
from .autoencoder import ConvAutoencoder, patches_from_units, train_autoencoder_patches
from .cards import autoencoder_card, autoencoder_input
from .classifier import ClassifierOptions, set_determinism, train_classifier
from .export import check_onnx, export_onnx, write_card
from .synthsets import ensure_classification_set

__all__ = ["AutoencoderOptions", "train_autoencoder", "AllOptions", "train_all"]

log = logging.getLogger(__name__)


@dataclass
class AutoencoderOptions:
    data: list[Path]
    out: Path
    name: str = "sem-autoencoder"
    version: str = AUTOENCODER_VERSION
    input_size: int = 256
    patch: int = 64
    per_image: int = 3
    epochs: int = 4
    channels: tuple[int, ...] = (16, 32, 48, 64)
    max_images: int | None = None
    seed: int = 0
    threads: int = 2
    data_kind: str = ""
    data_notes: list[str] = field(default_factory=list)
    command: str = ""
    say: Callable[[str], None] = log.info


def _images(folders: list[Path]) -> list[tuple[Path, str]]:
    """Every image below the folders (labels are not needed), with its content hash."""
    found: dict[str, Path] = {}  # content hash → first path with it
    for folder in folders:
        if not Path(folder).is_dir():
            raise ConfigError(f"data folder {folder} does not exist or is not a folder")
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.name.startswith("."):
                found.setdefault(sha256_file(path)[0], path)
    if not found:
        raise ConfigError(f"no images found below {[str(f) for f in folders]}")
    return sorted(((p, h) for h, p in found.items()), key=lambda t: str(t[0]))


def _unit(path: Path, size: int) -> np.ndarray:
    grey = load_grey(path)
    bar = detect_databar(grey)
    return unit_view(grey[: grey.shape[0] - bar] if bar else grey, autoencoder_input(size))


def train_autoencoder(opts: AutoencoderOptions) -> dict:
    import torch

    started = time.monotonic()
    set_determinism(opts.seed, opts.threads)
    images = _images(opts.data)
    train = [p for p, h in images if split_of(h) == "train"][: opts.max_images]
    held = [p for p, h in images if split_of(h) != "train"][: max(4, (opts.max_images or 10**9) // 5)]
    if not train or not held:
        raise ConfigError(f"need images in both the training and the held-out split, "
                          f"found {len(train)} and {len(held)}")
    rng = np.random.default_rng(opts.seed)
    patch = min(opts.patch, opts.input_size)
    patches = patches_from_units(rng, [_unit(p, opts.input_size) for p in train], opts.per_image, patch)
    val = np.stack([_unit(p, opts.input_size) for p in held])[:, None]
    opts.say(f"autoencoder: {len(patches)} patches from {len(train)} images, {len(val)} held-out frames")
    model = ConvAutoencoder(opts.channels)
    metrics = train_autoencoder_patches(model, patches, val, epochs=opts.epochs, seed=opts.seed,
                                        progress=lambda e, n, mse: opts.say(
                                            f"autoencoder epoch {e}/{n}: mse {mse:.5f}"))
    model_path = Path(opts.out) / f"{opts.name}.onnx"
    side = opts.input_size
    example = torch.from_numpy(val[:2].copy()) if len(val) >= 2 else torch.full((2, 1, side, side), 0.5)
    export_onnx(model, example, model_path, model.output_names)
    check_onnx(model_path, model, example, model.output_names)
    summary = {"patches": int(len(patches)), "metrics": {"heldout_frames": int(len(val)), **metrics},
               "duration_s": round(time.monotonic() - started, 1)}
    card_path = write_card(model_path, autoencoder_card(opts, summary, opts.channels))
    summary.update({"model": str(model_path), "card": str(card_path)})
    return summary


@dataclass
class AllOptions:
    out: Path
    work: Path
    per_class: int = 500
    align_count: int = 560
    seed: int = 2024
    views: int = 3
    ae_epochs: int = 4
    ae_images: int = 1000
    threads: int = 2
    scale: bool = True
    devset: Path | None = None  # a dev-set manifest: its committed real frames join the classifier's head
    devset_weight: int = 10
    say: Callable[[str], None] = log.info


def train_all(opts: AllOptions) -> dict:
    """Synthetic data → classifier (+ alignment head) → autoencoder, each with its card."""
    started = time.monotonic()
    data = Path(opts.work) / f"synthetic-{opts.per_class}-{opts.seed}"
    tick = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done % 500 == 0:
            opts.say(f"synthetic frames: {done}/{total}")

    ensure_classification_set(data, opts.per_class, opts.seed, workers=opts.threads, progress=progress)
    synth_s = round(time.monotonic() - tick, 1)
    synth_cmd = f"nanoaid synth DIR --per-class {opts.per_class} --seed {opts.seed} --size mixed --bits mixed"
    notes = [f"synthetic SEM frames, {opts.per_class} per class, seed {opts.seed} ({synth_cmd})",
             f"synthetic nanowire alignment set: {opts.align_count} frames, seed {opts.seed + 17}"]
    command = (f"nanoaid train all --per-class {opts.per_class} --seed {opts.seed} --views {opts.views} "
               f"--align-count {opts.align_count} --ae-epochs {opts.ae_epochs} --ae-images {opts.ae_images}"
               + ("" if opts.scale else " --no-scale")
               + (f" --devset {opts.devset} --devset-weight {opts.devset_weight}" if opts.devset else ""))
    if opts.devset:
        notes.append(f"real SEM frames in the final head: the committed copies listed in {opts.devset} "
                     f"(each view counted {opts.devset_weight}x; card: training.real_frames)")
    copts = ClassifierOptions(data=[data], out=opts.out, seed=opts.seed, views=opts.views, threads=opts.threads,
                              work=opts.work, align_synthetic=opts.align_count, data_kind="synthetic", data_notes=notes,
                              scale=opts.scale, devset=opts.devset, devset_weight=opts.devset_weight,
                              reproduce=[synth_cmd, "nanoaid models eval nffa-classifier DIR --split test"],
                              command=command, say=opts.say)
    classifier = train_classifier(copts)
    aopts = AutoencoderOptions(data=[data], out=opts.out, epochs=opts.ae_epochs, max_images=opts.ae_images,
                               seed=opts.seed, threads=opts.threads, data_kind="synthetic", data_notes=notes[:1],
                               command=command, say=opts.say)
    autoencoder = train_autoencoder(aopts)
    summary = {"synthetic_data_s": synth_s, "classifier": classifier, "autoencoder": autoencoder,
               "total_s": round(time.monotonic() - started, 1)}
    (Path(opts.work) / "train-all.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
