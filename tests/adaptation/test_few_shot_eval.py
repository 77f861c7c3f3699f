"""`nanoaid models eval MODEL DIR --few-shot K`: adapted vs shipped on the frames not labelled, leave-source-out."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanoaid_daemon.cli import main
from nanoaid_daemon.synth import render, write_frame

PLAN = {"Nanowires": 3, "Tips": 3, "Particles": 3}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fewshot")
    for cls, n in PLAN.items():
        (root / cls).mkdir()
        for i in range(n):
            write_frame(render(cls, seed=900 + 13 * i + len(cls), size=(160, 208), bits=8), root / cls / f"{i}.png")
    return root


def test_few_shot_reports_both_models_per_k_with_leave_source_out_and_a_plot(labelled, tmp_path, capsys):
    groups = tmp_path / "groups.csv"
    groups.write_text("image,source\n" + "".join(f"{cls}/{i}.png,lab{i}\n" for cls in PLAN for i in range(3)))
    out = tmp_path / "report"
    argv = ["models", "eval", "nffa-classifier", str(labelled), "--few-shot", "1,2", "--repeats", "2",
            "--groups", str(groups), "--json", "--out", str(out), "--threads", "1"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["frames"] == 9 and set(report["per_k"]) == {"1", "2"}
    for entry in report["per_k"].values():
        assert set(entry) == {"adapted", "shipped", "adapted_leave_source_out"}
        for figures in entry.values():
            assert 0 <= figures["accuracy"] <= 1 and 0 <= figures["set_coverage"] <= 1
    # one support frame per class cannot be cross-validated: nothing may be accepted
    assert report["per_k"]["1"]["adapted"]["accepted_fraction"] == 0
    assert (out / "accuracy-vs-k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "few-shot.json").read_text()) == report


def test_groups_file_missing_an_image_is_refused_naming_it(labelled, tmp_path, capsys):
    groups = tmp_path / "groups.csv"
    groups.write_text("Tips/0.png,lab0\n")
    argv = ["models", "eval", "nffa-classifier", str(labelled), "--few-shot", "1", "--groups", str(groups),
            "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "Nanowires/0.png" in capsys.readouterr().err
