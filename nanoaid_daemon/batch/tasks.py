"""The worker side of ``nanoaid batch``: what runs inside each worker process.

A worker process builds settings, plugins and the inference runtime on its first task and keeps
them for every later chunk, so models load once per process, not once per frame or chunk. The
frame work itself is the daemon's :class:`~nanoaid_daemon.pipeline.Pipeline`, step for step as
``Daemon._process_frame`` drives it. Tasks never touch the journal and never raise for a bad
frame: every item comes back as plain data saying what happened, and the driver commits it.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ConfigError, ReaderError
from ..hashing import sha256_file

__all__ = ["Item", "ItemResult", "ChunkResult", "WorkerSpec", "hash_chunk", "process_chunk", "pool_worker_init",
           "THREAD_ENV"]

#: Libraries that size their own thread pools from these; one worker process per core wants 1.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_ORPHAN_POLL_S = 0.5


@dataclass(frozen=True)
class Item:
    """One file version: path plus the size and mtime it had when it was found (and hashed)."""

    path: str
    size: int
    mtime_ns: int
    frame_id: str | None = None


@dataclass
class ItemResult:
    """What happened to one item. ``kind``: hashed, processed, rejected, failed, changed or gone."""

    path: str
    kind: str
    size: int | None = None
    mtime_ns: int | None = None
    frame_id: str | None = None
    sidecar_path: str | None = None
    summary: dict[str, Any] | None = None
    code: str | None = None
    reason: str | None = None


@dataclass
class ChunkResult:
    worker: str
    items: list[ItemResult] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_rss_mb: float | None = None
    setup_error: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to rebuild the driver's pipeline; plain JSON, so it travels anywhere."""

    settings: dict[str, Any]
    root: str
    threads: int | None = None

    @property
    def key(self) -> str:
        payload = json.dumps([self.settings, self.root, self.threads], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


# -- per-process state ---------------------------------------------------------------------------
_loaded: dict[str, Any] = {}
_load_lock = threading.Lock()


def _pipeline(spec: WorkerSpec):
    """The pipeline for ``spec``, built on the first call in this process and reused after."""
    with _load_lock:
        if _loaded.get("key") == spec.key:
            return _loaded["pipeline"]
        _release()
        from ..host import PluginHost
        from ..inference import load_runtime
        from ..pipeline import Pipeline

        settings = Settings.model_validate(spec.settings)
        # A batch over an archive reports model errors per frame (the benchmarks run it model-less).
        runtime = load_runtime(_with_threads(settings, spec.threads), require_models=False)
        host = PluginHost.load(settings, runtime=runtime)
        if not host.readers:
            if runtime is not None and hasattr(runtime, "close"):
                runtime.close()
            raise ConfigError(f"no reader plugin is available on worker {worker_name()}; "
                              "install nanoaid-daemon (and its plugins) on every worker")
        _loaded.update(key=spec.key, pipeline=Pipeline(settings, host, root=Path(spec.root)), runtime=runtime)
        return _loaded["pipeline"]


def _with_threads(settings: Settings, threads: int | None) -> Settings:
    """Settings for the runtime only, whose intra-op thread pool follows the CPU budget: one thread
    per worker process when several share a host. How this host runs is not what it computes, so
    the pipeline keeps the driver's settings and the sidecar's config hash stays the driver's."""
    if threads is None:
        return settings
    for name in THREAD_ENV:
        os.environ.setdefault(name, str(threads))
    budget = settings.pipeline.model_copy(update={"cpu_budget": threads})
    return settings.model_copy(update={"pipeline": budget})


def _release() -> None:
    runtime = _loaded.pop("runtime", None)
    if runtime is not None and hasattr(runtime, "close"):
        runtime.close()
    _loaded.clear()


def worker_name() -> str:
    """The Dask worker address inside a Dask worker, else ``host:pid``."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return get_worker().address
        except ValueError:
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def _max_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _run(items: list[Item], one) -> ChunkResult:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = [one(item) for item in items]
    return ChunkResult(worker=worker_name(), items=results, cpu_s=time.process_time() - cpu0,
                       wall_s=time.perf_counter() - wall0, max_rss_mb=_max_rss_mb())


# -- tasks ---------------------------------------------------------------------------------------
def hash_chunk(items: list[Item]) -> ChunkResult:
    """Content hash of each file: the frame id the journal decides on (skip, duplicate or process)."""
    return _run(items, _hash_one)


def _hash_one(item: Item) -> ItemResult:
    path = item.path
    try:
        st = os.stat(path)
        frame_id, size = sha256_file(Path(path))
    except FileNotFoundError:
        return ItemResult(path, "gone")
    except OSError as exc:
        return ItemResult(path, "rejected", item.size, item.mtime_ns, code="unreadable",
                          reason=f"cannot read: {exc.strerror or exc}")
    if (st.st_size, st.st_mtime_ns) != (item.size, item.mtime_ns) or size != st.st_size:
        return ItemResult(path, "changed", st.st_size, st.st_mtime_ns)
    return ItemResult(path, "hashed", size, st.st_mtime_ns, frame_id=frame_id)


def process_chunk(spec: WorkerSpec, items: list[Item]) -> ChunkResult:
    """Read → analyze → write each frame with the daemon's pipeline; the sidecar is written here."""
    try:
        pipeline = _pipeline(spec)
    except Exception as exc:  # the driver stops the batch: no worker could do better
        return ChunkResult(worker=worker_name(), setup_error=f"{type(exc).__name__}: {exc}")
    return _run(items, lambda item: _process_one(pipeline, item))


def _process_one(pipeline, item: Item) -> ItemResult:
    from ..pipeline import summary_of

    path = Path(item.path)
    try:
        read = pipeline.read(path)
    except ReaderError as exc:
        return ItemResult(item.path, "rejected", item.size, item.mtime_ns, code=exc.code, reason=str(exc))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ItemResult(item.path, "gone")
    if (st.st_size, st.st_mtime_ns) != (item.size, item.mtime_ns):
        return ItemResult(item.path, "changed", st.st_size, st.st_mtime_ns)
    try:
        outcome = pipeline.analyze(read, frame_id=item.frame_id, size_bytes=item.size)
        pipeline.write(outcome)
    except Exception as exc:  # e.g. the output disk is full: retried once elsewhere, then failed
        return ItemResult(item.path, "failed", item.size, item.mtime_ns, frame_id=item.frame_id,
                          code=type(exc).__name__, reason=str(exc))
    return ItemResult(item.path, "processed", item.size, item.mtime_ns, frame_id=item.frame_id,
                      sidecar_path=str(outcome.sidecar_path),
                      summary=summary_of(outcome.sidecar).model_dump(mode="json", exclude_none=True))


# -- local pool processes ------------------------------------------------------------------------
def pool_worker_init(parent_pid: int) -> None:
    """Ctrl-C belongs to the driver, and a worker whose driver died exits instead of lingering."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), name="nanoaid-orphan-watch",
                     daemon=True).start()


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_ORPHAN_POLL_S)
    os._exit(0)
