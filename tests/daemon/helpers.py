"""Helpers for daemon tests: real TIFF frames and an in-process daemon (``wait_for`` is the shared one)."""
from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import tifffile

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.daemon import Daemon
from nanoaid_daemon.testing import wait_for as wait_for  # the shared one, for the daemon tests


def tiff_bytes(seed: int, shape=(48, 64)) -> bytes:
    """A small, unique, valid TIFF (content differs per seed, so frame ids differ)."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rng.integers(0, 256, shape, dtype=np.uint8))
    return buf.getvalue()


def fast_settings(watch_dir: Path, state_dir: Path, **sections):
    overrides = {
        "watch": {"root": str(watch_dir), "reconcile_interval_s": 30.0},
        "state_dir": str(state_dir),
        "settle": {"quiet_s": 0.2, "poll_s": 0.05, "incomplete_grace_s": 1.0},
        "plugins": {"disabled": ["classify", "alignment", "previews"]},
    }
    for key, value in sections.items():
        overrides[key] = {**overrides.get(key, {}), **value} if isinstance(value, dict) else value
    return load_settings(overrides=overrides)


@contextmanager
def running_daemon(watch_dir: Path, state_dir: Path, *, bus: bool = False, **sections):
    """An in-process daemon; with ``bus=True`` it publishes on real ZeroMQ sockets on loopback."""
    kwargs = {} if bus else {"bus_factory": None}
    daemon = Daemon(fast_settings(watch_dir, state_dir, **sections), **kwargs)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def processed_ids(daemon_or_journal) -> list[str]:
    journal = getattr(daemon_or_journal, "journal", daemon_or_journal)
    return [e.frame_id for e in journal.events(type="frame.processed")]


def sidecars(root: Path) -> list[Path]:
    return sorted(Path(root).rglob("*.nanoaid.json"))
