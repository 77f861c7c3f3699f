"""The whole way: ``nanoaid run`` publishes, ``nanoaid upload --daemon-state`` follows over the real bus.

Both are real processes. The uploader is killed with SIGKILL while the daemon keeps processing
frames and an operator corrects a label; started again, it resumes from its own last seq through
the client library (replay, then live) and stores everything once, the correction as version 2.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess

import numpy as np
import tifffile

from nanoaid_daemon.bus.client import send_correction
from nanoaid_daemon.hashing import sha256_file

from .helpers import nanoaid_cmd, object_inventories, running, tail, upload_status, validate_ocfl, wait_for

DAEMON_ENV = {
    "NANOAID_SETTLE__QUIET_S": "0.2",
    "NANOAID_SETTLE__POLL_S": "0.05",
    "NANOAID_WATCH__RECONCILE_INTERVAL_S": "2",
    "NANOAID_PLUGINS__DISABLED": '["classify", "alignment", "previews"]',  # no models needed here
    "PYTHONUNBUFFERED": "1",
}


def _write_frames(watch, start, count):
    paths = []
    for i in range(start, start + count):
        buf = io.BytesIO()
        tifffile.imwrite(buf, np.random.default_rng(i).integers(0, 256, (48, 64), dtype=np.uint8))
        (watch / f"frame_{i:03d}.tif").write_bytes(buf.getvalue())
        paths.append(watch / f"frame_{i:03d}.tif")
    return paths


def _stored(state):
    return (state / "progress.sqlite3").exists() and upload_status(state)["stored_frames"]


def test_uploader_follows_the_daemon_survives_kill_9_and_stores_each_frame_once(tmp_path):
    watch, daemon_state, state, archive = (tmp_path / n for n in ("watch", "daemon", "upload", "archive"))
    watch.mkdir()
    env = {**os.environ, **DAEMON_ENV}
    upload_cmd = nanoaid_cmd("upload", "--state", state, "--daemon-state", daemon_state, "--archive", archive)
    daemon_log, upload_log = tmp_path / "daemon.log", tmp_path / "upload.log"
    with running(nanoaid_cmd("run", "--watch", watch, "--state", daemon_state), env=env, log=daemon_log) as daemon:
        wait_for(lambda: (daemon_state / "endpoints.json").exists(), 60, "the daemon's endpoints")
        with running(upload_cmd, log=upload_log) as uploader:
            paths = _write_frames(watch, 0, 15)
            wait_for(lambda: _stored(state) == 15, 120, "15 frames uploaded live")
            uploader.send_signal(signal.SIGKILL)
            uploader.wait()

        paths += _write_frames(watch, 15, 10)
        corrected = sha256_file(paths[3])[0]
        wait_for(lambda: (watch / "frame_024.tif.nanoaid.json").exists(), 60, "the daemon to go on alone")
        reply = send_correction(corrected, "Nanowires", operator="eve", comment="wires after all",
                                state_dir=daemon_state)
        assert reply.get("seq"), reply

        with running(upload_cmd, log=upload_log) as uploader:
            wait_for(lambda: _stored(state) == 25 and upload_status(state)["backlog"] == 0, 120,
                       "the replayed backlog")
            uploader.send_signal(signal.SIGTERM)
            assert uploader.wait(timeout=30) == 0, tail(upload_log)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, tail(daemon_log)

    inventories = object_inventories(archive)
    assert sorted(inventories) == sorted(sha256_file(p)[0] for p in paths)
    for frame_id, inv in inventories.items():
        assert list(inv["versions"]) == (["v1", "v2"] if frame_id == corrected else ["v1"])
    assert validate_ocfl(archive)["good"] == 25
    hits = subprocess.run(nanoaid_cmd("search", "--state", state, "corrected:yes", "--json"),
                          capture_output=True, text=True)
    [hit] = [json.loads(line) for line in hits.stdout.splitlines()]
    assert (hit["frame_id"], hit["version"], hit["frame_path"]) == (corrected, 2, str(paths[3]))
