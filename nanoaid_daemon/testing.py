"""Test-only support, kept out of the production modules: fault injection and patient polling.

Nothing in the daemon imports this module. It holds:

- ``wait_for``: poll a condition with a generous deadline, the one way tests wait without luck.
- ``leaked_threads``: the threads, daemon ones included, that a test started and left running.
- ``kill9_trials``: ``kill -9`` the daemon at random moments while frames pour in. Used by the
  test suite (a few trials) and by ``benchmarks/reliability_kill9.py`` (many). After the burst a
  final daemon finishes the work; then every promise is checked: no frame lost, none with two
  ``frame.processed`` events, every sidecar valid, no temp file left behind.
- ``UploadFault``: the uploader's crash hook. ``nanoaid upload`` installs it as the service's
  ``after_put`` hook only when ``NANOAID_UPLOAD_FAULT`` is set, so a test can stop the real
  process right after a repository write and before that write is recorded.
"""
from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import numpy as np

from .atomic import TEMP_SUFFIX
from .hashing import sha256_file
from .journal import Journal
from .sidecar import Sidecar, sidecar_name

__all__ = [
    "FAULT_ENV", "ChaosReport", "UploadFault", "daemon_command", "fast_env", "kill9_trials", "upload_fault", "wait_for",
    "leaked_threads",
]

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, message: str = "condition", *,
             interval: float = 0.05) -> T:
    """Poll until ``predicate()`` is truthy and return that value; fail naming ``message`` after
    ``timeout`` seconds. The timeout is a safety net for a broken build, never a measured timing."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


def leaked_threads(before: set[threading.Thread], grace_s: float = 5.0) -> list[threading.Thread]:
    """Threads alive now that were not in ``before``, after giving stopping ones ``grace_s`` to end.

    Daemon threads count too: one left behind still holds its sockets and files and acts in
    whatever runs next, even though it would not keep the interpreter alive.
    """
    deadline = time.monotonic() + grace_s
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            return leaked
        time.sleep(0.05)


@dataclass
class ChaosReport:
    frames: int
    trials: int
    kill_after_s: list[float] = field(default_factory=list)
    processed_events: int = 0
    lost: list[str] = field(default_factory=list)
    duplicate_events: list[str] = field(default_factory=list)
    invalid_sidecars: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    seq_gaps: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicate_events or self.invalid_sidecars or self.temp_files or self.seq_gaps)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def daemon_command(watch: Path, state: Path) -> list[str]:
    return [sys.executable, "-m", "nanoaid_daemon.cli", "run", "--watch", str(watch), "--state", str(state)]


def fast_env(**extra: str) -> dict[str, str]:
    """Environment for a daemon under test: short settle windows, quick reconcile."""
    env = dict(os.environ)
    env.update({
        "NANOAID_SETTLE__QUIET_S": "0.2",
        "NANOAID_SETTLE__POLL_S": "0.05",
        "NANOAID_SETTLE__INCOMPLETE_GRACE_S": "2",
        "NANOAID_WATCH__RECONCILE_INTERVAL_S": "2",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def _frame_bytes(i: int, seed: int) -> bytes:
    import tifffile

    rng = np.random.default_rng([seed, i])
    buf = io.BytesIO()
    tifffile.imwrite(buf, rng.integers(0, 256, (64, 96), dtype=np.uint8))
    return buf.getvalue()


def _writer(watch: Path, frames: int, seed: int, duration_s: float, done: threading.Event) -> list[Path]:
    paths: list[Path] = []

    def run() -> None:
        pause = duration_s / max(frames, 1)
        for i in range(frames):
            folder = watch / f"run{i % 3}" if i % 2 else watch
            folder.mkdir(exist_ok=True)
            dest = folder / f"f{i:05d}.tif"
            data = _frame_bytes(i, seed)
            if i % 3 == 0:
                part = dest.with_name(dest.name + ".part")
                part.write_bytes(data)
                os.replace(part, dest)
            else:
                dest.write_bytes(data)
            paths.append(dest)
            time.sleep(pause)
        done.set()

    threading.Thread(target=run, name="chaos-writer", daemon=True).start()
    return paths


def _wait_all_processed(state: Path, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    journal_path = state / "journal.sqlite3"
    while time.monotonic() < deadline:
        if journal_path.exists():
            journal = Journal(journal_path)
            try:
                if journal.frame_count() >= expected:
                    return
            finally:
                journal.close()
        time.sleep(0.2)


def kill9_trials(workdir: Path, *, frames: int = 300, trials: int = 10, seed: int = 0,
                 env: dict[str, str] | None = None, finish_timeout_s: float = 180.0) -> ChaosReport:
    workdir = Path(workdir)
    watch, state = workdir / "watch", workdir / "state"
    watch.mkdir(parents=True, exist_ok=True)
    env = env or fast_env()
    rnd = random.Random(seed)
    report = ChaosReport(frames=frames, trials=trials)
    done = threading.Event()
    paths = _writer(watch, frames, seed, duration_s=trials * 1.2, done=done)
    for _ in range(trials):
        proc = subprocess.Popen(daemon_command(watch, state), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        delay = rnd.uniform(0.3, 2.5)
        report.kill_after_s.append(round(delay, 3))
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done.wait()
    final = subprocess.Popen(daemon_command(watch, state), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_all_processed(state, frames, finish_timeout_s)
    finally:
        final.send_signal(signal.SIGTERM)
        final.wait(timeout=30)
    _verify(report, watch, state, paths)
    return report


def _verify(report: ChaosReport, watch: Path, state: Path, paths: list[Path]) -> None:
    journal = Journal(state / "journal.sqlite3")
    try:
        events = journal.events()
    finally:
        journal.close()
    seqs = [e.seq for e in events if e.seq is not None]
    first_missing = 1 if seqs and seqs[0] != 1 else 0
    report.seq_gaps = sum(1 for a, b in pairwise(seqs) if b != a + 1) + first_missing
    per_frame: dict[str, int] = {}
    for e in events:
        if e.type == "frame.processed" and e.frame_id is not None:
            per_frame[e.frame_id] = per_frame.get(e.frame_id, 0) + 1
    report.processed_events = sum(per_frame.values())
    report.duplicate_events = [fid for fid, n in per_frame.items() if n > 1]
    for path in paths:
        digest = sha256_file(path)[0]
        sidecar = path.with_name(sidecar_name(path.name))
        if digest not in per_frame or not sidecar.is_file():
            report.lost.append(str(path))
            continue
        try:
            doc = Sidecar.model_validate_json(sidecar.read_text(encoding="utf-8"))
            if doc.frame.sha256 != digest:
                raise ValueError("sha256 mismatch")
        except Exception as exc:
            report.invalid_sidecars.append(f"{sidecar}: {exc}")
    report.temp_files = [str(p) for p in watch.rglob(f"*{TEMP_SUFFIX}")]


# -- the uploader's crash hook ------------------------------------------------------------------
#: ``after-put`` (pause, for an outside kill -9) or ``after-put:kill``, optionally ``@N`` for the
#: N-th upload of this process (default 1).
FAULT_ENV = "NANOAID_UPLOAD_FAULT"


class UploadFault:
    """Stops the uploader at its N-th repository write: paused for an outside kill, or killed."""

    def __init__(self, spec: str):
        head, _, at = spec.partition("@")
        point, _, action = head.partition(":")
        if point != "after-put" or action not in ("", "pause", "kill"):
            raise ValueError(f"{FAULT_ENV}={spec!r}: expected after-put[:pause|:kill][@N]")
        self.action = action or "pause"
        self.at = int(at or 1)
        self.count = 0

    def __call__(self, seq: int, frame_id: str | None) -> None:
        self.count += 1
        if self.count != self.at:
            return
        print(f"FAULT after-put seq={seq} frame={frame_id}", file=sys.stderr, flush=True)
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        while True:  # paused until the test kills this process
            time.sleep(3600)


def upload_fault(environ: dict[str, str] | None = None) -> UploadFault | None:
    """The hook ``NANOAID_UPLOAD_FAULT`` asks for, or None when it is unset."""
    spec = (os.environ if environ is None else environ).get(FAULT_ENV)
    return UploadFault(spec) if spec else None
