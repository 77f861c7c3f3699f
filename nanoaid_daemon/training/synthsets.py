"""Synthetic training sets on disk, laid out like real ones so one code path trains on both.

* the classification set: ``nanoaid synth DIR --per-class N --seed S --size mixed`` (NFFA layout);
* the alignment set: ``DIR/aligned`` (aligned wires and tilted vertical arrays), ``DIR/not_aligned``
  (random and entangled wires) and ``DIR/partial`` (12–30° spread, never trained on: it checks
  that the score grades the degree of order), with the drawn order parameter in ``truth.jsonl``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .. import synth
from ..errors import ConfigError
from ..evaluation.folders import IMAGE_SUFFIXES, split_of
from ..hashing import sha256_file
from ..synth import write_dataset
from .features import Source

__all__ = ["ensure_classification_set", "ensure_alignment_set", "alignment_sources", "ALIGN_FOLDERS"]

ALIGN_FOLDERS = {"aligned": 1, "not_aligned": 0, "partial": -1}
_ALIGN_PLAN = ("aligned", "aligned", "vertical", "random", "random", "entangled", "partial")


def generator_fingerprint() -> str:
    """sha256 over the generator's source files: a changed generator never reuses stale frames."""
    digest = hashlib.sha256()
    for path in sorted(Path(synth.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _stamp(folder: Path, recipe: dict) -> bool:
    """True when ``folder`` already holds exactly this recipe's output (it is then reused)."""
    stamp = folder / "recipe.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == recipe


def ensure_classification_set(folder: Path, per_class: int, seed: int, workers: int = 1, progress=None) -> Path:
    recipe = {"kind": "classification", "per_class": per_class, "seed": seed, "size": "mixed",
              "generator": generator_fingerprint()}
    if not _stamp(folder, recipe):
        shutil.rmtree(folder, ignore_errors=True)
        write_dataset(folder, per_class, seed, size="mixed", bits=0, workers=workers, progress=progress)
        (folder / "recipe.json").write_text(json.dumps(recipe))
    return folder


def ensure_alignment_set(folder: Path, count: int, seed: int, workers: int = 1, progress=None) -> Path:
    """``count`` nanowire frames split over aligned / not aligned / partial by a fixed plan."""
    recipe = {"kind": "alignment", "count": count, "seed": seed, "size": "mixed", "generator": generator_fingerprint()}
    if not _stamp(folder, recipe):
        shutil.rmtree(folder, ignore_errors=True)
        plan = [_ALIGN_PLAN[i % len(_ALIGN_PLAN)] for i in range(count)]
        folder_of = {"aligned": "aligned", "vertical": "aligned", "random": "not_aligned",
                     "entangled": "not_aligned", "partial": "partial"}
        write_dataset(folder, count, seed, classes=("Nanowires",), size="mixed", bits=8,
                      folder_of=lambda _n, i: folder_of[plan[i]], overrides_of=lambda _n, i: {"arrangement": plan[i]},
                      workers=workers, progress=progress)
        (folder / "recipe.json").write_text(json.dumps(recipe))
    return folder


def _truth_index(folder: Path) -> dict[str, dict]:
    index = folder / "truth.jsonl"
    if not index.is_file():
        return {}
    rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["file"]: row.get("truth", {}) for row in rows}


def alignment_sources(folder: Path) -> list[Source]:
    """Images of ``aligned/`` (label 1), ``not_aligned/`` (0) and optional ``partial/`` (−1)."""
    folder = Path(folder)
    truth = _truth_index(folder)
    sources = []
    for name, label in ALIGN_FOLDERS.items():
        sub = folder / name
        if not sub.is_dir():
            continue
        for path in sorted(sub.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                digest = sha256_file(path)[0]
                info = truth.get(f"{name}/{path.name}", {})
                sources.append(Source(path, label, digest, split_of(digest), {"order": info.get("order_parameter")}))
    if not any(s.label == 1 for s in sources) or not any(s.label == 0 for s in sources):
        raise ConfigError(f"alignment data {folder} needs images in both aligned/ and not_aligned/")
    return sources
