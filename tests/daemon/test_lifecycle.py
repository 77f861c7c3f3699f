"""The daemon as systemd runs it: a real process, real signals, kill -9, READY and watchdog pings."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from nanoaid_daemon.journal import Journal
from nanoaid_daemon.testing import daemon_command, fast_env, kill9_trials

from .helpers import tiff_bytes, wait_for


def _journal_counts(state: Path):
    journal = Journal(state / "journal.sqlite3")
    try:
        return journal.counts(), journal.events()
    finally:
        journal.close()


def test_kill9_at_random_moments_loses_nothing_and_duplicates_nothing(tmp_path):
    report = kill9_trials(tmp_path, frames=300, trials=10, seed=7)
    assert report.trials == 10 and len(report.kill_after_s) == 10
    assert report.lost == []
    assert report.duplicate_events == []
    assert report.invalid_sidecars == []
    assert report.temp_files == []
    assert report.seq_gaps == 0
    assert report.processed_events == 300


def test_sigterm_under_load_exits_zero_quickly_and_loses_nothing(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    proc = subprocess.Popen(daemon_command(watch, state), env=fast_env(), stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (state / "endpoints.json").exists(), message="daemon up")
        for i in range(150):
            (watch / f"load{i:03d}.tif").write_bytes(tiff_bytes(1000 + i))
        wait_for(lambda: _journal_counts(state)[0]["processed"] > 5, message="some frames processed")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    _, events = _journal_counts(state)
    assert events[-1].type == "daemon.stopping"
    proc = subprocess.Popen(daemon_command(watch, state), env=fast_env(), stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _journal_counts(state)[0]["processed"] == 150, timeout=120, message="all 150 after restart")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    _, events = _journal_counts(state)
    ids = [e.frame_id for e in events if e.type == "frame.processed"]
    assert len(ids) == len(set(ids)) == 150
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_ready_is_sent_after_endpoints_exist_and_watchdog_is_pinged(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    (watch / "before.tif").write_bytes(tiff_bytes(3))
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = fast_env(NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(daemon_command(watch, state), env=env, stderr=subprocess.DEVNULL)
    try:
        messages = []
        while not any(m.startswith("READY=1") for m in messages):
            messages.append(sock.recv(4096).decode())
        assert (state / "endpoints.json").is_file(), "READY must come after the sockets are bound"
        assert (state / "journal.sqlite3").is_file()
        assert sock.recv(4096).decode() == "WATCHDOG=1"
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.append(sock.recv(4096).decode())
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_run_without_watch_folder_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "run", "--state", str(tmp_path)],
                            capture_output=True, text=True, env=fast_env())
    assert result.returncode == 2
    assert "watch folder" in result.stderr


def test_file_without_read_permission_is_rejected_with_reason(tmp_path):
    """Root ignores file modes, so as root the daemon runs without the capabilities that do that."""
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    secret = watch / "secret.tif"
    secret.write_bytes(tiff_bytes(5))
    os.chmod(secret, 0o000)
    cmd = daemon_command(watch, state)
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    proc = subprocess.Popen(cmd, env=fast_env(), stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (state / "journal.sqlite3").exists() and _journal_counts(state)[0]["rejected"] == 1,
                 message="permission rejection")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    journal = Journal(state / "journal.sqlite3")
    try:
        (rec,) = journal.quarantine()
    finally:
        journal.close()
    assert rec.code == "permission" and "permission" in rec.reason
    out = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "quarantine", "list", "--state",
                          str(state), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[0])["code"] == "permission"


def test_sighup_reloads_the_configuration_file(tmp_path):
    watch, state, out = tmp_path / "watch", tmp_path / "state", tmp_path / "out"
    watch.mkdir()
    cfg = tmp_path / "nanoaid.toml"
    cfg.write_text("[settle]\nquiet_s = 0.2\n")
    cmd = daemon_command(watch, state) + ["--config", str(cfg)]
    proc = subprocess.Popen(cmd, env=fast_env(), stderr=subprocess.DEVNULL)
    try:
        (watch / "before.tif").write_bytes(tiff_bytes(31))
        wait_for(lambda: (watch / "before.tif.nanoaid.json").exists(), message="first sidecar beside the frame")
        cfg.write_text(f'[settle]\nquiet_s = 0.2\n[output]\nroot = "{out}"\n')
        proc.send_signal(signal.SIGHUP)
        # the reload is asynchronous: keep saving frames until one lands under the new output root
        i = 0
        def landed():
            nonlocal i
            i += 1
            (watch / f"after{i}.tif").write_bytes(tiff_bytes(40 + i))
            return list(out.glob("after*.tif.nanoaid.json"))
        wait_for(landed, interval=0.5, message="sidecar under the reloaded output root")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
