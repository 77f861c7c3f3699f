"""The searchable catalogue: SQLite with an index per searchable field and FTS5 for free text.

It is derived data. Every row comes from a sidecar (plus where the repository put the frame),
so ``nanoaid catalogue rebuild`` can always recreate it, from the sidecars beside the frames or
from the copies in the archive. Writes are batched in transactions; reads never block writes (WAL).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from .. import sqlitedb
from ..errors import JournalError
from ..sidecar import Sidecar
from .query import compile_query

__all__ = ["COLUMNS", "ANALYZE_EVERY", "Catalogue", "row_from_sidecar"]

COLUMNS = (
    "frame_id", "name", "path", "sidecar_path", "frame_path", "location", "version", "sidecar_version",
    "label", "predicted", "decision", "score", "coherency", "aligned_fraction",
    "vendor", "instrument", "serial", "detector",
    "beam_energy_kv", "magnification", "pixel_size_nm", "acquired_at", "acquired", "operator", "sample",
    "corrections", "status", "width_px", "height_px", "media_type", "crate", "crate_version",
)
#: Set by the uploader once a frame's session crate is stored; re-indexing the frame keeps them.
CRATE_COLUMNS = ("crate", "crate_version")
NOCASE = {"label", "predicted", "decision", "vendor", "instrument", "serial", "detector", "operator", "sample",
          "status", "name", "path", "media_type"}
INDEXED = ("label", "decision", "score", "coherency", "aligned_fraction", "vendor", "instrument", "detector",
           "beam_energy_kv", "magnification", "pixel_size_nm", "acquired_at", "operator", "sample", "corrections")
ANALYZE_EVERY = 10_000
FTS_COLUMNS = ("name", "path", "sample", "operator", "instrument", "detector", "label", "notes")
TYPES = {"version": "INTEGER", "crate_version": "INTEGER",
         "sidecar_version": "INTEGER", "corrections": "INTEGER", "width_px": "INTEGER",
         "height_px": "INTEGER", "score": "REAL", "coherency": "REAL", "aligned_fraction": "REAL",
         "beam_energy_kv": "REAL", "magnification": "REAL", "pixel_size_nm": "REAL", "acquired_at": "REAL"}


def _schema() -> str:
    cols = ",\n  ".join(f"{c} {TYPES.get(c, 'TEXT')}{' COLLATE NOCASE' if c in NOCASE else ''}"
                        + (" NOT NULL UNIQUE" if c == "frame_id" else "") for c in COLUMNS)
    indexes = "\n".join(f"CREATE INDEX IF NOT EXISTS frames_{c} ON frames ({c});" for c in INDEXED)
    return f"""
CREATE TABLE IF NOT EXISTS frames (
  rowid INTEGER PRIMARY KEY,
  {cols}
);
{indexes}
CREATE TABLE IF NOT EXISTS scores (class TEXT NOT NULL, score REAL NOT NULL, frame INTEGER NOT NULL,
  PRIMARY KEY (class, score, frame)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scores_frame ON scores (frame);
CREATE VIRTUAL TABLE IF NOT EXISTS frames_fts USING fts5({", ".join(FTS_COLUMNS)}, tokenize = 'unicode61');
"""


def row_from_sidecar(sc: Sidecar, *, sidecar_path: str | None = None, frame_path: str | None = None,
                     location: str | None = None, version: int | None = None, crate: str | None = None,
                     crate_version: int | None = None) -> dict[str, Any]:
    ins, cls, ali = sc.instrument, sc.classification, sc.alignment
    when = ins.acquired_at
    return {
        "frame_id": sc.frame.sha256, "name": sc.frame.name, "path": sc.frame.path, "sidecar_path": sidecar_path,
        "frame_path": frame_path, "location": location, "version": version, "sidecar_version": sc.version,
        # An operator's correction is the truth; the model's own call stays searchable as ``predicted``.
        "label": sc.corrections[-1].label if sc.corrections else (cls.label if cls else None),
        "predicted": cls.label if cls else None,
        "decision": "accepted" if sc.corrections else (cls.decision if cls else None),
        "score": cls.score if cls else None, "coherency": ali.coherency if ali else None,
        "aligned_fraction": ali.aligned_fraction if ali else None, "vendor": ins.vendor, "instrument": ins.model,
        "serial": ins.serial, "detector": ins.detector,
        "beam_energy_kv": ins.beam_energy.value if ins.beam_energy else None, "magnification": ins.magnification,
        "pixel_size_nm": ins.pixel_size.x.value if ins.pixel_size else None,
        "acquired_at": (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp() if when else None,
        "acquired": when.isoformat() if when else None,
        "operator": ins.operator, "sample": ins.sample, "corrections": len(sc.corrections), "status": sc.status,
        "width_px": sc.frame.width_px, "height_px": sc.frame.height_px, "media_type": sc.frame.media_type,
        "crate": crate, "crate_version": crate_version,
    }


def _notes(sc: Sidecar) -> str:
    parts = [c.comment or "" for c in sc.corrections] + [f"{c.previous_label} {c.label} {c.operator}" for c in
                                                         sc.corrections]
    parts += list(sc.warnings) + [e.message for e in sc.errors.values()]
    parts += [sc.instrument.vendor or "", sc.instrument.serial or "", sc.frame.reader]
    return " ".join(p for p in parts if p)


class Catalogue:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # derived data, rebuildable: speed matters more than surviving power loss; 64 MiB of cache keeps
            # the fifteen indexes in memory while ingesting
            self.db = sqlitedb.connect(self.path, synchronous="NORMAL", pragmas={"cache_size": -65536})
            self.db.executescript(_schema())
            self._add_missing_columns()
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open the catalogue {self.path}: {exc}; `nanoaid catalogue rebuild` "
                               "recreates it from the sidecars") from exc
        self._since_analyze, self._analyzed_rows = 0, 0
        self._insert = (f"INSERT INTO frames ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                        f"ON CONFLICT(frame_id) DO UPDATE SET "
                        + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:] if c not in CRATE_COLUMNS)
                        + " RETURNING rowid")

    def _add_missing_columns(self) -> None:
        """A catalogue written before crates existed gains their columns (empty until the next crate)."""
        have = {row[1] for row in self.db.execute("PRAGMA table_info(frames)")}
        for column in CRATE_COLUMNS:
            if column not in have:
                self.db.execute(f"ALTER TABLE frames ADD COLUMN {column} {TYPES.get(column, 'TEXT')}")

    def set_crate(self, frame_ids: Iterable[str], location: str, version: int) -> None:
        """Name the session crate (object location and version) that holds these frames."""
        with sqlitedb.transaction(self.db):
            self.db.executemany("UPDATE frames SET crate = ?, crate_version = ? WHERE frame_id = ?",
                                [(location, version, f) for f in frame_ids])

    def close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")  # keeps the planner's statistics fresh (cheap when nothing changed)
        except sqlite3.Error:
            pass
        self.db.close()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def upsert(self, sc: Sidecar, *, sidecar_path: str | None = None, frame_path: str | None = None,
               location: str | None = None, version: int | None = None) -> None:
        self.upsert_many([(sc, dict(sidecar_path=sidecar_path, frame_path=frame_path, location=location,
                                    version=version))])

    def upsert_many(self, items: Iterable[tuple[Sidecar, dict[str, Any]]]) -> int:
        """Index many sidecars in one transaction; returns how many."""
        count = 0
        with sqlitedb.transaction(self.db):
            for sc, where in items:
                self.insert(sc, where)
                count += 1
        self._since_analyze += count
        if self._since_analyze >= max(ANALYZE_EVERY, self._analyzed_rows):  # each time the table doubled
            self.analyze()
        return count

    def analyze(self) -> None:
        """Refresh the planner's statistics, so a query starts from its most selective index."""
        self.db.execute("ANALYZE")
        self._since_analyze, self._analyzed_rows = 0, self.count()

    def insert(self, sc: Sidecar, where: dict[str, Any]) -> None:
        """Add or replace one frame's row; the caller holds the transaction."""
        row = row_from_sidecar(sc, **where)
        known = self.db.execute("SELECT rowid FROM frames WHERE frame_id = ?", (row["frame_id"],)).fetchone()
        rowid = self.db.execute(self._insert, [row[c] for c in COLUMNS]).fetchone()[0]
        if known:  # a new version of a catalogued frame: its old scores and text go
            self.db.execute("DELETE FROM scores WHERE frame = ?", (rowid,))
            self.db.execute("DELETE FROM frames_fts WHERE rowid = ?", (rowid,))
        if sc.classification:
            self.db.executemany("INSERT INTO scores (class, score, frame) VALUES (?, ?, ?)",
                                [(c, s, rowid) for c, s in sc.classification.scores.items()])
        fts = [row["name"], row["path"], row["sample"], row["operator"], row["instrument"], row["detector"],
               " ".join(filter(None, {row["label"], row["predicted"]})), _notes(sc)]
        self.db.execute(f"INSERT INTO frames_fts (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, "
                        f"{', '.join('?' * len(FTS_COLUMNS))})", [rowid, *fts])

    def clear(self) -> None:
        """Forget every row (inside the caller's rebuild, so searches see old or new, never half)."""
        self.db.execute("DELETE FROM frames")
        self.db.execute("DELETE FROM scores")
        self.db.execute("DELETE FROM frames_fts")

    # -- reading ------------------------------------------------------------------------------
    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM frames").fetchone()[0]

    def search(self, query: str, *, limit: int | None = None, now: datetime | None = None,
               zone: tzinfo | None = None) -> list[dict[str, Any]]:
        """Hits for ``query`` (see :mod:`.query`), newest acquisition first."""
        compiled = compile_query(query, now=now, zone=zone)
        sql = (f"SELECT {', '.join(COLUMNS)} FROM frames WHERE {compiled.where} "
               "ORDER BY acquired_at IS NULL, acquired_at DESC, frame_id")
        params = list(compiled.params)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._hit(row) for row in self.db.execute(sql, params)]

    @staticmethod
    def _hit(row: tuple) -> dict[str, Any]:
        hit = dict(zip(COLUMNS, row, strict=True))
        hit["acquired_at"] = hit.pop("acquired")  # as the instrument recorded it, offset included
        return hit
