"""Zeiss ORION helium-ion microscope TIFFs: XML in tag 65000 (preferred) and their own 34118 layout.

**Tag 65000** holds ``<ImageTags>`` XML, one element per parameter with ``<Value>`` and ``<Units>``
children, names as the ORION software writes them (``AccelerationVoltage`` in V,
``GFIS.BeamCurrent`` in pA, ``WorkingDistance`` in mm, ``Fov`` in µm, ``DwellTime`` in µs,
``StageX``/``StageY`` in µm, ``StageZ`` in mm, ``StageTilt``/``StageRotate`` in degrees,
``ScalingX``/``ScalingY`` in m per pixel, ``ImageWidth``/``ImageHeight`` in pixels, ``TimeStamp``,
``System.Model``…). Every value is read with the unit stated beside it.

**Tag 34118** on an ORION is CRLF text whose block of unnamed leading numbers has its own order:
index 3 pixel size (m, 1024-px reference, as on SEM), 4 magnification, 6 acceleration voltage (V),
8 beam current in **pA** (not A), 9 a value that is not the working distance (0 on every file
seen), 10 working distance (m). Read with the SEM order, the working distance comes out 0 mm and
the current 10¹² times too large. The XML, when present, wins field by field.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import MetadataBuilder, UnitError, parse_datetime, parse_number, parse_xml

from ._cz_sem import CzSem

__all__ = ["ORION_XML_TAG", "ImageTags", "parse_image_tags", "is_orion", "orion_instrument", "image_height"]

ORION_XML_TAG = 65000
ImageTags = dict[str, tuple[str, str]]
#: (index, field, unit) of the unnamed 34118 numbers on an ORION.
ORION_UNNAMED = ((4, "magnification", ""), (6, "beam_energy", "V"), (8, "beam_current", "pA"),
                 (10, "working_distance", "m"))
#: (field, XML names in order of preference, unit when the XML states none).
XML_FIELDS = (
    ("beam_energy", ("AccelerationVoltage", "GFIS.AccelerationVoltage"), "V"),
    ("beam_current", ("GFIS.BeamCurrent", "BeamCurrent", "SampleCurrent"), "pA"),
    ("working_distance", ("WorkingDistance", "GFIS.WorkingDistance"), "mm"),
    ("horizontal_field_width", ("Fov", "GFIS.FieldOfView"), "um"),
    ("dwell_time", ("DwellTime",), "us"),
    ("scan_rotation", ("ScanRotate", "GFIS.ScanRotation"), "deg"),
    ("chamber_pressure", ("ChamberPressure",), "Torr"),
    ("stage.x", ("StageX",), "um"),
    ("stage.y", ("StageY",), "um"),
    ("stage.z", ("StageZ",), "mm"),
    ("stage.tilt", ("StageTilt",), "deg"),
    ("stage.rotation", ("StageRotate",), "deg"),
    ("pixel_size.x", ("ScalingX",), "m"),
    ("pixel_size.y", ("ScalingY",), "m"),
)
_TIMESTAMP_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d")
_TEXT_DATE_FORMATS = ("%d %b %Y", "%d.%m.%Y", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y")


def parse_image_tags(text: str) -> ImageTags | None:
    """``{name: (value, units)}`` from ``<ImageTags>`` XML; None when the text is not that document."""
    try:
        doc = parse_xml(text)
    except ReaderError:
        return None
    root = doc.get("ImageTags")
    if not isinstance(root, dict):
        return None
    tags: ImageTags = {}
    for name, node in root.items():
        if isinstance(node, dict):
            tags[name] = (str(node.get("Value") or "").strip(), str(node.get("Units") or "").strip())
        elif isinstance(node, str):
            tags[name] = (node.strip(), "")
    return tags


def is_orion(header: CzSem, tags: ImageTags | None) -> bool:
    """ORION XML is present, or the 34118 text names the instrument an ORION."""
    if tags is not None:
        return True
    return any("orion" in f"{label} {value}".lower() for label, value in header.entries.values())


def orion_instrument(tags: ImageTags | None, header: CzSem, b: MetadataBuilder, width: int) -> Instrument:
    """Normalised metadata: the XML field by field first, then the ORION 34118 layout."""
    if tags:
        _from_xml(tags, b)
    v = header.value
    b.text("model", v("DP_SEM"))
    b.text("serial", v("SV_SERIAL_NUMBER"))
    b.text("operator", v("SV_USER_NAME"))
    b.text("detector", v("DP_DETECTOR_TYPE"))
    b.date_time(v("AP_DATE"), v("AP_TIME"), _TEXT_DATE_FORMATS, "AP_DATE/AP_TIME")
    for index, field, unit in ORION_UNNAMED:
        b.quantity(field, header.number(index), unit, f"ORION unnamed header value {index}")
    _text_pixel_size(header, b, width)
    raw: dict[str, Any] = {"cz_sem": header.raw()} if not header.empty else {}
    if tags is not None:
        raw["image_tags"] = {name: [value, units] for name, (value, units) in tags.items()}
    return b.build(raw, width_px=width)


def _from_xml(tags: ImageTags, b: MetadataBuilder) -> None:
    for field, names, default_unit in XML_FIELDS:
        for name in names:
            value, units = tags.get(name, ("", ""))
            if value:
                b.quantity(field, f"{value} {units or default_unit}", default_unit, f"XML {name}")
    for name in ("MagnificationDisplay", "Magnification4x5"):
        b.quantity("magnification", tags.get(name, ("", ""))[0] or None, "", f"XML {name}")
    b.text("model", tags.get("System.Model", ("", ""))[0])
    b.text("serial", tags.get("System.Name", ("", ""))[0])
    b.text("detector", tags.get("DetectorName", ("", ""))[0])
    _timestamp(tags.get("TimeStamp", ("", ""))[0], b)


def _timestamp(text: str, b: MetadataBuilder) -> None:
    """ISO 8601 (with or without offset) or "date time" in the usual orders; local unless zoned."""
    if not text:
        return
    try:
        b.when(datetime.fromisoformat(text.replace("Z", "+00:00")))
        return
    except ValueError:
        pass
    date, _, time = text.partition(" ")
    moment = parse_datetime(date, time, _TIMESTAMP_FORMATS)
    if moment is None:
        b.warn(f"XML TimeStamp {text!r} not understood; acquired_at left out")
    b.when(moment)


def _text_pixel_size(header: CzSem, b: MetadataBuilder, width: int) -> None:
    reference = header.number(3)
    if reference is None or b.has("pixel_size.x"):
        return
    try:
        metres = parse_number(reference) * 1024 / width
    except UnitError:
        b.warn(f"ORION unnamed header value 3 (pixel size) = {reference!r} is not a number")
        return
    if b.number("pixel_size.x", metres, "m", "ORION unnamed header value 3 (pixel size)"):
        b.number("pixel_size.y", metres, "m", "ORION unnamed header value 3 (pixel size)")


def image_height(tags: ImageTags | None) -> int | None:
    """``ImageHeight`` from the XML: the stored rows below it are the databar."""
    raw = (tags or {}).get("ImageHeight", ("", ""))[0]
    try:
        rows = parse_number(raw)
    except UnitError:
        return None
    return int(rows) if rows.is_integer() and rows > 0 else None
