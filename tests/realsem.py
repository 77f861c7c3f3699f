"""Where the real instrument files live, and whether they are all there and unaltered.

The files are read in place from one folder (``$NANOAID_REAL_SEM``, by default
``../shared/data/real-sem`` beside the checkout) and listed with their sha256 in
``tests/registry.txt``, like rosettasciio's test-data registry. On a developer's machine without
them their tests are skipped with a reason; CI sets ``NANOAID_REQUIRE_TEST_DATA=1`` (``.ci/run``),
which turns a missing file into a failure, so a run without the data can never pass silently. A
file whose sha256 differs from the registry fails everywhere: wrong data gives wrong answers.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REGISTRY = Path(__file__).resolve().parent / "registry.txt"
FOLDER_ENV = "NANOAID_REAL_SEM"
REQUIRE_ENV = "NANOAID_REQUIRE_TEST_DATA"
DEFAULT_FOLDER = REPO.parent / "shared" / "data" / "real-sem"


@dataclass(frozen=True)
class Check:
    """What was found for the registered files: a verdict and, when not all is well, why."""

    folder: Path
    missing: tuple[str, ...] = ()
    altered: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered)

    def explain(self) -> str:
        lines = []
        if self.altered:
            lines.append(f"real-SEM files differ from tests/registry.txt: {', '.join(self.altered)}")
        if self.missing:
            lines.append(f"real-SEM files not found in {self.folder}: {', '.join(self.missing)}")
        lines.append(f"set {FOLDER_ENV} to the folder that holds them (default {DEFAULT_FOLDER})")
        return "; ".join(lines)


def read_registry(path: Path = REGISTRY) -> dict[str, str]:
    """Relative path → sha256, from ``path`` (``#`` starts a comment)."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, digest = line.rpartition(" ")
        if not name or len(digest) != 64:
            raise ValueError(f"{path}:{number}: expected '<relative path> <sha256>', got {line!r}")
        entries[name.strip()] = digest.lower()
    return entries


def folder(environ: Mapping[str, str] = os.environ) -> Path:
    """The one setting that locates the files; a relative value is taken from the repository root."""
    value = environ.get(FOLDER_ENV)
    return (REPO / value).resolve() if value else DEFAULT_FOLDER


def required(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(root: Path, entries: Mapping[str, str]) -> Check:
    """Every registered file under ``root``: present, and with the registered sha256."""
    missing = tuple(name for name in entries if not (root / name).is_file())
    altered = tuple(name for name, digest in entries.items()
                    if name not in missing and _sha256(root / name) != digest)
    return Check(folder=root, missing=missing, altered=altered)
