"""``render(class_name, seed)``: one synthetic SEM frame with its metadata and ground truth."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from ..errors import ConfigError
from ..sidecar import CLASSES
from .databar import STYLES, bar_rows, draw_databar
from .detector import detect, distort, draw_scan
from .optics import draw_optics, form_signal
from .scene import Scene, add_clutter
from .scenes_devices import mems
from .scenes_lines import fibres, nanowires, tips
from .scenes_objects import biological, particles, powder
from .scenes_surfaces import films, patterned, porous

__all__ = ["SynthFrame", "render", "BUILDERS", "OVERRIDES"]

BUILDERS = {
    "Biological": biological,
    "Fibres": fibres,
    "Films_Coated_Surface": films,
    "MEMS_devices_and_electrodes": mems,
    "Nanowires": nanowires,
    "Particles": particles,
    "Patterned_surface": patterned,
    "Porous_Sponge": porous,
    "Powder": powder,
    "Tips": tips,
}
#: Keyword overrides ``render`` accepts; anything else is a typo and is refused.
OVERRIDES = {
    "arrangement": "sub-type of the class (e.g. Nanowires: aligned | partial | random | entangled | vertical)",
    "orientation_deg": "Nanowires: mean wire axis, 0 = image x-axis, counter-clockwise on screen",
    "spread_deg": "Nanowires: standard deviation of the wire axes about the mean",
    "count": "Nanowires: number of wires",
    "width_px": "Nanowires: wire width in pixels",
    "detector": "ETD | TLD | InLens | BSE | LFD",
    "dose": "electrons per pixel at unit signal (noise ∝ 1/√dose)",
    "tilt_deg": "stage tilt",
    "clutter": "False: no dust, scratches or contamination",
    "databar_style": "fei | zeiss | plain",
    "edge": "multiplies the class's edge effect (edges and thin features glowing); 0 = none",
    "charging": "multiplies the class's charging (insulators brightening, smeared along the line); 0 = none",
}
DETECTORS = ("ETD", "TLD", "InLens", "BSE", "LFD")
EPOCH = datetime(2014, 1, 1, tzinfo=timezone(timedelta(hours=1)))


@dataclass
class SynthFrame:
    """A rendered frame: ``image`` holds the databar rows (if any) at the bottom."""

    image: np.ndarray
    databar_rows: int
    class_name: str
    truth: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def pixels(self) -> np.ndarray:
        """The image proper, databar cut off."""
        return self.image[: self.image.shape[0] - self.databar_rows] if self.databar_rows else self.image


def _check(class_name: str, size, bits: int, overrides: dict) -> None:
    if class_name not in BUILDERS:
        raise ConfigError(f"unknown class {class_name!r}; choose one of {', '.join(CLASSES)}")
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ConfigError(f"render() got unknown override(s) {unknown}; known: {sorted(OVERRIDES)}")
    if bits not in (8, 16):
        raise ConfigError(f"bits must be 8 or 16, not {bits!r}")
    if len(size) != 2 or min(size) < 32 or max(size) > 8192:
        raise ConfigError(f"size must be (rows, cols) between 32 and 8192, not {size!r}")
    if overrides.get("detector") not in (None, *DETECTORS):
        raise ConfigError(f"detector must be one of {DETECTORS}")
    for key in ("edge", "charging"):
        value = overrides.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0):
            raise ConfigError(f"{key} must be a number >= 0 (a multiplier of the class's own strength), not {value!r}")
    if overrides.get("databar_style") not in (None, *STYLES):
        raise ConfigError(f"databar_style must be one of {STYLES}")


def render(class_name: str, seed: int, *, size=(768, 1024), bits: int = 8, databar: bool | None = None,
           **overrides) -> SynthFrame:
    """A deterministic synthetic SEM frame of ``class_name``.

    ``size`` is the stored frame (rows, cols), databar included; ``databar=None`` lets the seed
    decide (about half the frames carry one). See ``OVERRIDES`` for the keyword arguments.
    """
    _check(class_name, size, bits, overrides)
    rows, cols = int(size[0]), int(size[1])
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, CLASSES.index(class_name), 0x5E7])
    with_bar = bool(rng.random() < 0.5) if databar is None else bool(databar)
    style = overrides.get("databar_style") or str(rng.choice(STYLES, p=[0.5, 0.35, 0.15]))
    bar = bar_rows(style, rows, cols) if with_bar else 0
    shape = (rows - bar, cols)
    scene: Scene = BUILDERS[class_name](rng, shape, overrides)
    height, material = scene.height, scene.material
    if overrides.get("clutter", True):
        height, material = add_clutter(rng, height.copy(), material, max(2.0, scene.feature_px / 3))
    style_hints = dict(scene.style)
    for key in ("detector", "tilt_deg"):
        if overrides.get(key) is not None:
            style_hints[key] = overrides[key]
    for key, usual in (("edge", 1.0), ("charging", 0.0)):  # realism switches: scale the class's own strength
        if overrides.get(key) is not None:
            style_hints[key] = float(style_hints.get(key, usual)) * float(overrides[key])
    optics = draw_optics(rng, style_hints)
    signal = form_signal(rng, height, material, scene.charging, optics)
    scan = draw_scan(rng, {"quality": overrides.get("dose")})
    image = detect(rng, distort(rng, signal, scan), scan, bits)
    meta = _metadata(rng, scene, optics, scan, shape, bits)
    if bar:
        strip = draw_databar(style, bar, cols, meta).astype(image.dtype)
        image = np.vstack([image, strip * (257 if bits == 16 else 1)])
    meta["databar_style"] = style if bar else None
    return SynthFrame(image, bar, class_name, truth=dict(scene.truth), meta=meta, seed=int(seed))


def _metadata(rng, scene: Scene, optics, scan, shape, bits) -> dict:
    rows, cols = shape
    pixel_nm = float(np.clip(scene.feature_nm / max(scene.feature_px, 0.5), 0.3, 20000.0))
    hfw_m = pixel_nm * 1e-9 * cols
    dwell = float(np.clip(scan.dose / 20.0, 0.05, 60.0))
    when = EPOCH + timedelta(seconds=int(rng.integers(0, 10 * 365 * 86400)))
    return {
        "pixel_size_nm": round(pixel_nm, 4),
        "magnification": round(0.127 / hfw_m, 1),
        "horizontal_field_width_um": round(hfw_m * 1e6, 4),
        "beam_energy_kv": float(rng.choice([1.0, 2.0, 3.0, 5.0, 5.0, 10.0, 15.0, 20.0, 30.0])),
        "beam_current_na": round(float(math.exp(rng.uniform(math.log(0.005), math.log(5.0)))), 4),
        "working_distance_mm": round(float(rng.uniform(2.5, 15.0)), 3),
        "dwell_time_us": round(dwell, 3),
        "detector": optics.detector,
        "tilt_deg": optics.tilt_deg,
        "acquired_at": when.isoformat(),
        "width_px": cols,
        "height_px": rows,
        "bits": bits,
        "dose": round(scan.dose, 3),
    }
