"""The one frame-commit path: a settled file's result → journal transition + event + bus signal.

The daemon's workers and the batch driver both end every file here, so the transitions
(``processed`` / ``duplicate`` / ``rejected`` / ``failed``), the event each carries, the failure
count and the quarantine rule are written once. Paths go through :mod:`.paths`, so a name that
is not UTF-8 is stored losslessly and shown with ``\\xNN`` escapes in events and logs.
"""
from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import JournalError
from .events import Event, Summary
from .journal import Journal
from .paths import shown
from .states import Outcome

__all__ = ["Committer", "Failure", "is_transient", "TRANSIENT_ERRNOS", "retry_delay"]

log = logging.getLogger(__name__)

#: Conditions that clear by themselves (space freed, disk remounted): wait and retry, never give up.
TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT, errno.ENOMEM, errno.EAGAIN})
_TRANSIENT_SQLITE = ("database or disk is full", "disk i/o error", "readonly database", "database is locked",
                     "unable to open database file")
#: Retry backoff: 1 s, 2 s, 4 s … capped here.
MAX_RETRY_DELAY_S = 60.0


def is_transient(exc: BaseException) -> bool:
    """True for errors that a full, read-only or flaky disk causes (and that go away)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS:
            return True
        if isinstance(exc, sqlite3.OperationalError) and any(t in str(exc).lower() for t in _TRANSIENT_SQLITE):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def retry_delay(attempts: int, *, cap: float = MAX_RETRY_DELAY_S) -> float:
    """Capped exponential backoff for the ``attempts``-th consecutive failure."""
    return float(min(cap, 2.0 ** max(0, min(attempts - 1, 16))))


@dataclass(frozen=True)
class Failure:
    event: Event
    attempts: int
    quarantined: bool
    transient: bool


class Committer:
    """Commits one file's outcome to the journal and signals the bus; shared by daemon and batch."""

    def __init__(self, journal: Journal, notify: Callable[[], None] = lambda: None):
        self.journal = journal
        self._notify = notify

    def processed(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str, sidecar_path: str | Path,
                  summary: Summary, sidecar_version: int = 1) -> Outcome:
        """``frame.processed`` with the frame row; content finished meanwhile elsewhere is recorded as known."""
        event = Event(type="frame.processed", frame_id=frame_id, frame_path=shown(path),
                      sidecar_path=shown(sidecar_path), summary=summary)
        try:
            self.journal.complete(path, size=size, mtime_ns=mtime_ns, frame_id=frame_id,
                                  sidecar_path=str(sidecar_path), event=event, sidecar_version=sidecar_version)
        except JournalError:
            known = self.journal.frame(frame_id)
            if known is None or known.state != "processed":
                raise
            return self.known(path, size=size, mtime_ns=mtime_ns, frame_id=frame_id)
        self._notify()
        return Outcome.PROCESSED

    def known(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str) -> Outcome:
        """Content already processed: ``processed`` again under its own name, else ``duplicate``; no event."""
        state = self.journal.record_known(path, size=size, mtime_ns=mtime_ns, frame_id=frame_id)
        return Outcome.KNOWN if state == "processed" else Outcome.DUPLICATE

    def rejected(self, path: str | Path, code: str, reason: str, *, size: int | None = None,
                 mtime_ns: int | None = None) -> Outcome:
        log.warning("rejected %s: %s", shown(path), reason)
        event = Event(type="frame.rejected", frame_path=shown(path), summary=Summary(reason=f"{code}: {reason}"))
        self.journal.reject(path, size=size, mtime_ns=mtime_ns, code=code, reason=reason, event=event)
        self._notify()
        return Outcome.REJECTED

    def failed(self, path: str | Path, reason: str, *, size: int | None, mtime_ns: int | None,
               frame_id: str | None, transient: bool = False) -> Failure:
        """``frame.failed``; the journal counts failures of this content and quarantines a hopeless one."""
        event = Event(type="frame.failed", frame_id=frame_id, frame_path=shown(path), summary=Summary(reason=reason))
        event, attempts, quarantined = self.journal.fail(path, size=size, mtime_ns=mtime_ns, frame_id=frame_id,
                                                         reason=reason, event=event, transient=transient)
        if quarantined:
            log.error("%s: processing failed %d times, quarantined: %s", shown(path), attempts, reason)
        else:
            log.error("%s: processing failed (%s, attempt %d, retried): %s", shown(path),
                      "transient" if transient else "error", attempts, reason)
        self._notify()
        return Failure(event, attempts, quarantined, transient)

    def gone(self, path: str | Path) -> Outcome:
        self.journal.forget(path)
        return Outcome.GONE
