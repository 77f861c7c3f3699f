"""Thermo Fisher / FEI headers → normalised metadata.

The INI text (tag 34682, older 34680) stores SI units: HV in V, lengths in m, currents in A,
rotations and tilts in radians. Newer systems add an XML document (tag 34683) with more digits;
where both hold a number the XML wins. ``[Beam] Beam=`` names the section of the active beam
(``EBeam``, ``IBeam``, ``IRBeam`` for a Nav-Cam…), ``[Beam] Scan=`` that of its scan settings.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import MetadataBuilder, UnitError, ini_get, parse_number, xml_get

__all__ = ["FeiHeader", "fei_instrument", "image_rows"]

_INI_DATES = ("%m/%d/%Y",)
_CREATION_DATES = ("%d.%m.%Y",)


class FeiHeader:
    """The parsed INI sections and XML tree (either may be empty) with lookup helpers."""

    def __init__(self, ini: dict[str, dict[str, str]], xml: dict[str, Any] | None):
        self.ini = ini
        self.xml = xml
        self.beam = ini_get(ini, "Beam", "Beam")
        self.scan = ini_get(ini, "Beam", "Scan")

    def i(self, section: str | None, key: str) -> str | None:
        return ini_get(self.ini, section, key)

    def x(self, path: str) -> str | None:
        return xml_get(self.xml, "Metadata/" + path) if self.xml else None

    def raw(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ini": self.ini}
        if self.xml is not None:
            out["xml"] = self.xml
        return out


def fei_instrument(h: FeiHeader, b: MetadataBuilder, width: int) -> Instrument:
    _texts(h, b)
    _acquired(h, b)
    _beam(h, b)
    _scan(h, b, width)
    _stage(h, b)
    return b.build(h.raw(), width_px=width)


def _texts(h: FeiHeader, b: MetadataBuilder) -> None:
    b.text("model", h.i("System", "SystemType"))
    b.text("model", h.x("Instrument/InstrumentClass"))
    b.text("serial", h.i("System", "Dnumber"))
    b.text("serial", h.x("Instrument/InstrumentID"))
    b.text("software", h.i("System", "Software"))
    b.text("software", h.x("Instrument/ControlSoftwareVersion"))
    b.text("operator", h.i("User", "User"))
    b.text("operator", h.x("Core/UserID"))
    b.text("detector", h.i("Detectors", "Name"))
    b.text("detector", h.x("Detectors/ScanningDetector/DetectorName"))


def _acquired(h: FeiHeader, b: MetadataBuilder) -> None:
    stamp = h.x("Acquisition/AcquisitionDatetime")
    if stamp:
        try:
            b.when(datetime.fromisoformat(stamp.strip().replace("Z", "+00:00")))
        except ValueError:
            b.warn(f"XML AcquisitionDatetime {stamp!r} is not an ISO 8601 time")
    b.date_time(h.i("User", "Date"), h.i("User", "Time"), _INI_DATES, "[User] Date/Time")
    creation = (h.i("PrivateFei", "TimeOfCreation") or "").split(" ", 1)
    if len(creation) == 2:
        b.date_time(creation[0], creation[1], _CREATION_DATES, "[PrivateFei] TimeOfCreation")


def _beam(h: FeiHeader, b: MetadataBuilder) -> None:
    q, x, i, beam = b.quantity, h.x, h.i, h.beam
    q("beam_energy", x("Optics/AccelerationVoltage"), "V", "XML AccelerationVoltage")
    q("beam_energy", i(beam, "HV"), "V", f"[{beam}] HV")
    q("beam_energy", i("Beam", "HV"), "V", "[Beam] HV")
    q("beam_current", x("Optics/BeamCurrent"), "A", "XML BeamCurrent")
    q("beam_current", i(beam, "BeamCurrent"), "A", f"[{beam}] BeamCurrent")
    q("beam_current", i("Beam", "BeamCurrent"), "A", "[Beam] BeamCurrent")
    q("emission_current", x("Optics/EmissionCurrent"), "A", "XML EmissionCurrent")
    q("emission_current", i(beam, "EmissionCurrent"), "A", f"[{beam}] EmissionCurrent")
    q("working_distance", x("Optics/WorkingDistance"), "m", "XML WorkingDistance")
    q("working_distance", i(beam, "WD"), "m", f"[{beam}] WD")
    q("working_distance", i("Stage", "WorkingDistance"), "m", "[Stage] WorkingDistance")
    q("horizontal_field_width", x("Optics/ScanFieldOfView/X"), "m", "XML ScanFieldOfView")
    q("horizontal_field_width", i(beam, "HFW"), "m", f"[{beam}] HFW")
    q("horizontal_field_width", i("Scan", "HorFieldsize"), "m", "[Scan] HorFieldsize")
    q("chamber_pressure", x("VacuumProperties/SamplePressure"), "Pa", "XML SamplePressure")
    q("chamber_pressure", i("Vacuum", "ChPressure"), "Pa", "[Vacuum] ChPressure")
    q("scan_rotation", x("ScanSettings/ScanRotation"), "rad", "XML ScanRotation")
    q("scan_rotation", i("Beam", "ScanRotation"), "rad", "[Beam] ScanRotation")
    q("scan_rotation", i(beam, "ScanRotation"), "rad", f"[{beam}] ScanRotation")
    _magnification(h, b)


def _magnification(h: FeiHeader, b: MetadataBuilder) -> None:
    """xT's magnification: the real width of the reference canvas over the field width."""
    canvas, hfw_um = h.i("Image", "MagCanvasRealWidth"), b.values.get("horizontal_field_width")
    if canvas is None or hfw_um is None:
        return
    try:
        metres = parse_number(canvas)
    except UnitError:
        b.warn(f"[Image] MagCanvasRealWidth = {canvas!r} is not a number; magnification left out")
        return
    if metres > 0:
        b.number("magnification", metres / (hfw_um * 1e-6), "", "[Image] MagCanvasRealWidth / HFW")


def _scan(h: FeiHeader, b: MetadataBuilder, width: int) -> None:
    q, i = b.quantity, h.i
    q("dwell_time", h.x("ScanSettings/DwellTime"), "s", "XML DwellTime")
    q("dwell_time", i("Scan", "Dwelltime"), "s", "[Scan] Dwelltime")
    q("dwell_time", i(h.scan, "Dwell"), "s", f"[{h.scan}] Dwell")
    for axis, key in (("x", "X"), ("y", "Y")):
        node = (h.xml or {}).get("Metadata", {})
        unit = _xml_unit(node, f"BinaryResult/PixelSize/{key}")
        q(f"pixel_size.{axis}", h.x(f"BinaryResult/PixelSize/{key}"), unit, "XML PixelSize")
    q("pixel_size.x", i("Scan", "PixelWidth"), "m", "[Scan] PixelWidth")
    q("pixel_size.y", i("Scan", "PixelHeight"), "m", "[Scan] PixelHeight")
    q("pixel_size.x", i(h.scan, "PixelWidth"), "m", f"[{h.scan}] PixelWidth")
    q("pixel_size.y", i(h.scan, "PixelHeight"), "m", f"[{h.scan}] PixelHeight")
    if not b.has("pixel_size.x"):
        _pixel_from_field(h, b)


def _xml_unit(node: Any, path: str) -> str:
    for part in path.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node.get("@unit", "m") if isinstance(node, dict) else "m"


def _pixel_from_field(h: FeiHeader, b: MetadataBuilder) -> None:
    """Frames without scan settings (Nav-Cam): field width over the image resolution."""
    for axis, field_key, res_key in (("x", "HFW", "ResolutionX"), ("y", "VFW", "ResolutionY")):
        field, res = h.i(h.beam, field_key), h.i("Image", res_key)
        if field is None or res is None:
            continue
        try:
            metres, pixels = parse_number(field), parse_number(res)
        except UnitError:
            b.warn(f"[{h.beam}] {field_key} or [Image] {res_key} is not a number; pixel size left out")
            continue
        if pixels > 0:
            b.number(f"pixel_size.{axis}", metres / pixels, "m", f"[{h.beam}] {field_key} / [Image] {res_key}")


def _stage(h: FeiHeader, b: MetadataBuilder) -> None:
    q, x, i = b.quantity, h.x, h.i
    for axis in ("X", "Y", "Z"):
        q(f"stage.{axis.lower()}", x(f"StageSettings/StagePosition/{axis}"), "m", f"XML StagePosition {axis}")
        q(f"stage.{axis.lower()}", i("Stage", f"Stage{axis}"), "m", f"[Stage] Stage{axis}")
    q("stage.rotation", x("StageSettings/StagePosition/Rotation"), "rad", "XML StagePosition Rotation")
    q("stage.rotation", i("Stage", "StageR"), "rad", "[Stage] StageR")
    q("stage.tilt", x("StageSettings/StagePosition/Tilt/Alpha"), "rad", "XML StagePosition Tilt")
    q("stage.tilt", i("Stage", "StageT"), "rad", "[Stage] StageT")


def image_rows(h: FeiHeader, b: MetadataBuilder) -> tuple[int | None, str]:
    """Declared image height (the rest of the stored rows is the databar) and where it came from."""
    for raw, source in ((h.i("Image", "ResolutionY"), "[Image] ResolutionY"),
                        (h.x("ScanSettings/ScanSize/Height"), "XML ScanSize Height"),
                        (h.x("BinaryResult/ImageSize/Y"), "XML ImageSize Y")):
        if raw is None:
            continue
        try:
            rows = parse_number(raw)
        except UnitError:
            b.warn(f"{source} = {raw!r} is not a number")
            continue
        if rows == int(rows) and rows > 0:
            return int(rows), source
    return None, ""
