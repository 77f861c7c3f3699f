"""Pixel size of a plain TIFF: ImageJ calibration, or resolution tags in a physical unit.

Resolution tags are only a calibration when their unit is physical. Whole-number resolutions of
at most 1200 per inch (or the same per centimetre) are print / screen settings (72, 96, 300 dpi…)
that image programs write by default — instrument decoys too — and are not taken as a pixel size.
"""
from __future__ import annotations

from typing import Any

__all__ = ["tiff_calibration"]

_IMAGEJ_UNITS_NM = {"nm": 1.0, "nanometer": 1.0, "nanometre": 1.0, "µm": 1e3, "um": 1e3, "micron": 1e3,
                    "microns": 1e3, "micrometer": 1e3, "micrometre": 1e3, "mm": 1e6, "millimeter": 1e6,
                    "cm": 1e7, "centimeter": 1e7, "m": 1e9, "meter": 1e9, "metre": 1e9, "inch": 2.54e7,
                    "in": 2.54e7, "pm": 1e-3, "å": 0.1, "angstrom": 0.1}
_RESUNIT_NM = {2: 2.54e7, 3: 1e7, 4: 1e6, 5: 1e3}  # inch, centimetre, millimetre, micrometre
_DISPLAY_LIMIT = {2: 1200.0, 3: 1200.0 / 2.54}


def _rational(tag) -> float | None:
    try:
        value = tag.value
        num, den = (value[0], value[1]) if isinstance(value, tuple) and len(value) == 2 else (value, 1)
        num, den = float(num), float(den)
    except Exception:
        return None
    if num <= 0 or den <= 0:
        return None
    return num / den


def _imagej(page) -> tuple[dict[str, str], str | None]:
    tag = page.tags.get(270)
    text = tag.value if tag is not None else None
    if not isinstance(text, str) or not text.startswith("ImageJ="):
        return {}, None
    raw = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            raw[key.strip()] = value.strip()
    unit = raw.get("unit", "").replace("\\u00B5", "µ").replace("\\u00b5", "µ").replace("μ", "µ").strip().lower()
    return raw, unit or None


def tiff_calibration(page) -> tuple[tuple[float, float] | None, dict[str, Any]]:
    """((x_nm, y_nm) or None, the tags it came from for ``vendor_raw``)."""
    xres, yres = page.tags.get(282), page.tags.get(283)
    px_per_unit_x = _rational(xres) if xres is not None else None
    px_per_unit_y = _rational(yres) if yres is not None else None  # absent or 0: as x
    raw, unit = _imagej(page)
    if raw:
        nm = _IMAGEJ_UNITS_NM.get(unit or "")
        if nm is None or px_per_unit_x is None:
            return None, {"ImageJ": raw}
        return (nm / px_per_unit_x, nm / (px_per_unit_y or px_per_unit_x)), {"ImageJ": raw}
    unit_tag = page.tags.get(296)
    code = int(unit_tag.value) if unit_tag is not None else 2  # TIFF default: inch
    if code not in _RESUNIT_NM or px_per_unit_x is None:
        return None, {}
    limit = _DISPLAY_LIMIT.get(code)
    if limit and px_per_unit_x <= limit and float(px_per_unit_x).is_integer():
        return None, {}
    raw_tags = {"XResolution": str(xres.value), "YResolution": str(yres.value) if yres else "",
                "ResolutionUnit": str(code)}
    nm = _RESUNIT_NM[code]
    return (nm / px_per_unit_x, nm / (px_per_unit_y or px_per_unit_x)), {"resolution": raw_tags}
