"""Hitachi ``.txt`` sidecar (``[SemImageFile]`` INI, usually UTF-16LE with BOM) → metadata.

Units: values may carry their unit (``15000 Volt``, ``7920.5 um``, ``46900 nA``); bare numbers
are in Hitachi's defaults — volts, micrometres for the working distance, nanoamperes for
currents, nanometres for ``PixelSize`` and the stage X/Y/Z, degrees for stage R/T. ``DataSize``
(``1280x960``) is the image proper; rows below it are the databar. The TIFF's own resolution tag
is a display setting, not a calibration, and is ignored.
"""
from __future__ import annotations

import re

from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import MetadataBuilder

__all__ = ["SECTION", "looks_like_hitachi", "hitachi_instrument", "data_size"]

SECTION = "SemImageFile"
_DATES = ("%Y/%m/%d", "%Y-%m-%d", "%Y.%m.%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y")
_SIZE = re.compile(r"\s*(\d+)\s*[xX×*]\s*(\d+)\s*")
_CONDITION = re.compile(r"(\w+)=(\S+)")


def looks_like_hitachi(text: str) -> bool:
    return f"[{SECTION}]" in text


def data_size(sections: dict[str, dict[str, str]]) -> tuple[int, int] | None:
    match = _SIZE.fullmatch(sections.get(SECTION, {}).get("DataSize", ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def hitachi_instrument(sections: dict[str, dict[str, str]], b: MetadataBuilder, width: int) -> Instrument:
    s = sections.get(SECTION, {})

    def g(key: str) -> str | None:
        return s.get(key) or None

    b.text("model", g("InstructName"))
    b.text("serial", g("SerialNumber"))
    b.text("detector", g("SignalName"))
    b.text("operator", g("UserName"))
    b.text("sample", g("SampleName"))
    b.date_time(g("Date"), g("Time"), _DATES, "Date/Time")
    b.quantity("beam_energy", g("AcceleratingVoltage"), "V", "AcceleratingVoltage")
    b.quantity("magnification", g("Magnification"), "", "Magnification")
    b.quantity("working_distance", g("WorkingDistance"), "µm", "WorkingDistance")
    b.quantity("emission_current", g("EmissionCurrent"), "nA", "EmissionCurrent")
    b.quantity("beam_current", g("ProbeCurrent"), "nA", "ProbeCurrent")
    if b.quantity("pixel_size.x", g("PixelSize"), "nm", "PixelSize"):
        b.quantity("pixel_size.y", g("PixelSize"), "nm", "PixelSize")
    for axis in ("X", "Y", "Z"):
        b.quantity(f"stage.{axis.lower()}", g(f"StagePosition{axis}"), "nm", f"StagePosition{axis}")
    b.quantity("stage.rotation", g("StagePositionR"), "deg", "StagePositionR")
    b.quantity("stage.tilt", g("StagePositionT"), "deg", "StagePositionT")
    _condition(g("Condition"), b)
    return b.build(sections, width_px=width)


def _condition(text: str | None, b: MetadataBuilder) -> None:
    """``Vacc=15.0kV Mag=x1.20k WD=7.9mm …``: a fallback for values missing above."""
    if not text:
        return
    found = dict(_CONDITION.findall(text))
    b.quantity("beam_energy", found.get("Vacc"), "kV", "Condition Vacc")
    b.quantity("magnification", found.get("Mag"), "", "Condition Mag")
    b.quantity("working_distance", found.get("WD"), "mm", "Condition WD")
