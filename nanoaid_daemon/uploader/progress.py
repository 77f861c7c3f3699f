"""The uploader's own durable state: accepted events, what is stored where, and the last seq.

An event counts as accepted once its row is committed here (WAL, ``synchronous=FULL``), in the
same transaction that advances ``last_seq``; the subscription resumes after that seq. A frame
counts as stored once ``mark_done`` commits after the sink confirmed and verified it. A crash
between the two leaves the row pending, and the retry finds the repository already holding exactly
that bundle (sinks are idempotent), so nothing is stored twice and nothing accepted is lost.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import sqlitedb
from ..errors import JournalError
from ..events import Event
from .bundle import Receipt

__all__ = ["UPLOAD_TYPES", "QueueItem", "Progress"]

UPLOAD_TYPES = ("frame.processed", "label.corrected")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    frame_id TEXT,
    frame_path TEXT,
    sidecar_path TEXT,
    event_json TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'skipped', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS queue_state ON queue (state, seq);
CREATE TABLE IF NOT EXISTS stored (
    frame_id TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    version INTEGER NOT NULL,
    sidecar_sha256 TEXT NOT NULL,
    sidecar_path TEXT,
    frame_path TEXT,
    versions_written INTEGER NOT NULL DEFAULT 0,
    stored_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS crates (
    session TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    dirty INTEGER NOT NULL DEFAULT 1,
    location TEXT,
    version INTEGER,
    frames INTEGER,
    stored_at REAL
);
"""


@dataclass(frozen=True)
class QueueItem:
    seq: int
    type: str
    frame_id: str | None
    frame_path: str | None
    sidecar_path: str | None
    attempts: int


class Progress:
    """One SQLite file; one instance per thread at a time (it may be handed over, not shared)."""

    def __init__(self, path: Path, *, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlitedb.connect(self.path, synchronous="FULL")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open the uploader's progress database {self.path}: {exc}; "
                               "check the --state folder is on a writable local disk") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, **values: Any) -> None:
        with self._tx():
            self._set_meta(**values)

    def _set_meta(self, **values: Any) -> None:
        self.db.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                            "excluded.value", [(k, None if v is None else str(v)) for k, v in values.items()])

    def last_seq(self) -> int:
        return int(self.get_meta("last_seq") or 0)

    # -- intake -------------------------------------------------------------------------------
    def accept(self, event: Event) -> bool:
        """Durably take an event; False for heartbeats and for seqs already taken (redelivery)."""
        if event.seq is None:
            return False
        with self._tx():
            if event.seq <= self.last_seq():
                return False
            state = "pending" if event.type in UPLOAD_TYPES else "skipped"
            self.db.execute(
                "INSERT OR IGNORE INTO queue (seq, event_id, type, frame_id, frame_path, sidecar_path, event_json,"
                " accepted_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.seq, event.event_id, event.type, event.frame_id, event.frame_path, event.sidecar_path,
                 event.to_json(), self.clock(), state))
            self._set_meta(last_seq=event.seq)
        return True

    # -- work ---------------------------------------------------------------------------------
    def next_pending(self) -> QueueItem | None:
        row = self.db.execute("SELECT seq, type, frame_id, frame_path, sidecar_path, attempts FROM queue "
                              "WHERE state = 'pending' ORDER BY seq LIMIT 1").fetchone()
        return QueueItem(*row) if row else None

    def mark_done(self, item: QueueItem, receipt: Receipt, sidecar_sha256: str,
                  crate: tuple[str, str] | None = None) -> None:
        """Record a stored frame; ``crate`` (session, folder) marks its session's crate for a rebuild in
        the same transaction, so a crash can never store the frame and forget its crate."""
        now = self.clock()
        with self._tx():
            if crate is not None:
                self.db.execute("INSERT INTO crates (session, folder, dirty) VALUES (?, ?, 1) ON CONFLICT(session)"
                                " DO UPDATE SET folder = excluded.folder, dirty = 1", crate)
            self.db.execute("UPDATE queue SET state = 'done', finished_at = ?, last_error = NULL WHERE seq = ?",
                            (now, item.seq))
            self.db.execute(
                "INSERT INTO stored (frame_id, location, version, sidecar_sha256, sidecar_path, frame_path,"
                " versions_written, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(frame_id) DO UPDATE SET"
                " location = excluded.location, version = excluded.version, sidecar_sha256 = excluded.sidecar_sha256,"
                " sidecar_path = excluded.sidecar_path, frame_path = excluded.frame_path,"
                " versions_written = versions_written + excluded.versions_written, stored_at = excluded.stored_at",
                (item.frame_id, receipt.location, receipt.version, sidecar_sha256, item.sidecar_path,
                 item.frame_path, int(receipt.created), now))
            self._set_meta(last_ok_at=now)

    def next_crate(self) -> tuple[str, str] | None:
        """(session, folder) of a crate that misses frames stored since it was last written."""
        row = self.db.execute("SELECT session, folder FROM crates WHERE dirty = 1 ORDER BY session LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def mark_crate_done(self, session: str, receipt: Receipt, frames: int) -> None:
        now = self.clock()
        with self._tx():
            self.db.execute("UPDATE crates SET dirty = 0, location = ?, version = ?, frames = ?, stored_at = ?"
                            " WHERE session = ?", (receipt.location, receipt.version, frames, now, session))
            if receipt.location:
                self._set_meta(last_ok_at=now)

    def crates(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT session, folder, dirty, location, version, frames FROM crates ORDER BY session")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def mark_failed(self, item: QueueItem, error: str) -> None:
        """Set aside for good (the bundle itself is wrong); kept and shown, re-queued by ``retry``."""
        with self._tx():
            self.db.execute("UPDATE queue SET state = 'failed', attempts = attempts + 1, last_error = ?,"
                            " finished_at = ? WHERE seq = ?", (error, self.clock(), item.seq))

    def note_attempt(self, item: QueueItem, error: str) -> None:
        """A transient failure: the item stays pending; the error is what ``status`` shows."""
        now = self.clock()
        with self._tx():
            self.db.execute("UPDATE queue SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error, item.seq))
            self._set_meta(last_error=error, last_error_at=now)

    def note_error(self, error: str) -> None:
        self.set_meta(last_error=error, last_error_at=self.clock())

    def requeue_failed(self) -> int:
        with self._tx():
            return self.db.execute("UPDATE queue SET state = 'pending', finished_at = NULL "
                                   "WHERE state = 'failed'").rowcount

    # -- reading ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("pending", "done", "skipped", "failed"), 0)
        counts.update(self.db.execute("SELECT state, count(*) FROM queue GROUP BY state").fetchall())
        return counts

    def status(self) -> dict[str, Any]:
        counts = self.counts()
        oldest = self.db.execute("SELECT min(accepted_at) FROM queue WHERE state = 'pending'").fetchone()[0]
        failed = self.db.execute("SELECT seq, frame_id, sidecar_path, last_error FROM queue WHERE state = 'failed' "
                                 "ORDER BY seq LIMIT 20").fetchall()
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        last_error_at = float(meta["last_error_at"]) if meta.get("last_error_at") else None
        last_ok_at = float(meta["last_ok_at"]) if meta.get("last_ok_at") else None
        return {
            "sink": meta.get("sink"),
            "last_seq": int(meta.get("last_seq", 0)),
            "backlog": counts["pending"],
            "oldest_pending_age_s": round(self.clock() - oldest, 1) if oldest else None,
            "stored_frames": self.db.execute("SELECT count(*) FROM stored").fetchone()[0],
            "events": counts,
            "last_error": meta.get("last_error"),
            "last_error_at": last_error_at,
            "last_ok_at": last_ok_at,
            "failing": bool(last_error_at and (last_ok_at is None or last_error_at > last_ok_at) and counts["pending"]),
            "failed": [{"seq": s, "frame_id": f, "sidecar_path": p, "error": e} for s, f, p, e in failed],
        }

    def stored(self) -> Iterator[dict[str, Any]]:
        cur = self.db.execute("SELECT frame_id, location, version, sidecar_sha256, sidecar_path, frame_path,"
                              " versions_written FROM stored ORDER BY frame_id")
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlitedb.transaction(self.db)
