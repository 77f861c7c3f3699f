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


def test_local_dask_workers_start_without_malloc_trim_threshold():
    engine = DaskEngine(workers=1)
    try:
        assert engine.client is not None
        seen = engine.client.run(_worker_env)
    finally:
        engine.close()
    assert list(seen.values()) == [None]


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
