"""Vendor values → the fixed-unit ``Instrument`` model, one field at a time.

Readers offer values in order of preference; the first good one wins and later offers for the
same field are not even parsed. A junk or impossible value leaves the field absent and adds a
human-readable warning (also logged) — reading goes on.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..metadata import Instrument
from . import units as u
from .units import UnitError

__all__ = ["FIELDS", "MetadataBuilder", "parse_datetime"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldSpec:
    table: dict[str, float] | None
    unit: str  # the sidecar's unit for the field, spelled as in the unit table
    positive: bool
    limit: float  # largest plausible magnitude; beyond it the value is junk


FIELDS: dict[str, FieldSpec] = {
    "beam_energy": FieldSpec(u.VOLTAGE, "kV", True, 1e4),
    "beam_current": FieldSpec(u.CURRENT, "nA", True, 1e8),
    "emission_current": FieldSpec(u.CURRENT, "µA", True, 1e8),
    "working_distance": FieldSpec(u.LENGTH, "mm", False, 1e5),
    "magnification": FieldSpec(None, "", True, 1e10),
    "pixel_size.x": FieldSpec(u.LENGTH, "nm", True, 1e10),
    "pixel_size.y": FieldSpec(u.LENGTH, "nm", True, 1e10),
    "horizontal_field_width": FieldSpec(u.LENGTH, "µm", True, 1e8),
    "dwell_time": FieldSpec(u.TIME, "µs", True, 1e10),
    "chamber_pressure": FieldSpec(u.PRESSURE, "Pa", True, 1e7),
    "scan_rotation": FieldSpec(u.ANGLE, "deg", False, 1e6),
    "stage.x": FieldSpec(u.LENGTH, "mm", False, 1e5),
    "stage.y": FieldSpec(u.LENGTH, "mm", False, 1e5),
    "stage.z": FieldSpec(u.LENGTH, "mm", False, 1e5),
    "stage.tilt": FieldSpec(u.ANGLE, "deg", False, 1e6),
    "stage.rotation": FieldSpec(u.ANGLE, "deg", False, 1e6),
}
_TEXT_FIELDS = ("vendor", "model", "serial", "software", "operator", "sample", "detector")


class MetadataBuilder:
    """Collects one page's normalised values and the warnings met on the way."""

    def __init__(self, path: Path | str, vendor: str | None = None, warnings: list[str] | None = None):
        self.path = path
        self.values: dict[str, Any] = {}
        self.warnings: list[str] = warnings if warnings is not None else []
        if vendor:
            self.values["vendor"] = vendor

    def has(self, field: str) -> bool:
        return field in self.values

    def warn(self, message: str) -> None:
        log.warning("%s: %s", self.path, message)
        if message not in self.warnings:
            self.warnings.append(message)

    def text(self, field: str, value: str | None) -> None:
        """A free-text field (model, detector…): stripped, empty means absent."""
        assert field in _TEXT_FIELDS, field
        if field not in self.values and value is not None and value.strip():
            self.values[field] = value.strip()

    def number(self, field: str, value: float, unit: str, source: str) -> bool:
        """An already-numeric value in ``unit``; checked and converted to the field's unit."""
        if field in self.values:
            return False
        spec = FIELDS[field]
        try:
            converted = value if spec.table is None else u.convert(value, unit, spec.table, spec.unit)
        except UnitError as exc:
            self.warn(f"{source}: {exc} for {field}; left out")
            return False
        return self._store(field, converted, source)

    def quantity(self, field: str, raw: str | None, default_unit: str, source: str) -> bool:
        """A stored string such as ``"14.808 mm"`` or ``"0.011051"`` (then in ``default_unit``)."""
        if field in self.values or raw is None or not raw.strip():
            return False
        try:
            if FIELDS[field].table is None:
                value, unit = u.parse_magnification(raw), ""
            else:
                value, unit = u.split_quantity(raw)
        except UnitError:
            self.warn(f"{source} = {raw.strip()!r} is not a number; {field} left out")
            return False
        return self.number(field, value, unit or default_unit, source)

    def _store(self, field: str, value: float, source: str) -> bool:
        spec = FIELDS[field]
        if not math.isfinite(value) or abs(value) > spec.limit or (spec.positive and value <= 0):
            self.warn(f"{source}: {value:g} {spec.unit} is not a plausible {field}; left out")
            return False
        self.values[field] = float(f"{value:.15g}") + 0.0  # drop binary noise and -0.0
        return True

    def when(self, moment: datetime | None) -> None:
        """A parsed moment; one that carries an offset is recorded as zoned by the file."""
        if moment is not None and "acquired_at" not in self.values:
            self.values["acquired_at"] = moment
            if moment.tzinfo is not None:
                self.values["acquired_at_zone_source"] = "file"

    def date_time(self, date: str | None, time: str | None, formats: tuple[str, ...], source: str,
                  *, utc: bool = False) -> bool:
        """Acquisition time from separate date and time strings in one of ``formats``.

        ``utc``: the vendor stores UTC without a zone (the time gets +00:00, source ``vendor-utc``);
        otherwise the time is local and stays naive until the host attaches the instrument's zone."""
        if "acquired_at" in self.values or not date:
            return False
        moment = parse_datetime(date, time, formats)
        if moment is None:
            self.warn(f"{source}: date/time {date!r} {time or ''!r} not understood; acquired_at left out")
            return False
        self.values["acquired_at"] = moment.replace(tzinfo=timezone.utc) if utc else moment
        if utc:
            self.values["acquired_at_zone_source"] = "vendor-utc"
        return True

    def build(self, vendor_raw: dict[str, Any], *, width_px: int | None = None) -> Instrument:
        """The Instrument; HFW is derived from pixel size × width when the vendor gave none."""
        v = dict(self.values)
        fields: dict[str, Any] = {k: v.pop(k) for k in list(v)
                                  if k in _TEXT_FIELDS or k in ("acquired_at", "acquired_at_zone_source")}
        px, py = v.pop("pixel_size.x", None), v.pop("pixel_size.y", None)
        if px is not None or py is not None:
            fields["pixel_size"] = {"x": {"value": px if px is not None else py},
                                    "y": {"value": py if py is not None else px}}
            if "horizontal_field_width" not in v and width_px and px is not None:
                v["horizontal_field_width"] = float(f"{px * width_px / 1000.0:.15g}")
        stage = {k.split(".", 1)[1]: {"value": v.pop(k)} for k in list(v) if k.startswith("stage.")}
        if stage:
            fields["stage"] = stage
        for name, value in v.items():
            fields[name] = value if name == "magnification" else {"value": value}
        return Instrument(**fields, vendor_raw=vendor_raw)


_GERMAN_MONTHS = {"Mär": "Mar", "Mrz": "Mar", "Mai": "May", "Okt": "Oct", "Dez": "Dec"}


def parse_datetime(date: str, time: str | None, formats: tuple[str, ...]) -> datetime | None:
    """Naive local datetime from vendor strings; None when no format fits."""
    date = " ".join(date.split())
    for de, en in _GERMAN_MONTHS.items():
        date = date.replace(de, en)
    time = " ".join((time or "").split())
    for fmt in formats:
        for text, pattern in _candidates(date, time, fmt):
            try:
                return datetime.strptime(text, pattern)
            except ValueError:
                continue
    return None


def _candidates(date: str, time: str, fmt: str):
    if not time:
        yield date, fmt
        return
    for tfmt in ("%H:%M:%S", "%I:%M:%S %p", "%H:%M:%S.%f", "%H:%M", "%I:%M %p"):
        yield f"{date} {time}", f"{fmt} {tfmt}"

