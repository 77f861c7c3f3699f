"""A full disk makes intake wait, never die: real tmpfs file systems, mounted by the test as root."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest

from nanoaid_daemon.supervise import Supervisor
from nanoaid_daemon.testing import daemon_command, fast_env

from .helpers import processed_ids, running_daemon, tiff_bytes, wait_for

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None,
                                reason="mounting a small tmpfs for the full-disk cases needs root (CI runs as root)")


@contextmanager
def small_tmpfs(path, size="4m"):
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder):
    """Take every free byte of ``folder``'s file system; returns the filler to delete later."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError:
                pass
    return filler


def test_supervisor_restarts_a_failing_thread_and_gives_up_on_a_hopeless_one():
    stop = threading.Event()
    fatal = []
    sup = Supervisor(stop, on_fatal=fatal.append, max_restarts=3, window_s=60)
    runs = []

    def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    def hopeless():
        raise ValueError("never works")

    sup.spawn("flaky", flaky)
    sup.spawn("hopeless", hopeless)
    wait_for(lambda: fatal, timeout=30, message="the hopeless thread given up")
    for t in sup.threads:
        t.join(10)
    health = {t.name: t for t in sup.health().threads}
    assert health["flaky"].state == "stopped" and health["flaky"].restarts == 2
    assert health["flaky"].last_error == "RuntimeError: boom 2"
    assert health["hopeless"].state == "dead" and "never works" in fatal[0]
    assert not sup.health().healthy and sup.health().state == "failed"


@needs_root
def test_full_state_disk_makes_intake_wait_and_resume_by_itself(tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    with small_tmpfs(tmp_path / "state") as state, running_daemon(watch, state) as daemon:
        (watch / "before.tif").write_bytes(tiff_bytes(1))
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="one frame before the disk fills")
        filler = fill(state)
        for i in range(2, 8):
            (watch / f"during{i}.tif").write_bytes(tiff_bytes(i))
        wait_for(lambda: daemon.health().state == "waiting", message="intake waiting on the full disk")
        assert daemon.health().healthy
        filler.unlink()
        wait_for(lambda: len(processed_ids(daemon)) == 7, timeout=120, message="all frames once space is back")
        wait_for(lambda: all(t.state == "running" for t in daemon.health().threads), message="threads running")
        assert all(t.state != "dead" for t in daemon.health().threads)
        seqs = [e.seq for e in daemon.journal.events()]
    assert seqs == list(range(1, len(seqs) + 1))


@needs_root
def test_full_output_disk_is_retried_past_three_attempts_and_never_quarantined(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with small_tmpfs(tmp_path / "out") as out, running_daemon(watch, state, output={"root": str(out)}) as daemon:
        filler = fill(out)
        frame = watch / "image.tif"
        frame.write_bytes(tiff_bytes(11))
        wait_for(lambda: (daemon.journal.file(frame) or 0) and daemon.journal.file(frame).attempts >= 4,
                 timeout=90, message="four failed attempts on the full output disk")
        rec = daemon.journal.file(frame)
        assert rec.state == "failed" and rec.code == "transient", rec
        assert daemon.journal.quarantine() == []
        filler.unlink()
        wait_for(lambda: len(processed_ids(daemon)) == 1, timeout=120, message="processed once space is back")
        assert daemon.journal.file(frame).attempts == 0
        # The same name with new content after a failure starts with a clean count.
        frame.write_bytes(tiff_bytes(12))
        wait_for(lambda: len(processed_ids(daemon)) == 2, message="new content under the reused name")


@needs_root
def test_sigterm_on_a_full_state_disk_exits_and_removes_endpoints(tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    with small_tmpfs(tmp_path / "state") as state:
        proc = subprocess.Popen(daemon_command(watch, state), env=fast_env(), stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: (state / "health.json").exists(), message="daemon up")
            filler = fill(state)
            for i in range(3):
                (watch / f"f{i}.tif").write_bytes(tiff_bytes(20 + i))
            time.sleep(1.0)  # let intake meet the full disk (no assertion rests on this)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
            assert not (state / "endpoints.json").exists()
            filler.unlink()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
