"""Numbers and units as vendors write them: ``"50.00 K X"``, ``"80.0 ?A"``, ``"4.41942e-007"``.

Parsing is strict (a value is a number, or it is junk) so that a garbled header never turns into a
plausible-looking wrong value. Units are matched exactly first, then case-insensitively; µ may be
written ``µ``, ``μ``, ``u`` or — after a lossy code-page conversion — ``?``.
"""
from __future__ import annotations

import math
import re

__all__ = [
    "UnitError",
    "LENGTH",
    "VOLTAGE",
    "CURRENT",
    "TIME",
    "PRESSURE",
    "ANGLE",
    "parse_number",
    "split_quantity",
    "parse_magnification",
    "convert",
]


class UnitError(ValueError):
    """A value is not a number, or its unit is not one we know for the quantity."""


_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?"
_NUMBER_RE = re.compile(_NUMBER)
_QUANTITY_RE = re.compile(rf"\s*({_NUMBER})\s*(.*?)\s*")

# Factors to the SI base unit of each dimension.
LENGTH = {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "µm": 1e-6, "micron": 1e-6, "microns": 1e-6, "nm": 1e-9,
          "pm": 1e-12, "Å": 1e-10, "km": 1e3, "in": 0.0254, "inch": 0.0254}
VOLTAGE = {"V": 1.0, "kV": 1e3, "MV": 1e6, "mV": 1e-3, "Volt": 1.0, "Volts": 1.0}
CURRENT = {"A": 1.0, "mA": 1e-3, "µA": 1e-6, "nA": 1e-9, "pA": 1e-12, "fA": 1e-15}
TIME = {"s": 1.0, "sec": 1.0, "secs": 1.0, "ms": 1e-3, "msec": 1e-3, "µs": 1e-6, "ns": 1e-9, "min": 60.0}
PRESSURE = {"Pa": 1.0, "mPa": 1e-3, "hPa": 100.0, "kPa": 1e3, "mbar": 100.0, "bar": 1e5, "Torr": 133.322368,
            "mTorr": 0.133322368, "torr": 133.322368}
ANGLE = {"deg": 1.0, "°": 1.0, "degree": 1.0, "degrees": 1.0, "rad": 180.0 / math.pi,
         "mrad": 0.18 / math.pi, "µrad": 1.8e-4 / math.pi}

_MICRO_PREFIXES = ("μ", "u", "?", "\ufffd")  # Greek mu, ASCII u, lossy '?' / replacement char


def parse_number(text: str | None) -> float:
    """A plain number (3-digit exponents welcome); anything else raises UnitError."""
    if text is None:
        raise UnitError("no value")
    s = text.strip()
    if not _NUMBER_RE.fullmatch(s):
        raise UnitError(f"{text!r} is not a number")
    value = float(s)
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not a finite number")
    return value


def split_quantity(text: str | None) -> tuple[float, str]:
    """``"25.00 kV"`` → ``(25.0, "kV")``; the unit is returned as written (possibly empty)."""
    if text is None:
        raise UnitError("no value")
    match = _QUANTITY_RE.fullmatch(text)
    if not match:
        raise UnitError(f"{text!r} is not a number with a unit")
    value = float(match.group(1))
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is not a finite number")
    return value, match.group(2)


def _unit_candidates(unit: str) -> list[str]:
    u = unit.strip().rstrip(".")
    out = [u]
    if len(u) >= 2 and u[0] in _MICRO_PREFIXES:
        out.append("µ" + u[1:])
    if u in ("?", "\ufffd", "º", "˚"):
        out.append("°")
    return out


def convert(value: float, unit: str, table: dict[str, float], target: str) -> float:
    """``value`` in ``unit`` expressed in ``target``, both looked up in one dimension table."""
    factor = None
    for candidate in _unit_candidates(unit):
        factor = table.get(candidate)
        if factor is None:
            lowered = {k.lower(): v for k, v in table.items()}
            factor = lowered.get(candidate.lower()) if candidate.lower() not in ("ma",) else None
        if factor is not None:
            break
    if factor is None:
        raise UnitError(f"unknown unit {unit!r}")
    result = value * factor / table[target]
    if not math.isfinite(result):
        raise UnitError(f"{value} {unit} overflows")
    return result


_MAG_RE = re.compile(rf"\s*[xX×]?\s*({_NUMBER})\s*([kKmM])?\s*[xX×]?\s*")


def parse_magnification(text: str | None) -> float:
    """``"50.00 K X"`` → 50000, ``"x1.20k"`` → 1200, ``"105 X"`` → 105, ``"1.5 MX"`` → 1.5e6."""
    if text is None:
        raise UnitError("no value")
    match = _MAG_RE.fullmatch(text)
    if not match:
        raise UnitError(f"{text!r} is not a magnification")
    value = float(match.group(1))
    multiplier = {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1.0)
    result = value * multiplier
    if not math.isfinite(result):
        raise UnitError(f"{text!r} is not a finite magnification")
    return result
