"""JEOL and Hitachi: an image paired with a text sidecar of the same stem."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import tifffile
from PIL import Image
from reader_synth import hitachi_sidecar, sem_image

JEOL_REAL = "nexuslims/text_preview_jeol_ansi.txt"


def test_jeol_image_with_the_real_sidecar(host, real_sem, tmp_path):
    tifffile.imwrite(tmp_path / "sampleA_001.tif", sem_image(1024, 1280, databar=64))
    (tmp_path / "sampleA_001.txt").write_bytes((real_sem / JEOL_REAL).read_bytes())
    result = host.read(tmp_path / "sampleA_001.tif")
    page, inst = result.primary, result.primary.instrument
    assert result.reader == "jeol" and result.warnings == []
    assert (page.databar_rows, page.pixels.shape) == (64, (960, 1280))
    assert inst.vendor == "JEOL" and inst.model == "7800F" and inst.detector == "LED"
    assert inst.beam_energy.value == pytest.approx(1.0)
    assert inst.magnification == 1000
    assert inst.working_distance.value == pytest.approx(3.78)
    assert inst.acquired_at == datetime(2023, 7, 13, 14, 38, 59)
    assert inst.pixel_size.x.value == pytest.approx(10_000 / 106, rel=1e-6)  # 94.34 nm
    assert (inst.stage.x.value, inst.stage.y.value, inst.stage.z.value) == (-3.12, -3.559, 4.6)
    assert inst.vendor_raw["$$SM_MICRON_MARKER"] == "10um"


def test_jeol_ansi_micro_sign_and_a_downsized_export(host, tmp_path):
    text = "$CM_FORMAT JEOL-SEM\r\n$CM_ACCEL_VOLT 15.00\r\n$CM_FULL_SIZE 1280 960\r\n" \
           "$$SM_MICRON_MARKER 5\xb5m\r\n$$SM_MICRON_BAR 200\r\n$CM_DATE 2020/01/02\r\n$CM_TIME 3:04:05\r\n"
    Image.fromarray(sem_image(480, 640)).save(tmp_path / "half.jpg", quality=92)
    (tmp_path / "half.txt").write_bytes(text.encode("cp1252"))
    result = host.read(tmp_path / "half.jpg")
    inst = result.primary.instrument
    assert result.reader == "jeol" and result.media_type == "image/jpeg"
    assert inst.pixel_size.x.value == pytest.approx(5000 / 200 * 2)  # the bar is in full-size pixels
    assert inst.acquired_at == datetime(2020, 1, 2, 3, 4, 5)
    assert result.primary.databar_rows == 0


def test_jeol_sidecar_without_marker_gives_no_pixel_size(host, tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", sem_image())
    (tmp_path / "a.txt").write_bytes(b"$CM_MAG 500\r\n$$SM_MICRON_BAR 0\r\n$$SM_MICRON_MARKER 1um\r\n")
    result = host.read(tmp_path / "a.tif")
    assert result.reader == "jeol" and result.primary.instrument.pixel_size is None
    assert result.primary.instrument.magnification == 500


HITACHI = {
    "InstructName": "SU8230", "SerialNumber": "HT-123", "ImageName": "renamed_later.tif",
    "Date": "2021/06/23", "Time": "09:08:07", "DataSize": "1280x960", "PixelSize": "24.80",
    "SignalName": "BSE", "AcceleratingVoltage": "15000 Volt", "Magnification": "1200",
    "WorkingDistance": "7920.5 um", "EmissionCurrent": "46900 nA", "MicronMarker": "10000",
    "StagePositionX": "37500000", "StagePositionY": "25000000", "StagePositionZ": "8000000",
    "StagePositionR": "0", "StagePositionT": "5.0", "Condition": "Vacc=15.0kV Mag=x1.20k WD=7.9mm",
}


def test_hitachi_pair_with_a_non_ascii_name(host, tmp_path):
    stem = "Probe_Ø-µm_データ 1"
    tifffile.imwrite(tmp_path / f"{stem}.tif", sem_image(1024, 1280, databar=64),
                     resolution=(256, 256), resolutionunit="INCH")
    hitachi_sidecar(tmp_path / f"{stem}.txt", HITACHI)
    result = host.read(tmp_path / f"{stem}.tif")
    page, inst = result.primary, result.primary.instrument
    assert result.reader == "hitachi" and result.warnings == []
    assert (page.databar_rows, page.pixels.shape) == (64, (960, 1280))
    assert inst.vendor == "Hitachi" and inst.model == "SU8230" and inst.serial == "HT-123"
    assert inst.pixel_size.x.value == pytest.approx(24.8)  # not the 256 dpi decoy
    assert inst.beam_energy.value == pytest.approx(15.0)
    assert inst.working_distance.value == pytest.approx(7.9205)
    assert inst.emission_current.value == pytest.approx(46.9)
    assert inst.magnification == 1200 and inst.detector == "BSE"
    assert (inst.stage.x.value, inst.stage.z.value, inst.stage.tilt.value) == (37.5, 8.0, 5.0)
    assert inst.acquired_at == datetime(2021, 6, 23, 9, 8, 7)
    assert inst.vendor_raw["SemImageFile"]["ImageName"] == "renamed_later.tif"


def test_hitachi_sidecar_is_paired_by_stem_not_by_image_name(host, tmp_path):
    for name, mag in (("a", "100"), ("b", "200")):
        tifffile.imwrite(tmp_path / f"{name}.tif", sem_image())
        hitachi_sidecar(tmp_path / f"{name}.txt", {"ImageName": "b.tif", "Magnification": mag})
    assert host.read(tmp_path / "a.tif").primary.instrument.magnification == 100


def test_hitachi_ansi_sidecar_and_condition_fallback(host, tmp_path):
    Image.fromarray(sem_image(60, 80)).save(tmp_path / "tm.bmp")
    values = {"InstructName": "TM4000", "Condition": "Vacc=5.0kV Mag=x2.50k WD=3.1mm"}
    hitachi_sidecar(tmp_path / "tm.txt", values, encoding="cp1252")
    result = host.read(tmp_path / "tm.bmp")
    inst = result.primary.instrument
    assert result.reader == "hitachi" and result.media_type == "image/bmp"
    assert (inst.beam_energy.value, inst.magnification, inst.working_distance.value) == (5.0, 2500.0, 3.1)


def test_sidecar_removed_after_sniffing_costs_only_the_metadata(host, tmp_path):
    tifffile.imwrite(tmp_path / "x.tif", sem_image())
    hitachi_sidecar(tmp_path / "x.txt", HITACHI)
    reader = next(p.obj for p in host.readers if p.manifest.name == "hitachi")
    (tmp_path / "x.txt").unlink()
    result = reader.read(tmp_path / "x.tif")
    assert result.primary.instrument.model is None
    assert any("no Hitachi sidecar" in w for w in result.warnings)
    assert np.array_equal(result.primary.pixels, sem_image())
