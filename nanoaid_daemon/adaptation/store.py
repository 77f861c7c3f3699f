"""Versioned adapted models in the daemon's state folder, with a pointer that says which is in use.

``STATE/adaptation/``:

* ``versions/v0001/`` … one complete classifier (ONNX + card) per re-fit, never changed after it is
  written: each is built in ``.tmp-vNNNN`` and renamed into place, so a crash leaves either the
  whole version or nothing;
* ``current.json`` ``{"version": N}`` (0 = the shipped model), replaced atomically;
* ``seed/`` support frames given with ``nanoaid models adapt … --into-state`` (embeddings + class);
* ``cache/`` embeddings of corrected frames by frame id, so a re-fit embeds only new corrections.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ..atomic import atomic_write_text
from ..errors import ConfigError

__all__ = ["Store"]

_VERSION = re.compile(r"^v(\d{4,})$")


class Store:
    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / "adaptation"
        self.versions_dir = self.root / "versions"
        self.seed_dir = self.root / "seed"
        self.cache_dir = self.root / "cache"
        self.pointer = self.root / "current.json"

    def versions(self) -> list[int]:
        if not self.versions_dir.is_dir():
            return []
        found = (_VERSION.match(p.name) for p in self.versions_dir.iterdir() if p.is_dir())
        return sorted(int(m.group(1)) for m in found if m)

    def folder(self, version: int) -> Path:
        return self.versions_dir / f"v{version:04d}"

    def current(self) -> int:
        """The version in use; 0 = the shipped model (no pointer, or it names a missing version)."""
        try:
            version = int(json.loads(self.pointer.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return version if version == 0 or self.folder(version).is_dir() else 0

    def pointer_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.pointer.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def corrections_seen(self) -> int:
        """How many journal corrections the daemon has already taken into account (a rollback keeps it,
        so a restart does not undo the rollback by re-fitting; a seed resets it to 0)."""
        try:
            return int(json.loads(self.pointer.read_text(encoding="utf-8")).get("corrections_seen", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0

    def set_current(self, version: int, *, corrections_seen: int | None = None) -> None:
        if version and not self.folder(version).is_dir():
            raise ConfigError(f"adapted model version {version} does not exist in {self.versions_dir}")
        seen = self.corrections_seen() if corrections_seen is None else corrections_seen
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.pointer, json.dumps({"version": version, "corrections_seen": seen}) + "\n")

    def new_build_dir(self) -> tuple[int, Path]:
        """(next version, an empty temporary folder to build it in)."""
        version = (max(self.versions(), default=0)) + 1
        tmp = self.versions_dir / f".tmp-v{version:04d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        return version, tmp

    def commit(self, version: int, tmp: Path) -> Path:
        final = self.folder(version)
        for child in tmp.iterdir():
            with open(child, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.versions_dir)
        return final

    def rollback(self, to: int | None = None) -> int:
        """Point at ``to`` or at the newest version older than the current one (0 = shipped)."""
        current = self.current()
        if to is None:
            older = [v for v in self.versions() if v < current]
            to = older[-1] if older else 0
        self.set_current(to)
        return to

    # -- support embeddings ----------------------------------------------------------------------
    def save_embedding(self, folder: Path, key: str, arrays: Mapping[str, ArrayLike]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.tmp.npz"
        np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub lets a key be allow_pickle
        os.replace(tmp, folder / f"{key}.npz")

    def load_embeddings(self, folder: Path) -> dict[str, dict[str, np.ndarray]]:
        if not folder.is_dir():
            return {}
        out = {}
        for path in sorted(folder.glob("*.npz")):
            if path.name.startswith("."):
                continue
            with np.load(path) as data:
                out[path.stem] = {k: data[k] for k in data.files}
        return out


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
