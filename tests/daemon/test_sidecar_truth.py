"""A sidecar always describes the bytes beside it: content swaps, renames, deletions, restores."""
from __future__ import annotations

import os
import shutil

from nanoaid_daemon.corrections import Corrections
from nanoaid_daemon.frames import ORPHAN_DIR
from nanoaid_daemon.hashing import sha256_file
from nanoaid_daemon.sidecar import Sidecar

from .helpers import processed_ids, running_daemon, tiff_bytes, wait_for


def _doc(path):
    try:
        return Sidecar.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def _describes(sidecar, frame):
    doc = _doc(sidecar)
    return doc is not None and frame.exists() and doc.frame.sha256 == sha256_file(frame)[0]


def test_content_a_then_b_then_a_under_one_name_ends_described_as_a(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    frame, sidecar = watch / "image.tif", watch / "image.tif.nanoaid.json"
    with running_daemon(watch, state) as daemon:
        for seed, count in ((1, 1), (2, 2)):
            frame.write_bytes(tiff_bytes(seed))
            wait_for(lambda c=count: len(processed_ids(daemon)) == c, message=f"content {seed}")
        os.utime(frame, ns=(1, 1))  # let the next write differ in mtime for sure
        frame.write_bytes(tiff_bytes(1))
        wait_for(lambda: _describes(sidecar, frame), message="the sidecar to describe content A again")
        assert len(processed_ids(daemon)) == 2, "known content gets no second frame.processed"


def test_renamed_frame_takes_its_sidecar_and_corrections_along(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    old, new = watch / "a.tif", watch / "renamed.tif"
    with running_daemon(watch, state) as daemon:
        old.write_bytes(tiff_bytes(5))
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="processed")
        frame_id = processed_ids(daemon)[0]
        Corrections(daemon.journal).apply(frame_id, "Nanowires", operator="ana")
        os.rename(old, new)
        wait_for(lambda: _describes(watch / "renamed.tif.nanoaid.json", new), message="sidecar beside the new name")
        wait_for(lambda: not (watch / "a.tif.nanoaid.json").exists(), message="the old sidecar gone")
        doc = _doc(watch / "renamed.tif.nanoaid.json")
        assert [c.label for c in doc.corrections] == ["Nanowires"] and doc.version >= 3
        assert daemon.journal.file(new).state == "processed", "a rename is not a duplicate"
        applied = Corrections(daemon.journal).apply_full(frame_id, "Particles", operator="ana")
        assert applied.sidecar_path == watch / "renamed.tif.nanoaid.json"


def test_deleted_sidecar_and_restored_frame_get_their_sidecar_without_restart(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    frame, sidecar = watch / "f.tif", watch / "f.tif.nanoaid.json"
    backup = tmp_path / "backup.tif"
    with running_daemon(watch, state, watch={"reconcile_interval_s": 0.5}) as daemon:
        frame.write_bytes(tiff_bytes(7))
        wait_for(lambda: sidecar.exists(), message="first sidecar")
        sidecar.unlink()
        wait_for(lambda: _describes(sidecar, frame), message="the deleted sidecar written again")
        shutil.copy2(frame, backup)
        frame.unlink()
        wait_for(lambda: not sidecar.exists(), message="the orphaned sidecar moved aside")
        assert list((state / ORPHAN_DIR).iterdir()), "moved into the state folder, not deleted"
        shutil.copy2(backup, frame)  # restored from backup, same mtime
        wait_for(lambda: _describes(sidecar, frame), message="the restored frame's sidecar")
        assert len(processed_ids(daemon)) == 1


def test_reprocessing_after_the_journal_was_moved_aside_keeps_corrections_and_version(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    frame, sidecar = watch / "f.tif", watch / "f.tif.nanoaid.json"
    with running_daemon(watch, state) as daemon:
        frame.write_bytes(tiff_bytes(9))
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="processed")
        Corrections(daemon.journal).apply(processed_ids(daemon)[0], "Fibres", operator="bo")
    before = _doc(sidecar)
    os.rename(state / "journal.sqlite3", tmp_path / "journal.aside")
    with running_daemon(watch, state) as daemon:
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="reprocessed with a fresh journal")
    after = _doc(sidecar)
    assert [c.label for c in after.corrections] == [c.label for c in before.corrections] == ["Fibres"]
    assert after.version > before.version
