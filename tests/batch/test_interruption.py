"""Interruption-safe: Ctrl-C, kill -9 of the batch, a killed worker, a frame that kills its worker."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import psutil
import pytest

from nanoaid_daemon.atomic import TEMP_SUFFIX
from nanoaid_daemon.testing import wait_for

from .helpers import (
    assert_exactly_once,
    batch_args,
    cli_env,
    install_probe_plugin,
    make_archive,
    outcome,
    probe_config,
    run_batch_cli,
)


def _committed(state) -> int:
    try:
        with sqlite3.connect(f"file:{state / 'journal.sqlite3'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def _run_pid(state) -> int | None:
    try:
        return json.loads((state / "batch-run.json").read_text()).get("pid")
    except (OSError, ValueError):
        return None


def _wait_gone(pids, timeout=20.0):
    """Worker processes of a stopped batch must not outlive it."""
    def alive():
        return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    wait_for(lambda: not alive(), timeout, f"worker processes {alive()} to exit")


def _descendants(pid) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_sigint_and_sigkill_at_random_points_then_resume_process_every_frame_exactly_once(tmp_path):
    archive = make_archive(tmp_path / "archive", 600, copies=2)
    state, out = tmp_path / "state", tmp_path / "out"
    config = probe_config(tmp_path / "probe.toml", sleep_s=0.02)
    env = cli_env(pool=2, extra_path=install_probe_plugin(tmp_path / "plugins"))
    rng = random.Random(8)
    interrupted = []
    for trial in range(6):
        sig = signal.SIGINT if trial % 2 == 0 else signal.SIGKILL
        engine = ("--workers", "2") if trial >= 4 else ()
        resume = (archive.root, "--resume") if trial else (archive.root,)
        cmd = batch_args(*resume, "--state", state, "--output", out, "--config", config, *engine)
        log = tmp_path / f"trial{trial}.log"
        with open(log, "w") as err:  # its own process group, as a terminal's foreground job
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        if trial % 3 == 1:  # mid-run for sure: once this run has committed something
            before = _committed(state)
            wait_for(lambda before=before, proc=proc: _committed(state) > before or proc.poll() is not None,
                     message="progress")
            time.sleep(rng.uniform(0.0, 0.8))
        else:  # anywhere once the command runs (engine start-up included)
            wait_for(lambda proc=proc: _run_pid(state) == proc.pid or proc.poll() is not None,
                     message="the run to start")
            time.sleep(rng.uniform(0.0, 2.5) if engine else rng.uniform(0.0, 1.5))
        workers = _descendants(proc.pid)
        if proc.poll() is None:
            if sig == signal.SIGINT:  # Ctrl-C reaches the whole group, workers included
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
            interrupted.append(sig)
        code = proc.wait(timeout=60)
        assert code in ((130,) if sig == signal.SIGINT else (-signal.SIGKILL,)) or code in (0, 1)
        _wait_gone(workers)
        if sig == signal.SIGINT:
            assert "Traceback" not in log.read_text(), log.read_text()
    assert len(interrupted) >= 5, "the archive was finished before the trials could interrupt it"
    assert 0 < _committed(state) < 600, "the interruptions should leave work for --resume"

    code, summary, err = run_batch_cli("--resume", "--state", state, "--config", config, env=env)
    assert code in (0, 1), err
    assert summary["failed"] == 0 and summary["pending"] > 0
    result = outcome(state, out)
    assert_exactly_once(result, archive)
    rejected = [e.frame_path for e in result.of_type("frame.rejected")]
    assert sorted(rejected) == sorted(map(str, archive.corrupt))  # each broken file once, too
    assert list(archive.root.rglob(f"*{TEMP_SUFFIX}")) == []

    code, summary, _ = run_batch_cli("--resume", "--state", state, env=env)
    assert code == 0 and summary["pending"] == 0 and summary["already_done"] == summary["found"]


@pytest.mark.parametrize("engine", [(), ("--workers", "2")], ids=["pool", "dask"])
def test_killed_worker_loses_nothing_and_its_frames_are_retried_once_elsewhere(tmp_path, engine):
    archive = make_archive(tmp_path / "archive", 80, corrupt=False, copies=0)
    state, out, busy = tmp_path / "state", tmp_path / "out", tmp_path / "busy"
    busy.mkdir()
    config = probe_config(tmp_path / "probe.toml", sleep_s=0.05, busy_dir=str(busy))
    env = cli_env(pool=2, extra_path=install_probe_plugin(tmp_path / "plugins"))
    cmd = batch_args(archive.root, "--state", state, "--output", out, "--config", config, "--json", *engine)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _committed(state) >= 8, message="some frames committed")
        wait_for(lambda: any(busy.iterdir()), message="a worker busy with a frame")
        victim = int(next(busy.iterdir()).name)
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout.splitlines()[-1])
    # the pool loses the one chunk the worker held; Dask also gives up the chunk queued behind it
    assert (summary["tasks_lost"] == 1 if not engine else summary["tasks_lost"] >= 1)
    assert summary["failed"] == 0
    assert summary["retried"] >= 1
    assert all(r["retried_on"] != r["failed_on"] for r in summary["retries"]), summary["retries"]
    assert assert_exactly_once(outcome(state, out), archive) is None


def test_frame_that_kills_its_worker_twice_is_recorded_failed_and_the_rest_completes(tmp_path):
    archive = make_archive(tmp_path / "archive", 30, corrupt=False, copies=0)
    poison = archive.frames[7]
    state, out = tmp_path / "state", tmp_path / "out"
    config = probe_config(tmp_path / "probe.toml", die_on=poison.name)
    env = cli_env(pool=2, extra_path=install_probe_plugin(tmp_path / "plugins"))
    code, summary, err = run_batch_cli(archive.root, "--state", state, "--output", out, "--config", config,
                                       "--chunk-size", "5", env=env)
    assert code == 1, err
    assert (summary["processed"], summary["failed"]) == (29, 1)
    assert summary["tasks_lost"] == 2  # the chunk holding it, then its retry alone
    (failure,) = summary["failures"]
    assert failure["path"] == str(poison) and "died" in failure["reason"]
    result = outcome(state, out)
    (event,) = result.of_type("frame.failed")
    assert event.frame_path == str(poison) and "twice" in event.summary.reason
    assert len(result.processed_ids()) == 29 and result.temp_files == []
    assert result.counts["failed"] == 1


def test_sidecar_that_cannot_be_written_is_retried_elsewhere_then_failed_with_the_reason(tmp_path):
    archive = make_archive(tmp_path / "archive", 12, corrupt=False, copies=0)
    blocked = archive.frames[3]
    state, out = tmp_path / "state", tmp_path / "out"
    # a folder where the sidecar file should go: the atomic rename fails on any worker
    (out / blocked.relative_to(archive.root)).with_name(blocked.name + ".nanoaid.json").mkdir(parents=True)
    code, summary, err = run_batch_cli(archive.root, "--state", state, "--output", out, env=cli_env(pool=2))
    assert code == 1, err
    assert (summary["processed"], summary["failed"], summary["retried"]) == (11, 1, 1)
    (retry,) = summary["retries"]
    assert retry["path"] == str(blocked) and retry["retried_on"] != retry["failed_on"]
    (event,) = outcome(state, out).of_type("frame.failed")
    assert event.frame_path == str(blocked) and event.summary.reason.startswith("IsADirectoryError")

    # failed frames are tried again by the next run (the journal allows a few attempts)
    code, summary, _ = run_batch_cli(archive.root, "--state", state, "--output", out, env=cli_env(pool=2))
    assert summary["pending"] == 1 and summary["failed"] == 1
