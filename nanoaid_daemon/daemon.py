"""The daemon: watcher → settle → journal → pipeline → sidecar → journal event → bus.

Threads: the watchdog observer (enqueues only), one settle thread, one reconcile thread, a bounded
pool of workers (the CPU budget), and the bus's own threads. The journal is the single source of
truth: at start it is replayed and unfinished files are resumed before READY is reported.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import sweep_temp_files
from .config import Settings
from .errors import ConfigError, NanoaidError, ReaderError
from .events import Event, Summary
from .hashing import sha256_file
from .host import PluginHost
from .journal import Journal
from .pipeline import Pipeline, summary_of
from .sdnotify import Notifier
from .settle import Settled, Settler
from .watcher import Candidate, FileFilter, Watcher, scan_tree

__all__ = ["Daemon", "JOURNAL_NAME"]

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.sqlite3"
_STOP_GRACE_S = 8.0


def _default_bus_factory(settings: Settings, journal: Journal, state_dir: Path):
    from .bus import Bus

    return Bus(settings, journal, state_dir)


def _default_runtime_factory(settings: Settings):
    """Kept for callers of the old private name; :func:`inference.load_runtime` is the public one."""
    from .inference import load_runtime

    return load_runtime(settings)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        bus_factory: Callable[..., Any] | None = _default_bus_factory,
        runtime_factory: Callable[[Settings], Any] = _default_runtime_factory,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
        reload_settings: Callable[[], Settings] | None = None,
    ):
        if settings.watch.root is None:
            raise ConfigError("no watch folder: pass --watch DIR or set watch.root in the config file")
        self.settings = settings
        self.root = Path(settings.watch.root).absolute()
        if not self.root.is_dir():
            raise ConfigError(f"watch folder {self.root} does not exist or is not a folder")
        self.state_dir = Path(settings.state_dir).absolute()
        self._bus_factory = bus_factory
        self._runtime_factory = runtime_factory
        self.notifier = notifier or Notifier()
        self._clock = clock
        self._reload_settings = reload_settings
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._reconcile_now = threading.Event()
        self._candidates: queue.SimpleQueue[Candidate] = queue.SimpleQueue()
        self._work: queue.Queue[Settled] = queue.Queue(maxsize=settings.pipeline.queue_size)
        self._lock = threading.Lock()
        self._in_flight: set[Path] = set()
        self._frames_in_flight: set[str] = set()
        self._threads: list[threading.Thread] = []
        self.journal: Journal | None = None
        self.bus = None
        self.runtime = None
        self.adaptation: Any = None
        self.pipeline: Pipeline | None = None
        self.watcher: Watcher | None = None
        self.observer_kind = "none"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open the journal, bind the bus, resume unfinished work, start threads, report READY."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.state_dir / JOURNAL_NAME)
        try:
            self.bus = self._bus_factory(self.settings, self.journal, self.state_dir) if self._bus_factory else None
            if self.bus is not None:
                self.bus.start()
            self._load_plugins()
            self._start_adaptation()
            self._sweep_temp_files()
            self._emit(Event(type="daemon.started"))
            resumed = self._resume()
            self.settler = Settler(self.settings.settle, ready=self._on_settled, reject=self._on_settle_reject,
                                   gone=self._on_gone, clock=self._clock)
            self._start_threads()
        except BaseException:
            self._teardown()
            raise
        log.info("watching %s (observer: %s, workers: %d, resumed: %d)", self.root, self.observer_kind,
                 self.settings.pipeline.workers(), resumed)
        self.notifier.ready(f"watching {self.root}")

    def _load_plugins(self) -> None:
        self.runtime = self._runtime_factory(self.settings) if self._runtime_factory else None
        host = PluginHost.load(self.settings, runtime=self.runtime)
        if not host.readers:
            raise ConfigError("no reader plugin is available; see `nanoaid plugins list`")
        self.pipeline = Pipeline(self.settings, host, root=self.root)

    def _start_adaptation(self) -> None:
        """Serve the adapted classifier in the state folder, and re-fit it from corrections."""
        if not self.settings.adaptation.enabled or self.runtime is None or self.pipeline is None:
            return
        from .adaptation.service import AdaptationService

        host = self.pipeline.host
        self.adaptation = AdaptationService(self.settings, self.journal, self.runtime, state_dir=self.state_dir,
                                            read_pixels=lambda path: host.read(path).primary.pixels, emit=self._emit)
        self.adaptation.start()

    def _sweep_temp_files(self) -> None:
        roots = {self.root}
        if self.settings.output.root is not None:
            roots.add(Path(self.settings.output.root).absolute())
        for root in roots:
            for path in sweep_temp_files(root):
                log.info("removed temp file left by an interrupted write: %s", path)

    def _resume(self) -> int:
        pending = self.journal.pending()
        for path in pending:
            self._enqueue(Candidate(Path(path), "resume"))
        return len(pending)

    def _start_threads(self) -> None:
        filt = FileFilter(self.root, self.settings.watch, skip_dirs=(self.state_dir, self.settings.output.root))
        self._filter = filt
        self.watcher = Watcher(self.root, self.settings.watch, self._enqueue, filt)
        self.observer_kind = self.watcher.start()
        self._spawn("settle", self._settle_loop)
        self._spawn("reconcile", self._reconcile_loop)
        for i in range(self.settings.pipeline.workers()):
            # A worker still busy when the stop grace runs out must not hold the process open: its
            # frame is not committed, so it is resumed from the journal at the next start.
            self._spawn(f"worker-{i}", self._worker_loop, daemon=True)

    def _spawn(self, name: str, target: Callable[[], None], *, daemon: bool = False) -> None:
        thread = threading.Thread(target=target, name=f"nanoaid-{name}", daemon=daemon)
        thread.start()
        self._threads.append(thread)

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def reconcile_now(self) -> None:
        self._reconcile_now.set()

    def serve_forever(self) -> None:
        """Main loop: watchdog pings, reloads, until a stop is requested (e.g. by SIGTERM)."""
        interval = self.notifier.watchdog_interval_s or 1.0
        while not self._stop.wait(min(interval, 1.0)):
            self.notifier.watchdog()
            if self._reload.is_set():
                self._reload.clear()
                self._do_reload()

    def stop(self) -> None:
        """Clean stop within ~10 s: finish frames in hand, journal daemon.stopping, close."""
        self.notifier.stopping()
        self._stop.set()
        self._reconcile_now.set()
        if self.watcher:
            self.watcher.stop()
        deadline = time.monotonic() + _STOP_GRACE_S
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("threads still busy at shutdown (their frames resume at next start): %s", stuck)
        self._threads = [t for t in self._threads if t.is_alive()]
        if self.journal is not None:
            self._emit(Event(type="daemon.stopping"))
        self._teardown(in_use=bool(self._threads))

    def _teardown(self, *, in_use: bool = False) -> None:
        """Release sockets, sessions and the journal; ``in_use``: a worker may still touch the last two."""
        if self.adaptation is not None:
            self.adaptation.stop()
            self.adaptation = None
        if self.bus is not None:
            self.bus.stop()
            self.bus = None
        if in_use:  # process exit releases them; closing under a running worker helps nobody
            return
        if self.runtime is not None and hasattr(self.runtime, "close"):
            self.runtime.close()
            self.runtime = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def _do_reload(self) -> None:
        """SIGHUP: re-read the configuration and reload plugins; watch and state folders stay."""
        if self._reload_settings is None:
            log.warning("reload requested but this daemon has no configuration source to re-read")
            return
        self.notifier.reloading()
        try:
            fresh = self._reload_settings()
            fresh.watch.root, fresh.state_dir = self.settings.watch.root, self.settings.state_dir
            self.settings = fresh
            if self.adaptation is not None:
                self.adaptation.stop()
            self._load_plugins()
            self._start_adaptation()
            log.info("configuration and plugins reloaded")
        except NanoaidError as exc:
            log.error("reload failed, keeping the previous configuration: %s", exc)
        self.notifier.ready("reloaded")

    # -- discovery -----------------------------------------------------------------------------
    def _enqueue(self, candidate: Candidate) -> None:
        self._candidates.put(candidate)

    def _settle_loop(self) -> None:
        poll = self.settings.settle.poll_s
        while not self._stop.is_set():
            self._absorb_candidates()
            self.settler.tick()
            self._stop.wait(poll)

    def _absorb_candidates(self) -> None:
        while True:
            try:
                cand = self._candidates.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                if cand.path in self._in_flight and not cand.renamed:
                    continue
                self._in_flight.add(cand.path)
            self.settler.add(cand)

    def _reconcile_loop(self) -> None:
        self.reconcile()  # once at start
        while not self._stop.is_set():
            self._reconcile_now.wait(self.settings.watch.reconcile_interval_s)
            self._reconcile_now.clear()
            if not self._stop.is_set():
                self.reconcile()

    def reconcile(self) -> int:
        """Compare the tree with the journal; enqueue everything not yet handled. Returns that count."""
        found = 0
        for path in scan_tree(self.root, self._filter, recursive=self.settings.watch.recursive):
            if self._stop.is_set():
                break
            with self._lock:
                if path in self._in_flight:
                    continue
            try:
                st = os.stat(path)
                todo = self.journal.needs_work(path, st.st_size, st.st_mtime_ns)
            except FileNotFoundError:
                continue
            except OSError:  # symlink loops and the like: settle reports them once
                rec = self.journal.file(path)
                todo = rec is None or rec.state not in ("rejected",)
            if todo:
                found += 1
                self._enqueue(Candidate(path, "reconcile"))
        return found

    # -- settle callbacks (settle thread) ---------------------------------------------------
    def _on_settled(self, item: Settled) -> None:
        while not self._stop.is_set():
            try:
                self._work.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        self._release(item.path)

    def _on_settle_reject(self, path: Path, code: str, reason: str, st) -> None:
        self._reject(path, code, reason, st.st_size if st else None, st.st_mtime_ns if st else None)
        self._release(path)

    def _on_gone(self, path: Path) -> None:
        self.journal.forget(path)
        self._release(path)

    def _release(self, path: Path) -> None:
        with self._lock:
            self._in_flight.discard(path)

    # -- work (worker threads) -------------------------------------------------------------------
    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._work.get(timeout=0.2)
            except queue.Empty:
                continue
            result = "error"
            try:
                result = self.process_settled(item)
            except Exception:  # never lose a worker; the file is resumed from the journal later
                log.exception("unexpected error processing %s", item.path)
            finally:
                self._release(item.path)
            if result in ("deferred", "changed"):
                self._enqueue(Candidate(item.path, result))

    def process_settled(self, item: Settled) -> str:
        """Process one settled file; returns what happened (for logs and tests)."""
        path, journal = item.path, self.journal
        if not journal.needs_work(path, item.size, item.mtime_ns):
            return "skipped"
        journal.note(path, "settled", size=item.size, mtime_ns=item.mtime_ns)
        try:
            frame_id, size = sha256_file(path)
        except FileNotFoundError:
            journal.forget(path)
            return "gone"
        except OSError as exc:
            self._reject(path, "unreadable", f"cannot read: {exc.strerror or exc}", item.size, item.mtime_ns)
            return "rejected"
        with self._lock:
            busy = frame_id in self._frames_in_flight
            if not busy:
                self._frames_in_flight.add(frame_id)
        if busy:  # the same content is being processed under another name right now: settle again
            return "deferred"
        try:
            return self._process_frame(item, frame_id, size)
        finally:
            with self._lock:
                self._frames_in_flight.discard(frame_id)

    def _process_frame(self, item: Settled, frame_id: str, size: int) -> str:
        path, journal = item.path, self.journal
        known = journal.frame(frame_id)
        if known is not None and known.state == "processed":
            return journal.record_known(path, size=size, mtime_ns=item.mtime_ns, frame_id=frame_id)
        pipeline = self.pipeline
        try:
            read = pipeline.read(path)
        except ReaderError as exc:
            self._reject(path, exc.code, str(exc), size, item.mtime_ns)
            return "rejected"
        try:
            st = os.stat(path)
        except FileNotFoundError:
            journal.forget(path)
            return "gone"
        if (st.st_size, st.st_mtime_ns) != (item.size, item.mtime_ns):
            return "changed"  # rewritten while we read it: settle again
        try:
            outcome = pipeline.analyze(read, frame_id=frame_id, size_bytes=size)
            pipeline.write(outcome)
        except Exception as exc:
            log.error("%s: processing failed: %s", path, exc)
            event = Event(type="frame.failed", frame_id=frame_id, frame_path=str(path),
                          summary=Summary(reason=f"{type(exc).__name__}: {exc}"))
            journal.fail(path, size=size, mtime_ns=item.mtime_ns, frame_id=frame_id, reason=str(exc), event=event)
            self._notify_bus()
            return "failed"
        event = Event(type="frame.processed", frame_id=frame_id, frame_path=str(path),
                      sidecar_path=str(outcome.sidecar_path), summary=summary_of(outcome.sidecar))
        journal.complete(path, size=size, mtime_ns=item.mtime_ns, frame_id=frame_id,
                         sidecar_path=str(outcome.sidecar_path), event=event)
        self._notify_bus()
        log.info("%s → %s (%s)", path.name, event.summary.label or "no label", outcome.sidecar.status)
        return "processed"

    # -- events --------------------------------------------------------------------------------
    def _reject(self, path: Path, code: str, reason: str, size: int | None, mtime_ns: int | None) -> None:
        log.warning("rejected %s: %s", path, reason)
        event = Event(type="frame.rejected", frame_path=str(path), summary=Summary(reason=f"{code}: {reason}"))
        self.journal.reject(path, size=size, mtime_ns=mtime_ns, code=code, reason=reason, event=event)
        self._notify_bus()

    def _emit(self, event: Event) -> Event:
        event = self.journal.append_event(event)
        self._notify_bus()
        return event

    def _notify_bus(self) -> None:
        if self.bus is not None:
            self.bus.notify()

    # -- introspection -----------------------------------------------------------------------
    def idle(self) -> bool:
        """Nothing queued, settling or being processed (used by the demo and tests)."""
        with self._lock:
            busy = bool(self._in_flight)
        return not busy and self._candidates.empty() and self._work.empty() and len(self.settler) == 0
