"""The journal: SQLite (WAL, synchronous=FULL) holding every file's state and every event.

It is the daemon's memory across crashes. A frame's identity is the sha256 of its content. Files
move ``discovered → settled → processed`` (or ``rejected`` / ``duplicate`` / ``failed``); the
``processed`` transition and its event row, with the next gap-free sequence number, commit in one
transaction, so after ``kill -9`` a frame is either done with exactly one event, or not done.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import JournalError
from .events import Event, Summary

__all__ = ["Journal", "FileRecord", "FrameRecord", "FILE_STATES"]

FILE_STATES = ("discovered", "settled", "processed", "duplicate", "rejected", "failed")
SCHEMA_VERSION = 1
#: A frame whose processing failed for internal reasons (e.g. a full disk) is retried this often.
MAX_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    frame_id TEXT,
    code TEXT,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_seen REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_state ON files(state);
CREATE TABLE IF NOT EXISTS frames (
    frame_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sidecar_path TEXT,
    state TEXT NOT NULL,
    label TEXT,
    decision TEXT,
    score REAL,
    coherency REAL,
    status TEXT,
    sidecar_version INTEGER NOT NULL DEFAULT 1,
    processed_at REAL
);
-- The console's review queue (oldest first) and its count, without scanning every frame.
CREATE INDEX IF NOT EXISTS frames_review ON frames(processed_at)
    WHERE state = 'processed' AND decision IN ('review', 'unknown');
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    frame_id TEXT,
    time TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_frame ON events(frame_id, type);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY,
    frame_id TEXT NOT NULL,
    label TEXT NOT NULL,
    previous_label TEXT,
    operator TEXT NOT NULL,
    comment TEXT,
    time TEXT NOT NULL,
    seq INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class FileRecord:
    path: str
    state: str
    size: int | None
    mtime_ns: int | None
    frame_id: str | None
    code: str | None
    reason: str | None
    attempts: int
    first_seen: float
    updated: float


@dataclass(frozen=True)
class FrameRecord:
    frame_id: str
    path: str
    sidecar_path: str | None
    state: str
    label: str | None
    decision: str | None
    score: float | None
    coherency: float | None
    status: str | None
    sidecar_version: int
    processed_at: float | None


class Journal:
    """Thread-safe: one connection per thread, writes serialised by a lock and BEGIN IMMEDIATE."""

    def __init__(self, path: Path, *, clock=time.time):
        self.path = Path(path)
        self._clock = clock
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._connections: list[sqlite3.Connection] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._write_lock:
                self._conn().executescript(_SCHEMA)  # executescript manages its own transaction
            with self._write() as db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path} cannot be opened: {exc}; move it aside to start afresh") from exc

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._write_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._write_lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    # -- events ------------------------------------------------------------------------------
    @staticmethod
    def _insert_event(db: sqlite3.Connection, event: Event) -> Event:
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetchone()[0]
        event = event.model_copy(update={"seq": seq})
        db.execute(
            "INSERT INTO events (seq, event_id, type, frame_id, time, body) VALUES (?, ?, ?, ?, ?, ?)",
            (seq, event.event_id, event.type, event.frame_id, event.time.isoformat(), event.to_json()),
        )
        return event

    def append_event(self, event: Event) -> Event:
        """Journal an event that changes no frame state (daemon.started, daemon.stopping)."""
        with self._write() as db:
            return self._insert_event(db, event)

    def last_seq(self) -> int:
        return self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def events_since(self, seq: int, limit: int = 1000) -> list[str]:
        """JSON bodies of events with sequence number > seq, oldest first, at most ``limit``."""
        rows = self._conn().execute(
            "SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (int(seq), int(limit))
        ).fetchall()
        return [r[0] for r in rows]

    def events(self, *, type: str | None = None, frame_id: str | None = None) -> list[Event]:
        sql, args = "SELECT body FROM events WHERE 1=1", []
        if type:
            sql, args = sql + " AND type = ?", args + [type]
        if frame_id:
            sql, args = sql + " AND frame_id = ?", args + [frame_id]
        return [Event.model_validate_json(r[0]) for r in self._conn().execute(sql + " ORDER BY seq", args)]

    # -- files -------------------------------------------------------------------------------
    def file(self, path: str | Path) -> FileRecord | None:
        row = self._conn().execute("SELECT * FROM files WHERE path = ?", (str(path),)).fetchone()
        return FileRecord(**dict(row)) if row else None

    def needs_work(self, path: str | Path, size: int, mtime_ns: int) -> bool:
        """False when this exact file version already reached a final state."""
        rec = self.file(path)
        if rec is None or rec.state in ("discovered", "settled"):
            return True
        if rec.state == "failed":
            return rec.attempts < MAX_ATTEMPTS
        return (rec.size, rec.mtime_ns) != (size, mtime_ns)

    def note(self, path: str | Path, state: str, *, size: int | None = None, mtime_ns: int | None = None,
             frame_id: str | None = None) -> None:
        """Record a non-final state (discovered, settled) for a file."""
        now = self._clock()
        with self._write() as db:
            db.execute(
                """INSERT INTO files (path, state, size, mtime_ns, frame_id, first_seen, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET state=excluded.state, size=excluded.size,
                       mtime_ns=excluded.mtime_ns, frame_id=excluded.frame_id, code=NULL, reason=NULL,
                       updated=excluded.updated""",
                (str(path), state, size, mtime_ns, frame_id, now, now),
            )

    def _finish_file(self, db, path, state, size, mtime_ns, frame_id, code=None, reason=None) -> None:
        now = self._clock()
        db.execute(
            """INSERT INTO files (path, state, size, mtime_ns, frame_id, code, reason, attempts, first_seen, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
               ON CONFLICT(path) DO UPDATE SET state=excluded.state, size=excluded.size,
                   mtime_ns=excluded.mtime_ns, frame_id=excluded.frame_id, code=excluded.code,
                   reason=excluded.reason, attempts=files.attempts + 1, updated=excluded.updated""",
            (str(path), state, size, mtime_ns, frame_id, code, reason, now, now),
        )

    def pending(self) -> list[str]:
        """Files that were seen but never reached a final state: resumed at start-up."""
        rows = self._conn().execute(
            "SELECT path FROM files WHERE state IN ('discovered', 'settled', 'failed') ORDER BY first_seen"
        ).fetchall()
        return [r[0] for r in rows]

    def quarantine(self) -> list[FileRecord]:
        rows = self._conn().execute("SELECT * FROM files WHERE state = 'rejected' ORDER BY updated").fetchall()
        return [FileRecord(**dict(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall()
        counts = {state: 0 for state in FILE_STATES}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    # -- frames ------------------------------------------------------------------------------
    def frame(self, frame_id: str) -> FrameRecord | None:
        row = self._conn().execute("SELECT * FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
        return FrameRecord(**dict(row)) if row else None

    def frame_count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM frames WHERE state = 'processed'").fetchone()[0]

    def recent_frames(self, limit: int = 100) -> list[FrameRecord]:
        """The most recently processed frames, newest first (the bus's snapshot for late joiners)."""
        rows = self._conn().execute(
            "SELECT * FROM frames WHERE state = 'processed' ORDER BY processed_at DESC, rowid DESC LIMIT ?",
            (int(limit),),
        ).fetchall()
        return [FrameRecord(**dict(r)) for r in rows]

    def complete(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str, sidecar_path: str,
                 event: Event) -> Event:
        """The frame is processed: frame row, file row and its event commit together."""
        s = event.summary or Summary()
        with self._write() as db:
            existing = db.execute("SELECT state FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
            if existing and existing[0] == "processed":
                raise JournalError(f"frame {frame_id[:12]}… is already processed; refusing a second event")
            db.execute(
                """INSERT INTO frames (frame_id, path, sidecar_path, state, label, decision, score, coherency,
                       status, processed_at) VALUES (?, ?, ?, 'processed', ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(frame_id) DO UPDATE SET path=excluded.path, sidecar_path=excluded.sidecar_path,
                       state='processed', label=excluded.label, decision=excluded.decision, score=excluded.score,
                       coherency=excluded.coherency, status=excluded.status, processed_at=excluded.processed_at""",
                (frame_id, str(path), sidecar_path, s.label, s.decision, s.score, s.coherency, s.status,
                 self._clock()),
            )
            self._finish_file(db, path, "processed", size, mtime_ns, frame_id)
            return self._insert_event(db, event)

    def record_known(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str) -> str:
        """Content that is already processed: remembered, not reprocessed, no event.

        Under its original path (touched, copied back) the file is simply ``processed`` again;
        under another name it is a ``duplicate``. Returns the state recorded.
        """
        with self._write() as db:
            row = db.execute("SELECT path FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
            state = "processed" if row is not None and row[0] == str(path) else "duplicate"
            self._finish_file(db, path, state, size, mtime_ns, frame_id)
            return state

    def reject(self, path: str | Path, *, size: int | None, mtime_ns: int | None, code: str, reason: str,
               event: Event) -> Event:
        with self._write() as db:
            self._finish_file(db, path, "rejected", size, mtime_ns, None, code, reason)
            return self._insert_event(db, event)

    def fail(self, path: str | Path, *, size: int | None, mtime_ns: int | None, frame_id: str | None,
             reason: str, event: Event) -> Event:
        """An internal failure (e.g. the output disk is full): retried at the next start-up."""
        with self._write() as db:
            self._finish_file(db, path, "failed", size, mtime_ns, frame_id, "failed", reason)
            return self._insert_event(db, event)

    def forget(self, path: str | Path) -> None:
        """Drop a file that vanished before it reached a final state."""
        with self._write() as db:
            db.execute("DELETE FROM files WHERE path = ? AND state IN ('discovered', 'settled')", (str(path),))

    # -- corrections -------------------------------------------------------------------------
    def record_correction(self, frame_id: str, *, label: str, operator: str, comment: str | None,
                          sidecar_version: int, event: Event) -> Event:
        """An operator's label: stored with its event; the frame row carries the new label."""
        with self._write() as db:
            row = db.execute("SELECT label FROM frames WHERE frame_id = ? AND state = 'processed'",
                             (frame_id,)).fetchone()
            if row is None:
                raise JournalError(f"no processed frame with id {frame_id}")
            event = self._insert_event(db, event)
            db.execute(
                "INSERT INTO corrections (frame_id, label, previous_label, operator, comment, time, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (frame_id, label, row[0], operator, comment, event.time.isoformat(), event.seq),
            )
            db.execute("UPDATE frames SET label = ?, decision = 'accepted', sidecar_version = ? WHERE frame_id = ?",
                       (label, sidecar_version, frame_id))
            return event

    def corrections(self) -> list[dict]:
        rows = self._conn().execute("SELECT * FROM corrections ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    def dump_status(self) -> dict:
        return {"journal": str(self.path), "files": self.counts(), "frames_processed": self.frame_count(),
                "last_seq": self.last_seq()}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Journal({self.path})"

