"""JEOL ``.txt`` sidecar (``$KEY value`` lines, Latin-1/cp1252, CRLF) → normalised metadata.

Units as stored: ``$CM_ACCEL_VOLT`` in kV, ``$$SM_WD`` in mm, ``$CM_STAGE_POS`` as
``X Y Z tilt rotation …`` in mm and degrees. The pixel size is not stored: the micron marker
(``$$SM_MICRON_MARKER 10um``) spans ``$$SM_MICRON_BAR`` pixels of the ``$CM_FULL_SIZE`` scan.
"""
from __future__ import annotations

import re

from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import MetadataBuilder, UnitError, convert, parse_number, split_quantity
from nanoaid_daemon.readkit.units import LENGTH

__all__ = ["looks_like_jeol", "jeol_instrument", "full_size"]

_MARKER = re.compile(r"(?m)^\$\$?(CM|SM|SEM)_[A-Z_]+")
_DATES = ("%Y/%m/%d", "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y")
_STAGE_AXES = (("stage.x", "mm"), ("stage.y", "mm"), ("stage.z", "mm"), ("stage.tilt", "deg"),
               ("stage.rotation", "deg"))


def looks_like_jeol(text: str) -> bool:
    return bool(_MARKER.search(text))


def _get(entries: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        value = entries.get(key)
        if value:
            return value
    return None


def full_size(entries: dict[str, str]) -> tuple[int, int] | None:
    """``$CM_FULL_SIZE 1280 960`` → (1280, 960): the scan's width and height in pixels."""
    parts = (_get(entries, "$CM_FULL_SIZE") or "").split()
    try:
        width, height = (int(parse_number(p)) for p in parts[:2])
    except (UnitError, ValueError):
        return None
    return (width, height) if width > 0 and height > 0 else None


def jeol_instrument(entries: dict[str, str], b: MetadataBuilder, width: int) -> Instrument:
    g = lambda *keys: _get(entries, *keys)  # noqa: E731
    b.text("model", g("$CM_INSTRUMENT"))
    b.text("operator", g("$CM_OPERATOR"))
    b.text("detector", g("$CM_SIGNAL_NAME", "$CM_SIGNAL", "$CM_DETECTOR_NAME", "$CM_DETECTOR"))
    b.date_time(g("$CM_DATE"), g("$CM_TIME"), _DATES, "$CM_DATE/$CM_TIME")
    b.quantity("beam_energy", g("$CM_ACCEL_VOLT"), "kV", "$CM_ACCEL_VOLT")
    b.quantity("magnification", g("$CM_MAG"), "", "$CM_MAG")
    b.quantity("working_distance", g("$$SM_WD", "$SM_WD"), "mm", "$$SM_WD")
    b.quantity("scan_rotation", g("$$SM_SCAN_ROTATION", "$SM_SCAN_ROTATION"), "deg", "$$SM_SCAN_ROTATION")
    _stage(g("$CM_STAGE_POS"), b)
    _pixel_size(entries, b, width)
    return b.build(dict(entries), width_px=width)


def _stage(raw: str | None, b: MetadataBuilder) -> None:
    if not raw:
        return
    for (field, unit), value in zip(_STAGE_AXES, raw.split(), strict=False):
        b.quantity(field, value, unit, f"$CM_STAGE_POS ({field.split('.')[1]})")


def _pixel_size(entries: dict[str, str], b: MetadataBuilder, width: int) -> None:
    marker, bar = _get(entries, "$$SM_MICRON_MARKER", "$SM_MICRON_MARKER"), _get(entries, "$$SM_MICRON_BAR",
                                                                                 "$SM_MICRON_BAR")
    if not marker or not bar:
        return
    try:
        value, unit = split_quantity(marker)
        marker_nm = convert(value, unit or "µm", LENGTH, "nm")
        bar_px = parse_number(bar)
    except UnitError:
        b.warn(f"micron marker {marker!r} over {bar!r} px is not understood; pixel size left out")
        return
    if bar_px <= 0:
        b.warn(f"$$SM_MICRON_BAR = {bar!r} px is not a length; pixel size left out")
        return
    scan = full_size(entries)
    scale = scan[0] / width if scan and scan[0] != width else 1.0
    size = marker_nm / bar_px * scale
    if b.number("pixel_size.x", size, "nm", "$$SM_MICRON_MARKER / $$SM_MICRON_BAR"):
        b.number("pixel_size.y", size, "nm", "$$SM_MICRON_MARKER / $$SM_MICRON_BAR")
