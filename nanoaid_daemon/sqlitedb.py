"""One way to open the project's SQLite files and to write to them.

The journal, the uploader's progress store and the catalogue share these settings, so that a fix
or a tuning lands in all three:

- WAL, so readers (``nanoaid status``, the bus's replay) never block the writer nor it them;
- ``synchronous=FULL`` for records that must survive power loss (the journal, the uploader's
  progress), ``NORMAL`` for derived data that can be rebuilt (the catalogue);
- a busy timeout, so a write that meets another process's write waits instead of failing;
- autocommit mode with explicit ``BEGIN IMMEDIATE`` transactions: the write lock is taken up
  front, so two writers never deadlock trying to upgrade their read locks.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

__all__ = ["BUSY_TIMEOUT_S", "connect", "transaction"]

#: How long a write waits for another connection's write before ``database is locked``.
BUSY_TIMEOUT_S = 30.0


def connect(path: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL", foreign_keys: bool = False,
            pragmas: Mapping[str, int | str] | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S,
            ) -> sqlite3.Connection:
    """A connection in WAL mode that any thread may use (callers keep one per thread or hand it over).

    ``pragmas`` are extra per-connection settings, e.g. ``{"cache_size": -65536}``.
    """
    db = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        if foreign_keys:
            db.execute("PRAGMA foreign_keys=ON")
        for name, value in (pragmas or {}).items():
            db.execute(f"PRAGMA {name}={value}")
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any exception, Ctrl-C included."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
