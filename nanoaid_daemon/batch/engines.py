"""Where chunks run: a local process pool, a local Dask cluster, or a running Dask scheduler.

The driver sees one small interface: ``slots()`` (how many chunks to keep in flight),
``submit(fn, *args, avoid=)`` (``avoid`` names the worker a retry must not go back to),
``collect(future)`` (the result and the worker it ran on, or :class:`TaskLost`) and
``close(kill=)``. Workers are named as the tasks name themselves (``host:pid`` in the pool, the
worker address in Dask), so a replaced process is a different worker.

The local pool is N single-process executors rather than one N-process executor: when a worker
process dies, exactly the chunk it held is known to be lost, and only that slot is replaced
(a shared executor would break every chunk in flight at once).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, NanoaidError
from .tasks import THREAD_ENV, pool_worker_init

if TYPE_CHECKING:  # the [batch] extra; imported when a DaskEngine starts
    from distributed import Client, LocalCluster

__all__ = ["TaskLost", "BatchAborted", "PoolEngine", "DaskEngine", "dask_available"]

log = logging.getLogger(__name__)


class TaskLost(Exception):
    """A chunk did not come back: its worker died (or the task itself raised)."""

    def __init__(self, where: str | None, reason: str):
        super().__init__(reason)
        self.where = where
        self.reason = reason


class BatchAborted(NanoaidError, RuntimeError):
    """The batch cannot go on (scheduler gone, workers cannot load the pipeline); ``--resume`` continues."""


#: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting it switches off
#: glibc's adaptive mmap threshold, so every array above 128 KiB (each frame makes dozens: float
#: copies, model inputs, activations) is a fresh ``mmap`` whose pages are faulted in and zeroed,
#: then unmapped: ~65 ms of CPU per frame more than the same work in a pool process. ``None``
#: leaves the variable out, so workers allocate as any other process does.
#:
#: Housekeeping that only feeds a dashboard nobody looks at here runs less often: the event-loop
#: tick (every 20 ms in every Dask process: scheduler, nannies, workers; it only measures how late
#: the loop is, to warn of a blocked one) once a second, and the system monitor's samples (CPU,
#: memory, disk and network counters every 500 ms) every 2 s. An idle local cluster of 2 workers
#: then burns ~31 instead of ~96 ms of CPU a second, which a busy one pays per frame. Worker
#: death, heartbeats and the memory monitor that restarts a worker over its limit keep Dask's
#: own intervals.
LOCAL_DASK_CONFIG = {"distributed.worker.profile.enabled": False,
                     "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                     "distributed.admin.tick.interval": "1s",
                     "distributed.admin.system-monitor.interval": "2s"}


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _need_dask(what: str) -> None:
    if not dask_available():
        raise ConfigError(f"{what} needs Dask: pip install 'nanoaid-daemon[batch]' (dask[distributed])")


class PoolEngine:
    """A local pool of ``workers`` processes (spawned, so no driver state leaks into them)."""

    def __init__(self, workers: int, *, threads: int | None = None):
        self.workers = max(1, int(workers))
        self.threads = threads
        self._ctx = multiprocessing.get_context("spawn")
        self._slots: list[ProcessPoolExecutor | None] = [None] * self.workers
        self._who: list[str | None] = [None] * self.workers  # the worker each slot last ran on
        self._running: dict[Future, int] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"local process pool of {self.workers} worker{'s' * (self.workers != 1)}"

    def slots(self) -> int:
        return self.workers

    def _executor(self, slot: int) -> ProcessPoolExecutor:
        ex = self._slots[slot]
        if ex is None:
            if self.threads is not None:  # inherited by the spawned process
                for name in THREAD_ENV:
                    os.environ.setdefault(name, str(self.threads))
            ex = ProcessPoolExecutor(1, mp_context=self._ctx, initializer=pool_worker_init,
                                     initargs=(os.getpid(),))
            self._slots[slot] = ex
        return ex

    def _free(self, avoid: str | None) -> list[int]:
        with self._lock:
            busy = set(self._running.values())
        return [i for i in range(self.workers) if i not in busy and (avoid is None or self._who[i] != avoid)]

    def _free_slot(self, avoid: str | None) -> int:
        """A free slot not running on ``avoid``; failing that, a free one given a fresh process."""
        free = self._free(avoid)
        if free:
            return free[0]
        free = self._free(None)
        if not free:
            raise RuntimeError("no free pool slot: the driver submitted more than slots() chunks")
        self._replace(free[0])
        return free[0]

    def submit(self, fn: Callable, *args: Any, avoid: str | None = None) -> Future:
        slot = self._free_slot(avoid)
        with _sigint_blocked():  # a process spawned now starts deaf to the terminal's Ctrl-C
            try:
                future = self._executor(slot).submit(fn, *args)
            except BrokenProcessPool:  # died while idle: nothing was lost, start it afresh
                self._replace(slot)
                future = self._executor(slot).submit(fn, *args)
        with self._lock:
            self._running[future] = slot
        return future

    def collect(self, future: Future) -> tuple[Any, str]:
        with self._lock:
            slot = self._running.pop(future)
        try:
            value = future.result()
        except BrokenProcessPool:
            where = self._who[slot] or f"pool slot {slot}"
            self._replace(slot)
            raise TaskLost(where, f"worker process {where} died") from None
        except Exception as exc:
            raise TaskLost(self._who[slot], f"{type(exc).__name__}: {exc}") from exc
        self._who[slot] = value.worker
        return value, value.worker

    def _replace(self, slot: int) -> None:
        ex, self._slots[slot] = self._slots[slot], None
        self._who[slot] = None
        if ex is not None:
            _terminate(ex)

    def close(self, *, kill: bool = False) -> None:
        for slot, ex in enumerate(self._slots):
            if ex is None:
                continue
            if kill:
                _terminate(ex)
            else:
                ex.shutdown(wait=True)
            self._slots[slot] = None


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT here while worker processes may be spawned: they inherit the blocked mask, and
    a Ctrl-C meanwhile is not lost but delivered to the driver right after."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    # Starting multiprocessing's resource tracker unblocks SIGINT on its way out: start it first.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _terminate(ex: ProcessPoolExecutor) -> None:
    """Stop an executor now, work in hand included (Python < 3.14 has no public way)."""
    stop = getattr(ex, "terminate_workers", None)
    if stop is not None:
        stop()
    else:
        for proc in list((getattr(ex, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.terminate()
    ex.shutdown(wait=True, cancel_futures=True)


class DaskEngine:
    """A Dask ``Client``: on a local cluster it starts (``workers``) or on a scheduler at ``address``.

    On the local cluster the scheduler gives up on a task at the first worker death
    (``allowed-failures = 0``), so the driver's own rule applies: each frame of the lost chunk is
    retried once, alone, on another worker. A remote scheduler keeps its own setting, and the
    driver's rule applies after it.
    """

    def __init__(self, *, workers: int | None = None, address: str | None = None, threads: int | None = None):
        _need_dask("--workers/--scheduler")
        self.address = address
        self.threads = threads
        self.workers = workers
        self._cluster: LocalCluster | None = None
        self.client: Client | None = None
        self._nthreads: tuple[float, int] = (0.0, 0)
        if logging.getLogger().getEffectiveLevel() > logging.INFO:  # Dask's INFO lines drown the progress
            logging.getLogger("distributed").setLevel(logging.WARNING)
        try:
            if address is None:
                self._start_local(workers or 1, threads)
            else:
                self._connect(address)
        except BaseException:  # Ctrl-C during start-up included: stop whatever did start
            self.close(kill=True)
            raise

    def _start_local(self, workers: int, threads: int | None) -> None:
        import dask
        from distributed import Client, LocalCluster

        env = {name: str(threads) for name in THREAD_ENV} if threads else {}
        # No statistical profiler in the workers: it samples every thread every 10 ms for a
        # dashboard nobody looks at here. No MALLOC_TRIM_THRESHOLD_ either (see LOCAL_DASK_CONFIG).
        config = {"distributed.scheduler.allowed-failures": 0, **LOCAL_DASK_CONFIG}
        # Worker processes, and the event-loop thread that restarts them, start with SIGINT blocked.
        with dask.config.set(config), _sigint_blocked():
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                                         env=env, preload=["nanoaid_daemon.batch.dask_setup"])
            self.client = Client(self._cluster)

    def _connect(self, address: str) -> None:
        from distributed import Client

        try:
            self.client = Client(address)  # waits distributed.comm.timeouts.connect (Dask config)
        except (OSError, TimeoutError) as exc:
            raise BatchAborted(f"cannot reach the Dask scheduler at {address}: {exc}") from exc

    def describe(self) -> str:
        if self._cluster is not None:
            return f"local Dask cluster of {self.workers} worker{'s' * (self.workers != 1)}"
        return f"Dask scheduler {self.address} ({self._threads()} worker threads now)"

    def _client(self) -> Client:
        assert self.client is not None, "the engine is closed"
        return self.client

    def _threads(self) -> int:
        stamp, count = self._nthreads
        if time.monotonic() - stamp > 2.0:
            try:
                count = sum(self._client().nthreads().values())
            except Exception as exc:
                raise BatchAborted(f"lost the Dask scheduler: {exc}") from exc
            self._nthreads = (time.monotonic(), count)
        return count

    def slots(self) -> int:
        # One chunk queued behind each running one keeps every worker thread busy.
        return 2 * max(1, self._threads())

    def submit(self, fn: Callable, *args: Any, avoid: str | None = None) -> Any:
        client = self._client()
        others = [w for w in client.nthreads() if w != avoid] if avoid else []
        if others:
            return client.submit(fn, *args, pure=False, workers=others, allow_other_workers=True)
        return client.submit(fn, *args, pure=False)

    def collect(self, future: Any) -> tuple[Any, str]:
        from distributed import KilledWorker

        try:
            value = future.result()
        except KilledWorker as exc:
            last = getattr(exc, "last_worker", None)
            where = getattr(last, "address", None)
            raise TaskLost(where, f"Dask worker {where or ''} died while running it".replace("  ", " ")) from None
        except (OSError, TimeoutError) as exc:
            raise BatchAborted(f"lost the Dask scheduler: {exc}") from exc
        except Exception as exc:
            if type(exc).__name__ == "CancelledError":
                raise BatchAborted(f"the Dask scheduler cancelled the work: {exc}") from exc
            raise TaskLost(None, f"{type(exc).__name__}: {exc}") from exc
        finally:
            future.release()
        return value, getattr(value, "worker", None) or "dask"

    def close(self, *, kill: bool = False) -> None:
        if self.client is not None:
            try:
                self.client.close(timeout=10 if not kill else 2)
            except Exception as exc:  # closing a client whose scheduler is gone
                log.debug("closing the Dask client: %s", exc)
            self.client = None
        if self._cluster is not None:
            self._cluster.close(timeout=10)
            self._cluster = None
