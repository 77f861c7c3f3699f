"""``nanoaid inspect`` shows, for every vendor, the reader used, the normalised sections and warnings."""
from __future__ import annotations

import json

import pytest
import tifffile
from reader_synth import hitachi_sidecar, sem_image

from nanoaid_daemon.cli import main


def inspect_json(capsys, *paths) -> tuple[int, list[dict]]:
    code = main(["inspect", "--json", *map(str, paths)])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def sidecar_pairs(real_sem, tmp_path):
    tifffile.imwrite(tmp_path / "jeol.tif", sem_image(1024, 1280, databar=64))
    (tmp_path / "jeol.txt").write_bytes((real_sem / "nexuslims/text_preview_jeol_ansi.txt").read_bytes())
    tifffile.imwrite(tmp_path / "hitachi.tif", sem_image())
    hitachi_sidecar(tmp_path / "hitachi.txt", {"InstructName": "S-4800", "AcceleratingVoltage": "junk Volt"})
    return tmp_path / "jeol.tif", tmp_path / "hitachi.tif"


def test_inspect_names_the_reader_of_every_vendor(capsys, real_sem, zeiss_multipage, sidecar_pairs):
    files = [real_sem / "nexuslims/quanta_image.tif", zeiss_multipage,
             real_sem / "nexuslims/tescan-pfib_dataZeroed.tif", *sidecar_pairs,
             real_sem / "rosettasciio/test_loading_image_saved_with_imageJ.tif"]
    code, docs = inspect_json(capsys, *files)
    assert code == 0
    assert [d["reader"] for d in docs] == ["fei", "zeiss", "tescan", "jeol", "hitachi", "generic"]
    for doc in docs:
        assert set(doc) >= {"path", "reader", "frame", "instrument", "warnings"}
        assert doc["frame"]["reader"] == doc["reader"]
    assert docs[0]["instrument"]["beam_energy"] == {"value": 30.0, "unit": "kV"}
    assert docs[0]["frame"]["databar_rows"] == 59 and docs[0]["frame"]["height_px"] == 943
    assert docs[1]["frame"]["pages"] == 2 and len(docs[1]["pages"]) == 2
    assert docs[3]["instrument"]["pixel_size"]["x"]["unit"] == "nm"
    assert any("AcceleratingVoltage" in w for w in docs[4]["warnings"])
    assert docs[0]["instrument"]["acquired_at"].startswith("2017-12-18T13:04:14")


def test_inspect_shows_junk_value_warnings(capsys, real_sem):
    code, (doc,) = inspect_json(capsys, real_sem / "rosettasciio/FEI-Helios-navcam-with-no-IRBeam-bad-floats.tif")
    assert code == 0 and doc["reader"] == "fei"
    assert "working_distance" not in doc["instrument"]
    assert len(doc["warnings"]) == 2


def test_inspect_rejects_negative_files_with_exit_code_1(capsys, real_sem):
    code, docs = inspect_json(capsys, real_sem / "nexuslims/quanta_bad_metadata.tif",
                              real_sem / "nexuslims/quanta_just_modded_mdata.tif")
    assert code == 1
    assert [d["error"]["code"] for d in docs] == ["corrupt", "unsupported"]
