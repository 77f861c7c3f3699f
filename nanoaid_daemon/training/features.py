"""Cached features: every view of every image goes through the frozen trunk exactly once.

As in the paper (its "bottlenecks"), the expensive part of the network runs once per view and
the heads are trained on the cache. View randomness is seeded from the file's hash, so the cache
is the same whatever order or subset the files come in.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..evaluation.inputs import detect_databar, load_grey
from .augment import augmented_view_scaled, clean_view
from .backbone import N_BLOCKS, NORM_MEAN, NORM_STD, trunk_forward

__all__ = ["Source", "ViewCounts", "FeatureSet", "TrunkRunner", "extract_features", "to_tensor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One labelled image: where it is, its label, its content hash (fixes split and view seeds)."""

    path: Path
    label: int
    sha256: str
    split: str
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ViewCounts:
    clean: int = 1
    augmented: int = 0
    heavy: int = 0


@dataclass
class FeatureSet:
    """Features of all views: ``x`` [V, …], the source index and view kind of each row."""

    x: np.ndarray
    source: np.ndarray
    kind: np.ndarray  # 0 clean, 1 augmented, 2 heavy
    width: np.ndarray | None = None  # each view's horizontal field width in µm, NaN where unknown

    def select(self, sources: np.ndarray | None = None, kinds: Sequence[int] | None = None) -> np.ndarray:
        mask = np.ones(len(self.source), bool)
        if sources is not None:
            mask &= np.isin(self.source, sources)
        if kinds is not None:
            mask &= np.isin(self.kind, kinds)
        return np.flatnonzero(mask)


def to_tensor(units: list[np.ndarray]) -> torch.Tensor:
    """[0, 1] grey views → normalised 3-channel batch."""
    batch = torch.from_numpy(np.stack(units)).unsqueeze(1)
    return ((batch - NORM_MEAN) / NORM_STD).expand(-1, 3, -1, -1).contiguous()


def _views(src: Source, counts: ViewCounts, size: int, seed: int) -> list[tuple[int, np.ndarray, float]]:
    """(kind, view, field width of the view in µm or NaN) for every view of ``src``."""
    grey = load_grey(src.path)
    bar = detect_databar(grey)
    rng = np.random.default_rng([seed, int(src.sha256[:12], 16)])
    width = float(src.extra.get("field_width_um") or np.nan)
    out = [(0, clean_view(grey[: grey.shape[0] - bar] if bar else grey, size), width) for _ in range(counts.clean)]
    for kind, strength, n in ((1, 1.0, counts.augmented), (2, 2.0, counts.heavy)):
        for _ in range(n):
            view, share = augmented_view_scaled(rng, grey, bar, size, strength)
            out.append((kind, view, width * share))
    return out


class TrunkGraph(nn.Module):
    """The frozen part as its own graph: pooled embedding (cut = 16) or the block-``cut`` map."""

    def __init__(self, model: nn.Module, cut: int):
        super().__init__()
        self.model, self.cut = model, cut

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = trunk_forward(self.model, image, self.cut)
        return out.mean(dim=(2, 3)) if self.cut >= N_BLOCKS else out


class TrunkRunner:
    """Runs the trunk through onnxruntime (several times faster than eager PyTorch on a CPU).

    The trunk is exported once into ``work``; if that fails for any reason, PyTorch runs it.
    """

    def __init__(self, model: nn.Module, cut: int, size: int, work: Path, threads: int):
        from .export import export_onnx

        self.graph = TrunkGraph(model, cut).eval()
        self.session = None
        try:
            import onnxruntime as ort

            path = export_onnx(self.graph, to_tensor([np.zeros((size, size), np.float32)] * 2),
                               Path(work) / f"trunk-{cut}-{size}.onnx", ["out"])
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = threads, 1, 3
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # pragma: no cover - the exporter is part of the [train] extra
            log.warning("trunk export for onnxruntime failed (%s); extracting features with PyTorch", exc)

    @torch.no_grad()
    def __call__(self, units: list[np.ndarray]) -> np.ndarray:
        batch = to_tensor(units)
        if self.session is not None:
            return self.session.run(["out"], {"image": batch.numpy()})[0]
        return self.graph(batch).numpy()


def extract_features(runner: TrunkRunner, sources: Sequence[Source], counts_for: Callable[[Source], ViewCounts], *,
                     size: int, seed: int = 0, batch: int = 32, progress=None) -> FeatureSet:
    """Trunk outputs for every view: pooled 1280-d embeddings (cut = 16) or block-``cut`` maps."""
    rows: list[np.ndarray] = []
    index: list[int] = []
    kinds: list[int] = []
    pending: list[np.ndarray] = []
    meta: list[tuple[int, int]] = []
    widths: list[float] = []
    maps = runner.graph.cut < N_BLOCKS

    def flush() -> None:
        out = runner(pending)
        rows.append(out.astype(np.float16) if maps else out)
        index.extend(m[0] for m in meta)
        kinds.extend(m[1] for m in meta)
        pending.clear()
        meta.clear()

    for i, src in enumerate(sources):
        for kind, unit, width in _views(src, counts_for(src), size, seed):
            pending.append(unit)
            meta.append((i, kind))
            widths.append(width)
            if len(pending) == batch:
                flush()
        if progress:
            progress(i + 1, len(sources))
    if pending:
        flush()
    if not rows:
        raise ValueError("no views to extract features from")
    return FeatureSet(np.concatenate(rows), np.asarray(index, np.int64), np.asarray(kinds, np.int8),
                      np.asarray(widths, np.float64))
