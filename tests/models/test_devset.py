"""The development set: its manifest, its rebuild from git repositories, and evaluation by source."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_eval import LEVELS, grey_models

from nanoaid_daemon.cli import main
from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.evaluation.devset import COLUMNS, load_manifest
from nanoaid_daemon.sidecar import CLASSES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "datasets" / "devset" / "manifest.csv"
RESERVED = ROOT.parent / "shared" / "data" / "reserved-sources.txt"


def _reserved() -> set[str]:
    lines = RESERVED.read_text(encoding="utf-8").splitlines()
    return {line.split("#")[0].split(" (")[0].strip() for line in lines if line.split("#")[0].strip()}


def test_shipped_manifest_uses_no_reserved_source_and_commits_only_open_images():
    rows = load_manifest(MANIFEST)
    assert rows, "the development set is empty"
    reserved = _reserved()
    assert "imageio/test_images" in reserved  # the parse above found the list
    assert not [r.repo for r in rows if r.repo in reserved]
    for row in rows:
        if row.open and row.repo != "shared":
            assert (ROOT / row.file).is_file(), f"{row.id}: committed copy {row.file} is missing"
            with Image.open(ROOT / row.file) as im:
                assert max(im.size) <= 512 and im.mode == "L"
        else:
            assert row.file == "", f"{row.id}: licence {row.licence} does not allow committing the image"



def test_every_committed_image_is_attributed_to_its_repository_and_licence():
    """A committed copy carries its licence only if ATTRIBUTION.md names the repository it came from."""
    attribution = (MANIFEST.parent / "open" / "ATTRIBUTION.md").read_text(encoding="utf-8")
    sections = {line[3:].split(" — ")[0].strip() for line in attribution.splitlines() if line.startswith("## ")}
    missing = sorted({r.repo for r in load_manifest(MANIFEST) if r.file and r.repo not in sections})
    assert not missing, f"ATTRIBUTION.md lacks a section for {missing}"
    if any(r.file and r.licence == "Apache-2.0" for r in load_manifest(MANIFEST)):
        assert (MANIFEST.parent / "open" / "LICENSE-Apache-2.0.txt").is_file()

def _write_manifest(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in COLUMNS})


def _row(**kw) -> dict:
    base = {"id": "a", "repo": "someone/repo", "commit": "0" * 40, "path": "x.png", "licence": "MIT",
            "class": "Particles", "confidence": "high", "source": "lab A", "sha256": "0" * 64}
    return base | kw


@pytest.mark.parametrize(("bad", "words"), [
    ({"class": "Blobs"}, "class 'Blobs'"),
    ({"confidence": "sure"}, "confidence"),
    ({"crop": "10:10:5:20"}, "crop"),
    ({"source": " "}, "source"),
])
def test_a_bad_manifest_row_is_refused_naming_the_row(tmp_path, bad, words):
    path = tmp_path / "manifest.csv"
    _write_manifest(path, [_row(id="ok"), _row(id="bad", **bad)])
    with pytest.raises(ConfigError, match=rf"row 3: .*{re.escape(words)}"):
        load_manifest(path)


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "manifest.csv"
    _write_manifest(path, [_row(), _row()])
    with pytest.raises(ConfigError, match="duplicate id"):
        load_manifest(path)


def _mirror_with(tmp_path: Path, files: dict[str, bytes], bare: bool = True) -> tuple[Path, str]:
    """A real git repository in the mirror layout (<owner>+<name>/repo, bare or not) holding ``files``."""
    work = tmp_path / "work"
    work.mkdir()
    for name, data in files.items():
        (work / name).write_bytes(data)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q", str(work)], check=True)
    subprocess.run(git + ["-C", str(work), "add", "."], check=True)
    subprocess.run(git + ["-C", str(work), "commit", "-qm", "images"], check=True)
    commit = subprocess.check_output(["git", "-C", str(work), "rev-parse", "HEAD"], text=True).strip()
    mirror = tmp_path / "mirrors" / "lab+images" / "repo"
    subprocess.run(["git", "clone", "-q", *(["--bare"] if bare else []), str(work), str(mirror)], check=True)
    return tmp_path / "mirrors", commit


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _rebuild(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "datasets" / "devset" / "rebuild.py"), *args],
                          capture_output=True, text=True)


def test_rebuild_reads_the_commit_crops_downscales_and_writes_groups(tmp_path):
    big = np.tile(np.arange(1200, dtype=np.uint16) % 256, (900, 1)).astype(np.uint8)
    data = _png(big)
    mirrors, commit = _mirror_with(tmp_path, {"wires.png": data})
    manifest = tmp_path / "manifest.csv"
    _write_manifest(manifest, [_row(id="w1", repo="lab/images", commit=commit, path="wires.png", licence="GPL-3.0",
                                    crop="100:0:1100:800", sha256=hashlib.sha256(data).hexdigest()),
                               _row(id="gone", repo="lab/missing", commit=commit, **{"class": "Tips"})])
    out = tmp_path / "set"
    done = _rebuild(str(out), "--manifest", str(manifest), "--mirrors", str(mirrors), "--offline")
    assert done.returncode == 0, done.stderr
    assert "1 of 2 images written" in done.stdout and "1 skipped" in done.stdout
    with Image.open(out / "Particles" / "w1.png") as im:
        assert im.size == (512, 410)  # the 1000 x 800 crop, longest side 512
        assert np.asarray(im)[0, 0] == pytest.approx(100, abs=3)  # the crop starts at column 100
    groups = list(csv.DictReader(open(out / "groups.csv", encoding="utf-8")))
    assert groups == [{"file": "Particles/w1.png", "source": "lab A", "class": "Particles", "confidence": "high"}]


def test_rebuild_reads_a_mirror_that_is_a_working_clone(tmp_path):
    data = _png(np.full((20, 30), 77, np.uint8))
    mirrors, commit = _mirror_with(tmp_path, {"a.png": data}, bare=False)
    manifest = tmp_path / "manifest.csv"
    _write_manifest(manifest, [_row(repo="lab/images", commit=commit, path="a.png",
                                    sha256=hashlib.sha256(data).hexdigest())])
    out = tmp_path / "set"
    done = _rebuild(str(out), "--manifest", str(manifest), "--mirrors", str(mirrors), "--offline")
    assert done.returncode == 0, done.stderr
    assert "1 of 1 images written" in done.stdout
    with Image.open(next(out.glob("*/*.png"))) as im:
        assert np.asarray(im).max() == 77


def test_rebuild_refuses_an_original_whose_content_changed(tmp_path):
    data = _png(np.zeros((20, 30), np.uint8))
    mirrors, commit = _mirror_with(tmp_path, {"a.png": data})
    manifest = tmp_path / "manifest.csv"
    _write_manifest(manifest, [_row(repo="lab/images", commit=commit, path="a.png", sha256="1" * 64)])
    done = _rebuild(str(tmp_path / "set"), "--manifest", str(manifest), "--mirrors", str(mirrors), "--offline")
    assert done.returncode != 0 and "sha256" in done.stderr and "differs" in done.stderr


@pytest.fixture
def two_labs(tmp_path):
    """The grey-level model of test_eval and two sources: lab A's frames are all right, lab B's half."""
    models = grey_models(tmp_path)
    data = tmp_path / "data"
    groups = [("file", "source")]
    for label in (0, 5):
        folder = data / CLASSES[label]
        folder.mkdir(parents=True)
        for name, level, lab in (("a1", label, "lab A"), ("a2", label, "lab A"), ("b1", label, "lab B"),
                                 ("b2", label + 1, "lab B")):
            Image.fromarray(np.full((40, 48), round(LEVELS[level] * 255), np.uint8)).save(folder / f"{name}.png")
            groups.append((f"{CLASSES[label]}/{name}.png", lab))
    with open(data / "groups.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(groups)
    return models, data


def test_eval_devset_reports_each_source(two_labs, tmp_path, capsys):
    models, data = two_labs
    out = tmp_path / "report"
    assert main(["models", "eval-devset", "grey", str(data), "--models-dir", str(models), "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["n"] == 8 and report["accuracy"] == pytest.approx(0.75)
    sources = report["by_source"]["sources"]
    assert sources["lab A"]["accuracy"] == pytest.approx(1.0) and sources["lab A"]["n"] == 4
    assert sources["lab B"]["accuracy"] == pytest.approx(0.5)
    assert report["by_source"]["mean_source_accuracy"] == pytest.approx(0.75)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == {"lab A", "lab B"}
    assert "lab B" in capsys.readouterr().out


def test_eval_devset_refuses_images_without_a_source(two_labs, tmp_path, capsys):
    models, data = two_labs
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(data / "Biological" / "stray.png")
    code = main(["models", "eval-devset", "grey", str(data), "--models-dir", str(models), "--out", str(tmp_path / "r")])
    assert code != 0
    assert "no source for 1 image" in capsys.readouterr().err


def test_eval_devset_reports_the_frames_with_a_field_width_apart(two_labs, tmp_path, capsys):
    models, data = two_labs
    widths = tmp_path / "widths.csv"
    widths.write_text("file,field_width_um\nBiological/a1.png,12.5\nParticles/b2.png,300\n", encoding="utf-8")
    out = tmp_path / "report"
    assert main(["models", "eval-devset", "grey", str(data), "--models-dir", str(models), "--out", str(out),
                 "--widths", str(widths)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["with_field_width"]["n"] == 2 and report["with_field_width"]["fed_to_model"] is False
    assert report["with_field_width"]["accuracy"] == pytest.approx(0.5)  # a1 right, b2 is the lab-B mislabel
    assert "frames with a field width: 2" in capsys.readouterr().out


def test_eval_devset_refuses_a_width_that_is_not_a_number(two_labs, tmp_path, capsys):
    models, data = two_labs
    widths = tmp_path / "widths.csv"
    widths.write_text("file,field_width_um\nBiological/a1.png,wide\n", encoding="utf-8")
    code = main(["models", "eval-devset", "grey", str(data), "--models-dir", str(models), "--widths", str(widths),
                 "--out", str(tmp_path / "r")])
    assert code != 0
    assert "line 2: field_width_um 'wide' is not a number" in capsys.readouterr().err


def _trained_on(models: Path, sources: list[str]) -> None:
    """Rewrite the grey model's card as if its head had seen real frames of ``sources``."""
    path = models / "grey.card.json"
    card = json.loads(path.read_text())
    card["training"] = {"real_frames": {"frames": 2, "sources": sources}}
    path.write_text(json.dumps(card))


def test_eval_devset_leaves_the_sources_a_model_was_trained_on_out_of_every_figure(two_labs, tmp_path, capsys):
    models, data = two_labs
    _trained_on(models, ["lab A", "lab Z"])
    out = tmp_path / "report"
    assert main(["models", "eval-devset", "grey", str(data), "--models-dir", str(models), "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["n"] == 4 and report["accuracy"] == pytest.approx(0.5)  # lab B only
    assert set(report["by_source"]["sources"]) == {"lab B"}
    assert report["by_source"]["mean_source_accuracy"] == pytest.approx(0.5)
    seen = report["seen_sources"]
    assert seen["n"] == 4 and seen["sources"] == ["lab A"] and seen["accuracy"] == pytest.approx(1.0)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {r["source"] for r in rows if r["seen_in_training"]} == {"lab A"}
    assert "4 frames from 1 source the model was trained on" in capsys.readouterr().out


def test_eval_devset_refuses_a_set_the_model_has_entirely_seen(two_labs, tmp_path, capsys):
    models, data = two_labs
    _trained_on(models, ["lab A", "lab B"])
    code = main(["models", "eval-devset", "grey", str(data), "--models-dir", str(models), "--out", str(tmp_path / "r")])
    assert code != 0
    assert "nothing independent to evaluate" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
