"""Operator corrections: "frame X is really class Y", kept beside the model's own prediction.

A correction never rewrites the model's ``classification``: it appends a ``Correction`` to the
sidecar's ``corrections`` list, bumps the sidecar ``version`` (written tmp → fsync → rename), and
then records the correction and its ``label.corrected`` event in the journal in one transaction.
The running daemon applies corrections through its command endpoint; ``nanoaid label`` applies
them directly only when no daemon is running.

Order of effects, and what a crash between them leaves: the sidecar is written first, the journal
second. A crash in between leaves a sidecar with a correction the journal lacks (no event); the
operator sees no confirmation and submits again, which appends a second, identical correction.
"""
from __future__ import annotations

import csv
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from .atomic import atomic_write_text
from .errors import ConfigError, NanoaidError
from .events import Event, Summary
from .hashing import sha256_file
from .paths import shown
from .sidecar import CLASSES, Correction, Sidecar

__all__ = ["CorrectionRejected", "Applied", "Corrections", "canonical_class", "ExportReport", "export_corrections",
           "latest_labels", "JOURNAL_NAME", "check_text"]


class CorrectionRejected(NanoaidError, ValueError):
    """A correction was refused; ``code`` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Applied:
    event: Event
    sidecar_version: int
    sidecar_path: Path


def canonical_class(name: str) -> str:
    """The class name as the models spell it; case and ``-``/space for ``_`` are forgiven."""
    if name in CLASSES:
        return name
    wanted = name.strip().replace("-", "_").replace(" ", "_").casefold()
    for cls in CLASSES:
        if cls.casefold() == wanted:
            return cls
    raise CorrectionRejected("unknown_class", f"{name!r} is not one of the classes: {', '.join(CLASSES)}")


def check_text(operator: str, comment: str | None) -> None:
    if not operator or not operator.strip() or len(operator) > 128 or not operator.isprintable():
        raise CorrectionRejected("bad_operator", "operator must be 1-128 printable characters (who made the call)")
    if comment is not None and len(comment) > 2000:
        raise CorrectionRejected("bad_comment", f"comment is limited to 2000 characters (this one has {len(comment)}); "
                                 "shorten it")


class Corrections:
    """Applies corrections to sidecar + journal; one at a time per process."""

    def __init__(self, journal, *, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._journal = journal
        self._clock = clock
        self._lock = threading.Lock()

    def apply(self, frame_id: str, label: str, *, operator: str, comment: str | None = None) -> Event:
        """Record the correction; returns the journaled ``label.corrected`` event."""
        return self.apply_full(frame_id, label, operator=operator, comment=comment).event

    def apply_full(self, frame_id: str, label: str, *, operator: str, comment: str | None = None) -> Applied:
        label = canonical_class(label)
        check_text(operator, comment)
        with self._lock:
            frame = self._journal.frame(frame_id)
            if frame is None or frame.state != "processed":
                raise CorrectionRejected("unknown_frame", f"no processed frame has id {frame_id!r}; frame ids are "
                                         "the sha256 in each frame.processed event (`nanoaid events --since 0`)")
            path, sidecar = self._load_sidecar(frame)
            now = self._clock()
            previous = sidecar.corrections[-1].label if sidecar.corrections else (
                sidecar.classification.label if sidecar.classification else frame.label)
            entry = Correction(label=label, previous_label=previous, operator=operator, comment=comment, time=now)
            updated = sidecar.model_copy(update={"corrections": [*sidecar.corrections, entry],
                                                 "version": sidecar.version + 1})
            atomic_write_text(path, updated.to_json())
            event = Event(type="label.corrected", time=now, frame_id=frame_id, frame_path=shown(frame.path),
                          sidecar_path=shown(path),
                          summary=Summary(label=label, previous_label=previous, operator=operator,
                                          decision="accepted", coherency=frame.coherency, status=frame.status))
            event = self._journal.record_correction(frame_id, label=label, operator=operator, comment=comment,
                                                    sidecar_version=updated.version, event=event)
            return Applied(event, updated.version, path)

    @staticmethod
    def _load_sidecar(frame) -> tuple[Path, Sidecar]:
        if not frame.sidecar_path:
            raise CorrectionRejected("sidecar_missing", f"frame {frame.frame_id[:12]}… has no sidecar on record")
        path = Path(frame.sidecar_path)
        try:
            return path, Sidecar.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise CorrectionRejected("sidecar_missing", f"sidecar {path} is gone; reprocess the frame "
                                     "(`nanoaid process`) before correcting it") from None
        except OSError as exc:
            raise CorrectionRejected("sidecar_unreadable", f"sidecar {path} cannot be read: {exc.strerror}") from None
        except ValidationError as exc:
            raise CorrectionRejected("sidecar_invalid", f"sidecar {path} does not validate ({exc.error_count()} "
                                     "errors); it was not changed") from None


# -- export for retraining ----------------------------------------------------------------------
JOURNAL_NAME = "journal.sqlite3"  # the daemon's journal inside its state folder


@dataclass
class ExportReport:
    exported: list[tuple[str, Path]]
    skipped: list[tuple[str, str]]


def latest_labels(journal) -> dict[str, dict]:
    """frame id → its newest correction (a later correction overrides an earlier one)."""
    latest: dict[str, dict] = {}
    for row in journal.corrections():
        latest[row["frame_id"]] = row
    return latest


def _target(folder: Path, src: Path, frame_id: str) -> Path:
    dest = folder / src.name
    if dest.exists():
        dest = folder / f"{src.stem}-{frame_id[:12]}{src.suffix}"
    return dest


def _place(src: Path, dest: Path, link: bool) -> None:
    if link:
        try:
            os.link(src, dest)
            return
        except OSError:
            pass  # another file system or no permission: copy instead
    shutil.copyfile(src, dest)


def export_corrections(journal, dest: Path, *, link: bool = False) -> ExportReport:
    """Write an NFFA-style labelled folder: ``dest/<Class>/<frame file>`` plus ``labels.csv``.

    Only frames whose current content still has the corrected frame's sha256 are exported.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"export folder {dest} exists and is not empty; choose a new folder")
    report = ExportReport([], [])
    rows = []
    for frame_id, corr in latest_labels(journal).items():
        frame = journal.frame(frame_id)
        if frame is None:
            report.skipped.append((frame_id, "not in the journal"))
            continue
        src = Path(frame.path)
        reason = _unusable(src, frame_id)
        if reason:
            report.skipped.append((frame_id, reason))
            continue
        folder = dest / corr["label"]
        folder.mkdir(parents=True, exist_ok=True)
        target = _target(folder, src, frame_id)
        _place(src, target, link)
        report.exported.append((frame_id, target))
        rows.append([target.relative_to(dest).as_posix(), corr["label"], frame_id, corr["previous_label"] or "",
                     corr["operator"], corr["time"], str(src)])
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "class", "frame_id", "previous_label", "operator", "time", "source"])
        writer.writerows(rows)
    return report


def _unusable(src: Path, frame_id: str) -> str | None:
    try:
        digest, _ = sha256_file(src)
    except OSError as exc:
        return f"{src} cannot be read: {exc.strerror or exc}"
    if digest != frame_id:
        return f"{src} has changed since it was processed (sha256 differs)"
    return None
