"""What the templates show, computed in Python: metadata rows in fixed units, chart geometry, history.

Charts are plain SVG drawn by the templates from the numbers here, so the Frame page needs no
JavaScript and no chart library. Text is never pre-escaped here: Jinja2's autoescaping does that.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from ..journal import FrameRecord
from ..sidecar import CLASSES, Sidecar

__all__ = ["metadata_rows", "score_bars", "rose_wedges", "history", "suggestions", "fmt"]


def fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return format(value, spec)


def _q(quantity, spec: str, unit: str) -> str | None:
    return None if quantity is None else f"{format(quantity.value, spec)} {unit}"


def _axes(*quantities, unit: str) -> str:
    return ", ".join(_q(a, ".4g", unit) or "–" for a in quantities)


def metadata_rows(sc: Sidecar) -> list[tuple[str, str]]:
    """Instrument and frame facts, each in the sidecar's one fixed unit; unknown ones left out."""
    ins, fr = sc.instrument, sc.frame
    stage = ins.stage
    rows: list[tuple[str, str | None]] = [
        ("File", fr.name), ("Path", fr.path), ("Size", f"{fr.width_px} × {fr.height_px} px, {fr.dtype}, "
                                               f"{fr.size_bytes / 1e6:.2f} MB"),
        ("Databar", f"{fr.databar_rows} rows" if fr.databar_rows else None), ("Reader", fr.reader),
        ("Vendor", ins.vendor), ("Instrument", ins.model), ("Serial", ins.serial), ("Software", ins.software),
        ("Operator", ins.operator), ("Sample", ins.sample),
        ("Acquired", fmt(ins.acquired_at) if ins.acquired_at else None),
        ("Detector", ins.detector), ("Beam energy", _q(ins.beam_energy, "g", "kV")),
        ("Beam current", _q(ins.beam_current, "g", "nA")),
        ("Working distance", _q(ins.working_distance, ".3g", "mm")),
        ("Magnification", f"{ins.magnification:,.0f} ×" if ins.magnification else None),
        ("Pixel size", f"{ins.pixel_size.x.value:.4g} × {ins.pixel_size.y.value:.4g} nm" if ins.pixel_size else None),
        ("Field width", _q(ins.horizontal_field_width, ".4g", "µm")),
        ("Dwell time", _q(ins.dwell_time, "g", "µs")), ("Chamber pressure", _q(ins.chamber_pressure, ".3g", "Pa")),
        ("Stage x, y, z", _axes(stage.x, stage.y, stage.z, unit="mm") if stage else None),
        ("Tilt, rotation", _axes(stage.tilt, stage.rotation, unit="°") if stage else None),
        ("Status", sc.status), ("Licence", sc.license),
    ]
    return [(k, v) for k, v in rows if v]


def score_bars(sc: Sidecar) -> list[dict[str, Any]]:
    """All class scores, highest first, with the bar width in percent."""
    if sc.classification is None:
        return []
    scores = sc.classification.scores
    ordered = sorted(CLASSES, key=lambda c: -scores.get(c, 0.0))
    return [{"cls": c, "score": scores.get(c, 0.0), "pct": round(100 * scores.get(c, 0.0), 1),
             "top": c == sc.classification.label} for c in ordered]


def rose_wedges(sc: Sidecar, radius: float = 90.0) -> list[dict[str, Any]]:
    """SVG paths of the orientation histogram as a rose (axial data: each bin drawn at θ and θ+180°)."""
    if sc.alignment is None:
        return []
    hist = sc.alignment.histogram
    peak = max(hist.counts) if hist.counts and max(hist.counts) > 0 else 1.0
    wedges = []
    for i, count in enumerate(hist.counts):
        r = radius * math.sqrt(count / peak)  # area-true: a wedge's area is proportional to its share
        for turn in (0.0, 180.0):
            a0 = math.radians(hist.start_deg + i * hist.bin_width_deg + turn)
            a1 = math.radians(hist.start_deg + (i + 1) * hist.bin_width_deg + turn)
            # 0° points right, angles grow counter-clockwise, as on the image (SVG y points down)
            p0 = (r * math.cos(a0), -r * math.sin(a0))
            p1 = (r * math.cos(a1), -r * math.sin(a1))
            wedges.append({"d": f"M0,0 L{p0[0]:.2f},{p0[1]:.2f} A{r:.2f},{r:.2f} 0 0 0 {p1[0]:.2f},{p1[1]:.2f} Z",
                           "share": count})
    return wedges


def history(sc: Sidecar, frame: FrameRecord) -> list[dict[str, Any]]:
    """Sidecar versions: 1 is the model's call; each correction made the next version."""
    cls = sc.classification
    versions = [{"version": 1, "time": fmt(sc.created), "label": cls.label if cls else frame.label,
                 "who": f"model {cls.model.name} {cls.model.version}" if cls else "pipeline",
                 "note": f"{cls.decision}, score {cls.score:.2f}" if cls else sc.status}]
    for n, corr in enumerate(sc.corrections, start=2):
        versions.append({"version": n, "time": fmt(corr.time), "label": corr.label, "who": corr.operator,
                         "note": f"was {corr.previous_label}" + (f" — {corr.comment}" if corr.comment else "")})
    return versions


def suggestions(sc: Sidecar | None, frame: FrameRecord) -> tuple[list[str], list[str]]:
    """(big buttons, the remaining classes): the model's suggestions first, else its top two."""
    cls = sc.classification if sc else None
    if cls is not None and cls.suggestions:
        big = [c for c in cls.suggestions if c in CLASSES]
    elif cls is not None:
        big = [c for c in sorted(CLASSES, key=lambda c: -cls.scores.get(c, 0.0))][:2]
    else:
        big = [frame.label] if frame.label in CLASSES else []
    return big, [c for c in CLASSES if c not in big]
