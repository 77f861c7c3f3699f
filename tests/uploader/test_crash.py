"""kill -9 of the uploader between a finished upload and its own commit, again and again.

Each trial runs the real ``nanoaid upload`` process with a fault hook that pauses it right after
the sink confirmed an upload and before the progress database records it; the test then kills it
with SIGKILL. The next process must find that frame still pending, see the repository already
holding exactly it, and never store it a second time.
"""
from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import time

from nanoaid_daemon.uploader.catalogue import Catalogue
from nanoaid_daemon.uploader.progress import Progress
from nanoaid_plugins.sink_ocfl._api import STAGING

from .factory import EventLog, correct, corrected_event
from .helpers import nanoaid_cmd, object_inventories, validate_ocfl

TRIALS = 10
FRAMES = 300


def _run_until_fault(cmd, env, timeout_s=60.0) -> str:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                line = proc.stderr.readline()
                if line.startswith("FAULT after-put"):
                    return line.strip()
                if not line and proc.poll() is not None:
                    raise AssertionError(f"uploader exited with {proc.returncode} before the fault point")
        raise AssertionError("uploader never reached the fault point")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()


def _state_of(state_dir, seq) -> str:
    with Progress(state_dir / "progress.sqlite3") as progress:
        row = progress.db.execute("SELECT state FROM queue WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else "absent"


def _pending_puts(state, log) -> int:
    """Uploads the next process will make: pending rows plus events it has not accepted yet."""
    if not (state / "progress.sqlite3").exists():
        return log.seq
    with Progress(state / "progress.sqlite3") as progress:
        return progress.counts()["pending"] + log.seq - progress.last_seq()


def test_kill_9_between_upload_and_commit_never_duplicates_or_loses(tmp_path):
    """300 frames arrive in ten batches; after each batch the uploader is killed at an upload
    near the end of its backlog (often an operator's correction), before it could commit it."""
    rng = random.Random(5)
    log = EventLog(tmp_path / "events.jsonl")
    archive, state = tmp_path / "archive", tmp_path / "state"
    cmd = nanoaid_cmd("upload", "--state", state, "--events", log.path, "--no-follow", "--archive", archive)
    made, fixed, faults = [], {}, []
    for trial in range(TRIALS):
        made += log.frames(tmp_path / "watch", FRAMES // TRIALS, start=len(made))
        if trial:  # an operator corrects a frame stored in the previous round
            frame, side, doc = made[(trial - 1) * (FRAMES // TRIALS) + rng.randrange(FRAMES // TRIALS - 1)]
            fixed[doc.frame.sha256] = correct(side, "Tips", comment=f"needle, round {trial}")
            log.append(corrected_event, frame, side, fixed[doc.frame.sha256])
        at = max(2, _pending_puts(state, log) - rng.randint(0, 2))
        line = _run_until_fault(cmd, {**os.environ, "NANOAID_UPLOAD_FAULT": f"after-put@{at}"})
        seq = int(line.split("seq=")[1].split()[0])
        frame_id = line.split("frame=")[1]
        assert _state_of(state, seq) == "pending", "the kill must land before the commit"
        assert frame_id in object_inventories(archive), "the kill must land after the upload"
        faults.append(seq)
    print("kill points (seq):", faults)
    assert len(faults) == TRIALS and len(set(faults)) == TRIALS
    corrections = {e.seq for e in log.events if e.type == "label.corrected"}
    assert len(corrections & set(faults)) >= 3, "some kills must hit a correction (version 2) upload"

    final = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]

    inventories = object_inventories(archive)
    assert sorted(inventories) == sorted(doc.frame.sha256 for _, _, doc in made) and len(made) == FRAMES
    for frame_id, inv in inventories.items():
        assert list(inv["versions"]) == (["v1", "v2"] if frame_id in fixed else ["v1"]), frame_id
    report = validate_ocfl(archive)
    assert report == {"valid": True, "structure_error": None, "objects": FRAMES, "good": FRAMES, "errors": []}
    assert not (archive / STAGING).exists()
    with Progress(state / "progress.sqlite3") as progress:
        assert progress.counts() == {"pending": 0, "done": log.seq, "skipped": 0, "failed": 0}
    with Catalogue(state / "catalogue.sqlite3") as catalogue:
        assert catalogue.count() == FRAMES
        assert {h["frame_id"] for h in catalogue.search("label:Tips corrected:yes")} == set(fixed)
