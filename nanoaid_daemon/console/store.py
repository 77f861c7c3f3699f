"""Read-only access to the daemon's journal and sidecars, for the console's pages.

The console never writes the journal: it opens it with SQLite's ``mode=ro`` (WAL readers never
block the daemon's writer), one connection per thread because page handlers run in a thread pool.
Corrections go through the daemon's command endpoint instead (see :mod:`.corrections`).

Frame ids are the only handle a request may carry. Every file path the console reads comes from
the journal or from a sidecar the journal names, and preview paths from a sidecar must stay
inside that sidecar's folder.
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..corrections import JOURNAL_NAME
from ..errors import ConfigError
from ..events import Event
from ..journal import FrameRecord
from ..sidecar import Sidecar

__all__ = ["Store", "WallItem", "FRAME_ID", "valid_frame_id"]

FRAME_ID = re.compile(r"[0-9a-f]{64}")
_REVIEW = "state = 'processed' AND decision IN ('review', 'unknown')"


def valid_frame_id(text: str) -> bool:
    return FRAME_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class WallItem:
    """One tile of the live wall: a frame event, with the frame's current label when processed."""

    seq: int
    type: str
    name: str
    frame_id: str | None
    label: str | None
    decision: str | None
    score: float | None
    coherency: float | None
    reason: str | None
    time: str

    @property
    def tone(self) -> str:
        """The colour class: the decision, or 'rejected'/'failed'."""
        return self.type.split(".", 1)[1] if self.type != "frame.processed" else (self.decision or "unknown")

    def as_json(self) -> dict:
        return {**self.__dict__, "tone": self.tone}


def wall_item(event: Event, frame: FrameRecord | None = None) -> WallItem:
    s = event.summary
    name = Path(event.frame_path).name if event.frame_path else "(unknown file)"
    return WallItem(seq=event.seq or 0, type=event.type, name=name, frame_id=event.frame_id,
                    label=frame.label if frame else (s.label if s else None),
                    decision=frame.decision if frame else (s.decision if s else None),
                    score=s.score if s else None, coherency=s.coherency if s else None,
                    reason=s.reason if s else None, time=event.time.isoformat(timespec="seconds"))


class Store:
    """Queries the console needs, each a few milliseconds on a journal of 100,000 frames."""

    def __init__(self, state_dir: Path, *, clock=time.time):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / JOURNAL_NAME
        if not self.path.is_file():
            raise ConfigError(f"no journal at {self.path}: start the daemon with `nanoaid run --state "
                              f"{self.state_dir}` first, or check --state")
        self._clock = clock
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    # -- frames ------------------------------------------------------------------------------
    def frame(self, frame_id: str) -> FrameRecord | None:
        if not valid_frame_id(frame_id):
            return None
        row = self._db().execute("SELECT * FROM frames WHERE frame_id = ?", (frame_id,)).fetchone()
        return FrameRecord(**dict(row)) if row else None

    def review_queue(self, limit: int = 12) -> list[FrameRecord]:
        """Frames waiting for an operator, oldest first."""
        rows = self._db().execute(f"SELECT * FROM frames WHERE {_REVIEW} ORDER BY processed_at, rowid LIMIT ?",
                                  (int(limit),)).fetchall()
        return [FrameRecord(**dict(r)) for r in rows]

    def review_waiting(self) -> int:
        return int(self._db().execute(f"SELECT count(*) FROM frames WHERE {_REVIEW}").fetchone()[0])

    def wall(self, limit: int = 48) -> tuple[list[WallItem], int]:
        """The newest frame events (processed, rejected, failed), newest first, and the journal's last seq."""
        db = self._db()
        last = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        rows = db.execute("SELECT body FROM events WHERE type LIKE 'frame.%' ORDER BY seq DESC LIMIT ?",
                          (int(limit),)).fetchall()
        items = []
        for (body,) in rows:
            event = Event.model_validate_json(body)
            items.append(wall_item(event, self.frame(event.frame_id) if event.frame_id else None))
        return items, last

    def last_seq(self) -> int:
        return int(self._db().execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def corrections(self, frame_id: str) -> list[dict]:
        rows = self._db().execute("SELECT * FROM corrections WHERE frame_id = ? ORDER BY id", (frame_id,)).fetchall()
        return [dict(r) for r in rows]

    # -- files on disk -----------------------------------------------------------------------
    def sidecar(self, frame: FrameRecord) -> Sidecar | None:
        if not frame.sidecar_path:
            return None
        try:
            return Sidecar.model_validate_json(Path(frame.sidecar_path).read_bytes())
        except (OSError, ValidationError):
            return None

    def preview_file(self, frame: FrameRecord, sidecar: Sidecar, kind: str) -> Path | None:
        """The preview of that kind, only if it lies inside the sidecar's folder."""
        if not frame.sidecar_path:
            return None
        folder = Path(frame.sidecar_path).parent.resolve()
        for preview in sidecar.previews:
            if preview.kind == kind:
                path = (folder / preview.path).resolve()
                if path.parent == folder and path.is_file():
                    return path
        return None

    # -- health ------------------------------------------------------------------------------
    def figures(self) -> dict:
        """Counts behind the Health page and ``/metrics``."""
        db, now = self._db(), self._clock()
        files = dict(db.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall())
        recent = db.execute("SELECT count(*) FROM frames WHERE state = 'processed' AND processed_at >= ?",
                            (now - 600,)).fetchone()[0]
        rejected_hour = db.execute("SELECT count(*) FROM files WHERE state = 'rejected' AND updated >= ?",
                                   (now - 3600,)).fetchone()[0]
        return {
            "last_seq": int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]),
            "frames_processed": int(db.execute("SELECT count(*) FROM frames WHERE state = 'processed'").fetchone()[0]),
            "files": files,
            "queue_depth": int(files.get("discovered", 0) + files.get("settled", 0)),
            "frames_per_minute": round(recent / 10.0, 2),
            "rejected_last_hour": int(rejected_hour),
            "failed": int(files.get("failed", 0)),
            "review_waiting": self.review_waiting(),
            "corrections": int(db.execute("SELECT count(*) FROM corrections").fetchone()[0]),
        }

    def latest_sidecar(self) -> Sidecar | None:
        """The newest processed frame's sidecar: where the model versions in use are read."""
        row = self._db().execute("SELECT * FROM frames WHERE state = 'processed' ORDER BY processed_at DESC, "
                                 "rowid DESC LIMIT 1").fetchone()
        return self.sidecar(FrameRecord(**dict(row))) if row else None

    def events_after(self, seq: int, limit: int = 1000) -> list[Event]:
        """Journaled events after ``seq``, oldest first (the search index catches up from these)."""
        rows = self._db().execute("SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                                  (int(seq), int(limit))).fetchall()
        return [Event.model_validate_json(r[0]) for r in rows]

    def model_events(self, limit: int = 5) -> list[dict]:
        """The newest ``model.*`` events (e.g. ``model.adapted``) as plain JSON: a newer daemon may
        journal event types this console's event model does not know yet."""
        rows = self._db().execute("SELECT body FROM events WHERE type LIKE 'model.%' ORDER BY seq DESC LIMIT ?",
                                  (int(limit),)).fetchall()
        out = []
        for (body,) in rows:
            try:
                out.append(json.loads(body))
            except ValueError:
                continue
        return out
