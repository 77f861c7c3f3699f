"""Re-deriving the catalogue from sidecars: the ones the uploader stored, folders, or the archive.

The catalogue is never the only copy of anything: each row is a sidecar plus where the repository
put the frame. Sidecars are read from the paths the uploader recorded, from folders given on the
command line, or from the newest version of every object in an OCFL storage root.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..sidecar import SIDECAR_SUFFIX, Sidecar
from .catalogue import Catalogue
from .crates import CRATE_PREFIX
from .ocfl import OBJECT_NAMASTE, head_state
from .progress import Progress

__all__ = ["RebuildReport", "from_progress", "from_folders", "from_archive", "rebuild"]

log = logging.getLogger(__name__)

Item = tuple[Sidecar, dict[str, Any]]


@dataclass
class RebuildReport:
    catalogued: int = 0
    problems: list[str] = field(default_factory=list)


def _load(path: Path, report: RebuildReport, data: bytes | None = None) -> Sidecar | None:
    try:
        return Sidecar.model_validate_json(data if data is not None else path.read_bytes())
    except (OSError, ValidationError) as exc:
        report.problems.append(f"{path}: {str(exc).splitlines()[0]}")
        return None


def from_progress(progress: Progress, report: RebuildReport) -> Iterator[Item]:
    """Sidecars at the paths the uploader recorded, with the locations (and session crates) it recorded."""
    crates = {c["folder"]: c for c in progress.crates() if c["location"]}
    for row in progress.stored():
        sc = _load(Path(row["sidecar_path"]), report) if row["sidecar_path"] else None
        if sc is not None:
            crate = crates.get(str(Path(row["sidecar_path"]).absolute().parent), {})
            yield sc, {"sidecar_path": row["sidecar_path"], "frame_path": row["frame_path"],
                       "location": row["location"], "version": row["version"],
                       "crate": crate.get("location"), "crate_version": crate.get("version")}


def from_folders(folders: Iterable[Path], stored: dict[str, dict[str, Any]], report: RebuildReport) -> Iterator[Item]:
    """Every ``*.nanoaid.json`` below the folders; locations joined from the uploader's records."""
    for folder in folders:
        for path in sorted(Path(folder).rglob(f"*{SIDECAR_SUFFIX}")):
            sc = _load(path, report)
            if sc is None:
                continue
            row = stored.get(sc.frame.sha256, {})
            yield sc, {"sidecar_path": str(path), "frame_path": str(path.with_name(sc.frame.name)),
                       "location": row.get("location"), "version": row.get("version")}


def from_archive(root: Path, report: RebuildReport) -> Iterator[Item]:
    """The newest sidecar of every object in an OCFL storage root on a filesystem; a session crate's
    sidecars name the crate, the frame's own object stays its location."""
    for folder, dirs, files in os.walk(root):
        if OBJECT_NAMASTE[0] not in files:
            dirs[:] = [d for d in dirs if d != "extensions"]
            continue
        dirs[:] = []
        obj = Path(folder)
        try:
            inv = json.loads((obj / "inventory.json").read_bytes())
            state = head_state(inv)
        except (OSError, ValueError, KeyError) as exc:
            report.problems.append(f"{obj}: unreadable inventory: {exc}")
            continue
        head, is_crate = int(inv["head"][1:]), str(inv.get("id", "")).startswith(CRATE_PREFIX)
        for logical, digest in state.items():
            if logical.endswith(SIDECAR_SUFFIX):
                content = obj / inv["manifest"][digest][0]
                sc = _load(content, report)
                if sc is None:
                    continue
                where: dict[str, Any] = {"sidecar_path": None, "frame_path": None, "location": str(obj),
                                         "version": head}
                if is_crate:
                    where.update(location=None, version=None, crate=str(obj), crate_version=head)
                yield sc, where


def rebuild(catalogue: Catalogue, items: Iterable[Item]) -> int:
    """Replace every row with ``items`` in one transaction: searches see the old or the new."""
    latest: dict[str, Item] = {}
    for sc, where in items:
        old = latest.get(sc.frame.sha256)
        if old is None or sc.version >= old[0].version:
            merged = dict(where)
            if old is not None:  # keep what an earlier source knew and this one does not
                merged.update({k: v for k, v in old[1].items() if merged.get(k) is None})
            latest[sc.frame.sha256] = (sc, merged)
    catalogue.db.execute("BEGIN IMMEDIATE")
    try:
        catalogue.clear()
        for sc, where in latest.values():
            catalogue.insert(sc, where)
    except BaseException:
        catalogue.db.execute("ROLLBACK")
        raise
    catalogue.db.execute("COMMIT")
    catalogue.analyze()
    return len(latest)
