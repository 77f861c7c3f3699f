"""Supervised threads: none dies silently, none is restarted forever in vain.

Every long-lived daemon thread runs under a :class:`Supervisor`. An unexpected exception is
logged with its traceback, counted, and the thread restarted after a backoff. A *transient*
condition (full or read-only disk, ``database or disk is full``) is not a fault: the thread is
marked ``waiting`` and retried, with capped backoff, for as long as the condition lasts. A
thread that keeps failing (``max_restarts`` within ``window_s``) is ``dead``: the supervisor
calls ``on_fatal`` and the daemon stops pinging the watchdog and exits non-zero, so systemd
restarts it.

Health is data, not only text: :meth:`Supervisor.health` returns a :class:`DaemonHealth`, which the
daemon also writes to ``STATE/health.json`` (read back by :func:`read_health`) for ``nanoaid
status`` and anything else that wants to show it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .commit import is_transient

__all__ = ["Supervisor", "ThreadHealth", "DaemonHealth", "read_health", "HEALTH_NAME"]

log = logging.getLogger(__name__)

HEALTH_NAME = "health.json"
_MAX_BACKOFF_S = 30.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ThreadHealth:
    """One supervised thread: ``running``, ``waiting`` (transient condition), ``restarting``,
    ``dead`` (gave up) or ``stopped`` (clean exit)."""

    name: str
    state: str
    restarts: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: str | None = None


@dataclass(frozen=True)
class DaemonHealth:
    """The daemon as a whole: healthy unless a thread is dead; ``waiting`` names a transient condition."""

    pid: int
    updated: str
    healthy: bool
    state: str  # "running", "waiting", "failed", "stopped"
    threads: list[ThreadHealth] = field(default_factory=list)
    waiting_for: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> DaemonHealth:
        data = json.loads(text)
        data["threads"] = [ThreadHealth(**t) for t in data.get("threads", [])]
        return cls(**data)


def read_health(state_dir: Path) -> DaemonHealth | None:
    """The health the daemon last wrote to ``state_dir``, or None when there is none (never ran)."""
    try:
        return DaemonHealth.from_json((Path(state_dir) / HEALTH_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None


@dataclass
class _Slot:
    name: str
    target: Callable[[], None]
    thread: threading.Thread | None = None
    state: str = "running"
    restarts: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    recent: deque[float] = field(default_factory=deque)

    def snapshot(self) -> ThreadHealth:
        return ThreadHealth(self.name, self.state, self.restarts, self.failures, self.last_error, self.last_error_at)


class Supervisor:
    def __init__(self, stop: threading.Event, *, on_fatal: Callable[[str], None], max_restarts: int = 5,
                 window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._stop = stop
        self._on_fatal = on_fatal
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []

    @property
    def threads(self) -> list[threading.Thread]:
        return [s.thread for s in self._slots if s.thread is not None]

    def spawn(self, name: str, target: Callable[[], None], *, daemon: bool = False) -> threading.Thread:
        slot = _Slot(name, target)
        slot.thread = threading.Thread(target=self._run, args=(slot,), name=f"nanoaid-{name}", daemon=daemon)
        with self._lock:
            self._slots.append(slot)
        slot.thread.start()
        return slot.thread

    def _run(self, slot: _Slot) -> None:
        waits = 0
        while True:
            try:
                slot.target()
                slot.state = "stopped"
                return
            except Exception as exc:  # the point of supervision: every failure is seen and answered
                if self._stop.is_set():
                    slot.state = "stopped"
                    return
                slot.last_error, slot.last_error_at = f"{type(exc).__name__}: {exc}", _now()
                if is_transient(exc):
                    waits += 1
                    delay = self.wait_transient(slot, exc, waits)
                else:
                    waits = 0
                    backoff = self._failed(slot)
                    if backoff is None:
                        return
                    delay = backoff
                if self._stop.wait(delay):
                    slot.state = "stopped"
                    return
                slot.restarts += 1
                slot.state = "running"

    def wait_transient(self, slot: _Slot, exc: BaseException, waits: int) -> float:
        slot.state = "waiting"
        if waits == 1:
            log.warning("thread %s waits for a transient condition to clear: %s", slot.name, exc)
        return min(_MAX_BACKOFF_S, 0.5 * 2 ** min(waits - 1, 8))

    def _failed(self, slot: _Slot) -> float | None:
        """Count a failure; the backoff before restarting, or None when the thread is given up."""
        log.error("thread %s failed:\n%s", slot.name, traceback.format_exc())
        slot.failures += 1
        now = self._clock()
        slot.recent.append(now)
        while slot.recent and now - slot.recent[0] > self.window_s:
            slot.recent.popleft()
        if len(slot.recent) > self.max_restarts:
            slot.state = "dead"
            reason = f"thread {slot.name} failed {len(slot.recent)} times within {self.window_s:g} s: {slot.last_error}"
            log.critical("%s; giving up so that the service manager restarts the daemon", reason)
            self._on_fatal(reason)
            return None
        slot.state = "restarting"
        return min(_MAX_BACKOFF_S, 0.2 * 2 ** (len(slot.recent) - 1))

    def note(self, name: str, state: str, error: str | None = None) -> None:
        """A thread reports its own condition (a worker waiting for space, say) without failing."""
        with self._lock:
            for slot in self._slots:
                if slot.thread is threading.current_thread() or slot.name == name:
                    slot.state = state
                    if error:
                        slot.last_error, slot.last_error_at = error, _now()

    def health(self, *, stopped: bool = False) -> DaemonHealth:
        with self._lock:
            threads = [s.snapshot() for s in self._slots]
        dead = [t for t in threads if t.state == "dead"]
        waiting = [t for t in threads if t.state == "waiting"]
        if stopped:
            state = "stopped"
        elif dead:
            state = "failed"
        elif waiting:
            state = "waiting"
        else:
            state = "running"
        return DaemonHealth(pid=os.getpid(), updated=_now(), healthy=not dead and not stopped, state=state,
                            threads=threads, waiting_for=waiting[0].last_error if waiting else None)
