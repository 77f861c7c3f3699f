"""Finding the archive's frames and cutting the work into chunks.

Discovery uses the watcher's own filter and tree scan, so batch and daemon agree on what a frame
is (include/exclude globs, no hidden, temporary or own output files, links not followed). A file
whose exact version (path, size, mtime) already reached a final state in the journal is skipped
without being read; everything else is hashed by the workers, and the journal decides by content.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..journal import Journal
from ..watcher import FileFilter, scan_tree
from .tasks import Item

__all__ = ["Discovery", "discover", "chunked", "default_chunk_size", "MAX_CHUNK"]

#: Large enough to amortise a task's round trip, small enough that Ctrl-C or a lost worker costs little.
MAX_CHUNK = 32


@dataclass
class Discovery:
    found: int = 0
    already_done: int = 0
    pending: list[Item] = field(default_factory=list)


def file_filter(root: Path, settings: Settings) -> FileFilter:
    return FileFilter(root, settings.watch, skip_dirs=(Path(settings.state_dir), settings.output.root))


def discover(root: Path, settings: Settings, journal: Journal) -> Discovery:
    """Every frame under ``root``; those whose version the journal has finished are only counted."""
    result = Discovery()
    for path in sorted(scan_tree(root, file_filter(root, settings), recursive=settings.watch.recursive)):
        try:
            st = os.stat(path)
        except OSError:  # vanished since the scan, or a broken link: the worker reports it
            st = None
        result.found += 1
        if st is not None and not journal.needs_work(path, st.st_size, st.st_mtime_ns):
            result.already_done += 1
            continue
        result.pending.append(Item(str(path), st.st_size if st else -1, st.st_mtime_ns if st else -1))
    return result


def default_chunk_size(pending: int, slots: int) -> int:
    """About four chunks per slot for small batches (load balance), MAX_CHUNK for large ones."""
    return max(1, min(MAX_CHUNK, math.ceil(pending / (max(1, slots) * 4))))


def chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
