"""A batch's footprint in the state folder: a lock (one batch per journal) and a run record.

The run record (``STATE/batch-run.json``) remembers the archive and output folder of the last run
and how it ended, so ``nanoaid batch --resume --state DIR`` needs nothing else. What is done is
never read from it: the journal alone says which frames are finished.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import ConfigError, JournalError

__all__ = ["RUN_RECORD", "LOCK_NAME", "read_run", "write_run", "state_lock", "refuse_live_daemon"]

RUN_RECORD = "batch-run.json"
LOCK_NAME = "batch.lock"


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_run(state_dir: Path) -> dict[str, Any] | None:
    path = Path(state_dir) / RUN_RECORD
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"batch run record {path} is unreadable ({exc}); delete it and pass ROOT again") from exc


def write_run(state_dir: Path, record: dict[str, Any]) -> None:
    atomic_write_text(Path(state_dir) / RUN_RECORD, json.dumps(record, indent=2, default=str) + "\n")


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold ``STATE/batch.lock`` for the run: a second batch on the same journal is refused."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one batch per state folder is on the user
        yield
        return
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise JournalError(f"another nanoaid batch (pid {holder}) is using {state_dir}; "
                               "wait for it or give this one its own --state") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def refuse_live_daemon(state_dir: Path) -> None:
    """The journal has one writer: a daemon serving this state folder rules out a batch on it."""
    try:
        from ..bus import daemon_running
    except ImportError:
        return
    live = daemon_running(Path(state_dir))
    if live is not None:
        raise ConfigError(f"a nanoaid daemon (pid {getattr(live, 'pid', '?')}) is using {state_dir}; "
                          "stop it, or give the batch its own --state")
