"""Dask workers allocate memory as pool processes do (what cost ~65 ms of CPU per frame on Dask)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

from nanoaid_daemon.batch.engines import DaskEngine  # noqa: E402


def _worker_env() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _worker_housekeeping(dask_worker) -> tuple[float, float]:
    """Seconds between the worker's system-monitor samples and between its event-loop ticks."""
    callbacks = dask_worker.periodic_callbacks
    return callbacks["monitor"].callback_time / 1000, callbacks["tick"].callback_time / 1000


def test_local_dask_workers_start_without_malloc_trim_threshold_and_with_slower_housekeeping():
    engine = DaskEngine(workers=1)
    try:
        assert engine.client is not None
        seen = engine.client.run(_worker_env)
        housekeeping = engine.client.run(_worker_housekeeping)
    finally:
        engine.close()
    assert list(seen.values()) == [None]
    assert list(housekeeping.values()) == [(2.0, 1.0)]  # dashboard sampling every 2 s, ticks every 1 s


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")
def test_a_worker_started_with_malloc_trim_threshold_reuses_heap_memory_again():
    """A remote ``dask worker`` has the variable set: the task setup fixes the allocator's
    thresholds (``heap.steady_heap``), so a frame-sized array freed and allocated again does not
    fault in fresh pages."""
    code = """
import resource, numpy as np, sys
from nanoaid_daemon.heap import steady_heap
if sys.argv[1] == "fix":
    steady_heap()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones((768, 1024), np.float32)
before = faults()
for _ in range(100):
    a = np.ones((768, 1024), np.float32)  # 3 MiB, a frame: above glibc's fixed 128 KiB mmap threshold
    # (under numpy's 4 MiB huge-page hint, whose few large faults would hide the count)
    del a
print(faults() - before)
"""
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    runs = {mode: int(subprocess.run([sys.executable, "-c", code, mode], env=env, capture_output=True, text=True,
                                     check=True).stdout) for mode in ("fix", "nofix")}
    assert runs["nofix"] > 100 * 500  # every 3 MiB array faulted in afresh (768 pages each)
    assert runs["fix"] < runs["nofix"] / 10
