"""The ``nanoaid batch`` command: skipping by journal and content, resume, usage errors, progress."""
from __future__ import annotations

import io
import json
import shutil
import subprocess

from nanoaid_daemon.batch.progress import Progress
from nanoaid_daemon.batch.runstate import state_lock

from .helpers import assert_exactly_once, batch_args, cli_env, make_archive, outcome, run_batch_cli, tiff_bytes


def test_sidecars_go_beside_frames_by_default_and_a_rerun_skips_everything(tmp_path):
    archive = make_archive(tmp_path / "archive", 12, corrupt=False, copies=0)
    code, summary, err = run_batch_cli(archive.root, "--state", tmp_path / "state")
    assert code == 0, err
    assert summary["processed"] == 12 and summary["engine"].startswith("local process pool")
    assert all(p.with_name(p.name + ".nanoaid.json").is_file() for p in archive.frames)
    assert_exactly_once(outcome(tmp_path / "state", archive.root), archive)

    code, again, _ = run_batch_cli(archive.root, "--state", tmp_path / "state")
    assert code == 0
    assert (again["found"], again["already_done"], again["pending"], again["processed"]) == (12, 12, 0, 0)
    assert again["engine"] == ""  # nothing to do: no workers were started


def test_a_copy_of_a_processed_frame_is_skipped_by_content_hash(tmp_path):
    archive = make_archive(tmp_path / "archive", 6, corrupt=False, copies=0)
    state, out = tmp_path / "state", tmp_path / "out"
    assert run_batch_cli(archive.root, "--state", state, "--output", out)[0] == 0
    shutil.copyfile(archive.frames[2], archive.root / "renamed-later.tif")
    (archive.root / "new.tif").write_bytes(tiff_bytes(4242))
    code, summary, err = run_batch_cli(archive.root, "--state", state, "--output", out)
    assert code == 0, err
    assert (summary["pending"], summary["duplicates"], summary["processed"]) == (2, 1, 1)
    assert not (out / "renamed-later.tif.nanoaid.json").exists()
    result = outcome(state, out)
    assert len(result.of_type("frame.processed")) == 7 and result.counts["duplicate"] == 1


def test_resume_takes_archive_and_output_from_the_recorded_run(tmp_path):
    archive = make_archive(tmp_path / "archive", 5, corrupt=False, copies=0)
    state, out = tmp_path / "state", tmp_path / "out"
    assert run_batch_cli(archive.root, "--state", state, "--output", out)[0] == 0
    (archive.root / "later.tif").write_bytes(tiff_bytes(777))
    code, summary, err = run_batch_cli("--resume", "--state", state)
    assert code == 0, err
    assert summary["root"] == str(archive.root) and summary["processed"] == 1
    assert (out / "later.tif.nanoaid.json").is_file()
    record = json.loads((state / "batch-run.json").read_text())
    assert record["outcome"] == "completed" and record["output"] == str(out)


def test_resume_without_a_recorded_run_or_for_another_folder_is_a_usage_error(tmp_path):
    code, _, err = run_batch_cli("--resume", "--state", tmp_path / "state")
    assert code == 2 and "nothing to resume" in err
    archive = make_archive(tmp_path / "archive", 2, corrupt=False, copies=0)
    # a run stopped before it recorded anything: --resume with ROOT simply starts it
    code, summary, _ = run_batch_cli(archive.root, "--resume", "--state", tmp_path / "state")
    assert code == 0 and summary["processed"] == 2
    code, _, err = run_batch_cli(tmp_path, "--resume", "--state", tmp_path / "state")
    assert code == 2 and "continues the run over" in err


def test_usage_errors_exit_2_with_a_reason(tmp_path):
    cases = [
        ((), "ROOT is required"),
        ((tmp_path / "missing",), "does not exist"),
        ((tmp_path, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"), "not allowed with"),
        ((tmp_path, "--workers", "0"), "at least 1"),
        ((tmp_path, "--chunk-size", "0"), "at least 1"),
    ]
    for args, message in cases:
        proc = subprocess.run(batch_args(*args, "--state", tmp_path / "state"), capture_output=True, text=True,
                              env=cli_env(), timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)


def test_a_second_batch_on_the_same_state_folder_is_refused(tmp_path):
    archive = make_archive(tmp_path / "archive", 2, corrupt=False, copies=0)
    with state_lock(tmp_path / "state"):
        code, _, err = run_batch_cli(archive.root, "--state", tmp_path / "state")
    assert code == 1 and "another nanoaid batch" in err
    assert run_batch_cli(archive.root, "--state", tmp_path / "state")[0] == 0


def test_log_lines_off_a_terminal_and_the_human_summary(tmp_path):
    archive = make_archive(tmp_path / "archive", 8, copies=1)
    proc = subprocess.run(batch_args(archive.root, "--state", tmp_path / "state", "--progress-interval", "0"),
                          capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("batch: ")]
    assert "\r" not in proc.stderr and len(lines) >= 3
    assert lines[-1].startswith("batch: 13/13 (100.0%)")
    summary = proc.stdout
    for expected in ("batch finished", "processed   8", "1 duplicate copies", "rejected    4", "empty: 1",
                     "CPU time", "frames/s", "peak per worker"):
        assert expected in summary, expected


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_bar_on_a_terminal_shows_rate_and_eta():
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(200, stream=stream, tty=True, clock=clock)
    for step in range(1, 11):
        clock.now = step * 1.0
        progress.update(step * 10)
    progress.close()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("[" + "#" * 14 + "." * 14 + "] 100/200 (50.0%)")
    assert "10.0 frames/s" in last and "ETA 0:00:10" in last
    assert stream.getvalue().endswith("\n")


def test_progress_off_a_terminal_writes_a_line_per_interval_only():
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(1000, stream=stream, tty=False, interval_s=30, clock=clock)
    for step in range(1, 121):
        clock.now = step * 1.0
        progress.update(step * 5)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4  # at 1 s, 31 s, 61 s, 91 s
    assert lines[-1] == "batch: 455/1000 (45.5%)  5.0 frames/s  ETA 0:01:49"
