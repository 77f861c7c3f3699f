"""Archive reprocessing: the daemon's pipeline over every frame under a folder, on many processes.

``run_batch`` discovers frames, skips what the journal already finished, and has workers (a
local process pool, a local Dask cluster, or a running Dask scheduler) hash and process the rest
with the daemon's own pipeline. The driver is the journal's only writer, so sequence numbers stay
gap-free and the events are the daemon's. See docs/batch.md.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..atomic import sweep_temp_files
from ..config import Settings
from ..daemon import JOURNAL_NAME
from ..errors import ConfigError
from ..journal import Journal
from .discovery import default_chunk_size, discover
from .driver import Driver
from .engines import BatchAborted, DaskEngine, PoolEngine, dask_available
from .progress import Progress
from .report import BatchReport, render_text
from .runstate import now_utc, read_run, refuse_live_daemon, state_lock, write_run
from .tasks import WorkerSpec

__all__ = ["BatchOptions", "BatchReport", "run_batch", "render_text", "read_run", "start_bus"]

log = logging.getLogger(__name__)


@dataclass
class BatchOptions:
    """How to run; *what* to run on (archive, state, output) lives in the settings."""

    workers: int | None = None  # start a local Dask cluster of this many worker processes
    scheduler: str | None = None  # or send the work to a running Dask scheduler
    pool: int | None = None  # local process pool size; default: the daemon's CPU budget
    chunk_size: int | None = None
    progress_interval_s: float = 30.0
    tty: bool | None = None

    def check(self) -> None:
        """Usage errors surface before anything is scanned or started."""
        if self.workers is not None and self.scheduler is not None:
            raise ConfigError("give either --workers (a local Dask cluster) or --scheduler (a running one), not both")
        for name in ("workers", "pool", "chunk_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {value}")
        if (self.workers is not None or self.scheduler is not None) and not dask_available():
            raise ConfigError("--workers/--scheduler need Dask: pip install 'nanoaid-daemon[batch]'")


def make_engine(options: BatchOptions, settings: Settings):
    """Local pool by default; ``workers`` → a local Dask cluster; ``scheduler`` → a remote one."""
    options.check()
    if options.scheduler is not None:
        return DaskEngine(address=options.scheduler)
    if options.workers is not None:
        return DaskEngine(workers=options.workers, threads=1 if options.workers > 1 else None)
    size = options.pool or settings.pipeline.workers()
    return PoolEngine(size, threads=1 if size > 1 else None)


def start_bus(settings: Settings, journal: Journal, state_dir: Path):
    """Live events while the batch runs when the event bus is installed; the journal alone otherwise."""
    try:
        from ..bus import Bus
    except ImportError:
        return None
    bus = Bus(settings, journal, state_dir)
    bus.start()
    return bus


def run_batch(settings: Settings, options: BatchOptions | None = None, *, stream: TextIO | None = None) -> BatchReport:
    """Process every unfinished frame under ``settings.watch.root``; returns the summary."""
    options = options or BatchOptions()
    options.check()
    if settings.watch.root is None:
        raise ConfigError("no archive folder given: pass ROOT")
    root = Path(settings.watch.root).absolute()
    if not root.is_dir():
        raise ConfigError(f"archive folder {root} does not exist or is not a folder")
    state = Path(settings.state_dir).absolute()
    state.mkdir(parents=True, exist_ok=True)
    with state_lock(state):
        refuse_live_daemon(state)
        journal = Journal(state / JOURNAL_NAME)
        try:
            return _Run(settings, options, root, state, journal, stream or sys.stderr).execute()
        finally:
            journal.close()


class _Run:
    """One batch run over ``root`` while holding the state folder's lock."""

    def __init__(self, settings: Settings, options: BatchOptions, root: Path, state: Path, journal: Journal,
                 stream: TextIO):
        self.settings, self.options, self.root, self.state = settings, options, root, state
        self.journal, self.stream = journal, stream
        self.report = BatchReport(root=str(root), state_dir=str(state))
        output = settings.output.root
        self.record = {"root": str(root), "output": str(Path(output).absolute()) if output else None,
                       "started": now_utc(), "finished": None, "outcome": "running", "pid": os.getpid()}

    def execute(self) -> BatchReport:
        started, cpu0 = time.monotonic(), time.process_time()
        report, engine, outcome = self.report, None, "failed"
        write_run(self.state, self.record)
        try:
            self._sweep()
            found = discover(self.root, self.settings, self.journal)
            report.found, report.already_done, report.pending = found.found, found.already_done, len(found.pending)
            if found.pending:
                engine = make_engine(self.options, self.settings)
                self._drive(engine, found.pending)
                engine.close()
                engine = None
                self._sweep()
            outcome = "completed"
        except KeyboardInterrupt:
            report.interrupted, outcome = True, "interrupted"
        except BatchAborted as exc:
            report.aborted, outcome = str(exc), "aborted"
        finally:
            if engine is not None:
                engine.close(kill=True)
            report.wall_s = time.monotonic() - started
            report.driver_cpu_s = time.process_time() - cpu0
            write_run(self.state, {**self.record, "finished": now_utc(), "outcome": outcome,
                                   "processed": report.processed, "rejected": report.rejected,
                                   "failed": report.failed})
        return report

    def _sweep(self) -> None:
        """Temp files of writes a killed run left behind (the daemon sweeps the same way at start)."""
        output = self.settings.output.root
        for folder in {self.root, *([Path(output).absolute()] if output else [])}:
            if folder.is_dir():
                for path in sweep_temp_files(folder):
                    log.info("removed temp file left by an interrupted run: %s", path)

    def _drive(self, engine, pending: list) -> None:
        report = self.report
        report.engine = engine.describe()
        report.chunk_size = self.options.chunk_size or default_chunk_size(len(pending), engine.slots())
        spec = WorkerSpec(settings=self.settings.model_dump(mode="json"), root=str(self.root),
                          threads=getattr(engine, "threads", None))
        progress = Progress(len(pending), stream=self.stream, tty=self.options.tty,
                            interval_s=self.options.progress_interval_s)
        self.stream.write(f"batch: {len(pending)} frames to do under {self.root} ({report.already_done} already "
                          f"done); {report.engine}, chunks of {report.chunk_size}\n")
        self.stream.flush()
        bus = start_bus(self.settings, self.journal, self.state)
        driver = Driver(engine, self.journal, spec, report, chunk_size=report.chunk_size, progress=progress, bus=bus)
        try:
            driver.run(pending)
        finally:
            progress.close(f"rejected {report.rejected}, failed {report.failed}")
            if bus is not None:
                bus.stop()
