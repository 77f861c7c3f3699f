"""Shared fixtures: the real instrument files in ../shared, and a guard against leaked threads."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data" / "real-sem"


@pytest.fixture(scope="session")
def real_sem() -> Path:
    """Folder of real instrument files (read in place, never copied into the project)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """A test that leaves a non-daemon thread running fails: stop() must really stop things."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
