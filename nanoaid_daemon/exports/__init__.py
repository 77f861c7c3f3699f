"""Records a repository ingests: NeXus NXem files (NOMAD) and RO-Crates (Zenodo, InvenioRDM, OCFL).

Exports read what the daemon already wrote (frames, sidecars, previews, models); they never run
in the daemon's per-frame path. NeXus needs the optional extra ``nanoaid-daemon[nexus]``
(pynxtools with its ``em`` reader); RO-Crate needs ``nanoaid-daemon[rocrate]``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ReaderError
from ..sidecar import SIDECAR_SUFFIX

__all__ = ["load_sidecar"]


def load_sidecar(frame: Path, sidecars: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The sidecar of ``frame``: beside it, or under ``sidecars`` when the daemon wrote them elsewhere."""
    folder = sidecars if sidecars is not None else frame.parent
    path = folder / (frame.name + SIDECAR_SUFFIX)
    if not path.is_file():
        raise ReaderError("has no sidecar: run `nanoaid process` on it first (or pass --sidecars DIR)",
                          path=frame, code="no_sidecar")
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReaderError(f"sidecar {path.name} cannot be read: {exc}", path=frame, code="bad_sidecar") from exc
    return path, doc
