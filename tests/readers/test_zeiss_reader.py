"""Zeiss SmartSEM quirks, on headers the tests write themselves."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import tifffile
from reader_synth import ZEISS_TAG, ascii_tag, sem_image, write_tiff, zeiss_text

from nanoaid_plugins.reader_zeiss._cz_sem import parse_cz_sem

BASE = {
    "AP_ACTUALKV": "EHT = 10.00 kV",
    "AP_MAG": "Mag =  50.00 K X",
    "AP_WD": "WD =  5.2 mm",
    "AP_IPROBE": "I Probe =  120 pA",
    "AP_BEAM_CURRENT": "Beam Current =   80.0 ?A",
    "DP_DWELL_TIME": "Dwell Time = 0.2 ?s",
    "AP_STAGE_AT_T": "Stage at T =  45.0 ?",
    "AP_STAGE_AT_X": "Stage at X = 12.5 mm",
    "AP_DATE": "Date :3 Dez 2019",
    "AP_TIME": "Time :7:05:09",
    "DP_IMAGE_STORE": "Store resolution = 512 * 384",
    "SV_USER_NAME": "User Name = ",
    "SV_OPERATOR": "Operator = anna",
}


def write_zeiss(path, headers, image=None):
    image = sem_image(384, 512) if image is None else image
    if isinstance(headers, str):
        return write_tiff(path, image, [ascii_tag(ZEISS_TAG, headers)])
    with tifffile.TiffWriter(path) as tif:
        for text in headers:
            extratags = [(*ascii_tag(ZEISS_TAG, text), True)] if text is not None else []
            tif.write(image, extratags=extratags, metadata=None)
    return path


def test_zeiss_quirks_are_normalised(host, tmp_path):
    path = write_zeiss(tmp_path / "z.tif", zeiss_text(BASE, ["0", "0", "0", "1.2e-008", "5.0e4"]))
    result = host.read(path)
    inst = result.primary.instrument
    assert result.reader == "zeiss"
    assert inst.magnification == 50_000
    assert inst.beam_current.value == pytest.approx(0.12)  # I Probe, not the 80 µA gun current
    assert inst.dwell_time.value == pytest.approx(0.2)  # '?s' is µs
    assert inst.stage.tilt.value == 45.0  # a lone '?' is the degree sign
    assert inst.acquired_at == datetime(2019, 12, 3, 7, 5, 9)
    assert inst.operator == "anna"
    assert inst.pixel_size.x.value == pytest.approx(12.0 * 1024 / 512)  # 1024-px reference scaled
    assert inst.horizontal_field_width.value == pytest.approx(12.0 * 1024 / 1000)
    assert inst.vendor_raw["AP_MAG"] == ["Mag", "50.00 K X"]
    assert result.warnings == []


def test_data_zone_below_the_store_resolution_is_the_databar(host, tmp_path):
    image = sem_image(420, 512, databar=36)
    page = host.read(write_zeiss(tmp_path / "z.tif", zeiss_text(BASE), image)).primary
    assert page.databar_rows == 36 and page.pixels.shape == (384, 512)


def test_pixel_size_falls_back_to_image_pixel_size(host, tmp_path):
    text = zeiss_text({"AP_IMAGE_PIXEL_SIZE": "Image Pixel Size = 3.5 nm"}, numbers=[])
    inst = host.read(write_zeiss(tmp_path / "z.tif", text)).primary.instrument
    assert inst.pixel_size.x.value == pytest.approx(3.5)


def test_blank_zeiss_tag_is_tolerated_with_a_warning(host, tmp_path):
    result = host.read(write_zeiss(tmp_path / "z.tif", "   \r\n  "))
    assert result.reader == "zeiss"
    assert result.primary.instrument.beam_energy is None
    assert any("missing or empty" in w for w in result.warnings)


def test_inline_empty_zeiss_tag_still_selects_the_zeiss_reader(host, tmp_path):
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, sem_image(), extratags=[(ZEISS_TAG, "s", 0, "", True)], metadata=None)
    result = host.read(path)
    assert result.reader == "zeiss"
    assert result.primary.instrument.vendor == "Zeiss"


def test_each_page_keeps_its_own_header_even_after_an_empty_one(host, tmp_path):
    second = zeiss_text({**BASE, "AP_TIME": "Time :23:59:58"})
    result = host.read(write_zeiss(tmp_path / "z.tif", [zeiss_text(BASE), None, second]))
    assert len(result.pages) == 3
    times = [p.instrument.acquired_at for p in result.pages]
    assert times[0].time().isoformat() == "07:05:09" and times[1] is None
    assert times[2].time().isoformat() == "23:59:58"


def test_parser_keeps_lines_verbatim_and_repeated_keys():
    header = parse_cz_sem("1\r\n2.5\r\nAP_X\r\nX = 1 %s\r\nAP_X\r\nX = 2\r\nAP_Y\r\nDP_Z\r\nZ :a:b\r\n")
    assert header.numbers == ["1", "2.5"]
    assert header.entries == {"AP_X": ("X", "1 %s"), "AP_X#2": ("X", "2"), "AP_Y": ("", ""), "DP_Z": ("Z", "a:b")}


def test_palette_zeiss_pixels_are_grey_values(host, real_sem):
    page = host.read(real_sem / "rosettasciio/test_tiff_Zeiss_SEM_1k.tif").primary
    with tifffile.TiffFile(real_sem / "rosettasciio/test_tiff_Zeiss_SEM_1k.tif") as tif:
        indices = tif.pages[0].asarray()
    assert page.pixels.dtype == np.uint8
    assert np.array_equal(page.pixels, indices[: 768 - page.databar_rows])  # the palette is a grey ramp


def test_unnamed_si_values_fill_in_when_named_parameters_are_missing(host, tmp_path):
    numbers = ["0", "0", "0", "2.0e-008", "2.5e+004", "6", "3.0e+003", "2.3", "5.0e-010", "4.2e-003"]
    path = write_zeiss(tmp_path / "z.tif", zeiss_text({"AP_MAG": "Mag = 25.00 K X"}, numbers))
    inst = host.read(path).primary.instrument
    assert inst.magnification == 25_000  # the named value wins where it exists
    assert inst.beam_energy.value == pytest.approx(3.0)
    assert inst.beam_current.value == pytest.approx(0.5)
    assert inst.working_distance.value == pytest.approx(4.2)
