"""Settling: a file is handed on only when its writer has really finished.

Complete means: size and mtime unchanged over the quiet window, the file opens for reading, and
its structure is whole (TIFF: every strip/tile lies inside the file; PNG: IEND present; JPEG: EOI
present). A rename-into-place is complete at once (the writer finished before renaming). A file
that stays incomplete after ``incomplete_grace_s``, or never stops changing within ``timeout_s``,
is rejected with a reason; a file that vanishes is forgotten.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import SettleSettings
from .readkit import MAX_PIXELS
from .watcher import Candidate

__all__ = ["check_complete", "Settler", "Settled"]

log = logging.getLogger(__name__)

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


def _tiff_incomplete(path: Path, size: int) -> str | None:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            for page in tif.pages:
                if int(page.imagewidth) * int(page.imagelength) > MAX_PIXELS:
                    return None  # complete as far as settling goes; the reader refuses it with a reason
                # unequal lists are the reader's to reject (as corrupt), not a reason to keep waiting
                for offset, count in zip(page.dataoffsets or (), page.databytecounts or (), strict=False):
                    if offset + count > size:
                        return "TIFF image data extends past the end of the file"
    except Exception as exc:
        return f"TIFF structure unreadable ({exc})"
    return None


def check_complete(path: Path, size: int) -> str | None:
    """None when the file looks whole; otherwise why it does not (yet)."""
    if size == 0:
        return "file is empty (0 bytes)"
    with open(path, "rb") as fh:  # PermissionError and friends propagate to the caller
        head = fh.read(8)
        if head[:4] in _TIFF_MAGIC:
            return _tiff_incomplete(path, size)
        if head.startswith(_PNG_MAGIC):
            fh.seek(max(0, size - 12))
            return None if b"IEND" in fh.read(12) else "PNG has no IEND chunk (truncated)"
        if head.startswith(_JPEG_MAGIC):
            fh.seek(max(0, size - 2))
            return None if fh.read(2) == b"\xff\xd9" else "JPEG has no end-of-image marker (truncated)"
    return None  # unknown formats: the reader decides


@dataclass(frozen=True)
class Settled:
    path: Path
    size: int
    mtime_ns: int
    source: str


@dataclass
class _Tracked:
    candidate: Candidate
    size: int
    mtime_ns: int
    first_seen: float
    last_change: float
    incomplete_since: float | None = None


class Settler:
    """Tracks candidates until they settle, are rejected, or vanish. Drive it with ``tick()``."""

    def __init__(
        self,
        settings: SettleSettings,
        *,
        ready: Callable[[Settled], None],
        reject: Callable[[Path, str, str, os.stat_result | None], None],
        gone: Callable[[Path], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self._ready, self._reject, self._gone = ready, reject, gone
        self._clock = clock
        self._lock = threading.Lock()
        self._tracked: dict[Path, _Tracked] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._tracked)

    def add(self, candidate: Candidate) -> None:
        with self._lock:
            tracked = self._tracked.get(candidate.path)
            if tracked is None:
                now = self._clock()
                self._tracked[candidate.path] = _Tracked(candidate, -1, -1, now, now)
            elif candidate.renamed:
                tracked.candidate = candidate

    def tick(self) -> None:
        with self._lock:
            items = list(self._tracked.items())
        for path, tracked in items:
            verdict = self._examine(path, tracked)
            if verdict:
                with self._lock:
                    self._tracked.pop(path, None)

    def _examine(self, path: Path, t: _Tracked) -> bool:
        """True when the file leaves the settle stage (ready, rejected or gone)."""
        now = self._clock()
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._gone(path)
            return True
        except OSError as exc:
            code = "symlink_loop" if exc.errno == errno.ELOOP else "unreadable"
            reason = "symbolic link loop" if exc.errno == errno.ELOOP else f"cannot stat: {exc.strerror}"
            self._reject(path, code, reason, None)
            return True
        if (st.st_size, st.st_mtime_ns) != (t.size, t.mtime_ns):
            t.size, t.mtime_ns, t.last_change, t.incomplete_since = st.st_size, st.st_mtime_ns, now, None
            if not t.candidate.renamed:
                return self._timed_out(path, t, now, st)
        elif not t.candidate.renamed and now - t.last_change < self.settings.quiet_s:
            return self._timed_out(path, t, now, st)
        return self._judge(path, t, now, st)

    def _timed_out(self, path: Path, t: _Tracked, now: float, st: os.stat_result) -> bool:
        if now - t.first_seen > self.settings.timeout_s:
            self._reject(path, "never_settled",
                         f"still changing after {self.settings.timeout_s:.0f} s; the writer never finished", st)
            return True
        return False

    def _judge(self, path: Path, t: _Tracked, now: float, st: os.stat_result) -> bool:
        try:
            problem = check_complete(path, st.st_size)
        except FileNotFoundError:
            self._gone(path)
            return True
        except PermissionError:
            self._reject(path, "permission", "no permission to read the file", st)
            return True
        except OSError as exc:
            self._reject(path, "unreadable", f"cannot open: {exc.strerror or exc}", st)
            return True
        if problem is None:
            self._ready(Settled(path, st.st_size, st.st_mtime_ns, t.candidate.source))
            return True
        if t.incomplete_since is None:
            t.incomplete_since = now
        if now - t.incomplete_since >= self.settings.incomplete_grace_s:
            code = "empty" if st.st_size == 0 else "truncated"
            self._reject(path, code, f"{problem}; unchanged for {self.settings.incomplete_grace_s:g} s", st)
            return True
        return self._timed_out(path, t, now, st)
