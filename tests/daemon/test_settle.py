"""Files still being written are never read as complete; truncated ones are rejected."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from nanoaid_daemon.config import SettleSettings
from nanoaid_daemon.hashing import sha256_file
from nanoaid_daemon.settle import Settler, check_complete
from nanoaid_daemon.sidecar import Sidecar
from nanoaid_daemon.watcher import Candidate

from .helpers import processed_ids, running_daemon, tiff_bytes, wait_for


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _settler(**kw):
    clock = FakeClock()
    got = {"ready": [], "reject": [], "gone": []}
    settler = Settler(
        SettleSettings(**{"quiet_s": 0.5, "incomplete_grace_s": 5.0, "timeout_s": 60.0, **kw}),
        ready=got["ready"].append,
        reject=lambda p, code, reason, st: got["reject"].append((p, code, reason)),
        gone=got["gone"].append,
        clock=clock,
    )
    return settler, clock, got


def test_growing_file_is_not_ready_until_quiet_and_structurally_complete(tmp_path):
    data = tiff_bytes(1, shape=(200, 300))
    path = tmp_path / "f.tif"
    settler, clock, got = _settler()
    path.write_bytes(data[:100])
    settler.add(Candidate(path, "event"))
    for cut in (100, 4000, 20000, len(data)):
        path.write_bytes(data[:cut])
        settler.tick()
        clock.now += 0.3  # shorter than the quiet window
        assert not got["ready"]
    clock.now += 0.6
    settler.tick()
    assert [s.size for s in got["ready"]] == [len(data)]


def test_stable_but_truncated_tiff_waits_for_grace_then_is_rejected(tmp_path):
    data = tiff_bytes(2, shape=(200, 300))
    path = tmp_path / "t.tif"
    path.write_bytes(data[: len(data) // 2])
    settler, clock, got = _settler()
    settler.add(Candidate(path, "event"))
    settler.tick()
    clock.now += 1.0
    settler.tick()
    assert not got["ready"] and not got["reject"], "a pause in writing is not yet a truncation"
    clock.now += 5.0
    settler.tick()
    assert got["reject"][0][1] == "truncated"
    assert "past the end of the file" in got["reject"][0][2]


def test_rename_into_place_is_ready_without_waiting(tmp_path):
    path = tmp_path / "r.tif"
    path.write_bytes(tiff_bytes(3))
    settler, clock, got = _settler()
    settler.add(Candidate(path, "rename", renamed=True))
    settler.tick()
    assert len(got["ready"]) == 1


def test_file_that_never_stops_changing_is_rejected(tmp_path):
    path = tmp_path / "busy.tif"
    settler, clock, got = _settler(timeout_s=10.0)
    settler.add(Candidate(path, "event"))
    for i in range(40):
        path.write_bytes(b"II*\x00" + bytes(i))
        settler.tick()
        clock.now += 0.4
    assert got["reject"] and got["reject"][0][1] == "never_settled"


def test_vanished_file_is_forgotten(tmp_path):
    settler, clock, got = _settler()
    settler.add(Candidate(tmp_path / "gone.tif", "event"))
    settler.tick()
    assert got["gone"] == [tmp_path / "gone.tif"] and len(settler) == 0


def test_check_complete_knows_png_and_jpeg_endings(tmp_path):
    import numpy as np
    from PIL import Image

    for ext, fmt in ((".png", "PNG"), (".jpg", "JPEG")):
        p = tmp_path / f"a{ext}"
        Image.fromarray(np.zeros((30, 40), np.uint8)).save(p, fmt)
        assert check_complete(p, p.stat().st_size) is None
        data = p.read_bytes()
        p.write_bytes(data[:-5])
        assert "truncated" in check_complete(p, p.stat().st_size)


def test_slow_writer_is_read_only_after_its_last_byte(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    data = tiff_bytes(5, shape=(400, 500))
    dest = watch / "slow.tif"

    def writer():
        with open(dest, "wb") as fh:
            for i in range(0, len(data), 20000):
                fh.write(data[i:i + 20000])
                fh.flush()
                time.sleep(0.08)  # well inside the 0.2 s quiet window

    with running_daemon(watch, state) as daemon:
        t = threading.Thread(target=writer)
        t.start()
        t.join()
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="slow frame processed")
        wait_for(daemon.idle)
        assert not daemon.journal.events(type="frame.rejected")
    sidecar = Sidecar.model_validate_json((watch / "slow.tif.nanoaid.json").read_text())
    assert sidecar.frame.sha256 == sha256_file(dest)[0]
    assert sidecar.frame.size_bytes == len(data)


_KILLED_WRITER = """
import sys, time
data = open(sys.argv[1], 'rb').read()
with open(sys.argv[2], 'wb') as fh:
    fh.write(data[: len(data) // 3]); fh.flush()
    print('half', flush=True)
    time.sleep(60)
"""


def test_truncated_tiff_and_killed_writer_are_rejected_never_processed(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    source = tmp_path / "src.tif"
    source.write_bytes(tiff_bytes(6, shape=(300, 400)))
    with running_daemon(watch, state) as daemon:
        (watch / "cut.tif").write_bytes(source.read_bytes()[:-5000])
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(source), str(watch / "killed.tif")],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "half"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        wait_for(lambda: len(daemon.journal.quarantine()) == 2, message="both rejected")
        events = daemon.journal.events(type="frame.rejected")
        rejected = {os.path.basename(e.frame_path): e.summary.reason for e in events}
        assert not daemon.journal.events(type="frame.processed")
    assert set(rejected) == {"cut.tif", "killed.tif"}
    assert all(reason.startswith("truncated:") for reason in rejected.values())
