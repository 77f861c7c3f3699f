"""Search for the console: the uploader's catalogue when given, else the console's own index.

The catalogue belongs to the uploader (``nanoaid upload``): with ``--catalogue FILE`` the console
opens that file read-only and queries it. Without it, the console keeps its own catalogue in
``STATE/console/catalogue.sqlite3``, built with the same code (:class:`~..uploader.catalogue.Catalogue`)
from the sidecars named by ``frame.processed`` and ``label.corrected`` events, so the query
language is the same either way. Its bookmark (``index.seq``) lets a restart resume, not redo.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from ..events import Event
from ..sidecar import Sidecar
from ..uploader.catalogue import COLUMNS, Catalogue
from ..uploader.query import compile_query

__all__ = ["SearchIndex", "PAGE_SIZE"]

log = logging.getLogger(__name__)
PAGE_SIZE = 24


class SearchIndex:
    """``search(query, page)`` → (hits, total); ``index(event)`` keeps the console's own catalogue fresh."""

    def __init__(self, state_dir: Path, *, catalogue: Path | None = None):
        self._lock = threading.Lock()
        self.external = catalogue is not None
        if catalogue is not None:
            if not Path(catalogue).is_file():
                raise ConfigError(f"--catalogue {catalogue}: no such file; it is the uploader's "
                                  "STATE/catalogue.sqlite3 (`nanoaid upload --state STATE`)")
            self.path = Path(catalogue)
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                                       check_same_thread=False)
            self._own: Catalogue | None = None
        else:
            folder = Path(state_dir) / "console"
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / "catalogue.sqlite3"
            self._own = Catalogue(self.path)
            self._db = self._own.db
        self._bookmark = Path(state_dir) / "console" / "index.seq"

    @property
    def resume_from(self) -> int:
        """The seq the console's own index has seen (0: build it from the whole journal)."""
        if self.external:
            return 0
        try:
            return int(self._bookmark.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def index(self, event: Event) -> None:
        """Upsert the frame of a processed/corrected event from its sidecar; remember the seq."""
        if self._own is None or event.seq is None:
            return
        if event.type in ("frame.processed", "label.corrected") and event.sidecar_path:
            try:
                sidecar = Sidecar.model_validate_json(Path(event.sidecar_path).read_bytes())
            except (OSError, ValidationError) as exc:
                log.warning("console: cannot index %s: %s", event.sidecar_path, exc)
                sidecar = None
            if sidecar is not None:
                with self._lock:
                    self._own.upsert(sidecar, sidecar_path=event.sidecar_path, frame_path=event.frame_path)
        self._bookmark.write_text(str(event.seq))  # after the upsert: a crash re-indexes, never skips

    def catch_up(self, store) -> int:
        """Index what the journal holds beyond the bookmark, straight from it; returns the seq reached.

        Runs before the subscriber starts, so a console started with no daemon running still
        searches everything, and a first start reads the journal instead of replaying the bus.
        """
        seq = self.resume_from
        while not self.external:
            batch = store.events_after(seq)
            if not batch:
                break
            for event in batch:
                self.index(event)
            seq = batch[-1].seq or seq
        return seq

    def search(self, query: str, *, page: int = 1) -> tuple[list[dict[str, Any]], int]:
        """One page of hits, newest acquisition first, and the total; QueryError for a bad query."""
        compiled = compile_query(query)
        where = f"FROM frames WHERE {compiled.where}"
        offset = (max(page, 1) - 1) * PAGE_SIZE
        with self._lock:
            total = self._db.execute(f"SELECT count(*) {where}", compiled.params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} {where} ORDER BY acquired_at IS NULL, acquired_at DESC, rowid DESC "
                "LIMIT ? OFFSET ?", [*compiled.params, PAGE_SIZE, offset]).fetchall()
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows], int(total)

    def close(self) -> None:
        with self._lock:
            if self._own is not None:
                self._own.close()
            else:
                self._db.close()
