"""The shared reader toolkit: units, text decoding, INI / $KEY / XML parsing, field building."""
from __future__ import annotations

import codecs
from datetime import datetime

import numpy as np
import pytest

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.readkit import (
    MetadataBuilder,
    UnitError,
    apply_palette,
    convert,
    decode_text,
    parse_datetime,
    parse_dollar_lines,
    parse_ini,
    parse_magnification,
    parse_number,
    parse_xml,
    split_quantity,
    to_grey,
    xml_get,
)
from nanoaid_daemon.readkit.units import ANGLE, CURRENT, LENGTH, PRESSURE, TIME, VOLTAGE


@pytest.mark.parametrize("text, value", [("4.41942e-007", 4.41942e-7), ("-1.2e-005", -1.2e-5), (" 30000 ", 3e4),
                                         (".5", 0.5), ("1.", 1.0)])
def test_numbers_as_vendors_write_them(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["notafloat", "", "nan", "inf", "1e999", "1,5", "0x10", "1_000", "5 V"])
def test_junk_is_not_a_number(text):
    with pytest.raises(UnitError):
        parse_number(text)


@pytest.mark.parametrize("text, table, target, value", [
    ("25.00 kV", VOLTAGE, "kV", 25.0), ("15000 Volt", VOLTAGE, "kV", 15.0),
    ("80.0 ?A", CURRENT, "µA", 80.0), ("120 pA", CURRENT, "nA", 0.12), ("1.0 nA", CURRENT, "nA", 1.0),
    ("7920.5 um", LENGTH, "mm", 7.9205), ("2.615 µm", LENGTH, "nm", 2615.0), ("24.65 μm", LENGTH, "nm", 24650.0),
    ("50 ns", TIME, "µs", 0.05), ("40.5 Secs", TIME, "s", 40.5),
    ("1.87e-006 mbar", PRESSURE, "Pa", 1.87e-4), ("1 Torr", PRESSURE, "Pa", 133.322368),
    ("10.2 \xb0", ANGLE, "deg", 10.2), ("45 ?", ANGLE, "deg", 45.0), ("3.14159265 rad", ANGLE, "deg", 180.0),
])
def test_units_convert_to_the_field_unit(text, table, target, value):
    number, unit = split_quantity(text)
    assert convert(number, unit, table, target) == pytest.approx(value, rel=1e-6)


def test_unknown_unit_is_refused():
    with pytest.raises(UnitError):
        convert(1.0, "furlong", LENGTH, "mm")


@pytest.mark.parametrize("text, value", [("50.00 K X", 5e4), ("105 X", 105), ("x1.20k", 1200), ("1200", 1200),
                                         ("1.5 MX", 1.5e6), ("4.53 K X", 4530)])
def test_magnification_strings(text, value):
    assert parse_magnification(text) == pytest.approx(value)


@pytest.mark.parametrize("data, text", [
    (codecs.BOM_UTF16_LE + "[S]\r\nµ=1".encode("utf-16-le"), "[S]\r\nµ=1"),
    ("[S]\r\nµ=1".encode("utf-16-le"), "[S]\r\nµ=1"),
    (codecs.BOM_UTF8 + "µ".encode(), "µ"),
    ("Mag µm".encode() + b"\x00\x00", "Mag µm"),
    (b"10\xb5m", "10µm"),
    (b"\x81\xb5", "\x81µ"),
])
def test_text_decoding_handles_every_vendor_encoding(data, text):
    assert decode_text(data) == text


def test_ini_parser_is_raw_and_keeps_repeats():
    text = "junk before\r\n[A]\r\nk=100%\r\nk=2\r\n[B]\r\nnot a pair\r\n;comment\r\nx = y = z\r\n[A]\r\nk=3\n"
    assert parse_ini(text) == {"A": {"k": "100%", "k#2": "2"}, "B": {"x": "y = z"}, "A#2": {"k": "3"}}
    assert parse_ini("a=1\nb=2", default_section="MAIN") == {"MAIN": {"a": "1", "b": "2"}}


def test_dollar_lines_keep_keys_as_written():
    text = "$CM_MAG 1000\r\n$$SM_WD 3.78\r\nnoise\r\n$CM_COMMENT \r\n$CM_MAG 2\r\n"
    assert parse_dollar_lines(text) == {"$CM_MAG": "1000", "$$SM_WD": "3.78", "$CM_COMMENT": "", "$CM_MAG#2": "2"}


def test_xml_becomes_nested_strings():
    tree = parse_xml('<M xmlns="urn:x"><A><B u="m">1</B><C>x</C><C>y</C></A></M>')
    assert tree == {"M": {"A": {"B": {"@u": "m", "#text": "1"}, "C": ["x", "y"]}}}
    assert xml_get(tree, "M/A/B") == "1" and xml_get(tree, "M/A/C") == "x" and xml_get(tree, "M/Z") is None


@pytest.mark.parametrize("text", ["<a>", "<a></b>", "<!DOCTYPE a><a/>", "<" + "a>" * 80 + "</a>" * 80, ""])
def test_bad_xml_is_a_reader_error(text):
    with pytest.raises(ReaderError):
        parse_xml(text)


def test_builder_keeps_first_good_value_and_warns_on_junk():
    b = MetadataBuilder("f.tif", "V")
    assert not b.quantity("beam_energy", "notafloat", "V", "src1")
    assert b.quantity("beam_energy", "5000", "V", "src2")
    assert not b.quantity("beam_energy", "9", "kV", "src3")
    assert not b.quantity("chamber_pressure", "0", "Pa", "gauge")
    assert not b.quantity("dwell_time", "5 parsecs", "s", "dwell")
    inst = b.build({"raw": "x"})
    assert inst.beam_energy.value == 5.0 and inst.chamber_pressure is None and inst.dwell_time is None
    assert len(b.warnings) == 3 and "src1" in b.warnings[0]


def test_builder_derives_field_width_from_pixel_size_and_width():
    b = MetadataBuilder("f.tif")
    b.number("pixel_size.x", 2.5, "nm", "px")
    inst = b.build({}, width_px=1024)
    assert inst.pixel_size.y.value == 2.5 and inst.horizontal_field_width.value == pytest.approx(2.56)


@pytest.mark.parametrize("date, time, formats, expected", [
    ("23 Dec 2015", "9:40:32", ("%d %b %Y",), datetime(2015, 12, 23, 9, 40, 32)),
    ("3 Mär 2019", "17:01:02", ("%d %b %Y",), datetime(2019, 3, 3, 17, 1, 2)),
    ("06/13/2016", "05:06:40 PM", ("%m/%d/%Y",), datetime(2016, 6, 13, 17, 6, 40)),
    ("2021/06/23", None, ("%Y/%m/%d",), datetime(2021, 6, 23)),
    ("13.13.2016", "1:00:00", ("%d.%m.%Y",), None),
])
def test_vendor_dates(date, time, formats, expected):
    assert parse_datetime(date, time, formats) == expected


def test_grey_conversions_keep_grey_exact():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(to_grey(np.dstack([grey] * 3)), grey)
    assert np.array_equal(to_grey(np.dstack([grey] * 3 + [grey])), grey)
    ramp = np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))
    assert apply_palette(grey, ramp) is grey
    inverted = apply_palette(grey, ramp[:, ::-1])
    assert np.array_equal(inverted, 255 - grey)
