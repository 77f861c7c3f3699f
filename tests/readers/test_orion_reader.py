"""Zeiss ORION helium-ion TIFFs, on fixtures written here from the documented layout (``reader_zeiss/_orion.py``):
CRLF text in tag 34118 with the ORION order of unnamed numbers, and ``<ImageTags>`` XML in tag 65000."""
from __future__ import annotations

from datetime import datetime

import pytest
from reader_synth import ZEISS_TAG, ascii_tag, sem_image, write_tiff

from nanoaid_plugins.reader_zeiss._orion import ORION_XML_TAG

# The unnamed numbers: 3 pixel size (m, 1024 px reference), 4 mag, 6 kV as V, 8 current in pA,
# 9 not the working distance (0), 10 working distance (m).
NUMBERS = ["0", "0", "1", "9.765625e-010", "120000", "0", "29997", "0", "0.938", "0.0", "0.0086", "0"]
NAMED = {"DP_SEM": "SEM = ORION NanoFab", "SV_SERIAL_NUMBER": "Serial No. = ORION-042",
         "AP_DATE": "Date :14 Mar 2023", "AP_TIME": "Time :10:11:12"}
XML_VALUES = {
    "AccelerationVoltage": ("29997", "V"), "GFIS.BeamCurrent": ("0.875", "pA"), "WorkingDistance": ("8.7", "mm"),
    "Fov": ("1.0", "um"), "DwellTime": ("2.5", "us"), "StageX": ("25157.23", "um"), "StageY": ("-1200.5", "um"),
    "StageZ": ("11.2", "mm"), "StageTilt": ("0.16", "Degrees"), "StageRotate": ("1.2", "Degrees"),
    "ScalingX": ("9.765625e-10", "m"), "ScalingY": ("9.765625e-10", "m"), "ImageWidth": ("1024", ""),
    "ImageHeight": ("960", ""), "TimeStamp": ("2023-03-14T10:11:12", ""), "System.Model": ("ORION NanoFab", ""),
    "DetectorName": ("ETDetector", ""), "ChamberPressure": ("1.5e-7", "Torr"),
}


def orion_text(numbers=NUMBERS, named=NAMED) -> str:
    lines = list(numbers)
    for key, display in named.items():
        lines += [key, display]
    return "\r\n".join(lines) + "\r\n"


def image_tags(values=XML_VALUES) -> str:
    body = "".join(f"<{k}><Value>{v}</Value><Units>{u}</Units></{k}>" for k, (v, u) in values.items())
    return f'<?xml version="1.0" encoding="utf-8"?><ImageTags>{body}</ImageTags>'


def write_orion(path, *, text: str | None = None, xml: str | None = None, rows: int = 1024):
    tags = []
    if text is not None:
        tags.append(ascii_tag(ZEISS_TAG, text))
    if xml is not None:
        tags.append(ascii_tag(ORION_XML_TAG, xml))
    return write_tiff(path, sem_image(rows, 1024, databar=rows - 960 if rows > 960 else 0), tags)


def test_orion_xml_is_preferred_and_read_with_its_own_units(host, tmp_path):
    result = host.read(write_orion(tmp_path / "him.tif", text=orion_text(), xml=image_tags()))
    inst = result.primary.instrument
    assert result.reader == "zeiss" and inst.vendor == "Zeiss" and inst.model == "ORION NanoFab"
    assert inst.beam_energy.value == pytest.approx(29.997)
    assert inst.beam_current.value == pytest.approx(0.875e-3)  # 0.875 pA, in nA; not the text's 0.938
    assert inst.working_distance.value == pytest.approx(8.7)  # XML, not the text's 8.6
    assert (inst.stage.x.value, inst.stage.y.value, inst.stage.z.value) == pytest.approx((25.15723, -1.2005, 11.2))
    assert (inst.stage.tilt.value, inst.stage.rotation.value) == pytest.approx((0.16, 1.2))
    assert inst.dwell_time.value == pytest.approx(2.5)
    assert inst.pixel_size.x.value == pytest.approx(0.9765625)
    assert inst.horizontal_field_width.value == pytest.approx(1.0)
    assert inst.chamber_pressure.value == pytest.approx(1.5e-7 * 133.322368)
    assert inst.detector == "ETDetector"
    assert inst.acquired_at == datetime(2023, 3, 14, 10, 11, 12)
    assert inst.vendor_raw["image_tags"]["GFIS.BeamCurrent"] == ["0.875", "pA"]


def test_orion_text_alone_uses_the_orion_order_and_picoamperes(host, tmp_path):
    inst = host.read(write_orion(tmp_path / "him.tif", text=orion_text())).primary.instrument
    assert inst.working_distance.value == pytest.approx(8.6)  # index 10, not the 0.0 at index 9
    assert inst.beam_current.value == pytest.approx(0.938e-3)  # pA, not A (which would be dropped)
    assert inst.beam_energy.value == pytest.approx(29.997)
    assert inst.magnification == pytest.approx(120000)
    assert inst.pixel_size.x.value == pytest.approx(0.9765625)
    assert inst.serial == "ORION-042"
    assert inst.acquired_at == datetime(2023, 3, 14, 10, 11, 12)


def test_orion_xml_declares_the_image_height_so_the_strip_below_is_the_databar(host, tmp_path):
    page = host.read(write_orion(tmp_path / "him.tif", xml=image_tags(), rows=1024)).primary
    assert (page.databar_rows, page.pixels.shape) == (64, (960, 1024))


def test_orion_xml_alone_is_read_by_the_zeiss_reader(host, tmp_path):
    result = host.read(write_orion(tmp_path / "him.tif", xml=image_tags(), rows=960))
    assert result.reader == "zeiss" and result.primary.instrument.working_distance.value == pytest.approx(8.7)


def test_zoned_orion_timestamp_is_kept_as_the_files_own(host, tmp_path):
    values = dict(XML_VALUES, TimeStamp=("2023-03-14T10:11:12-04:00", ""))
    inst = host.read(write_orion(tmp_path / "him.tif", xml=image_tags(values), rows=960)).primary.instrument
    assert inst.acquired_at.isoformat() == "2023-03-14T10:11:12-04:00"
    assert inst.acquired_at_zone_source == "file"


def test_junk_orion_values_are_left_out_with_a_warning_and_reading_goes_on(host, tmp_path):
    values = dict(XML_VALUES, WorkingDistance=("n/a", "mm"))
    result = host.read(write_orion(tmp_path / "him.tif", text=orion_text(), xml=image_tags(values), rows=960))
    assert result.primary.instrument.working_distance.value == pytest.approx(8.6)  # falls back to the text
    assert any("WorkingDistance" in w for w in result.warnings)


def test_smartsem_files_keep_the_sem_layout(host, real_sem):
    inst = host.read(real_sem / "rosettasciio/test_tiff_Zeiss_SEM_1k.tif").primary.instrument
    assert inst.working_distance.value == pytest.approx(14.808) and "image_tags" not in inst.vendor_raw
