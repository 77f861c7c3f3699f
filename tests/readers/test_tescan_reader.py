"""TESCAN: the same values from tag 50431, from the .hdr sidecar, and from both."""
from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest
import tifffile
from PIL import Image
from reader_synth import TESCAN_TAG, sem_image, tescan_blocks, write_tescan, write_tiff

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.readkit import decode_text, parse_ini
from nanoaid_plugins.reader_tescan._tescan import block_sections, parse_blocks

REAL = "nexuslims/tescan-pfib_dataZeroed"
SECTIONS = {
    "MAIN": {"Date": "2024-01-31", "Time": "08:15:00", "Device": "TESCAN MIRA", "SerialNumber": "S1",
             "Magnification": "25000.0", "PixelSizeX": "5.0e-09", "PixelSizeY": "5.0e-09",
             "ImageStripSize": "20", "UserName": "op"},
    "SEM": {"HV": "10000.0", "WD": "0.006", "DwellTime": "0.000032", "Detector": "SE",
            "ChamberPressure": "0.001", "StageX": "0.01", "StageY": "0.02", "StageZ": "0.005",
            "StageRotation": "45.0", "StageTilt": "-5.0", "EmissionCurrent": "0.00018"},
}


def without_raw(instrument) -> dict:
    return instrument.model_dump(exclude={"vendor_raw"})


def test_tescan_tiff_without_hdr_is_read_from_the_block_container(host, tmp_path):
    image = sem_image(116, 128, databar=20, dtype="uint16")
    path = write_tescan(tmp_path / "t.tif", SECTIONS, image)
    result = host.read(path)
    page, inst = result.primary, result.primary.instrument
    assert result.reader == "tescan" and result.warnings == []
    assert (page.databar_rows, page.pixels.shape) == (20, (96, 128))
    assert inst.beam_energy.value == 10.0 and inst.working_distance.value == pytest.approx(6.0)
    assert inst.dwell_time.value == pytest.approx(32.0) and inst.magnification == 25000.0
    assert inst.pixel_size.x.value == pytest.approx(5.0) and inst.emission_current.value == pytest.approx(180.0)
    assert inst.stage.tilt.value == -5.0 and inst.stage.rotation.value == 45.0
    assert inst.acquired_at == datetime(2024, 1, 31, 8, 15, tzinfo=timezone.utc)


def test_real_tescan_values_are_the_same_without_its_hdr(host, real_sem, tmp_path):
    """The blocks are rebuilt from the real .hdr; the image carries no sidecar."""
    hdr = parse_ini(decode_text((real_sem / f"{REAL}.hdr").read_bytes()))
    image = sem_image(1578, 1280, databar=298, dtype="uint16")
    alone = host.read(write_tescan(tmp_path / "alone.tif", hdr, image)).primary.instrument
    real = host.read(real_sem / f"{REAL}.tif").primary.instrument
    assert without_raw(alone) == without_raw(real)


def test_real_tescan_values_are_the_same_from_the_hdr_alone(host, real_sem, tmp_path):
    Image.fromarray(sem_image(1578, 1280, databar=298)).save(tmp_path / "export.png")
    (tmp_path / "export.hdr").write_bytes((real_sem / f"{REAL}.hdr").read_bytes())
    result = host.read(tmp_path / "export.png")
    real = host.read(real_sem / f"{REAL}.tif")
    assert result.reader == "tescan" and result.media_type == "image/png"
    assert result.primary.databar_rows == 298
    assert without_raw(result.primary.instrument) == without_raw(real.primary.instrument)


def test_tiff_datetime_tag_is_not_the_acquisition_time(host, tmp_path):
    path = tmp_path / "t.tif"
    blob = tescan_blocks(SECTIONS)
    tifffile.imwrite(path, sem_image(), datetime="1999:01:01 00:00:00", metadata=None,
                     extratags=[(TESCAN_TAG, "B", len(blob), blob, True)])
    assert host.read(path).primary.instrument.acquired_at == datetime(2024, 1, 31, 8, 15, tzinfo=timezone.utc)


def test_broken_block_container_falls_back_to_the_hdr_with_a_warning(host, tmp_path):
    blob = struct.pack("<IH", 9999, 2) + b"Device=X"
    path = write_tiff(tmp_path / "t.tif", sem_image(), [(TESCAN_TAG, "B", len(blob), blob)])
    hdr = "[MAIN]\r\nDevice=TESCAN VEGA\r\n[SEM]\r\nHV=20000\r\n"
    (tmp_path / "t.hdr").write_text(hdr, newline="")
    result = host.read(path)
    assert result.primary.instrument.model == "TESCAN VEGA"
    assert result.primary.instrument.beam_energy.value == 20.0
    assert any("50431" in w for w in result.warnings)


def test_block_parser_reads_types_and_refuses_bad_lengths():
    blocks = parse_blocks(tescan_blocks(SECTIONS))
    assert [t for t, _ in blocks] == [1, 2, 3]
    assert block_sections(blocks)["SEM"]["Detector"] == "SE"
    with pytest.raises(ReaderError):
        parse_blocks(struct.pack("<IH", 1, 2))
    with pytest.raises(ReaderError):
        parse_blocks(b"\x05\x00")
