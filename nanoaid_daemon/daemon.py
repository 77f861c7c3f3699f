"""The daemon: watcher → settle → journal → pipeline → sidecar → journal event → bus.

Threads: the watchdog observer (enqueues only), one settle thread, one reconcile thread, a bounded
pool of workers (the CPU budget), and the bus's own threads. Every daemon thread runs under a
:class:`~.supervise.Supervisor` (no silent death; a transient full disk makes intake wait). The
journal is the single source of truth: at start it is replayed and unfinished files are resumed
before READY is reported. One daemon per state folder (an exclusive lock); the per-frame work
and its commit live in :mod:`.frames` and :mod:`.commit`.
"""
from __future__ import annotations

import heapq
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import sweep_temp_files
from .commit import Committer, is_transient, retry_delay
from .config import Settings
from .errors import ConfigError, NanoaidError, ReaderError
from .events import Event
from .frames import carried, known_action, move_orphan, read_sidecar
from .hashing import sha256_file
from .host import PluginHost
from .journal import FrameRecord, Journal
from .lockfile import StateLock, check_folders
from .paths import shown
from .pipeline import Pipeline, summary_of
from .sdnotify import Notifier
from .settle import Settled, Settler
from .states import FileState, Outcome
from .supervise import HEALTH_NAME, DaemonHealth, Supervisor
from .watcher import Candidate, FileFilter, Watcher, scan_tree

__all__ = ["Daemon", "JOURNAL_NAME"]

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.sqlite3"
_STOP_GRACE_S = 8.0
#: Sources whose file is worked on even though the journal marks its version final or failed.
_FORCED = ("resume", "retry", "sidecar")


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
        check_folders(self.root, self.state_dir, settings.output.root)
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
        self._retries: list[tuple[float, str]] = []  # (due, path) heap, driven by the settle thread
        self.fatal: str | None = None
        self.supervisor = Supervisor(self._stop, on_fatal=self._on_fatal)
        self._state_lock: StateLock | None = None
        self.journal: Journal | None = None
        self.committer: Committer | None = None
        self.bus = None
        self.runtime = None
        self.adaptation: Any = None
        self.pipeline: Pipeline | None = None
        self.watcher: Watcher | None = None
        self.observer_kind = "none"

    @property
    def _threads(self) -> list[threading.Thread]:
        return self.supervisor.threads

    # Typed views of what start() sets up; the threads that use them only run after it.
    @property
    def _journal(self) -> Journal:
        if self.journal is None:
            raise RuntimeError("the daemon is not started")
        return self.journal

    @property
    def _commit(self) -> Committer:
        if self.committer is None:
            raise RuntimeError("the daemon is not started")
        return self.committer

    @property
    def _pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise RuntimeError("the daemon is not started")
        return self.pipeline

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Lock the state folder, open the journal, bind the bus, resume, start threads, report READY."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._state_lock = StateLock.acquire(self.state_dir)
        try:
            self.journal = Journal(self.state_dir / JOURNAL_NAME, check=True)
            self.committer = Committer(self.journal, self._notify_bus)
            self.bus = self._bus_factory(self.settings, self.journal, self.state_dir) if self._bus_factory else None
            if self.bus is not None:
                self.bus.start()
            self._load_plugins()
            self._start_adaptation()
            self._sweep_temp_files()
            self._emit_waiting(Event(type="daemon.started"))
            resumed = self._resume()
            self.settler = Settler(self.settings.settle, ready=self._on_settled, reject=self._on_settle_reject,
                                   gone=self._on_gone, clock=self._clock)
            self._start_threads()
        except BaseException:
            self._teardown()
            raise
        log.info("watching %s (observer: %s, workers: %d, resumed: %d)", self.root, self.observer_kind,
                 self.settings.pipeline.workers(), resumed)
        self.write_health()
        self.notifier.ready(f"watching {self.root}")

    def _load_plugins(self) -> None:
        self.runtime = self._runtime_factory(self.settings) if self._runtime_factory is not None else None
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
                log.info("removed temp file left by an interrupted write: %s", shown(path))

    def _resume(self) -> int:
        pending = self._journal.pending()
        for path in pending:
            self._enqueue(Candidate(Path(path), "resume"))
        return len(pending)

    def _start_threads(self) -> None:
        skip = (self.state_dir,) + ((Path(self.settings.output.root),) if self.settings.output.root else ())
        filt = FileFilter(self.root, self.settings.watch, skip_dirs=skip)
        self._filter = filt
        self.watcher = Watcher(self.root, self.settings.watch, self._enqueue, filt)
        self.observer_kind = self.watcher.start()
        self.supervisor.spawn("settle", self._settle_loop)
        self.supervisor.spawn("reconcile", self._reconcile_loop)
        for i in range(self.settings.pipeline.workers()):
            # A worker still busy when the stop grace runs out must not hold the process open: its
            # frame is not committed, so it is resumed from the journal at the next start.
            self.supervisor.spawn(f"worker-{i}", self._worker_loop, daemon=True)

    def _on_fatal(self, reason: str) -> None:
        self.fatal = reason
        self._stop.set()

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def reconcile_now(self) -> None:
        self._reconcile_now.set()

    def health(self) -> DaemonHealth:
        """Every supervised thread's state, restarts and last error (also in ``STATE/health.json``)."""
        return self.supervisor.health(stopped=self._stop.is_set() and self.fatal is None)

    def write_health(self) -> None:
        from .atomic import atomic_write_text

        try:
            atomic_write_text(self.state_dir / HEALTH_NAME, self.health().to_json())
        except OSError:  # a full state disk: the threads already say so; status shows the last good copy
            pass

    def serve_forever(self) -> None:
        """Main loop: watchdog pings while healthy, reloads, until a stop is requested (e.g. by SIGTERM)."""
        interval = self.notifier.watchdog_interval_s or 1.0
        while not self._stop.wait(min(interval, 1.0)):
            self.write_health()
            self.notifier.watchdog()
            if self._reload.is_set():
                self._reload.clear()
                self._do_reload()
        if self.fatal:
            self.write_health()

    def stop(self) -> None:
        """Clean stop within ~10 s: finish frames in hand, journal daemon.stopping, close.

        Nothing here may keep the process alive: a full disk that refuses the last event still
        lets the bus stop and ``endpoints.json`` go.
        """
        self.notifier.stopping()
        self._stop.set()
        self._reconcile_now.set()
        try:
            if self.watcher:
                self.watcher.stop()
            deadline = time.monotonic() + _STOP_GRACE_S
            for thread in self._threads:
                thread.join(max(0.1, deadline - time.monotonic()))
            stuck = [t.name for t in self._threads if t.is_alive()]
            if stuck:
                log.warning("threads still busy at shutdown (their frames resume at next start): %s", stuck)
            if self.journal is not None:
                try:
                    self._emit(Event(type="daemon.stopping"))
                except Exception as exc:  # full disk, damaged journal: stop anyway
                    log.warning("could not journal daemon.stopping: %s", exc)
            if self.fatal is None:
                self.write_health()
        finally:
            self._teardown(in_use=any(t.is_alive() for t in self._threads))

    def _teardown(self, *, in_use: bool = False) -> None:
        """Release sockets, sessions, the journal and the lock; ``in_use``: a worker may still touch some."""
        try:
            if self.adaptation is not None:
                adaptation, self.adaptation = self.adaptation, None
                adaptation.stop()
            if self.bus is not None:
                bus, self.bus = self.bus, None
                bus.stop()
        finally:
            if not in_use:  # process exit releases them; closing under a running worker helps nobody
                if self.runtime is not None and hasattr(self.runtime, "close"):
                    self.runtime.close()
                    self.runtime = None
                if self.journal is not None:
                    self._journal.close()
                    self.journal = None
            if self._state_lock is not None:
                self._state_lock.release()
                self._state_lock = None

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

    def _schedule_retry(self, path: Path, delay: float) -> None:
        with self._lock:
            heapq.heappush(self._retries, (time.monotonic() + delay, str(path)))

    def _due_retries(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = []
            while self._retries and self._retries[0][0] <= now:
                due.append(heapq.heappop(self._retries)[1])
        for path in due:
            self._enqueue(Candidate(Path(path), "retry"))

    def _settle_loop(self) -> None:
        poll = self.settings.settle.poll_s
        next_rearm_check = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_rearm_check:  # a watch folder deleted and created again
                next_rearm_check = time.monotonic() + 1.0
                if self.watcher is not None and self.watcher.rearm_if_needed():
                    self._reconcile_now.set()
            self._due_retries()
            self._absorb_candidates()
            self.settler.tick()
            self.supervisor.note("settle", "running")
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
                todo = self._journal.needs_work(path, st.st_size, st.st_mtime_ns, failed=False)
            except FileNotFoundError:
                continue
            except OSError:  # symlink loops and the like: settle reports them once
                rec = self._journal.file(path)
                todo = rec is None or rec.state not in (FileState.REJECTED,)
            if todo:
                found += 1
                self._enqueue(Candidate(path, "reconcile"))
        return found + self._check_sidecars()

    def _check_sidecars(self) -> int:
        """Processed frames whose sidecar is missing get it back; sidecars of vanished frames move aside."""
        found = 0
        for rec in self._journal.processed_frames():
            if self._stop.is_set() or self.pipeline is None:
                break
            path = Path(rec.path)
            sidecar = Path(rec.sidecar_path) if rec.sidecar_path else self.pipeline.sidecar_path_for(path)
            frame_there, sidecar_there = os.path.lexists(path), os.path.lexists(sidecar)
            if frame_there and not sidecar_there and self._filter.wanted(path):
                found += 1
                self._enqueue(Candidate(path, "sidecar"))
            elif not frame_there and sidecar_there:
                move_orphan(sidecar, self.state_dir, rec.frame_id)
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
        self._commit.rejected(path, code, reason, size=st.st_size if st else None,
                                mtime_ns=st.st_mtime_ns if st else None)
        self._release(path)

    def _on_gone(self, path: Path) -> None:
        self._gone(path)
        self._release(path)

    def _gone(self, path: Path) -> Outcome:
        """A file vanished before it was done; a sidecar written for it meanwhile must not stay behind."""
        outcome = self._commit.gone(path)
        sidecar = self._pipeline.sidecar_path_for(path)
        if os.path.lexists(sidecar) and not os.path.lexists(path):
            move_orphan(sidecar, self.state_dir)
        return outcome

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
            result: str = Outcome.FAILED
            try:
                result = self.process_settled(item)
                self.supervisor.note("", "running")
            except Exception as exc:  # never lose a frame: record it and retry with backoff
                result = self._worker_failed(item, exc)
            finally:
                self._release(item.path)
            if result in (Outcome.DEFERRED, Outcome.CHANGED):
                self._enqueue(Candidate(item.path, str(result)))

    def _worker_failed(self, item: Settled, exc: Exception) -> Outcome:
        """An error outside the pipeline's own handling (journal on a full disk, say): retry later."""
        transient = is_transient(exc)
        if not transient:
            log.exception("unexpected error processing %s", shown(item.path))
        self.supervisor.note("", "waiting" if transient else "running", f"{type(exc).__name__}: {exc}")
        attempts = 1
        try:
            failure = self._commit.failed(item.path, f"{type(exc).__name__}: {exc}", size=item.size,
                                            mtime_ns=item.mtime_ns, frame_id=None, transient=transient)
            attempts = failure.attempts
            if failure.quarantined:
                return Outcome.FAILED
        except Exception as again:  # the journal itself cannot take it: the retry stays in memory
            log.warning("cannot journal the failure of %s: %s", shown(item.path), again)
        self._schedule_retry(item.path, retry_delay(attempts))
        return Outcome.WAITING if transient else Outcome.FAILED

    def process_settled(self, item: Settled) -> str:
        """Process one settled file; returns what happened (an :class:`Outcome`, for logs and tests)."""
        path, journal = item.path, self._journal
        if not journal.needs_work(path, item.size, item.mtime_ns, force=item.source in _FORCED):
            return Outcome.SKIPPED
        journal.note(path, FileState.SETTLED, size=item.size, mtime_ns=item.mtime_ns)
        try:
            frame_id, size = sha256_file(path)
        except FileNotFoundError:
            return self._gone(path)
        except OSError as exc:
            if is_transient(exc):
                raise
            return self._commit.rejected(path, "unreadable", f"cannot read: {exc.strerror or exc}",
                                           size=item.size, mtime_ns=item.mtime_ns)
        with self._lock:
            busy = frame_id in self._frames_in_flight
            if not busy:
                self._frames_in_flight.add(frame_id)
        if busy:  # the same content is being processed under another name right now: settle again
            return Outcome.DEFERRED
        try:
            return self._process_frame(item, frame_id, size)
        finally:
            with self._lock:
                self._frames_in_flight.discard(frame_id)

    def _process_frame(self, item: Settled, frame_id: str, size: int) -> str:
        path, pipeline = item.path, self._pipeline
        known = self._journal.frame(frame_id)
        action = Outcome.PROCESSED
        if known is not None and known.state == FileState.PROCESSED:
            action = known_action(self._journal, known, path, pipeline.sidecar_path_for(path))
            if action in (Outcome.KNOWN, Outcome.DUPLICATE):
                return self._commit.known(path, size=size, mtime_ns=item.mtime_ns, frame_id=frame_id)
        try:
            read = pipeline.read(path)
        except ReaderError as exc:
            return self._commit.rejected(path, exc.code, str(exc), size=size, mtime_ns=item.mtime_ns)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return self._gone(path)
        if (st.st_size, st.st_mtime_ns) != (item.size, item.mtime_ns):
            return Outcome.CHANGED  # rewritten while we read it: settle again
        try:
            outcome = pipeline.analyze(read, frame_id=frame_id, size_bytes=size)
            outcome.sidecar = carried(outcome.sidecar, prior=read_sidecar(outcome.sidecar_path), record=known,
                                      journal=self._journal)
            pipeline.write(outcome)
        except Exception as exc:
            transient = is_transient(exc)
            failure = self._commit.failed(path, f"{type(exc).__name__}: {exc}", size=size, mtime_ns=item.mtime_ns,
                                            frame_id=frame_id, transient=transient)
            if not failure.quarantined:
                self._schedule_retry(path, retry_delay(failure.attempts))
            return Outcome.WAITING if transient else Outcome.FAILED
        if known is not None and known.state == FileState.PROCESSED:
            return self._relocated(item, known, outcome.sidecar_path, outcome.sidecar.version, size)
        result = self._commit.processed(path, size=size, mtime_ns=item.mtime_ns, frame_id=frame_id,
                                          sidecar_path=outcome.sidecar_path, summary=summary_of(outcome.sidecar),
                                          sidecar_version=outcome.sidecar.version)
        log.info("%s → %s (%s)", shown(path.name), outcome.sidecar.classification.label
                 if outcome.sidecar.classification else "no label", outcome.sidecar.status)
        return result

    def _relocated(self, item: Settled, known: FrameRecord, sidecar_path: Path, version: int, size: int) -> str:
        """Known content re-described (sidecar re-written) or followed to its new name (rename)."""
        moved = known.path != str(item.path)
        self._journal.relocate(item.path, size=size, mtime_ns=item.mtime_ns, frame_id=known.frame_id,
                              sidecar_path=str(sidecar_path), sidecar_version=version,
                              old_path=known.path if moved else None)
        old_sidecar = Path(known.sidecar_path) if known.sidecar_path else None
        if moved and old_sidecar is not None and old_sidecar != sidecar_path and not os.path.lexists(known.path):
            try:
                old_sidecar.unlink()
            except FileNotFoundError:
                pass
        log.info("%s: sidecar %s (frame %s…)", shown(item.path), "follows the renamed frame" if moved else "re-written",
                 known.frame_id[:12])
        return Outcome.MOVED if moved else Outcome.PROCESSED

    # -- events --------------------------------------------------------------------------------
    def _emit_waiting(self, event: Event) -> None:
        """Journal an event, waiting (stop-aware) while the state disk is full or read-only."""
        delay = 0.5
        while True:
            try:
                self._emit(event)
                return
            except Exception as exc:
                if not is_transient(exc) or self._stop.is_set():
                    raise
                log.warning("waiting to journal %s: %s", event.type, exc)
                self._stop.wait(delay)
                delay = min(30.0, delay * 2)

    def _emit(self, event: Event) -> Event:
        event = self._journal.append_event(event)
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
