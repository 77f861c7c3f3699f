"""The embedded default sink: an OCFL 1.1 storage root that an independent validator accepts."""
from __future__ import annotations

import json

import pytest

from nanoaid_daemon.errors import SinkError
from nanoaid_daemon.uploader.bundle import BundleError, assemble_bundle
from nanoaid_daemon.uploader.ocfl import head_state, object_path
from nanoaid_plugins.sink_ocfl._api import STAGING, OcflSink

from .factory import FrameSpec, correct, make_frame
from .helpers import object_inventories, validate_ocfl


def _frames(folder, n, previews=2):
    return [make_frame(folder, FrameSpec(name=f"f{i:03d}.tif", seed=i, previews=previews)) for i in range(n)]


def test_storage_root_with_corrections_validates_with_ocfl_py(tmp_path):
    sink = OcflSink(tmp_path / "archive")
    made = _frames(tmp_path / "watch", 4)
    for _, side, _ in made:
        sink.put(assemble_bundle(side))
    correct(made[1][1], "Nanowires", comment="wires, not particles")
    sink.put(assemble_bundle(made[1][1]))
    report = validate_ocfl(tmp_path / "archive")
    assert report == {"valid": True, "structure_error": None, "objects": 4, "good": 4, "errors": []}


def test_correction_makes_version_2_with_only_the_sidecar_changed(tmp_path):
    sink = OcflSink(tmp_path / "archive")
    frame, side, doc = make_frame(tmp_path / "watch", FrameSpec(name="wires.tif", previews=3))
    first = sink.put(assemble_bundle(side))
    new = correct(side, "Nanowires")
    second = sink.put(assemble_bundle(side))
    assert (first.version, first.created, second.version, second.created) == (1, True, 2, True)
    inv = json.loads((tmp_path / "archive" / object_path(f"urn:nanoaid:frame:{doc.frame.sha256}")
                      / "inventory.json").read_text())
    v1 = {p: d for d, paths in inv["versions"]["v1"]["state"].items() for p in paths}
    v2 = {p: d for d, paths in inv["versions"]["v2"]["state"].items() for p in paths}
    changed = sorted(p for p in v1 if v1[p] != v2.get(p))
    assert changed == ["wires.tif.nanoaid.json"] and v1.keys() == v2.keys()
    new_content = [p for paths in inv["manifest"].values() for p in paths if p.startswith("v2/")]
    assert new_content == ["v2/content/wires.tif.nanoaid.json"]
    assert "bob" in inv["versions"]["v2"]["user"]["name"] and "Nanowires" in inv["versions"]["v2"]["message"]
    assert new.version == 2


def test_inventory_digests_are_the_sidecar_digests(tmp_path):
    sink = OcflSink(tmp_path / "archive")
    _, side, doc = make_frame(tmp_path / "watch", FrameSpec(name="a.tif", previews=2))
    sink.put(assemble_bundle(side))
    state = head_state(object_inventories(tmp_path / "archive")[doc.frame.sha256])
    assert state["a.tif"] == doc.frame.sha256
    for preview in doc.previews:
        assert state[preview.path] == preview.sha256


def test_redelivered_bundle_is_not_stored_twice(tmp_path):
    sink = OcflSink(tmp_path / "archive")
    _, side, doc = make_frame(tmp_path / "watch", FrameSpec(name="a.tif"))
    receipts = [sink.put(assemble_bundle(side)) for _ in range(3)]
    assert [r.created for r in receipts] == [True, False, False]
    assert len({r.location for r in receipts}) == 1
    assert list(object_inventories(tmp_path / "archive")[doc.frame.sha256]["versions"]) == ["v1"]


def test_frame_changed_after_processing_is_refused_and_nothing_is_stored(tmp_path):
    sink = OcflSink(tmp_path / "archive")
    frame, side, doc = make_frame(tmp_path / "watch", FrameSpec(name="a.tif"))
    data = bytearray(frame.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    frame.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="changed since it was processed"):
        sink.put(assemble_bundle(side))
    assert object_inventories(tmp_path / "archive") == {}
    assert not (tmp_path / "archive" / STAGING).exists()


def test_interrupted_version_is_rolled_forward_on_next_touch(tmp_path, monkeypatch):
    sink = OcflSink(tmp_path / "archive")
    _, side, doc = make_frame(tmp_path / "watch", FrameSpec(name="a.tif"))
    sink.put(assemble_bundle(side))
    correct(side, "Tips")

    def crash(*_):
        raise OSError("simulated power loss before the root inventory was replaced")

    monkeypatch.setattr(OcflSink, "_publish_root_inventory", staticmethod(crash))
    with pytest.raises(SinkError):
        sink.put(assemble_bundle(side))
    monkeypatch.undo()
    receipt = OcflSink(tmp_path / "archive").put(assemble_bundle(side))
    assert (receipt.version, receipt.created) == (2, False)  # v2 was complete; only its publication was missing
    assert validate_ocfl(tmp_path / "archive")["valid"]


def test_leftover_staging_from_a_killed_upload_is_swept(tmp_path):
    sink = OcflSink(tmp_path / "archive")
    sink.check()
    leftover = tmp_path / "archive" / STAGING / "deadbeef" / "v1" / "content"
    leftover.mkdir(parents=True)
    (leftover / "half.tif").write_bytes(b"II*\x00")
    sink.sweep_staging()
    assert not (tmp_path / "archive" / STAGING).exists()
    assert validate_ocfl(tmp_path / "archive")["valid"]


def test_missing_root_of_a_used_archive_is_reported_not_recreated(tmp_path):
    sink = OcflSink(tmp_path / "nas" / "archive", create=False)
    _, side, _ = make_frame(tmp_path / "watch", FrameSpec(name="a.tif"))
    with pytest.raises(SinkError, match="is the disk or NAS mounted"):
        sink.put(assemble_bundle(side))
    assert not (tmp_path / "nas").exists()


def test_non_empty_folder_is_not_taken_over_as_an_archive(tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "somebody-elses.txt").write_text("hello")
    with pytest.raises(SinkError, match="not an OCFL storage root"):
        OcflSink(tmp_path / "archive").check()
