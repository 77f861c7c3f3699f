"""File names as the OS gives them: Latin-1 names from SMB clients and names near 255 bytes."""
from __future__ import annotations

import os
import sqlite3

from nanoaid_daemon.paths import db_key, from_db, shown

from .helpers import processed_ids, running_daemon, sidecars, tiff_bytes, wait_for


def _latin1(folder, name: bytes):
    return os.fsdecode(os.path.join(os.fsencode(folder), name))


def test_latin1_backlog_and_live_frames_are_processed_and_threads_survive(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    backlog = _latin1(watch, b"Probe_M\xfcller.tif")
    with open(os.fsencode(backlog), "wb") as fh:
        fh.write(tiff_bytes(1))
    with running_daemon(watch, state) as daemon:
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="the backlog frame with a Latin-1 name")
        live = _latin1(watch, b"Gr\xf6\xdfe.tif")
        empty = _latin1(watch, b"leer_\xe4.tif")
        with open(os.fsencode(live), "wb") as fh:
            fh.write(tiff_bytes(2))
        open(os.fsencode(empty), "wb").close()
        wait_for(lambda: len(processed_ids(daemon)) == 2, message="the live Latin-1 frame")
        wait_for(lambda: daemon.journal.quarantine(), message="the empty Latin-1 file in quarantine")
        health = daemon.health()
        assert all(t.state == "running" for t in health.threads), health
        assert daemon.journal.file(backlog).state == "processed"
        assert daemon.journal.quarantine()[0].path == empty, "the journal gives back the exact name"
        events = daemon.journal.events(type="frame.processed")
    assert {e.frame_path for e in events} == {shown(backlog), shown(live)}
    assert "Probe_M\\xfcller.tif" in events[0].frame_path
    names = {os.fsencode(p.name) for p in sidecars(watch)}
    assert names == {b"Probe_M\xfcller.tif.nanoaid.json", b"Gr\xf6\xdfe.tif.nanoaid.json"}


def test_paths_round_trip_through_sqlite_losslessly(tmp_path):
    odd = _latin1(tmp_path, b"\xff\xfe-odd.tif")
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (p TEXT PRIMARY KEY)")
    for path in (odd, str(tmp_path / "plain.tif"), str(tmp_path / "Müller.tif")):
        db.execute("INSERT INTO t VALUES (?)", (db_key(path),))
        row = db.execute("SELECT p FROM t WHERE p = ?", (db_key(path),)).fetchone()
        assert from_db(row[0]) == path


def test_name_of_255_bytes_gets_its_sidecar_with_a_bounded_temp_name(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    # The sidecar adds ".nanoaid.json" to the frame name, so the longest frame that can have a
    # sidecar beside it is 255 - 13 bytes; with an output folder the frame itself may use all 255.
    name = "f" * (255 - len(".nanoaid.json") - 4) + ".tif"
    with running_daemon(watch, state) as daemon:
        (watch / name).write_bytes(tiff_bytes(3))
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="the long-named frame")
    assert [p.name for p in sidecars(watch)] == [name + ".nanoaid.json"]
    assert len(os.fsencode(name + ".nanoaid.json")) == 255
