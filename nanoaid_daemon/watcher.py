"""Finding new frames: watchdog events are hints, the periodic reconcile scan is the truth.

watchdog drops events silently (inotify queue overflow, network shares), so every
``reconcile_interval_s`` the whole tree is scanned and compared with the journal. Handlers only
enqueue a :class:`Candidate`; all judgement happens in the settle stage.
"""
from __future__ import annotations

import fnmatch
import logging
import os
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .atomic import is_temp_name
from .config import WatchSettings

__all__ = ["Candidate", "FileFilter", "scan_tree", "Watcher", "OWN_OUTPUT_MARK"]

log = logging.getLogger(__name__)

#: Every file the daemon writes has this in its name (sidecars, previews), so it never re-reads them.
OWN_OUTPUT_MARK = ".nanoaid."
_TEMP_PATTERNS = ("*.part", "*.tmp", "~$*", "*.crdownload", "*.partial")


@dataclass(frozen=True)
class Candidate:
    """A path that may hold a new frame. ``renamed`` marks a rename-into-place (already complete)."""

    path: Path
    source: str  # "event", "rename", "reconcile", "resume"
    renamed: bool = False


class FileFilter:
    """Decides which names are frames: include/exclude globs, never hidden, temp or own files."""

    def __init__(self, root: Path, settings: WatchSettings, *, skip_dirs: tuple[Path | None, ...] = ()):
        self.root = Path(root).absolute()
        self.include = [p.lower() for p in settings.include]
        self.exclude = [p.lower() for p in settings.exclude]
        self.skip_dirs = tuple(Path(d).absolute() for d in skip_dirs if d is not None)

    def wanted_dir(self, path: Path) -> bool:
        path = Path(path).absolute()
        if path.name.startswith("."):
            return False
        return not any(path == d or d in path.parents for d in self.skip_dirs)

    def wanted(self, path: Path) -> bool:
        path = Path(path).absolute()
        name = path.name
        lower = name.lower()
        if name.startswith(".") or is_temp_name(name) or OWN_OUTPUT_MARK in lower:
            return False
        if any(fnmatch.fnmatchcase(lower, pat) for pat in _TEMP_PATTERNS):
            return False
        if not any(fnmatch.fnmatchcase(lower, pat) for pat in self.include):
            return False
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return False
        if any(part.startswith(".") for part in rel.parts[:-1]):
            return False
        rel_lower = rel.as_posix().lower()
        if any(fnmatch.fnmatchcase(lower, pat) or fnmatch.fnmatchcase(rel_lower, pat) for pat in self.exclude):
            return False
        return not any(d in path.parents for d in self.skip_dirs)


def scan_tree(root: Path, file_filter: FileFilter, *, recursive: bool = True) -> Iterator[Path]:
    """Every wanted file below ``root``; unreadable folders are logged and skipped, links not followed."""
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            log.warning("cannot scan %s: %s", folder, exc.strerror or exc)
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if recursive and file_filter.wanted_dir(path):
                    stack.append(path)
            elif file_filter.wanted(path):
                yield path


class _Handler:
    """watchdog handler that only enqueues; it must never block the observer thread."""

    def __init__(self, sink: Callable[[Candidate], None], file_filter: FileFilter):
        self._sink = sink
        self._filter = file_filter

    def dispatch(self, event) -> None:
        if event.is_directory:
            return
        kind = event.event_type
        if kind == "moved":
            dest = Path(os.fsdecode(event.dest_path))
            if self._filter.wanted(dest):
                self._sink(Candidate(dest, "rename", renamed=True))
        elif kind in ("created", "modified", "closed"):
            path = Path(os.fsdecode(event.src_path))
            if self._filter.wanted(path):
                self._sink(Candidate(path, "event"))


class Watcher:
    """Owns the watchdog observer; ``observer="none"`` leaves discovery to reconcile scans alone."""

    def __init__(self, root: Path, settings: WatchSettings, sink: Callable[[Candidate], None],
                 file_filter: FileFilter):
        self.root = Path(root)
        self.settings = settings
        self._sink = sink
        self._filter = file_filter
        self._observer = None
        self._identity: tuple[int, int] | None = None
        self._missing_logged = False

    def _root_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.root)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _emitting(self) -> bool:
        """False once the observer's emitter stopped (its folder was deleted; the inode may be reused)."""
        observer = self._observer
        if observer is None:
            return True  # never had a native watch (or it could not start): nothing to re-arm
        emitters = list(getattr(observer, "emitters", ()))
        return bool(emitters) and all(e.is_alive() for e in emitters)

    def rearm_if_needed(self) -> bool:
        """Re-arm the native watch when the watch folder was removed and created again.

        A deleted folder takes its inotify watch with it; without this every frame would wait
        for the next reconcile scan. Returns True when the watch was re-armed (and logged).
        """
        if self.settings.observer == "none":
            return False
        now = self._root_identity()
        if now is None:
            if not self._missing_logged:
                log.warning("watch folder %s is gone; waiting for it to come back", self.root)
                self._missing_logged = True
            return False
        if now == self._identity and self._emitting():
            return False
        self.stop()
        kind = self.start()
        log.warning("watch folder %s was re-created; watch re-armed (observer: %s)", self.root, kind)
        self._missing_logged = False
        return True

    def start(self) -> str:
        """Start observing; returns the observer kind actually used."""
        kind = self.settings.observer
        self._identity = self._root_identity()
        if kind == "none":
            return "none"
        observer = self._make_observer(kind)
        handler = _Handler(self._sink, self._filter)
        try:
            observer.schedule(handler, str(self.root), recursive=self.settings.recursive)
            observer.start()
        except OSError as exc:
            hint = ""
            if getattr(exc, "errno", None) in (24, 28):  # EMFILE / ENOSPC: inotify limits
                hint = " (inotify watch limit reached: raise fs.inotify.max_user_watches or use observer='polling')"
            log.warning("file-system events unavailable for %s: %s%s; relying on reconcile scans",
                        self.root, exc, hint)
            return "none"
        self._observer = observer
        return type(observer).__name__

    def _make_observer(self, kind: str):
        if kind == "polling":
            from watchdog.observers.polling import PollingObserver

            return PollingObserver(timeout=self.settings.polling_interval_s)
        from watchdog.observers import Observer

        return Observer()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


def drain(q: queue.Queue[Candidate]) -> list[Candidate]:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items
