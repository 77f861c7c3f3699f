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

from . import sqlitedb
from .errors import JournalError
from .events import Event, Summary
from .paths import db_key, from_db
from .states import FileState

__all__ = ["Journal", "FileRecord", "FrameRecord", "FILE_STATES"]

FILE_STATES = tuple(s.value for s in FileState)
SCHEMA_VERSION = 1
#: Failures of one content (not transient ones) before a file goes to quarantine with the reason.
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


    @classmethod
    def of(cls, row: sqlite3.Row) -> FileRecord:
        d = dict(row)
        d["path"] = from_db(d["path"])
        return cls(**d)


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

    @classmethod
    def of(cls, row: sqlite3.Row) -> FrameRecord:
        d = dict(row)
        d["path"], d["sidecar_path"] = from_db(d["path"]), from_db(d["sidecar_path"])
        return cls(**d)


class Journal:
    """Thread-safe: one connection per thread, writes serialised by a lock and BEGIN IMMEDIATE."""

    def __init__(self, path: Path, *, clock=time.time, check: bool = False):
        """``check``: verify every page first (the daemon does; a damaged journal then fails here clearly)."""
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
            if check:
                verdict = self._conn().execute("PRAGMA quick_check").fetchone()[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(f"integrity check failed ({verdict})")
        except sqlite3.DatabaseError as exc:
            if not isinstance(exc, sqlite3.OperationalError) or "malformed" in str(exc):
                raise self.damaged(exc) from exc
            raise

    def damaged(self, exc: BaseException) -> JournalError:
        """The one message for an unusable journal, whether found at start, in ``status`` or later."""
        return JournalError(f"journal {self.path} cannot be opened: {exc}; move it aside to start afresh "
                            "(sidecars keep their corrections and versions when frames are processed again)")

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlitedb.connect(self.path, synchronous="FULL", foreign_keys=True)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._write_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, sqlitedb.transaction(self._conn()) as db:
            yield db

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
        sql, args = "SELECT body FROM events WHERE 1=1", list[str]()
        if type:
            sql, args = sql + " AND type = ?", args + [type]
        if frame_id:
            sql, args = sql + " AND frame_id = ?", args + [frame_id]
        return [Event.model_validate_json(r[0]) for r in self._conn().execute(sql + " ORDER BY seq", args)]

    # -- files -------------------------------------------------------------------------------
    def file(self, path: str | Path) -> FileRecord | None:
        row = self._conn().execute("SELECT * FROM files WHERE path = ?", (db_key(path),)).fetchone()
        return FileRecord.of(row) if row else None

    def needs_work(self, path: str | Path, size: int, mtime_ns: int, *, force: bool = False,
                   failed: bool = True) -> bool:
        """False when this exact file version already reached a final state.

        ``failed=False``: a failed version is left to the daemon's own retry schedule rather
        than picked up by every scan that passes it. ``force``: work on it whatever its state
        (a scheduled retry; a processed frame whose sidecar went missing). A new version of any
        file is new work at once.
        """
        rec = self.file(path)
        if force or rec is None or rec.state in (FileState.DISCOVERED, FileState.SETTLED):
            return True
        if rec.state == FileState.FAILED and failed:
            return True
        return (rec.size, rec.mtime_ns) != (size, mtime_ns)

    def note(self, path: str | Path, state: str, *, size: int | None = None, mtime_ns: int | None = None,
             frame_id: str | None = None) -> None:
        """Record a non-final state (discovered, settled) for a file; failure counts survive a retry."""
        now = self._clock()
        with self._write() as db:
            db.execute(
                """INSERT INTO files (path, state, size, mtime_ns, frame_id, first_seen, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET state=excluded.state, size=excluded.size,
                       mtime_ns=excluded.mtime_ns, frame_id=excluded.frame_id, code=NULL, reason=NULL,
                       attempts=CASE WHEN files.size IS excluded.size AND files.mtime_ns IS excluded.mtime_ns
                                     THEN files.attempts ELSE 0 END,
                       updated=excluded.updated""",
                (db_key(path), str(state), size, mtime_ns, frame_id, now, now),
            )

    def _finish_file(self, db: sqlite3.Connection, path: str | Path, state: str, size: int | None,
                     mtime_ns: int | None, frame_id: str | None, code: str | None = None,
                     reason: str | None = None) -> int:
        """Upsert the file's final row; returns its failure count (failures of this content only)."""
        now = self._clock()
        key = db_key(path)
        db.execute(
            """INSERT INTO files (path, state, size, mtime_ns, frame_id, code, reason, attempts, first_seen, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?, CASE WHEN ? = 'failed' THEN 1 ELSE 0 END, ?, ?)
               ON CONFLICT(path) DO UPDATE SET state=excluded.state, size=excluded.size,
                   mtime_ns=excluded.mtime_ns, frame_id=excluded.frame_id, code=excluded.code,
                   reason=excluded.reason, updated=excluded.updated,
                   attempts=CASE WHEN excluded.state != 'failed' THEN 0
                                 WHEN files.size IS excluded.size AND files.mtime_ns IS excluded.mtime_ns
                                      AND (files.frame_id IS excluded.frame_id OR files.frame_id IS NULL)
                                 THEN files.attempts + 1 ELSE 1 END""",
            (key, str(state), size, mtime_ns, frame_id, code, reason, str(state), now, now),
        )
        return int(db.execute("SELECT attempts FROM files WHERE path = ?", (key,)).fetchone()[0])

    def pending(self) -> list[str]:
        """Files that were seen but never reached a final state: resumed at start-up."""
        rows = self._conn().execute(
            "SELECT path FROM files WHERE state IN ('discovered', 'settled', 'failed') ORDER BY first_seen"
        ).fetchall()
        return [from_db(r[0]) or "" for r in rows]

    def quarantine(self) -> list[FileRecord]:
        rows = self._conn().execute("SELECT * FROM files WHERE state = 'rejected' ORDER BY updated").fetchall()
        return [FileRecord.of(r) for r in rows]

    def failing(self) -> list[FileRecord]:
        """Files waiting for an automatic retry (transient or not yet quarantined failures)."""
        rows = self._conn().execute("SELECT * FROM files WHERE state = 'failed' ORDER BY updated").fetchall()
        return [FileRecord.of(r) for r in rows]

    def requeue(self, paths: list[str] | None = None) -> list[str]:
        """Quarantined or failed files back to ``discovered`` with a clean failure count.

        ``paths=None``: all of them. Returns the paths re-queued; a running daemon picks them up
        at its next reconcile scan, a stopped one at its next start.
        """
        where = "state IN ('rejected', 'failed')"
        with self._write() as db:
            rows = [r[0] for r in db.execute(f"SELECT path FROM files WHERE {where}")]
            if paths is not None:
                wanted = {db_key(p) for p in paths}
                rows = [r for r in rows if r in wanted]
            for key in rows:
                db.execute("UPDATE files SET state = 'discovered', attempts = 0, code = NULL, reason = NULL, "
                           "updated = ? WHERE path = ?", (self._clock(), key))
        return [from_db(r) or "" for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall()
        counts = {state: 0 for state in FILE_STATES}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    # -- frames ------------------------------------------------------------------------------
    def frame(self, frame_id: str) -> FrameRecord | None:
        row = self._conn().execute("SELECT * FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
        return FrameRecord.of(row) if row else None

    def frame_count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM frames WHERE state = 'processed'").fetchone()[0]

    def recent_frames(self, limit: int = 100) -> list[FrameRecord]:
        """The most recently processed frames, newest first (the bus's snapshot for late joiners)."""
        rows = self._conn().execute(
            "SELECT * FROM frames WHERE state = 'processed' ORDER BY processed_at DESC, rowid DESC LIMIT ?",
            (int(limit),),
        ).fetchall()
        return [FrameRecord.of(r) for r in rows]

    def processed_frames(self) -> list[FrameRecord]:
        rows = self._conn().execute("SELECT * FROM frames WHERE state = 'processed' ORDER BY rowid").fetchall()
        return [FrameRecord.of(r) for r in rows]

    def complete(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str, sidecar_path: str,
                 event: Event, sidecar_version: int = 1) -> Event:
        """The frame is processed: frame row, file row and its event commit together."""
        s = event.summary or Summary()
        with self._write() as db:
            existing = db.execute("SELECT state FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
            if existing and existing[0] == "processed":
                raise JournalError(f"frame {frame_id[:12]}… is already processed; refusing a second event")
            db.execute(
                """INSERT INTO frames (frame_id, path, sidecar_path, state, label, decision, score, coherency,
                       status, sidecar_version, processed_at) VALUES (?, ?, ?, 'processed', ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(frame_id) DO UPDATE SET path=excluded.path, sidecar_path=excluded.sidecar_path,
                       state='processed', label=excluded.label, decision=excluded.decision, score=excluded.score,
                       coherency=excluded.coherency, status=excluded.status, processed_at=excluded.processed_at,
                       sidecar_version=MAX(frames.sidecar_version, excluded.sidecar_version)""",
                (frame_id, db_key(path), db_key(sidecar_path), s.label, s.decision, s.score, s.coherency, s.status,
                 sidecar_version, self._clock()),
            )
            self._finish_file(db, path, FileState.PROCESSED, size, mtime_ns, frame_id)
            return self._insert_event(db, event)

    def record_known(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str) -> str:
        """Content that is already processed: remembered, not reprocessed, no event.

        Under its original path (touched, copied back) the file is simply ``processed`` again;
        under another name it is a ``duplicate``. Returns the state recorded.
        """
        with self._write() as db:
            row = db.execute("SELECT path FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
            same = row is not None and row[0] == db_key(path)
            state = FileState.PROCESSED if same else FileState.DUPLICATE
            self._finish_file(db, path, state, size, mtime_ns, frame_id)
            return state.value

    def relocate(self, path: str | Path, *, size: int, mtime_ns: int, frame_id: str, sidecar_path: str,
                 sidecar_version: int, old_path: str | None = None) -> None:
        """A processed frame's record now lives at ``path`` (renamed, or its sidecar re-written).

        The frame keeps its identity, label, corrections and event history; no event is added.
        A rename's old file row is dropped (the name holds nothing any more).
        """
        with self._write() as db:
            db.execute("UPDATE frames SET path = ?, sidecar_path = ?, sidecar_version = MAX(sidecar_version, ?) "
                       "WHERE frame_id = ?", (db_key(path), db_key(sidecar_path), sidecar_version, frame_id))
            self._finish_file(db, path, FileState.PROCESSED, size, mtime_ns, frame_id)
            if old_path is not None and db_key(old_path) != db_key(path):
                db.execute("DELETE FROM files WHERE path = ? AND frame_id IS ?", (db_key(old_path), frame_id))

    def reject(self, path: str | Path, *, size: int | None, mtime_ns: int | None, code: str, reason: str,
               event: Event) -> Event:
        with self._write() as db:
            self._finish_file(db, path, FileState.REJECTED, size, mtime_ns, None, code, reason)
            return self._insert_event(db, event)

    def fail(self, path: str | Path, *, size: int | None, mtime_ns: int | None, frame_id: str | None,
             reason: str, event: Event, transient: bool = False) -> tuple[Event, int, bool]:
        """An internal failure. Returns (event, failures of this content, quarantined).

        Transient failures (a full or read-only disk …) stay ``failed`` and are retried for as
        long as they last; after ``MAX_ATTEMPTS`` other failures of the same content the file goes
        to quarantine (``rejected``, code ``failed``) with the reason.
        """
        code = "transient" if transient else "failed"
        with self._write() as db:
            attempts = self._finish_file(db, path, FileState.FAILED, size, mtime_ns, frame_id, code, reason)
            quarantined = not transient and attempts >= MAX_ATTEMPTS
            if quarantined:
                db.execute("UPDATE files SET state = 'rejected', reason = ? WHERE path = ?",
                           (f"failed {attempts} times: {reason}", db_key(path)))
            return self._insert_event(db, event), attempts, quarantined

    def forget(self, path: str | Path) -> None:
        """Drop a file that vanished before it reached a final state."""
        with self._write() as db:
            db.execute("DELETE FROM files WHERE path = ? AND state IN ('discovered', 'settled', 'failed')",
                       (db_key(path),))

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

