"""Every real instrument file in shared/data/real-sem gives the values its EXPECTED.md lists."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

REL = 1e-6

FEI_HELIOS = {
    "vendor": "Thermo Fisher/FEI",
    "model": 'Helios NanoLab" 660',
    "beam_energy.value": 5.0,
    "beam_current.value": 0.00625,
    "working_distance.value": 4.03466,
    "dwell_time.value": 10.0,
    "pixel_size.x.value": 3372.4,
    "pixel_size.y.value": 3372.4,
    "acquired_at": datetime(2016, 6, 13, 17, 6, 40),
    "detector": "ETD",
}

CASES = {
    "rosettasciio/FEI-Helios-Ebeam-8bits.tif": (
        dict(reader="fei", dtype="uint8", stored=(471, 512), databar=29), FEI_HELIOS),
    "rosettasciio/FEI-Helios-Ebeam-16bits.tif": (
        dict(reader="fei", dtype="uint16", stored=(471, 512), databar=29), FEI_HELIOS),
    "rosettasciio/FEI-Helios-navcam.tif": (
        dict(reader="fei", dtype="uint8", stored=(551, 768), databar=39),
        {"working_distance.value": -0.012, "acquired_at": datetime(2022, 5, 17, 9, 7, 8),
         "pixel_size.x.value": 0.202732 / 768 * 1e9, "beam_energy": None, "detector": "Nav-Cam",
         "model": 'Helios NanoLab" 660'}),
    "rosettasciio/FEI-Helios-navcam-with-no-IRBeam-bad-floats.tif": (
        dict(reader="fei", dtype="uint8", stored=(551, 768), databar=39),
        {"working_distance": None, "beam_energy": None, "acquired_at": datetime(2022, 5, 17, 9, 7, 8)}),
    "nexuslims/quanta_image.tif": (
        dict(reader="fei", dtype="uint8", stored=(943, 1024), databar=59),
        {"beam_energy.value": 30.0, "working_distance.value": 11.051, "horizontal_field_width.value": 452.548,
         "pixel_size.x.value": 441.942, "dwell_time.value": 30.0, "chamber_pressure.value": 79.8238,
         "emission_current.value": 156.0, "beam_current": None, "model": "Quanta FEG"}),
    "nexuslims/scios_xml_metadata.tif": (
        dict(reader="fei", dtype="uint8", stored=(1024, 1536), databar=0),
        {"acquired_at": datetime(2024, 5, 1, 12, 56, 16), "pixel_size.x.value": 26.979166666666664,
         "working_distance.value": 6.9846232508788859, "beam_current.value": 1.6, "beam_energy.value": 5.0,
         "detector": "CBS", "model": "Scios 2"}),
    "rosettasciio/test_tiff_Zeiss_SEM_1k.tif": (
        dict(reader="zeiss", dtype="uint8", stored=(768, 1024), databar=77),  # data zone burned in
        {"vendor": "Zeiss", "beam_energy.value": 25.0, "magnification": 105.0, "working_distance.value": 14.808,
         "beam_current.value": 1.0, "dwell_time.value": 0.05, "pixel_size.x.value": 2614.514,
         "pixel_size.y.value": 2614.514, "detector": "HE-SE2", "serial": "Merlin-61-08",
         "stage.x.value": 75.6442, "stage.y.value": 60.4901, "stage.z.value": 25.193,
         "stage.rotation.value": 10.2, "stage.tilt.value": 0.0, "acquired_at": datetime(2015, 12, 23, 9, 40, 32),
         "operator": "LIM"}),
    "nexuslims/tescan-pfib_dataZeroed.tif": (
        dict(reader="tescan", dtype="uint16", stored=(1578, 1280), databar=298),
        {"vendor": "TESCAN", "model": "TESCAN AMBER X", "beam_energy.value": 15.0,
         "working_distance.value": 5.947501, "magnification": 160000.0, "pixel_size.x.value": 1.5625,
         "pixel_size.y.value": 1.5625, "dwell_time.value": 10.0, "detector": "E-T",
         "chamber_pressure.value": 0.00061496, "stage.x.value": 4.07293, "stage.y.value": 16.073298,
         "stage.z.value": 6.311907, "stage.rotation.value": 30.0, "stage.tilt.value": 0.0,
         "acquired_at": datetime(2025, 12, 3, 17, 19, 26, tzinfo=timezone.utc)}),  # header time is UTC
    "rosettasciio/test_loading_image_saved_with_imageJ.tif": (
        dict(reader="generic", dtype="float32", stored=(68, 68), databar=0),
        {"pixel_size.x.value": 1e3 / 5.928571, "pixel_size.y.value": 1e3 / 5.928571}),
}


def lookup(instrument, dotted: str):
    node = instrument
    for part in dotted.split("."):
        if node is None:
            return None
        node = getattr(node, part)
    return node


def check_values(instrument, expected: dict) -> None:
    for dotted, want in expected.items():
        got = lookup(instrument, dotted)
        if want is None:
            assert got is None, f"{dotted} should be absent, got {got!r}"
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=REL), dotted
        else:
            assert got == want, dotted


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_file_gives_expected_values(host, real_sem: Path, name: str):
    frame, expected = CASES[name]
    result = host.read(real_sem / name)
    page = result.primary
    assert result.reader == frame["reader"]
    assert result.dtype == frame["dtype"]
    assert result.media_type == "image/tiff"
    assert (page.stored_height_px, page.stored_width_px) == frame["stored"]
    assert page.databar_rows == frame["databar"]
    assert page.pixels.shape == (frame["stored"][0] - frame["databar"], frame["stored"][1])
    check_values(page.instrument, expected)
    assert page.instrument.vendor_raw, "the raw vendor header is kept"


def test_navcam_pixel_size_comes_from_the_beam_field_width(host, real_sem):
    inst = host.read(real_sem / "rosettasciio/FEI-Helios-navcam.tif").primary.instrument
    assert inst.pixel_size.x.value == pytest.approx(264_000, rel=1e-4)  # EXPECTED.md rounds to 0.2640 mm


def test_bad_floats_are_left_out_with_a_warning(host, real_sem):
    result = host.read(real_sem / "rosettasciio/FEI-Helios-navcam-with-no-IRBeam-bad-floats.tif")
    assert any("WorkingDistance" in w and "notafloat" in w for w in result.warnings)
    assert any("HV" in w and "notafloat" in w for w in result.warnings)
    assert result.primary.instrument.vendor_raw["ini"]["Stage"]["WorkingDistance"] == "notafloat"


def test_imagej_calibration_matches_the_published_value(host, real_sem):
    inst = host.read(real_sem / "rosettasciio/test_loading_image_saved_with_imageJ.tif").primary.instrument
    assert inst.pixel_size.x.value == pytest.approx(168.67, rel=1e-4)
    assert inst.vendor_raw["ImageJ"]["unit"] == "micron"


def test_scios_prefers_the_more_precise_xml(host, real_sem):
    result = host.read(real_sem / "nexuslims/scios_xml_metadata.tif")
    inst = result.primary.instrument
    assert abs(inst.pixel_size.x.value - 26.979166666666664) < 1e-9  # the INI says 2.69792e-08
    assert inst.vendor_raw["ini"]["CBS"]["Setting"] == "A+B"
    assert inst.vendor_raw["ini"]["User"]["Date"] == "05/01/2024"
    assert inst.vendor_raw["xml"]["Metadata"]["Core"]["ApplicationSoftware"] == "xT"
    assert inst.vendor_raw["xml"]["Metadata"]["Instrument"]["Manufacturer"] == "FEI Company"


def test_fei_16_and_8_bit_give_the_same_metadata_and_image(host, real_sem):
    a = host.read(real_sem / "rosettasciio/FEI-Helios-Ebeam-8bits.tif").primary
    b = host.read(real_sem / "rosettasciio/FEI-Helios-Ebeam-16bits.tif").primary
    assert a.instrument == b.instrument
    assert a.pixels.shape == b.pixels.shape


def test_quanta_databar_is_cut_off_the_real_image(host, real_sem):
    page = host.read(real_sem / "nexuslims/quanta_image.tif").primary
    assert len(np.unique(page.pixels[-1])) > 50, "last kept row is image, not databar"


def test_zeiss_multipage_pages_have_their_own_metadata(host, zeiss_multipage):
    result = host.read(zeiss_multipage)
    assert result.reader == "zeiss" and len(result.pages) == 2
    first, second = (p.instrument for p in result.pages)
    assert first.acquired_at.time().isoformat() == "22:42:02"
    assert second.acquired_at.time().isoformat() == "22:45:19"
    assert first.vendor_raw["AP_FIB_SLICE_INDEX"][1] == "2"
    assert second.vendor_raw["AP_FIB_SLICE_INDEX"][1] == "5"
    for inst in (first, second):
        assert inst.working_distance.value == pytest.approx(4.5, rel=REL)
        assert inst.pixel_size.x.value == pytest.approx(2.465245e-08 * 1024 / 2048 * 1e9, rel=REL)
    for page in result.pages:
        assert (page.stored_height_px, page.stored_width_px) == (1536, 2048)


def test_navcam_pixel_size_x_is_along_the_width_and_y_along_the_height_not_swapped(host, real_sem):
    """[IRBeam] HFW = 0.202732 m over ResolutionX = 768; VFW = 0.135155 m over ResolutionY = 512.

    The two differ in the seventh digit, so a swap shows: x must be 263,973.958 nm, y 263,974.609 nm."""
    inst = host.read(real_sem / "rosettasciio/FEI-Helios-navcam.tif").primary.instrument
    assert inst.pixel_size.x.value == pytest.approx(0.202732 / 768 * 1e9, rel=1e-9)
    assert inst.pixel_size.y.value == pytest.approx(0.135155 / 512 * 1e9, rel=1e-9)
