"""Where NeXus NXem keeps the quantities NanoAID's readers normalise, for the independent check.

pynxtools-em parses the same vendor files with its own parsers; comparing its template with the
sidecar is a second opinion on every reader. Each row names an NXem path suffix (the template key
ends with it), the sidecar field, and the factor from the NeXus unit to the sidecar's fixed unit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["ValueComparison", "compare_values"]

#: NeXus unit name → (factor to SI, SI dimension); enough for the units pynxtools-em writes here.
_UNITS: dict[str, tuple[float, str]] = {
    "meter": (1.0, "m"), "m": (1.0, "m"), "millimeter": (1e-3, "m"), "mm": (1e-3, "m"),
    "micrometer": (1e-6, "m"), "nanometer": (1e-9, "m"), "nm": (1e-9, "m"),
    "second": (1.0, "s"), "s": (1.0, "s"), "microsecond": (1e-6, "s"), "us": (1e-6, "s"),
    "radian": (1.0, "rad"), "rad": (1.0, "rad"), "degree": (math.pi / 180, "rad"), "deg": (math.pi / 180, "rad"),
    "volt": (1.0, "V"), "V": (1.0, "V"), "kilovolt": (1e3, "V"), "kV": (1e3, "V"),
    "ampere": (1.0, "A"), "A": (1.0, "A"), "nanoampere": (1e-9, "A"), "nA": (1e-9, "A"),
    "pascal": (1.0, "Pa"), "Pa": (1.0, "Pa"),
}
#: The sidecar's fixed units in SI.
_SIDECAR: dict[str, tuple[float, str]] = {
    "kV": (1e3, "V"), "nA": (1e-9, "A"), "mm": (1e-3, "m"), "nm": (1e-9, "m"), "um": (1e-6, "m"),
    "us": (1e-6, "s"), "Pa": (1.0, "Pa"), "deg": (math.pi / 180, "rad"),
}

#: (label, NXem path suffix, index into a vector or None, sidecar dotted path)
QUANTITIES: tuple[tuple[str, str, int | None, str], ...] = (
    ("beam energy", "/electron_source/voltage", None, "instrument.beam_energy"),
    ("beam current", "/electron_source/probe_current", None, "instrument.beam_current"),
    ("emission current", "/electron_source/emission_current", None, "instrument.emission_current"),
    ("working distance", "/optics/working_distance", None, "instrument.working_distance"),
    ("magnification", "/optics/magnification", None, "instrument.magnification"),
    ("dwell time", "/scan_controller/dwell_time", None, "instrument.dwell_time"),
    ("stage x", "/stageID[stage]/position", 0, "instrument.stage.x"),
    ("stage y", "/stageID[stage]/position", 1, "instrument.stage.y"),
    ("stage z", "/stageID[stage]/position", 2, "instrument.stage.z"),
    ("stage tilt", "/stageID[stage]/tilt1", None, "instrument.stage.tilt"),
    ("stage rotation", "/stageID[stage]/rotation", None, "instrument.stage.rotation"),
    ("vendor", "/fabrication/vendor", None, "instrument.vendor"),
    ("model", "/fabrication/model", None, "instrument.model"),
    ("serial", "/fabrication/serial_number", None, "instrument.serial"),
)


@dataclass(frozen=True)
class ValueComparison:
    """One quantity as both parsers read it, in the sidecar's unit."""

    quantity: str
    nanoaid: Any
    pynxtools_em: Any
    unit: str | None
    agree: bool | None  # None: only one side has it


def _dig(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _nexus_value(template: dict[str, Any], suffix: str, index: int | None) -> tuple[Any, str | None]:
    for key, value in template.items():
        if key.endswith(suffix) and "/@" not in key[len(key) - len(suffix):] and value is not None:
            unit = template.get(key + "/@units")
            if index is not None:
                try:
                    value = value[index]
                except (TypeError, IndexError):
                    return None, None
            if hasattr(value, "item"):
                value = value.item()
            return value, unit
    return None, None


def _to_sidecar_unit(value: float, nexus_unit: str | None, sidecar_unit: str) -> float | None:
    source, target = _UNITS.get(nexus_unit or ""), _SIDECAR.get(sidecar_unit)
    if source is None or target is None or source[1] != target[1]:
        return None
    return value * source[0] / target[0]


def _compare(label: str, ours: Any, theirs: Any, unit: str | None) -> ValueComparison:
    if ours is None or theirs is None:
        return ValueComparison(label, ours, theirs, unit, None)
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        agree = math.isclose(float(ours), float(theirs), rel_tol=1e-4, abs_tol=1e-9)
    elif label == "vendor":  # 'Thermo Fisher/FEI' and 'FEI' name one maker
        a, b = str(ours).lower(), str(theirs).lower()
        agree = a in b or b in a
    else:
        agree = str(ours).strip().strip('"') == str(theirs).strip().strip('"')
    return ValueComparison(label, ours, theirs, unit, agree)


def compare_values(template: dict[str, Any], sidecar: dict[str, Any]) -> list[ValueComparison]:
    """Every quantity either side has, with whether the two agree."""
    rows = []
    for label, suffix, index, dotted in QUANTITIES:
        ours = _dig(sidecar, dotted)
        theirs, nexus_unit = _nexus_value(template, suffix, index)
        unit = None
        if isinstance(ours, dict):  # a {"value", "unit"} quantity
            unit, ours = ours.get("unit"), ours.get("value")
        if theirs is not None and unit is not None and isinstance(theirs, (int, float)):
            theirs = _to_sidecar_unit(float(theirs), nexus_unit, unit)
        if ours is None and theirs is None:
            continue
        rows.append(_compare(label, ours, theirs, unit))
    return rows
