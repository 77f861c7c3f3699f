"""Normalised instrument metadata: one fixed unit per field, absent when unknown.

Readers translate vendor headers into these models. A quantity is ``{"value": x, "unit": "..."}``
where the unit is fixed by the field (the model refuses any other), so a consumer never converts.
Unknown values are left out (``None``), never guessed and never 0.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Kilovolts",
    "Nanoamperes",
    "Microamperes",
    "Millimetres",
    "Micrometres",
    "Nanometres",
    "Microseconds",
    "Pascals",
    "Degrees",
    "PixelSize",
    "Stage",
    "Instrument",
    "ZoneSource",
]


class _Quantity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = Field(description="The number, in the unit named beside it.")

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("a quantity must be a finite number")
        return v


class Kilovolts(_Quantity):
    unit: Literal["kV"] = "kV"


class Nanoamperes(_Quantity):
    unit: Literal["nA"] = "nA"


class Microamperes(_Quantity):
    unit: Literal["uA"] = Field("uA", description="Microamperes (ASCII spelling).")


class Millimetres(_Quantity):
    unit: Literal["mm"] = "mm"


class Micrometres(_Quantity):
    unit: Literal["um"] = Field("um", description="Micrometres (ASCII spelling).")


class Nanometres(_Quantity):
    unit: Literal["nm"] = "nm"


class Microseconds(_Quantity):
    unit: Literal["us"] = Field("us", description="Microseconds (ASCII spelling).")


class Pascals(_Quantity):
    unit: Literal["Pa"] = "Pa"


class Degrees(_Quantity):
    unit: Literal["deg"] = "deg"


class PixelSize(BaseModel):
    """Physical size of one pixel of the image proper, in nanometres."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x: Nanometres
    y: Nanometres


class Stage(BaseModel):
    """Stage position as the instrument reported it; axes it did not report are absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x: Millimetres | None = None
    y: Millimetres | None = None
    z: Millimetres | None = None
    tilt: Degrees | None = None
    rotation: Degrees | None = None


#: How ``acquired_at`` got its offset (see ``Instrument.acquired_at_zone_source``).
ZoneSource = Literal["file", "vendor-utc", "instrument-setting", "host"]


class Instrument(BaseModel):
    """What the microscope said about how the frame was acquired, in fixed units."""

    model_config = ConfigDict(extra="forbid")

    vendor: str | None = Field(None, description="Manufacturer, e.g. 'Zeiss', 'Thermo Fisher/FEI'.")
    model: str | None = Field(None, description="Instrument model as the vendor names it.")
    serial: str | None = Field(None, description="Instrument serial number or name.")
    software: str | None = Field(None, description="Acquisition software and version.")
    operator: str | None = Field(None, description="User logged in at acquisition.")
    sample: str | None = Field(None, description="Sample name or id, where the vendor stores one.")
    acquired_at: datetime | None = Field(
        None,
        description="Acquisition time, ISO 8601 with offset. Where the offset came from is in "
        "acquired_at_zone_source.",
    )
    acquired_at_zone_source: ZoneSource | None = Field(
        None,
        description="Where acquired_at's offset came from: 'file' (the vendor stored it with the time), "
        "'vendor-utc' (the vendor stores UTC without saying so, e.g. TESCAN's header), 'instrument-setting' "
        "(local time; the configured `timezone`), 'host' (local time; no `timezone` configured, so this "
        "host's zone rules were assumed — a guess worth fixing in the configuration).",
    )
    detector: str | None = Field(None, description="Detector / signal name, e.g. 'SE2', 'ETD'.")
    beam_energy: Kilovolts | None = Field(None, description="Accelerating voltage.")
    beam_current: Nanoamperes | None = Field(None, description="Probe current at the sample.")
    emission_current: Microamperes | None = Field(None, description="Gun emission current.")
    working_distance: Millimetres | None = Field(None, description="Kept as stored, sign included.")
    magnification: float | None = Field(None, description="Magnification (×) as the vendor defines it.")
    pixel_size: PixelSize | None = None
    horizontal_field_width: Micrometres | None = Field(None, description="Width of the field of view.")
    dwell_time: Microseconds | None = Field(None, description="Pixel dwell time.")
    chamber_pressure: Pascals | None = None
    scan_rotation: Degrees | None = None
    stage: Stage | None = None
    vendor_raw: dict[str, Any] = Field(
        default_factory=dict,
        description="The vendor header verbatim, parsed into sections/keys; values are strings as stored.",
    )
