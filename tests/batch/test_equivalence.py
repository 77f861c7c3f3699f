"""Batch is the daemon's pipeline, not a second one: same sidecars as ``process``, same events as the daemon."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.daemon import Daemon
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.pipeline import summary_of
from nanoaid_daemon.sidecar import Sidecar

from .helpers import assert_exactly_once, cli_env, make_archive, outcome, run_batch_cli

VOLATILE = ("id", "created")


def _comparable(doc: dict, *, config_hash: bool = True) -> dict:
    """A sidecar without what differs between any two runs: record id, creation time, step timings."""
    doc = {k: v for k, v in doc.items() if k not in VOLATILE}
    doc["provenance"] = {k: v for k, v in doc["provenance"].items()
                         if k != "timings_ms" and (config_hash or k != "config_hash")}
    return doc


@pytest.mark.slow
def test_2000_frame_archive_gives_the_sidecars_of_process_and_one_event_per_frame(tmp_path):
    archive = make_archive(tmp_path / "archive", 2000, copies=3)
    state, out, out_process = tmp_path / "state", tmp_path / "out", tmp_path / "out-process"
    # `nanoaid process` first, with the settings the batch will have (output folder included, so the
    # config hash matches); its output is then moved aside for the batch to write the same folder.
    # A CPU budget of 1 (this machine's default) gives both one worker with one inference thread:
    # onnxruntime's float results, and so preview bytes, can differ between thread counts.
    same_settings = cli_env(pool=1, NANOAID_WATCH__ROOT=str(archive.root), NANOAID_STATE_DIR=str(state))
    proc = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "process", "--json", "--output",
                           str(out), "--root", str(archive.root), *map(str, archive.all_files)],
                          capture_output=True, text=True, env=same_settings, timeout=300)
    assert proc.returncode == 1, proc.stderr
    printed = [json.loads(line) for line in proc.stdout.splitlines()]
    errors = {doc["path"]: doc["error"]["code"] for doc in printed if "error" in doc}
    assert sorted(errors) == sorted(map(str, archive.corrupt))
    out.rename(out_process)

    out_batch = out
    code, summary, err = run_batch_cli(archive.root, "--state", state, "--output", out_batch, env=cli_env(pool=1))
    assert code == 1, err  # the broken files are rejected
    assert (summary["processed"], summary["duplicates"], summary["rejected"], summary["failed"]) == (2000, 3, 4, 0)

    result = outcome(state, out_batch)
    assert_exactly_once(result, archive)
    for sidecar in result.sidecars:
        twin = out_process / sidecar.relative_to(out_batch)
        assert _comparable(json.loads(sidecar.read_text())) == _comparable(json.loads(twin.read_text())), sidecar

    # the events: one frame.processed per frame with the summary `process` gives; one rejection per broken file
    expected = {}
    for doc in printed:
        if "error" not in doc:
            sidecar = Sidecar.model_validate(doc)
            expected[sidecar.frame.sha256] = summary_of(sidecar)
    assert {e.frame_id: e.summary for e in result.of_type("frame.processed")} == expected
    rejected = {e.frame_path: e.summary.reason for e in result.of_type("frame.rejected")}
    assert sorted(rejected) == sorted(errors)
    assert all(reason.startswith(f"{errors[path]}: ") for path, reason in rejected.items())
    assert {e.type for e in result.events} == {"frame.processed", "frame.rejected"}


def _daemon_events(archive_root, state, output):
    settings = load_settings(overrides={
        "watch": {"root": str(archive_root), "observer": "none", "reconcile_interval_s": 60.0},
        "state_dir": str(state), "output": {"root": str(output)},
        "settle": {"quiet_s": 0.1, "poll_s": 0.05, "incomplete_grace_s": 0.3},
        "pipeline": {"cpu_budget": 1},  # one inference thread, as the batch below (see the 2000-frame test)
    })
    daemon = Daemon(settings, bus_factory=None)
    daemon.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = daemon.journal.counts()
            if counts["discovered"] + counts["settled"] == 0 and sum(counts.values()) > 0 and daemon.idle():
                break
            time.sleep(0.1)
    finally:
        daemon.stop()
    journal = Journal(state / "journal.sqlite3")
    try:
        return [e for e in journal.events() if e.type.startswith("frame.")]
    finally:
        journal.close()


def test_batch_journals_the_daemons_events_for_the_same_archive(tmp_path):
    archive = make_archive(tmp_path / "archive", 60, copies=2)
    daemon_events = _daemon_events(archive.root, tmp_path / "state-d", tmp_path / "out-d")
    code, summary, err = run_batch_cli(archive.root, "--state", tmp_path / "state-b", "--output", tmp_path / "out-b",
                                       env=cli_env(pool=1))
    assert code == 1, err
    batch = outcome(tmp_path / "state-b", tmp_path / "out-b")

    def processed(events):
        return {e.frame_id: e.summary for e in events if e.type == "frame.processed"}

    assert processed(batch.events) == processed(daemon_events)
    assert len(processed(batch.events)) == 60
    copied = {str(p) for p in archive.copies} | {str(p) for p in archive.frames if p.read_bytes() in
                                                 {c.read_bytes() for c in archive.copies}}
    paths = {(e.frame_id, e.frame_path) for e in batch.events
             if e.type == "frame.processed" and e.frame_path not in copied}
    assert paths == {(e.frame_id, e.frame_path) for e in daemon_events
                     if e.type == "frame.processed" and e.frame_path not in copied}
    # the daemon reports a broken file at settle time, the batch (an archive at rest) from the reader
    assert sorted(e.frame_path for e in batch.of_type("frame.rejected")) == \
        sorted(e.frame_path for e in daemon_events if e.type == "frame.rejected")
    assert all(e.summary.reason for e in batch.of_type("frame.rejected"))
    for sidecar in batch.sidecars:
        twin = tmp_path / "out-d" / sidecar.relative_to(tmp_path / "out-b")
        if twin.exists():
            assert _comparable(json.loads(sidecar.read_text()), config_hash=False) == \
                _comparable(json.loads(twin.read_text()), config_hash=False)


def test_local_dask_cluster_writes_what_the_local_pool_writes(tmp_path):
    archive = make_archive(tmp_path / "archive", 40, copies=1)
    runs = {}
    for name, extra in (("pool", ()), ("dask", ("--workers", "2"))):
        state, out = tmp_path / f"state-{name}", tmp_path / f"out-{name}"
        code, summary, err = run_batch_cli(archive.root, "--state", state, "--output", out, *extra,
                                           env=cli_env(pool=2))
        assert code == 1, err
        assert (summary["processed"], summary["rejected"], summary["duplicates"]) == (40, 4, 1)
        runs[name] = outcome(state, out)
        assert_exactly_once(runs[name], archive)
    assert "Dask" in summary["engine"] and len(summary["workers"]) == 2
    pool, dask = runs["pool"], runs["dask"]
    assert {e.frame_id: e.summary for e in pool.of_type("frame.processed")} == \
        {e.frame_id: e.summary for e in dask.of_type("frame.processed")}
    assert [p.relative_to(tmp_path / "out-pool") for p in pool.sidecars] == \
        [p.relative_to(tmp_path / "out-dask") for p in dask.sidecars]
