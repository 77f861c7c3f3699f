"""Shared fixtures: the real instrument files (see realsem.py), and a guard against leaked threads."""
from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
import realsem

from nanoaid_daemon.testing import leaked_threads


@pytest.fixture(scope="session")
def real_sem() -> Path:
    """Folder of real instrument files listed in tests/registry.txt, each checked against its sha256."""
    found = realsem.check(realsem.folder(), realsem.read_registry())
    if found.altered or (found.missing and realsem.required()):
        pytest.fail(found.explain(), pytrace=False)
    if found.missing:
        pytest.skip(found.explain())
    return found.folder


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """A test that leaves a thread running fails, daemon threads included (as watchdog's own tests
    do): a daemon thread left behind still holds its sockets and files and acts in later tests."""
    before = set(threading.enumerate())
    yield
    gc.collect()  # objects of this test's fixtures that stop their threads when collected
    leaked = leaked_threads(before)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
