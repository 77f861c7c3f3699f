"""Thermo Fisher / FEI header quirks, on headers the tests write themselves."""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from databar_frames import tall_bar, texture
from reader_synth import FEI_INI_TAG, ascii_tag, fei_ini, sem_image, write_fei, write_tiff

SECTIONS = {
    "User": {"Date": "02/29/2024", "Time": "11:59:01 PM", "User": "op", "UserText": "100% done; 5%s"},
    "System": {"SystemType": "Apreo", "Dnumber": "D1", "Software": "17.1"},
    "Beam": {"HV": "2000", "Beam": "EBeam", "Scan": "EScan", "ScanRotation": "1.5707963"},
    "EBeam": {"HV": "2000", "WD": "0.004", "BeamCurrent": "2.5e-011", "HFW": "1.024e-005", "EmissionCurrent": ""},
    "GIS": {"Number": "1"},
    "Scan": {"Dwelltime": "1e-007", "PixelWidth": "1e-008", "PixelHeight": "1.0e-008"},
    "Stage": {"StageX": "0.001", "StageY": "-0.002", "StageZ": "0.0035", "StageR": "3.1415927",
              "StageT": "0.52359878", "WorkingDistance": "0.004"},
    "Image": {"ResolutionX": "128", "ResolutionY": "80", "MagCanvasRealWidth": "0.12800"},
    "Vacuum": {"ChPressure": "junk", "UserMode": "High vacuum"},
    "Detectors": {"Name": "TLD"},
    "PrivateFei": {"DatabarHeight": "0"},
}


def test_fei_values_are_converted_to_fixed_units(host, tmp_path):
    path = write_fei(tmp_path / "f.tif", fei_ini(**SECTIONS), image=sem_image(96, 128, databar=16))
    result = host.read(path)
    inst, page = result.primary.instrument, result.primary
    assert result.reader == "fei"
    assert inst.beam_energy.value == 2.0
    assert inst.beam_current.value == pytest.approx(0.025)
    assert inst.working_distance.value == pytest.approx(4.0)
    assert inst.dwell_time.value == pytest.approx(0.1)
    assert inst.pixel_size.x.value == pytest.approx(10.0)
    assert inst.horizontal_field_width.value == pytest.approx(10.24)
    assert inst.magnification == pytest.approx(0.128 / 1.024e-5)
    assert inst.scan_rotation.value == pytest.approx(90.0, rel=1e-6)
    assert inst.stage.rotation.value == pytest.approx(180.0, rel=1e-6)
    assert inst.stage.tilt.value == pytest.approx(30.0, rel=1e-6)
    assert inst.stage.y.value == pytest.approx(-2.0)
    assert inst.acquired_at == datetime(2024, 2, 29, 23, 59, 1)
    assert inst.emission_current is None  # empty: absent, and no warning for it
    assert inst.chamber_pressure is None and any("ChPressure" in w for w in result.warnings)
    assert len(result.warnings) == 1
    assert (page.databar_rows, page.pixels.shape) == (16, (80, 128))  # DatabarHeight=0 is ignored
    assert inst.vendor_raw["ini"]["User"]["UserText"] == "100% done; 5%s"


def test_duplicate_sections_are_all_kept(host, tmp_path):
    text = fei_ini(**SECTIONS) + "[GIS]\r\nNumber=2\r\n[GIS]\r\nNumber=3\r\n"
    raw = host.read(write_fei(tmp_path / "f.tif", text)).primary.instrument.vendor_raw["ini"]
    assert [raw["GIS"]["Number"], raw["GIS#2"]["Number"], raw["GIS#3"]["Number"]] == ["1", "2", "3"]


def test_three_digit_exponents_and_negative_working_distance(host, tmp_path):
    sections = {**SECTIONS, "EBeam": {"WD": "-1.2e-005", "HV": "3.0e+003"}}
    inst = host.read(write_fei(tmp_path / "f.tif", fei_ini(**sections))).primary.instrument
    assert inst.working_distance.value == pytest.approx(-0.012)
    assert inst.beam_energy.value == pytest.approx(3.0)


def test_nav_cam_frame_without_scan_section_uses_field_width(host, tmp_path):
    sections = {k: v for k, v in SECTIONS.items() if k not in ("Scan", "EBeam")}
    sections["Beam"] = {"Beam": "IRBeam", "HV": ""}
    sections["IRBeam"] = {"HFW": "0.2", "VFW": "0.125", "WD": "-1.2e-005"}
    inst = host.read(write_fei(tmp_path / "f.tif", fei_ini(**sections))).primary.instrument
    assert inst.pixel_size.x.value == pytest.approx(0.2 / 128 * 1e9)
    assert inst.pixel_size.y.value == pytest.approx(0.125 / 80 * 1e9)
    assert inst.beam_energy is None


XML = """<?xml version="1.0"?>
<Metadata xmlns:nil="http://schemas.fei.com/Metadata/v1/2013/07">
  <Optics><AccelerationVoltage>2000.0001</AccelerationVoltage><BeamCurrent>2.5123E-11</BeamCurrent></Optics>
  <BinaryResult><PixelSize><X unit="m">1.00001E-08</X><Y unit="m">1.00002E-08</Y></PixelSize></BinaryResult>
  <Acquisition><AcquisitionDatetime>2024-03-01T10:00:00</AcquisitionDatetime></Acquisition>
</Metadata>"""


def test_xml_header_wins_over_ini_where_both_hold_a_number(host, tmp_path):
    inst = host.read(write_fei(tmp_path / "f.tif", fei_ini(**SECTIONS), xml_text=XML)).primary.instrument
    assert inst.beam_energy.value == pytest.approx(2.0000001, rel=1e-9)
    assert inst.beam_current.value == pytest.approx(0.025123, rel=1e-9)
    assert inst.pixel_size.y.value == pytest.approx(10.0002, rel=1e-9)
    assert inst.acquired_at == datetime(2024, 3, 1, 10, 0, 0)
    assert inst.vendor_raw["xml"]["Metadata"]["Optics"]["BeamCurrent"] == "2.5123E-11"


@pytest.mark.parametrize("xml", ["<Metadata><Optics>", '<!DOCTYPE x [<!ENTITY a "b">]><Metadata/>'])
def test_broken_or_unsafe_xml_is_ignored_with_a_warning(host, tmp_path, xml):
    result = host.read(write_fei(tmp_path / "f.tif", fei_ini(**SECTIONS), xml_text=xml))
    assert result.primary.instrument.beam_energy.value == 2.0  # from the INI
    assert any("XML header" in w for w in result.warnings)


def test_sfeg_tag_34680_is_read_too(host, tmp_path):
    path = write_tiff(tmp_path / "f.tif", sem_image(), [ascii_tag(34680, fei_ini(**SECTIONS))])
    result = host.read(path)
    assert result.reader == "fei" and result.primary.instrument.beam_energy.value == 2.0


def test_resolution_y_larger_than_the_image_is_reported_not_applied(host, tmp_path):
    sections = {**SECTIONS, "Image": {"ResolutionY": "4000"}}
    result = host.read(write_fei(tmp_path / "f.tif", fei_ini(**sections)))
    assert result.primary.databar_rows == 0
    assert any("ResolutionY" in w for w in result.warnings)


def test_empty_fei_tag_keeps_pixels_and_says_so(host, tmp_path):
    result = host.read(write_tiff(tmp_path / "f.tif", sem_image(), [ascii_tag(FEI_INI_TAG, "    ")]))
    assert result.reader == "fei" and result.primary.pixels.shape == (96, 128)
    assert any("empty" in w for w in result.warnings)
    assert not math.isnan(result.primary.pixels.mean())


@pytest.mark.parametrize("declared,expected", [("62", 62), ("0", 60), ("", 60), ("12", 60)])
def test_without_resolution_y_the_pixels_find_the_bar_and_databar_height_only_confirms(
        host, tmp_path, declared, expected):
    """DatabarHeight is 0, empty or wrong on real files: it wins only within 3 rows of the pixels."""
    rng = np.random.default_rng(3)
    image = texture(384, 512, rng, dark=True)
    image[-60:] = tall_bar(60, 512, rng)
    sections = {**SECTIONS, "Image": {"ResolutionX": "512"}, "PrivateFei": {"DatabarHeight": declared}}
    assert host.read(write_fei(tmp_path / "f.tif", fei_ini(**sections), image=image)).primary.databar_rows == expected
