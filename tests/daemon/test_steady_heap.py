"""Frame-sized arrays freed and allocated again come from the heap, not from fresh pages.

Each case runs in its own Python process (allocator settings are per process), counting the
minor page faults of a frame's worth of float arrays allocated and freed fifty times.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")

_PATTERN = """
import resource, sys
import numpy as np
{setup}
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    arrays = [np.ones((768, 1024), np.float32) for _ in range(4)]
    del arrays
before = faults()
for _ in range(50):
    arrays = [np.ones((768, 1024), np.float32) for _ in range(4)]  # 4 x 3 MiB: float copies of a 1024 x 768 frame
    del arrays
print(faults() - before)
"""
# 3 MiB stays under numpy's 4 MiB huge-page hint, whose few large faults would hide the count.
_PAGES_PER_ROUND = 4 * 768 * 1024 * 4 // 4096


def _faults(setup: str, **env: str) -> int:
    run = subprocess.run([sys.executable, "-c", _PATTERN.format(setup=setup)], env=dict(os.environ, **env),
                         capture_output=True, text=True, check=True)
    return int(run.stdout)


STEADY = "from nanoaid_daemon.heap import steady_heap\nassert steady_heap()"
PIPELINE = """
from nanoaid_daemon.config import Settings
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.pipeline import Pipeline
Pipeline(Settings(), PluginHost.load(Settings(), kinds=("reader",)), root=None)
"""


def test_glibc_defaults_fault_in_fresh_pages_for_every_frame():
    """The cost the thresholds remove: without them the heap top is given back after each round."""
    assert _faults("") > 50 * _PAGES_PER_ROUND // 4


def test_steady_heap_reuses_freed_frame_arrays():
    assert _faults(STEADY) < 50 * _PAGES_PER_ROUND // 50


def test_steady_heap_undoes_a_malloc_trim_threshold_in_the_environment():
    """A remote ``dask worker`` is started with ``MALLOC_TRIM_THRESHOLD_=65536`` by its nanny."""
    assert _faults("", MALLOC_TRIM_THRESHOLD_="65536") > 50 * _PAGES_PER_ROUND // 4
    assert _faults(STEADY, MALLOC_TRIM_THRESHOLD_="65536") < 50 * _PAGES_PER_ROUND // 50


def test_building_a_pipeline_steadies_the_heap():
    """Daemon, ``nanoaid process`` and batch workers all analyse through a Pipeline."""
    assert _faults(PIPELINE, MALLOC_TRIM_THRESHOLD_="65536") < 50 * _PAGES_PER_ROUND // 50
