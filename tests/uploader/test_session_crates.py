"""``nanoaid upload --crates session``: one RO-Crate object per session folder in a real OCFL archive."""
from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from nanoaid_daemon.uploader.crates import crate_object_id
from nanoaid_daemon.uploader.ocfl import head_state, object_path

from .factory import EventLog
from .helpers import nanoaid, object_inventories, upload_status, validate_ocfl

pytest.importorskip("rocrate")


def _upload(tmp, log, *extra):
    done = nanoaid("upload", "--state", tmp / "state", "--events", log.path, "--no-follow", "--archive",
                   tmp / "archive", "--config", tmp / "nanoaid.toml", *extra)
    assert done.returncode == 0, done.stderr
    return done


def _crate(tmp, session):
    obj = tmp / "archive" / object_path(crate_object_id(session))
    inv = json.loads((obj / "inventory.json").read_text())
    state = head_state(inv)
    meta_path = inv["manifest"][state["ro-crate-metadata.json"]][0]
    return obj, inv, json.loads((obj / meta_path).read_text())


@pytest.fixture()
def session(tmp_path):
    (tmp_path / "nanoaid.toml").write_text(f'[watch]\nroot = "{tmp_path / "watch"}"\n')
    log = EventLog(tmp_path / "events.jsonl")
    made = log.frames(tmp_path / "watch" / "2026-12-03" / "sample-a", 3, label="Nanowires")
    return tmp_path, log, made


def test_a_session_becomes_one_crate_object_listing_every_frame_with_its_sha256(session):
    tmp, log, made = session
    _upload(tmp, log, "--crates", "session")
    obj, inv, meta = _crate(tmp, "2026-12-03/sample-a")
    assert inv["id"] == "urn:nanoaid:session:2026-12-03/sample-a" and inv["head"] == "v1"
    entities = {e["@id"]: e for e in meta["@graph"]}
    for frame, side, doc in made:
        assert entities[frame.name]["sha256"] == doc.frame.sha256
        assert entities[side.name]["sha256"] == hashlib.sha256(side.read_bytes()).hexdigest()
        assert head_state(inv)[frame.name] == doc.frame.sha256  # the frame itself is in the object
    report = validate_ocfl(tmp / "archive")
    assert report["valid"] and report["errors"] == [] and report["objects"] == len(made) + 1
    assert [c["frames"] for c in upload_status_crates(tmp)] == [3]


def upload_status_crates(tmp):
    from nanoaid_daemon.uploader.progress import Progress

    with Progress(tmp / "state" / "progress.sqlite3") as progress:
        return progress.crates()


def test_a_later_frame_of_the_session_makes_a_new_version_of_the_same_object(session):
    tmp, log, made = session
    _upload(tmp, log, "--crates", "session")
    again = _upload(tmp, log, "--crates", "session")  # nothing new: no new version
    assert again.returncode == 0 and _crate(tmp, "2026-12-03/sample-a")[1]["head"] == "v1"
    later = log.frames(tmp / "watch" / "2026-12-03" / "sample-a", 1, start=3, label="Particles")
    _upload(tmp, log, "--crates", "session")
    obj, inv, meta = _crate(tmp, "2026-12-03/sample-a")
    assert inv["head"] == "v2"
    ids = {e["@id"] for e in meta["@graph"]}
    assert {f.name for f, _, _ in made + later} <= ids
    # the frames of v1 are not copied again: only the new frame, its files and the metadata are new content
    new = sorted(p.split("/", 2)[2] for paths in inv["manifest"].values() for p in paths if p.startswith("v2/"))
    assert "f00003.tif" in new and not any(n.startswith(("f00000", "f00001", "f00002")) for n in new)
    assert validate_ocfl(tmp / "archive")["valid"]


def test_search_finds_the_frames_and_names_their_crate(session):
    tmp, log, made = session
    _upload(tmp, log, "--crates", "session")
    out = nanoaid("search", "--state", tmp / "state", "label:Nanowires", "--json")
    assert out.returncode == 0, out.stderr
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    crate = str(tmp / "archive" / object_path(crate_object_id("2026-12-03/sample-a")))
    assert sorted(h["frame_id"] for h in hits) == sorted(doc.frame.sha256 for _, _, doc in made)
    assert {(h["crate"].rstrip("/"), h["crate_version"]) for h in hits} == {(crate, 1)}
    assert all(h["location"] and "urn%3ananoaid%3aframe" in h["location"] for h in hits)
    text = nanoaid("search", "--state", tmp / "state", "label:Nanowires")
    assert all(f"crate {crate}" in line for line in text.stdout.splitlines())


def test_without_the_setting_only_frame_objects_are_stored(session):
    tmp, log, made = session
    _upload(tmp, log)
    assert sorted(object_inventories(tmp / "archive")) == sorted(doc.frame.sha256 for _, _, doc in made)
    assert upload_status(tmp / "state")["stored_frames"] == 3
    hits = [json.loads(line) for line in nanoaid("search", "--state", tmp / "state", "label:Nanowires",
                                                  "--json").stdout.splitlines()]
    assert len(hits) == 3 and all(h["crate"] is None for h in hits)


@pytest.mark.parametrize("source", ["recorded", "archive"])
def test_catalogue_rebuild_keeps_naming_the_crate(session, tmp_path, source):
    tmp, log, made = session
    _upload(tmp, log, "--crates", "session")
    state = tmp / "state"
    if source == "archive":  # a new state folder: only the archive is left
        state = tmp_path / "fresh-state"
        state.mkdir()
        out = nanoaid("catalogue", "rebuild", "--state", state, "--archive", tmp / "archive")
    else:
        out = nanoaid("catalogue", "rebuild", "--state", state)
    assert out.returncode == 0, out.stderr
    hits = [json.loads(line) for line in nanoaid("search", "--state", state, "label:Nanowires",
                                                  "--json").stdout.splitlines()]
    crate = str(tmp / "archive" / object_path(crate_object_id("2026-12-03/sample-a")))
    assert len(hits) == 3
    assert all(h["crate"] == crate and h["crate_version"] == 1 and "frame" in h["location"] for h in hits)


def test_a_crash_before_the_crate_is_recorded_rebuilds_it_without_a_new_version(session):
    """The crate is stored but the record of it is lost (as if the process died in between): the
    restarted uploader rebuilds the same bytes and the repository keeps its version."""
    tmp, log, made = session
    _upload(tmp, log, "--crates", "session")
    with sqlite3.connect(tmp / "state" / "progress.sqlite3") as db:
        db.execute("UPDATE crates SET dirty = 1")
    _upload(tmp, log, "--crates", "session")
    obj, inv, meta = _crate(tmp, "2026-12-03/sample-a")
    assert inv["head"] == "v1" and [c["dirty"] for c in upload_status_crates(tmp)] == [0]
