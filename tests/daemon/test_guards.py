"""Mistakes refused at start, one daemon per state folder, damaged journals, quarantine and retry."""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

from nanoaid_daemon.journal import Journal
from nanoaid_daemon.testing import daemon_command, fast_env

from .helpers import processed_ids, running_daemon, tiff_bytes, wait_for


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, **kw)


def test_second_daemon_on_one_state_folder_exits_2_naming_the_first(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    first = subprocess.Popen(daemon_command(watch, state), env=fast_env(), stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (state / "health.json").exists(), message="first daemon up")
        second = subprocess.run(daemon_command(watch, state), env=fast_env(), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert f"PID {first.pid}" in second.stderr and "already running" in second.stderr
        assert (state / "endpoints.json").exists(), "the second daemon leaves the first's endpoints alone"
    finally:
        first.terminate()
        assert first.wait(timeout=30) == 0


def test_overlapping_folders_are_refused_at_start(tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    cases = [("--state", watch), ("--state", tmp_path), ("--output", watch)]
    for flag, value in cases:
        args = ["run", "--watch", watch, "--state", tmp_path / "state"] if flag == "--output" else ["run", "--watch",
                                                                                                 watch]
        result = _cli(*args, flag, value)
        assert result.returncode == 2, (flag, value, result.stderr)
        assert "configuration error" in result.stderr and str(value) in result.stderr


def test_damaged_journal_gives_one_clear_message_in_run_and_status(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state) as daemon:
        for i in range(40):
            (watch / f"f{i}.tif").write_bytes(tiff_bytes(i))
        wait_for(lambda: len(processed_ids(daemon)) == 40, message="a journal with some pages")
    path = state / "journal.sqlite3"
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 2, len(data), 4096):  # every page but the header page: damaged
        data[offset + 8: offset + 64] = b"\xa5" * 56
    path.write_bytes(bytes(data))
    run = subprocess.run(daemon_command(watch, state), env=fast_env(), capture_output=True, text=True, timeout=120)
    status = _cli("status", "--state", state)
    for result in (run, status):
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"journal {path} cannot be opened" in result.stderr and "move it aside" in result.stderr


def test_recreated_watch_folder_is_watched_again_and_logged(tmp_path, caplog):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    caplog.set_level(logging.WARNING, logger="nanoaid_daemon.watcher")
    # Reconcile scans an hour apart: only the native watch can find the frame below.
    with running_daemon(watch, state, watch={"reconcile_interval_s": 3600}) as daemon:
        shutil.rmtree(watch)
        watch.mkdir()
        wait_for(lambda: "re-armed" in caplog.text, message="the re-arm log line")
        (watch / "after.tif").write_bytes(tiff_bytes(1))
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="a frame found by the re-armed watch")


def test_hopeless_failure_goes_to_quarantine_with_its_reason_and_retry_requeues_it(tmp_path):
    watch, state, out = tmp_path / "watch", tmp_path / "state", tmp_path / "out"
    watch.mkdir()
    out.write_text("a file where the output folder should be")
    with running_daemon(watch, state, output={"root": str(out)}) as daemon:
        (watch / "f.tif").write_bytes(tiff_bytes(3))
        wait_for(lambda: daemon.journal.quarantine(), timeout=60, message="quarantined after three failures")
        (rec,) = daemon.journal.quarantine()
        assert rec.code == "failed" and rec.reason.startswith("failed 3 times:")
    listed = _cli("quarantine", "list", "--state", state)
    assert "failed 3 times" in listed.stdout
    assert _cli("retry", "--state", state).returncode == 2, "neither paths nor --all"
    out.unlink()
    out.mkdir()
    result = _cli("retry", "--all", "--state", state)
    assert result.returncode == 0 and f"re-queued {watch / 'f.tif'}" in result.stdout
    journal = Journal(state / "journal.sqlite3")
    try:
        assert journal.file(watch / "f.tif").state == "discovered" and journal.quarantine() == []
    finally:
        journal.close()
    with running_daemon(watch, state, output={"root": str(out)}) as daemon:
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="processed after the retry")
    assert (out / "f.tif.nanoaid.json").exists()


def test_status_shows_each_threads_health_as_text_and_json(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state) as daemon:
        daemon.write_health()
        text = _cli("status", "--state", state).stdout
        data = _cli("status", "--state", state, "--json").stdout
    assert "daemon:    running" in text and "settle" in text and "reconcile" in text and "worker-0" in text
    health = json.loads(data)["health"]
    assert health["healthy"] and {t["name"] for t in health["threads"]} >= {"settle", "reconcile", "worker-0"}
    assert "daemon:    stopped" in _cli("status", "--state", state).stdout
