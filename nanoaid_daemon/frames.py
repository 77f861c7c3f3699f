"""Keeping sidecars true to the file beside them: content swaps, renames, restores, orphans.

A sidecar is correct only if it describes the bytes now at its frame's path. The daemon asks
:func:`known_action` what to do with content the journal already processed, and before writing a
sidecar it carries the frame's history over with :func:`carried` (operator corrections and a
version that never goes backwards, even when the journal was moved aside).
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

from pydantic import ValidationError

from .journal import FrameRecord, Journal
from .paths import shown
from .sidecar import Correction, Sidecar
from .states import Outcome

__all__ = ["known_action", "carried", "read_sidecar", "describes", "ORPHAN_DIR"]

log = logging.getLogger(__name__)

#: Sidecars whose frame is gone are moved here (inside the state folder), never left claiming it.
ORPHAN_DIR = "orphaned-sidecars"
#: ... or, when the state folder has no room, renamed in place with this suffix.
ORPHAN_MARK = ".orphaned"


def read_sidecar(path: str | Path | None) -> Sidecar | None:
    if path is None:
        return None
    try:
        return Sidecar.model_validate_json(Path(path).read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


def describes(sidecar_path: str | Path | None, frame_id: str) -> bool:
    sidecar = read_sidecar(sidecar_path)
    return sidecar is not None and sidecar.frame.sha256 == frame_id


def known_action(journal: Journal, known: FrameRecord, path: Path, sidecar_path: Path) -> Outcome:
    """What already-processed content at ``path`` needs.

    KNOWN: its own name and a sidecar that describes it. PROCESSED: its own name but the sidecar
    is missing or describes other content (A → B → A): write it again. MOVED: its recorded name is
    gone or holds other content now (an operator rename): the record follows the content.
    DUPLICATE: a second copy while the first is still in place.
    """
    if known.path == str(path):
        return Outcome.KNOWN if describes(sidecar_path, known.frame_id) else Outcome.PROCESSED
    old = journal.file(known.path)
    if not os.path.lexists(known.path) or (old is not None and old.frame_id not in (None, known.frame_id)):
        return Outcome.MOVED
    return Outcome.DUPLICATE


def carried(sidecar: Sidecar, *, prior: Sidecar | None, record: FrameRecord | None, journal: Journal) -> Sidecar:
    """The new sidecar with the frame's corrections and a version above any earlier one."""
    frame_id = sidecar.frame.sha256
    same = prior is not None and prior.frame.sha256 == frame_id
    corrections = list(prior.corrections) if same and prior is not None else []
    rows = [r for r in journal.corrections() if r["frame_id"] == frame_id]
    if len(rows) > len(corrections):
        corrections = [Correction(label=r["label"], previous_label=r["previous_label"], operator=r["operator"],
                                  comment=r["comment"], time=r["time"]) for r in rows]
    versions = [prior.version if same and prior is not None else 0, record.sidecar_version if record else 0]
    version = max(versions) + 1 if (record is not None or same) else 1
    return sidecar.model_copy(update={"corrections": corrections, "version": version})


def move_orphan(sidecar_path: Path, state_dir: Path, frame_id: str | None = None) -> Path | None:
    """Move a sidecar whose frame is gone into ``STATE/orphaned-sidecars``; returns where it went."""
    if frame_id is None:
        doc = read_sidecar(sidecar_path)
        frame_id = doc.frame.sha256 if doc is not None else "unknown"
    dest_dir = state_dir / ORPHAN_DIR
    prefix = f"{frame_id[:16]}-".encode()
    dest = dest_dir / os.fsdecode(prefix + os.fsencode(sidecar_path.name)[-(255 - len(prefix)):])
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(sidecar_path, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.copy2(sidecar_path, dest)  # the state folder is on another file system
            os.unlink(sidecar_path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # no room in the state folder: mark it where it lies instead
        dest = sidecar_path.with_name(sidecar_path.name + ORPHAN_MARK)
        try:
            os.replace(sidecar_path, dest)
        except OSError:
            log.warning("cannot move orphaned sidecar %s: %s", shown(sidecar_path), exc.strerror or exc)
            return None
    log.info("frame of %s is gone; sidecar moved to %s", shown(sidecar_path), shown(dest))
    return dest
