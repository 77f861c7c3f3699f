"""Operator corrections: command endpoint, `nanoaid label`, restart, and export for retraining."""
from __future__ import annotations

import csv
import json
import threading

import pytest

from nanoaid_daemon.bus import Bus
from nanoaid_daemon.bus.client import Subscriber, send_correction
from nanoaid_daemon.bus.protocol import RequestRejected
from nanoaid_daemon.cli import main
from nanoaid_daemon.corrections import CorrectionRejected, Corrections, canonical_class
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.sidecar import Sidecar

from .conftest import bus_settings, png_bytes, processed_frame


@pytest.fixture
def frames(journal, tmp_path):
    folder = tmp_path / "frames"
    return [processed_frame(journal, folder, f"img{i}.png", seed=i) for i in range(3)]


def sidecar_of(journal, frame_id) -> Sidecar:
    return Sidecar.model_validate_json(open(journal.frame(frame_id).sidecar_path, "rb").read())


def test_unknown_frame_id_is_rejected_with_a_clear_reason(make_bus, frames, state):
    make_bus()
    with pytest.raises(RequestRejected) as info:
        send_correction("f" * 64, "Nanowires", operator="ana", state_dir=state)
    assert info.value.code == "unknown_frame" and "no processed frame" in str(info.value)


def test_unknown_class_is_rejected_with_the_list_of_classes(make_bus, frames, state, journal):
    make_bus()
    with pytest.raises(RequestRejected) as info:
        send_correction(frames[0], "Cats", operator="ana", state_dir=state)
    assert info.value.code == "unknown_class" and "Nanowires" in str(info.value)
    assert sidecar_of(journal, frames[0]).version == 1


def test_valid_correction_writes_a_new_sidecar_version_and_publishes_the_event(make_bus, frames, state, journal):
    make_bus()
    got, seen = [], threading.Event()
    sub = Subscriber(state_dir=state, since=journal.last_seq(), types=("label.",))
    sub.start(lambda e: (got.append(e), seen.set()))
    try:
        reply = send_correction(frames[0], "nanowires", operator="ana", comment="clearly wires", state_dir=state)
        assert seen.wait(10)
    finally:
        sub.close()
    assert reply["label"] == "Nanowires" and reply["previous_label"] == "Particles" and reply["sidecar_version"] == 2
    sidecar = sidecar_of(journal, frames[0])
    assert sidecar.version == 2 and sidecar.classification.label == "Particles"  # the model's call is kept
    assert [(c.label, c.previous_label, c.operator, c.comment) for c in sidecar.corrections] == [
        ("Nanowires", "Particles", "ana", "clearly wires")]
    event = got[0]
    assert event.type == "label.corrected" and event.seq == reply["seq"] and event.frame_id == frames[0]
    assert event.summary.label == "Nanowires" and event.summary.operator == "ana"


def test_correction_survives_a_restart(state, journal, frames):
    bus = Bus(bus_settings(state), journal, state)
    bus.start()
    try:
        send_correction(frames[1], "Tips", operator="ana", state_dir=state)
    finally:
        bus.stop()
    journal.close()
    again = Journal(state / "journal.sqlite3")
    bus = Bus(bus_settings(state), again, state)
    bus.start()
    try:
        reply = send_correction(frames[1], "Fibres", operator="ben", state_dir=state)
        replayed = [e for e in Subscriber(state_dir=state, since=0, types=("label.",), idle_timeout=0.5)]
    finally:
        bus.stop()
        again.close()
    assert reply["previous_label"] == "Tips" and reply["sidecar_version"] == 3
    changes = [(e.summary.previous_label, e.summary.label) for e in replayed]
    assert changes == [("Particles", "Tips"), ("Tips", "Fibres")]
    reopened = Journal(state / "journal.sqlite3")
    try:
        assert reopened.frame(frames[1]).label == "Fibres"
        assert [c["label"] for c in reopened.corrections()] == ["Tips", "Fibres"]
        assert [c.label for c in sidecar_of(reopened, frames[1]).corrections] == ["Tips", "Fibres"]
    finally:
        reopened.close()


def test_invalid_sidecar_is_refused_and_left_untouched(journal, frames):
    path = journal.frame(frames[0]).sidecar_path
    with open(path, "w") as fh:
        fh.write('{"not": "a sidecar"}')
    with pytest.raises(CorrectionRejected) as info:
        Corrections(journal).apply(frames[0], "Tips", operator="ana")
    assert info.value.code == "sidecar_invalid"
    assert open(path).read() == '{"not": "a sidecar"}' and journal.corrections() == []


@pytest.mark.parametrize("operator", ["", "   ", "x" * 129, "line\nbreak"])
def test_operator_must_be_a_short_printable_name(journal, frames, operator):
    with pytest.raises(CorrectionRejected, match="operator"):
        Corrections(journal).apply(frames[0], "Tips", operator=operator)


def test_class_names_forgive_case_and_separators():
    assert canonical_class("porous sponge") == "Porous_Sponge"
    assert canonical_class("MEMS-devices-and-electrodes") == "MEMS_devices_and_electrodes"


def test_label_command_goes_through_the_running_daemon(make_bus, frames, state, capsys):
    make_bus()
    assert main(["label", frames[0], "Powder", "--state", str(state), "--operator", "ana", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["via"] == "daemon" and reply["label"] == "Powder"


def test_oversized_comment_gets_its_own_error_with_a_daemon_running(make_bus, frames, state, capsys):
    make_bus()
    comment = "x" * (65 * 1024)
    assert main(["label", frames[0], "Powder", "--state", str(state), "--comment", comment]) == 1
    err = capsys.readouterr().err
    assert "bad_comment" in err and "2000 characters" in err and "running" not in err


def test_label_command_applies_directly_when_no_daemon_runs(frames, state, journal, tmp_path, capsys):
    frame_file = tmp_path / "frames" / "img2.png"
    assert main(["label", str(frame_file), "Biological", "--state", str(state), "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["via"] == "journal" and reply["frame_id"] == frames[2] and reply["sidecar_version"] == 2
    assert journal.events(type="label.corrected")[0].summary.label == "Biological"


def test_label_command_exit_codes(frames, state, capsys):
    assert main(["label", frames[0], "Cats", "--state", str(state)]) == 1
    assert "unknown_class" in capsys.readouterr().err
    assert main(["label", "nonsense", "Tips", "--state", str(state)]) == 2
    assert main(["label", frames[0], "Tips", "--state", str(state / "nowhere")]) == 2


def test_corrections_export_writes_class_folders_and_labels_csv(journal, frames, state, tmp_path, capsys):
    fix = Corrections(journal)
    fix.apply(frames[0], "Nanowires", operator="ana")
    fix.apply(frames[1], "Tips", operator="ana")
    fix.apply(frames[1], "Fibres", operator="ben")  # the newest correction wins
    dest = tmp_path / "retrain"
    assert main(["corrections", "export", str(dest), "--state", str(state)]) == 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.png")) == ["Fibres/img1.png",
                                                                                   "Nanowires/img0.png"]
    assert (dest / "Nanowires" / "img0.png").read_bytes() == png_bytes(0)
    rows = list(csv.DictReader(open(dest / "labels.csv")))
    assert [(r["file"], r["class"], r["operator"]) for r in rows] == [("Nanowires/img0.png", "Nanowires", "ana"),
                                                                      ("Fibres/img1.png", "Fibres", "ben")]
    assert main(["corrections", "export", str(dest), "--state", str(state)]) == 2  # not into a full folder


def test_export_skips_a_frame_whose_file_changed_and_says_so(journal, frames, state, tmp_path, capsys):
    Corrections(journal).apply(frames[0], "Nanowires", operator="ana")
    (tmp_path / "frames" / "img0.png").write_bytes(png_bytes(99))
    assert main(["corrections", "export", str(tmp_path / "out"), "--state", str(state)]) == 1
    assert "changed since it was processed" in capsys.readouterr().err
