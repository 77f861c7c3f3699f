"""``nanoaid search``, ``nanoaid catalogue rebuild`` and the event file source, as scripts use them."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading

import pytest

from nanoaid_daemon.uploader.bundle import BundleError, assemble_bundle
from nanoaid_daemon.uploader.source import JsonLinesSource

from .factory import EventLog, FrameSpec, correct, corrected_event, make_frame
from .helpers import nanoaid, wait_for


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    log = EventLog(tmp / "events.jsonl")
    made = log.frames(tmp / "watch", 6, label="Nanowires", coherency=0.9, mag=50000)
    made += log.frames(tmp / "watch", 4, start=6, label="Particles", coherency=0.1, mag=2000)
    frame, side, _ = made[7]
    log.append(corrected_event, frame, side, correct(side, "Powder", comment="loose agglomerate"))
    done = nanoaid("upload", "--state", tmp / "state", "--events", log.path, "--no-follow", "--archive",
                   tmp / "archive")
    assert done.returncode == 0, done.stderr
    return tmp, made


def test_search_json_prints_one_hit_per_line_with_ids_paths_and_locations(uploaded):
    tmp, made = uploaded
    out = nanoaid("search", "--state", tmp / "state", "label:Nanowires", "coherency>0.8", "mag>10k", "--json")
    assert out.returncode == 0, out.stderr
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(h["frame_id"] for h in hits) == sorted(doc.frame.sha256 for _, _, doc in made[:6])
    for hit in hits:
        assert hit["frame_path"].startswith(str(tmp / "watch")) and hit["location"].startswith(str(tmp / "archive"))
        assert (tmp / "archive").joinpath(hit["location"]).is_dir()


def test_search_finds_a_correction_comment_and_prints_a_table(uploaded):
    tmp, made = uploaded
    out = nanoaid("search", "--state", tmp / "state", "agglomerate")
    assert out.returncode == 0
    [line] = out.stdout.splitlines()
    assert line.startswith(made[7][2].frame.sha256[:12]) and "Powder" in line


def test_bad_query_exits_2_and_says_why(uploaded):
    out = nanoaid("search", "--state", uploaded[0] / "state", "magnification>>3")
    assert out.returncode == 2 and "needs a number" in out.stdout


def test_catalogue_rebuild_from_the_archive_alone_restores_every_row(uploaded, tmp_path):
    tmp, made = uploaded
    state = tmp_path / "state"
    state.mkdir()
    for name in ("progress.sqlite3",):
        src = sqlite3.connect(tmp / "state" / name)
        src.backup(sqlite3.connect(state / name))
        src.close()
    for _, side, _ in made:  # the sidecars beside the frames are gone; the archive still has them
        side.rename(side.with_name(side.name + ".moved"))
    try:
        out = nanoaid("catalogue", "rebuild", "--state", state, "--archive", tmp / "archive")
    finally:
        for _, side, _ in made:
            side.with_name(side.name + ".moved").rename(side)
    assert out.returncode == 1 and "catalogued 10 frame(s)" in out.stdout  # 1: the recorded paths were unreadable
    before = nanoaid("search", "--state", tmp / "state", "--json").stdout.splitlines()
    after = nanoaid("search", "--state", state, "--json").stdout.splitlines()

    def key(line: str) -> dict:
        return {k: v for k, v in json.loads(line).items() if k not in ("sidecar_path", "frame_path")}

    assert sorted(map(json.dumps, map(key, after))) == sorted(map(json.dumps, map(key, before)))


def test_catalogue_rebuild_from_sidecar_folders_keeps_locations(uploaded, tmp_path):
    tmp, _ = uploaded
    out = nanoaid("catalogue", "rebuild", "--state", tmp / "state", "--sidecars", tmp / "watch")
    assert out.returncode == 0 and "catalogued 10 frame(s)" in out.stdout
    hits = [json.loads(line) for line in nanoaid("search", "--state", tmp / "state", "--json").stdout.splitlines()]
    assert len(hits) == 10 and all(h["location"] for h in hits)


def test_search_without_a_catalogue_is_a_usage_error(tmp_path):
    out = nanoaid("search", "--state", tmp_path, "label:Tips")
    assert out.returncode == 2 and "no catalogue" in out.stderr


def test_event_file_is_followed_as_it_grows_and_bad_lines_are_skipped(tmp_path, caplog):
    log = EventLog(tmp_path / "events.jsonl")
    log.path.write_text('{"not": "an event"}\n')
    source = JsonLinesSource(log.path, since=1, follow=True, poll_s=0.01)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(e.seq for e in source))
    with caplog.at_level(logging.ERROR):
        reader.start()
        log.frames(tmp_path / "watch", 3)
        with open(log.path, "a") as fh:  # a line still being written
            fh.write(log.events[0].to_json()[:20])
        wait_for(lambda: seen == [2, 3], 10, "events after seq 1")
        source.close()
        reader.join()
    assert "line 1 is not a nanoaid.event/1 document" in caplog.text


def test_preview_path_escaping_the_folder_is_refused(tmp_path):
    _, side, doc = make_frame(tmp_path, FrameSpec(name="a.tif"))
    bad = doc.model_copy(update={"previews": [doc.previews[0].model_copy(update={"path": "../../etc/passwd"})]})
    side.write_text(bad.to_json())
    with pytest.raises(BundleError, match="must stay inside"):
        assemble_bundle(side)


def test_invalid_sidecar_and_wrong_frame_are_refused(tmp_path):
    _, side, doc = make_frame(tmp_path, FrameSpec(name="a.tif"))
    with pytest.raises(BundleError, match="describes frame"):
        assemble_bundle(side, frame_id="0" * 64)
    side.write_text(json.dumps({"schema_version": "nanoaid.sidecar/1"}))
    with pytest.raises(BundleError, match="not a valid nanoaid.sidecar/1 document"):
        assemble_bundle(side)
