"""A real dask.distributed scheduler and two workers, started here on 127.0.0.1, run a batch."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from contextlib import ExitStack, contextmanager

import pytest

from nanoaid_daemon.testing import wait_for

from .helpers import assert_exactly_once, cli_env, make_archive, outcome, run_batch_cli

pytest.importorskip("distributed")


@contextmanager
def _process(args, log_path, env):
    """A server process for the test's lifetime, stopped (SIGTERM, then SIGKILL) however the test ends."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def dask_cluster(tmp_path, workers=2):
    """``dask scheduler`` plus ``dask worker`` processes; yields the scheduler's address."""
    env = cli_env()
    info = tmp_path / "scheduler.json"
    with ExitStack() as stack:
        scheduler_log = tmp_path / "scheduler.log"
        stack.enter_context(_process(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
            scheduler_log, env))
        address = wait_for(lambda: info.exists() and json.loads(info.read_text() or "{}").get("address"),
                        message="the scheduler's address")
        for i in range(workers):
            stack.enter_context(_process(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                 "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"], tmp_path / f"worker{i}.log", env))
        wait_for(lambda: scheduler_log.read_text().count("Register worker") >= workers, message="workers registered")
        yield address


@pytest.mark.slow
def test_running_scheduler_with_two_workers_processes_the_archive(tmp_path):
    archive = make_archive(tmp_path / "archive", 120, copies=2)
    state, out = tmp_path / "state", tmp_path / "out"
    with dask_cluster(tmp_path) as address:
        assert address.startswith("tcp://127.0.0.1:")
        code, summary, err = run_batch_cli(archive.root, "--state", state, "--output", out, "--scheduler", address)
        assert code == 1, err  # the broken files are rejected
        assert (summary["processed"], summary["duplicates"], summary["rejected"], summary["failed"]) == (120, 2, 4, 0)
        assert address in summary["engine"]
        assert len(summary["workers"]) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in summary["workers"])
        assert sum(w["frames"] for w in summary["workers"].values()) == 120

        code, again, _ = run_batch_cli(archive.root, "--state", state, "--output", out, "--scheduler", address)
        assert code == 0 and again["pending"] == 0
    result = outcome(state, out)
    assert_exactly_once(result, archive)
    assert sorted(e.frame_path for e in result.of_type("frame.rejected")) == sorted(map(str, archive.corrupt))


def test_unreachable_scheduler_stops_the_batch_with_a_clear_message(tmp_path):
    archive = make_archive(tmp_path / "archive", 3, corrupt=False, copies=0)
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = cli_env(DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s")
    code, summary, err = run_batch_cli(archive.root, "--state", tmp_path / "state", "--scheduler",
                                       f"tcp://127.0.0.1:{port}", env=env)
    assert code == 1
    assert "cannot reach the Dask scheduler" in (summary.get("aborted") or err)
