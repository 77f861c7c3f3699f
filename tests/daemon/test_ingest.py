"""Every frame is picked up exactly once: events, renames, nesting, dropped events, duplicates."""
from __future__ import annotations

import json
import os
import shutil

from nanoaid_daemon.hashing import sha256_file
from nanoaid_daemon.sidecar import Sidecar

from .helpers import processed_ids, running_daemon, sidecars, tiff_bytes, wait_for


def _write_frames(watch, count, *, start=0):
    """Plain writes, nested folders and rename-into-place, mixed."""
    paths = []
    for i in range(start, start + count):
        folder = watch / f"session-{i % 7}" / f"grid-{i % 3}" if i % 4 == 0 else watch
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"frame_{i:04d}.tif"
        if i % 5 == 0:  # written under a temp name, renamed into place when complete
            part = folder / f"frame_{i:04d}.tif.part"
            part.write_bytes(tiff_bytes(i))
            os.rename(part, dest)
        else:
            dest.write_bytes(tiff_bytes(i))
        paths.append(dest)
    return paths


def test_500_frames_give_500_sidecars_and_500_gap_free_events(tmp_path):
    from nanoaid_daemon.bus.client import Subscriber

    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    received = []
    with running_daemon(watch, state, bus=True, pipeline={"cpu_budget": 2}) as daemon:
        subscriber = Subscriber(state_dir=state, since=0, types=("frame.",)).start(received.append)
        try:
            paths = _write_frames(watch, 500)
            wait_for(lambda: len(processed_ids(daemon)) >= 500, timeout=240, message="500 processed frames")
            wait_for(daemon.idle, message="daemon idle")
            wait_for(lambda: len(received) >= 500, message="500 events over the bus")
        finally:
            subscriber.close()
        events = daemon.journal.events()
    processed = [e for e in events if e.type == "frame.processed"]
    assert len(processed) == 500
    assert len({e.frame_id for e in processed}) == 500
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.model_dump() for e in received] == [e.model_dump() for e in processed], "bus = journal, in order"
    found = sidecars(watch)
    assert len(found) == 500
    assert {p.name for p in found} == {p.name + ".nanoaid.json" for p in paths}
    nested = [p for p in found if p.parent != watch]
    assert nested, "nested folders must be watched recursively"
    doc = Sidecar.model_validate_json(nested[0].read_text())
    assert doc.frame.path == nested[0].relative_to(watch).as_posix()[: -len(".nanoaid.json")]


def test_frames_are_found_by_reconcile_when_file_events_are_lost(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state, watch={"observer": "none", "reconcile_interval_s": 1.0}) as daemon:
        assert daemon.observer_kind == "none"
        _write_frames(watch, 20)
        wait_for(lambda: len(processed_ids(daemon)) == 20, timeout=30, message="frames found by reconcile")
    assert len(sidecars(watch)) == 20


def test_same_content_under_another_name_is_recorded_not_reprocessed(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state) as daemon:
        (watch / "a.tif").write_bytes(tiff_bytes(1))
        wait_for(lambda: len(processed_ids(daemon)) == 1)
        shutil.copy(watch / "a.tif", watch / "b.tif")
        wait_for(lambda: daemon.journal.file(watch / "b.tif") is not None
                 and daemon.journal.file(watch / "b.tif").state == "duplicate", message="duplicate recorded")
        assert len(processed_ids(daemon)) == 1
        assert daemon.journal.file(watch / "b.tif").frame_id == sha256_file(watch / "a.tif")[0]
    assert not (watch / "b.tif.nanoaid.json").exists()


def test_own_outputs_temp_and_hidden_files_are_never_picked_up(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    (watch / ".hidden.tif").write_bytes(tiff_bytes(1))
    (watch / "x.tif.part").write_bytes(tiff_bytes(2))
    (watch / "y.tmp").write_bytes(tiff_bytes(3))
    (watch / "~$z.tif").write_bytes(tiff_bytes(4))
    (watch / ".cache").mkdir()
    (watch / ".cache" / "c.tif").write_bytes(tiff_bytes(5))
    (watch / "notes.txt").write_text("not a frame")
    with running_daemon(watch, state, watch={"exclude": ["skipme/*"]}) as daemon:
        (watch / "skipme").mkdir()
        (watch / "skipme" / "s.tif").write_bytes(tiff_bytes(6))
        (watch / "real.tif").write_bytes(tiff_bytes(7))
        wait_for(lambda: len(processed_ids(daemon)) == 1)
        daemon.reconcile_now()
        wait_for(daemon.idle)
        assert daemon.reconcile() == 0, "the sidecar and previews must not count as frames"
        files = {r for r in daemon.journal.counts().items() if r[1]}
    assert files == {("processed", 1)}
    assert [p.name for p in sidecars(watch)] == ["real.tif.nanoaid.json"]


def test_output_root_mirrors_relative_paths(tmp_path):
    watch, state, out = tmp_path / "watch", tmp_path / "state", tmp_path / "out"
    (watch / "day1").mkdir(parents=True)
    with running_daemon(watch, state, output={"root": str(out)}) as daemon:
        (watch / "day1" / "f.tif").write_bytes(tiff_bytes(9))
        wait_for(lambda: len(processed_ids(daemon)) == 1)
    assert (out / "day1" / "f.tif.nanoaid.json").is_file()
    assert not list(watch.rglob("*.nanoaid.json"))


def test_resumes_unfinished_files_from_the_journal_before_ready(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    (watch / "left.tif").write_bytes(tiff_bytes(11))
    from nanoaid_daemon.journal import Journal

    journal = Journal(state / "journal.sqlite3")
    st = (watch / "left.tif").stat()
    journal.note(watch / "left.tif", "settled", size=st.st_size, mtime_ns=st.st_mtime_ns)
    journal.close()
    with running_daemon(watch, state, watch={"observer": "none", "reconcile_interval_s": 3600}) as daemon:
        # the start-up reconcile would also find it; resume must not produce a second event
        wait_for(lambda: len(processed_ids(daemon)) == 1)
        wait_for(daemon.idle)
        assert len(processed_ids(daemon)) == 1


def test_sidecar_names_keep_the_full_frame_name(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    import numpy as np
    from PIL import Image

    with running_daemon(watch, state) as daemon:
        (watch / "img.tif").write_bytes(tiff_bytes(21))
        Image.fromarray(np.full((20, 30), 7, np.uint8)).save(watch / "img.png")
        wait_for(lambda: len(processed_ids(daemon)) == 2)
    names = sorted(p.name for p in sidecars(watch))
    assert names == ["img.png.nanoaid.json", "img.tif.nanoaid.json"]
    assert json.loads((watch / "img.png.nanoaid.json").read_text())["frame"]["media_type"] == "image/png"
