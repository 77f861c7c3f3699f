"""The development set: real SEM frames from public sources, labelled into the NFFA classes.

The manifest (``datasets/devset/manifest.csv``) is the set: one row per image with where it comes
from (repository and commit, or a file under ``../shared``), its licence, the class a person gave
it by looking at it, how sure they were, an optional crop, and its *source* (the lab or data set
it came from) so that evaluations can keep a source out of its own training. Images whose licence
allows redistribution are committed, downscaled, under ``datasets/devset/open/``; the rest are
fetched from their repositories by ``datasets/devset/rebuild.py`` on a machine with internet
access. Evaluations use whatever part is present and say how much was skipped.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ConfigError
from ..sidecar import CLASSES
from .folders import class_index

__all__ = ["DevImage", "COLUMNS", "OPEN_LICENCES", "load_manifest", "prepare_image", "materialise", "counts"]

COLUMNS = ("id", "repo", "commit", "path", "licence", "class", "confidence", "crop", "source", "sha256", "file")
OPEN_LICENCES = frozenset({"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "CC-BY-4.0", "CC0-1.0"})
CONFIDENCES = ("high", "medium", "low")
LONGEST_SIDE = 512


@dataclass(frozen=True)
class DevImage:
    """One manifest row. ``repo`` is ``owner/name`` on GitHub, or ``shared`` for ``../shared/<path>``."""

    id: str
    repo: str
    commit: str
    path: str
    licence: str
    cls: str
    confidence: str
    crop: tuple[int, int, int, int] | None
    source: str
    sha256: str
    file: str

    @property
    def label(self) -> int:
        return CLASSES.index(self.cls)

    @property
    def open(self) -> bool:
        """Whether the licence lets the downscaled image be committed with attribution."""
        return self.licence in OPEN_LICENCES


def _crop(text: str, where: str) -> tuple[int, int, int, int] | None:
    if not text.strip():
        return None
    try:
        x0, y0, x1, y1 = (int(v) for v in text.split(":"))
    except ValueError:
        raise ConfigError(f"{where}: crop {text!r} must be x0:y0:x1:y1 in pixels of the original, or empty") from None
    if x1 <= x0 or y1 <= y0 or min(x0, y0) < 0:
        raise ConfigError(f"{where}: crop {text!r} is empty or negative; write x0:y0:x1:y1 with x0 < x1, y0 < y1")
    return x0, y0, x1, y1


def _row(raw: dict[str, str], where: str) -> DevImage:
    label = class_index(raw["class"])
    if label is None:
        raise ConfigError(f"{where}: class {raw['class']!r} is not one of {list(CLASSES)}")
    if raw["confidence"] not in CONFIDENCES:
        raise ConfigError(f"{where}: confidence {raw['confidence']!r} must be one of {CONFIDENCES}")
    if len(raw["sha256"]) != 64:
        raise ConfigError(f"{where}: sha256 must be the 64 hex digits of the original file")
    if not raw["source"].strip():
        raise ConfigError(f"{where}: every image needs a source (lab or data set) for grouped evaluation")
    return DevImage(raw["id"], raw["repo"], raw["commit"], raw["path"], raw["licence"], CLASSES[label],
                    raw["confidence"], _crop(raw["crop"], where), raw["source"], raw["sha256"].lower(), raw["file"])


def load_manifest(path: Path) -> list[DevImage]:
    """Every row of a manifest, checked; a bad row is an error naming the file and the row."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"development-set manifest {path} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{path}: manifest lacks column(s) {missing}; expected {list(COLUMNS)}")
        rows = [_row(raw, f"{path} row {n}") for n, raw in enumerate(reader, start=2)]
    ids = Counter(r.id for r in rows)
    dup = sorted(i for i, n in ids.items() if n > 1)
    if dup:
        raise ConfigError(f"{path}: duplicate id(s) {dup}; every image needs its own id")
    return rows


def prepare_image(data: bytes, crop: tuple[int, int, int, int] | None, longest: int = LONGEST_SIDE) -> Image.Image:
    """Original file bytes → 8-bit grey, cropped, longest side at most ``longest`` px (antialiased)."""
    import tifffile

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.seek(0)
            grey = np.asarray(im.convert("F") if im.mode.startswith("I") else im.convert("L"), dtype=np.float32)
    except (OSError, ValueError):
        arr = tifffile.imread(io.BytesIO(data))
        grey = np.asarray(arr, np.float32)
        if grey.ndim == 3:
            grey = grey[..., :3].mean(axis=-1) if grey.shape[-1] in (3, 4) else grey[0]
    if grey.max() > 255:
        lo, hi = float(grey.min()), float(grey.max())
        grey = (grey - lo) / max(hi - lo, 1.0) * 255.0
    if crop:
        x0, y0, x1, y1 = crop
        grey = grey[y0:y1, x0:x1]
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    image.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    return image


def materialise(rows: list[DevImage], root: Path, out: Path,
                fetch: Callable[[DevImage], bytes | None] | None = None) -> tuple[dict[Path, DevImage], list[DevImage]]:
    """Write ``out/<Class>/<id>.png`` for every image that can be had; returns (written, skipped).

    An image comes from its committed file (``root/<file>``) when there is one, else from
    ``fetch`` (the original's bytes, checked against the manifest's sha256), else it is skipped.
    """
    written: dict[Path, DevImage] = {}
    skipped: list[DevImage] = []
    for row in rows:
        target = Path(out) / row.cls / f"{row.id}.png"
        committed = Path(root) / row.file if row.file else None
        if committed is not None and committed.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(committed.read_bytes())
        else:
            data = fetch(row) if fetch else None
            if data is None:
                skipped.append(row)
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != row.sha256:
                raise ConfigError(f"{row.repo}@{row.commit[:10]}:{row.path}: sha256 {digest[:12]}… differs from the "
                                  f"manifest's {row.sha256[:12]}… (id {row.id}); the file changed, relabel it")
            target.parent.mkdir(parents=True, exist_ok=True)
            prepare_image(data, row.crop).save(target)
        written[target] = row
    return written, skipped


def counts(rows: list[DevImage]) -> dict[str, dict[str, int]]:
    """Images per class and per source (and sources per class), for the docs and the rebuild script."""
    per_class = Counter(r.cls for r in rows)
    per_source = Counter(r.source for r in rows)
    sources = {c: len({r.source for r in rows if r.cls == c}) for c in CLASSES}
    return {"per_class": {c: per_class.get(c, 0) for c in CLASSES},
            "sources_per_class": sources, "per_source": dict(sorted(per_source.items()))}
