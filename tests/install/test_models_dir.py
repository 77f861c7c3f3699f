"""Where the models are found, and what happens when they are not there.

The shipped models are the package ``nanoaid_models`` (the checkout's ``models/``), found through
``importlib.resources``; a missing or empty models folder stops ``run`` and ``process`` with exit 2
naming the folder and the setting, instead of a stream of ``partial`` sidecars.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from nanoaid_daemon.cli import main
from nanoaid_daemon.config import default_models_dir, load_settings

REAL_FRAME = "rosettasciio/test_tiff_Zeiss_SEM_1k.tif"  # in the real_sem folder


def test_default_models_dir_is_the_installed_models_package():
    folder = default_models_dir()
    assert folder == Path(str(importlib.resources.files("nanoaid_models")))
    assert (folder / "nffa-classifier.card.json").is_file() and (folder / "sem-autoencoder.onnx").is_file()
    assert load_settings().models.resolved_dir() == folder


def test_models_list_prints_the_folder_it_found_the_models_in(capsys):
    assert main(["models", "list"]) == 0
    first, *rest = capsys.readouterr().out.splitlines()
    assert first == f"models in {default_models_dir()}"
    assert any(line.startswith("nffa-classifier") for line in rest)


@pytest.fixture(params=["missing", "empty"])
def bad_models_dir(request, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    if request.param == "empty":
        folder.mkdir()
        (folder / "README.txt").write_text("no cards here")
    monkeypatch.setenv("NANOAID_MODELS__DIR", str(folder))
    return folder


def _assert_names_folder_and_setting(err: str, folder: Path) -> None:
    assert "configuration error" in err and str(folder) in err
    assert "models.dir" in err and "NANOAID_MODELS__DIR" in err


def test_run_without_models_exits_2_naming_the_folder_and_the_setting(bad_models_dir, tmp_path, capsys):
    watch = tmp_path / "frames"
    watch.mkdir()
    assert main(["run", "--watch", str(watch), "--state", str(tmp_path / "state")]) == 2
    _assert_names_folder_and_setting(capsys.readouterr().err, bad_models_dir)
    assert list(watch.iterdir()) == []


def test_process_without_models_exits_2_instead_of_a_partial_sidecar(bad_models_dir, real_sem, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["process", str(real_sem / REAL_FRAME), "--json", "--output", str(out)]) == 2
    captured = capsys.readouterr()
    _assert_names_folder_and_setting(captured.err, bad_models_dir)
    assert captured.out == "" and not out.exists()
