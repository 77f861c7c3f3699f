"""The names every part of the frame-commit path agrees on: file states, outcomes, decisions.

One place for the vocabulary the journal stores, the daemon and the batch driver report, and the
classifier's decision rule uses (the 0.8 / 0.35 thresholds of the paper's workflow). The enums
derive from ``str`` so their members compare equal to, and are stored as, the plain strings
older journals and event consumers already know.
"""
from __future__ import annotations

from enum import Enum

__all__ = ["FileState", "Outcome", "Decision", "ACCEPT_THRESHOLD", "REVIEW_THRESHOLD", "FINAL_STATES",
           "PENDING_STATES"]


class _StrEnum(str, Enum):
    """``enum.StrEnum`` for Python 3.10: members are their values when formatted or stored."""

    def __str__(self) -> str:
        return str(self.value)


class FileState(_StrEnum):
    """A file's row in the journal."""

    DISCOVERED = "discovered"
    SETTLED = "settled"
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"  # quarantined: `nanoaid quarantine list` shows why, `nanoaid retry` re-queues
    FAILED = "failed"  # an internal failure the daemon retries by itself


class Outcome(_StrEnum):
    """What handling one settled file came to (logs, tests, batch reports)."""

    PROCESSED = "processed"
    KNOWN = "known"  # content already processed under this name: nothing new
    DUPLICATE = "duplicate"
    MOVED = "moved"  # content already processed under a name that is gone: the record follows it
    REJECTED = "rejected"
    FAILED = "failed"
    GONE = "gone"
    CHANGED = "changed"
    DEFERRED = "deferred"
    SKIPPED = "skipped"
    WAITING = "waiting"  # a transient condition (full disk …): retried once it clears


class Decision(_StrEnum):
    """The classifier's verdict on its top score (paper: accept ≥ 0.8, review ≥ 0.35)."""

    ACCEPTED = "accepted"
    REVIEW = "review"
    UNKNOWN = "unknown"


ACCEPT_THRESHOLD = 0.8
REVIEW_THRESHOLD = 0.35

FINAL_STATES = (FileState.PROCESSED, FileState.DUPLICATE, FileState.REJECTED)
PENDING_STATES = (FileState.DISCOVERED, FileState.SETTLED, FileState.FAILED)
