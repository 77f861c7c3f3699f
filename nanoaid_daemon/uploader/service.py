"""The uploader service: take events durably, upload each frame once, keep going through outages.

Two threads. The intake thread follows the event source from the last durably accepted seq and
commits each event to the progress database; it never waits on the repository, so events keep
being accepted while the repository is down. The main thread uploads the oldest pending frame,
verifies it, commits, indexes it in the catalogue, and on a repository error waits (capped
exponential backoff) and tries the same frame again. A broken bundle (files missing, changed or
invalid) is set aside as failed, with its reason, and the queue moves on.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SinkError
from ..plugins import Sink
from .backoff import Backoff
from .bundle import Bundle, BundleError, Receipt, assemble_bundle
from .crates import CrateSettings, build_crate, session_of
from .progress import Progress, QueueItem
from .source import SourceFactory

__all__ = ["PROGRESS_FILE", "CATALOGUE_FILE", "Uploader"]

log = logging.getLogger(__name__)

PROGRESS_FILE = "progress.sqlite3"
CATALOGUE_FILE = "catalogue.sqlite3"

class Uploader:
    def __init__(self, state_dir: Path, sink: Sink, *, sink_name: str = "", backoff: Backoff | None = None,
                 catalogue: bool = True, after_put: Callable[[int, str | None], None] | None = None,
                 clock: Callable[[], float] = time.time, crates: CrateSettings | None = None):
        """``after_put(seq, frame_id)`` runs between a repository write and its record: the one
        moment a crash must not lose or repeat anything, so crash tests stop the process there
        (see :mod:`nanoaid_daemon.testing`). Production passes nothing."""
        self.state_dir = Path(state_dir)
        self.sink = sink
        self.sink_name = sink_name or getattr(sink, "name", type(sink).__name__)
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.progress = Progress(self.state_dir / PROGRESS_FILE, clock=clock)
        self.catalogue = None
        if catalogue:
            from .catalogue import Catalogue

            self.catalogue = Catalogue(self.state_dir / CATALOGUE_FILE)
        self._after_put = after_put
        self.crates = crates  # None: frames only, as before
        self.wake = threading.Event()
        self.progress.set_meta(sink=sink.describe())

    def close(self) -> None:
        self.progress.close()
        if self.catalogue is not None:
            self.catalogue.close()
        self.sink.close()

    # -- one step -----------------------------------------------------------------------------
    def check_sink(self) -> str | None:
        """Ask the sink whether it is reachable now; the error text, or None when it is."""
        try:
            self.sink.check()
        except SinkError as exc:
            log.warning("repository not ready: %s", exc)
            self.progress.note_error(str(exc))
            return str(exc)
        return None

    def step(self) -> float | None:
        """Upload the oldest pending frame: None when there was none, else seconds to wait before the next."""
        item = self.progress.next_pending()
        if item is None:
            return self._crate_step() if self.crates is not None else None
        try:
            bundle = self._bundle(item)
            receipt = self.sink.put(bundle)
        except BundleError as exc:
            log.error("frame of event seq %d set aside: %s", item.seq, exc)
            self.progress.mark_failed(item, str(exc))
            return 0.0
        except SinkError as exc:
            return self._retry_later(item, str(exc))
        except Exception as exc:  # a sink plugin bug must not stop the service or lose the frame
            log.exception("sink %s raised unexpectedly on seq %d", self.sink_name, item.seq)
            return self._retry_later(item, f"sink {self.sink_name!r} raised {type(exc).__name__}: {exc}")
        if self._after_put is not None:
            self._after_put(item.seq, item.frame_id)
        crate = session_of(bundle.sidecar_path, self.crates.watch_root) if self.crates is not None else None
        self.progress.mark_done(item, receipt, bundle.sidecar_file.sha256, crate=crate)
        self.backoff.success()
        self._index(bundle, receipt)
        return 0.0

    def _crate_step(self) -> float | None:
        """Store the crate of one session that grew; None when every crate is up to date."""
        assert self.crates is not None
        todo = self.progress.next_crate()
        if todo is None:
            return None
        session, folder = todo
        try:
            build = build_crate(session, Path(folder), self.crates, self.state_dir / "crates-work")
        except BundleError as exc:
            log.error("crate of session %s left as it is: %s", session, exc)
            self.progress.note_error(f"crate of session {session}: {exc}")
            self.progress.mark_crate_done(session, Receipt("", 0, created=False), 0)
            return 0.0
        except OSError as exc:  # the work folder (disk full, permissions): try again later
            return self._crate_retry(session, f"cannot build it in {self.state_dir}: {exc}")
        try:
            receipt = self.sink.put(build.bundle)
        except (SinkError, BundleError) as exc:  # BundleError: a file changed while it was copied
            return self._crate_retry(session, str(exc))
        finally:
            build.close()
        self.progress.mark_crate_done(session, receipt, len(build.frame_ids))
        self.backoff.success()
        if self.catalogue is not None:
            try:
                self.catalogue.set_crate(build.frame_ids, receipt.location, receipt.version)
            except Exception as exc:  # derived data, as in _index
                log.error("catalogue crate update failed for session %s: %s", session, exc)
        return 0.0

    def _crate_retry(self, session: str, error: str) -> float:
        delay = self.backoff.failure()
        log.warning("crate of session %s not stored, next try in %.1f s: %s", session, delay, error)
        self.progress.note_error(f"crate of session {session}: {error}")
        return delay

    def _bundle(self, item: QueueItem) -> Bundle:
        if not item.sidecar_path:
            raise BundleError(f"event seq {item.seq} ({item.type}) names no sidecar_path")
        return assemble_bundle(Path(item.sidecar_path), frame_path=Path(item.frame_path) if item.frame_path else None,
                               frame_id=item.frame_id)

    def _retry_later(self, item: QueueItem, error: str) -> float:
        delay = self.backoff.failure()
        log.warning("upload of seq %d failed (try %d), next try in %.1f s: %s", item.seq, item.attempts + 1,
                    delay, error)
        self.progress.note_attempt(item, error)
        return delay

    def _index(self, bundle: Bundle, receipt: Receipt) -> None:
        if self.catalogue is None:
            return
        try:
            self.catalogue.upsert(bundle.sidecar, sidecar_path=str(bundle.sidecar_path),
                                  frame_path=str(next(f.source for f in bundle.files if f.role == "frame")),
                                  location=receipt.location, version=receipt.version)
        except Exception as exc:  # the catalogue is derived; `nanoaid catalogue rebuild` restores it
            log.error("catalogue update failed for %s (run `nanoaid catalogue rebuild`): %s", bundle.frame_id, exc)

    # -- the service loop ---------------------------------------------------------------------
    def run(self, source: SourceFactory, stop: threading.Event, *, idle_exit_s: float | None = None,
            on_ready: Callable[[], object] | None = None, tick: Callable[[], None] | None = None) -> None:
        """Until ``stop`` is set, a finite source is used up with nothing left to upload, or
        ``idle_exit_s`` passes with no new event and an empty backlog."""
        self.check_sink()
        intake = _Intake(self.progress.path, source, self.wake, stop, self.clock)
        intake.start()
        if on_ready:
            on_ready()
        try:
            self._loop(intake, stop, idle_exit_s, tick)
        finally:
            intake.stop()
        if intake.error is not None:
            raise intake.error

    def _loop(self, intake: _Intake, stop: threading.Event, idle_exit_s: float | None, tick) -> None:
        while not stop.is_set():
            if tick:
                tick()
            delay = self.step()
            if delay == 0.0:
                continue
            if delay is not None:
                self._pause(stop, delay, tick)
                continue
            if intake.finished.is_set() and self.progress.next_pending() is None:
                return
            if idle_exit_s is not None and self.clock() - intake.last_event_at >= idle_exit_s:
                return
            self.wake.wait(0.5)
            self.wake.clear()

    @staticmethod
    def _pause(stop: threading.Event, seconds: float, tick) -> None:
        """Wait out a backoff delay in short slices, so watchdog pings go on during an outage."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            stop.wait(min(left, 1.0))
            if tick:
                tick()


class _Intake(threading.Thread):
    """Follows the source from the durable last seq; re-subscribes after a source error."""

    def __init__(self, progress_path: Path, factory: SourceFactory, wake: threading.Event,
                 stop: threading.Event, clock: Callable[[], float]):
        super().__init__(name="nanoaid-upload-intake", daemon=True)
        self.progress_path, self.factory, self.wake, self.stop_flag = progress_path, factory, wake, stop
        self.clock = clock
        self.finished = threading.Event()
        self.last_event_at = clock()
        self.source: Any = None
        self.error: ConfigError | None = None
        self._closing = threading.Event()

    def run(self) -> None:
        progress = Progress(self.progress_path, clock=self.clock)
        backoff = Backoff(initial_s=0.5, max_s=30.0)
        try:
            while not self._closing.is_set():
                try:
                    self.source = self.factory(progress.last_seq())
                    for event in self.source:
                        if progress.accept(event):
                            self.last_event_at = self.clock()
                            self.wake.set()
                        if self._closing.is_set():
                            return
                    self.finished.set()
                    return
                except ConfigError as exc:  # retrying cannot help: stop the service, say why
                    self.error = exc
                    self.stop_flag.set()
                    return
                except Exception as exc:
                    log.error("event source failed, re-subscribing from seq %d: %s", progress.last_seq(), exc)
                    progress.note_error(f"event source: {exc}")
                    self._closing.wait(backoff.failure())
        finally:
            progress.close()
            self.wake.set()

    def stop(self) -> None:
        self._closing.set()
        closer = getattr(self.source, "close", None)
        if callable(closer):
            closer()
        self.join(timeout=5.0)
