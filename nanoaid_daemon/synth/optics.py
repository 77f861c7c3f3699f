"""From a height/material scene to the clean secondary-electron signal the detector sees.

The contrast mechanisms of an SEM, each simple, together recognisable:

* tilt contrast — SE yield grows with the local surface tilt θ roughly as sec(θ)^p;
* edge effect — near convex edges and on thin features more SE escape, so edges, wires and small
  particles glow (convexity from the height minus its blurred copy, at the interaction range);
* detector side — an Everhart–Thornley detector sits to one side: faces turned towards it are
  brighter and features cast soft shadows away from it (through-lens detectors show neither);
* material contrast — a yield factor per phase (backscatter detectors: mostly this);
* probe blur and limited depth of field (far from the focal plane the image softens);
* charging — insulating regions brighten, and the scan smears the excess along the line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .fields import blur, resize

__all__ = ["Optics", "draw_optics", "form_signal"]

F32 = np.float32


@dataclass(frozen=True)
class Optics:
    detector: str  # "ETD", "TLD", "InLens", "BSE", "LFD"
    detector_angle: float  # radians, direction of the detector in the image plane (0 = +x, CCW)
    elevation: float  # radians above the specimen plane
    shadow: float  # 0..1 depth of detector shadows
    facing: float  # strength of the towards-detector shading
    secant_power: float
    edge_gain: float
    edge_range_px: float
    material_gain: float
    bse_fraction: float
    probe_sigma_px: float
    dof_px: float  # height difference over which focus is lost
    dof_blur_px: float
    charging: float
    tilt_deg: float


def draw_optics(rng: np.random.Generator, style: dict) -> Optics:
    """Random but plausible detector and column settings (domain randomisation)."""
    detector = style.get("detector") or str(rng.choice(["ETD", "ETD", "ETD", "TLD", "InLens", "BSE", "LFD"]))
    topo = {"ETD": 1.0, "TLD": 0.35, "InLens": 0.25, "BSE": 0.3, "LFD": 0.6}[detector]
    return Optics(
        detector=detector,
        detector_angle=float(rng.uniform(0, 2 * math.pi)),
        elevation=math.radians(float(rng.uniform(15, 50))),
        shadow=float(topo * rng.uniform(0.25, 0.75)),
        facing=float(topo * rng.uniform(0.1, 0.45)),
        secant_power=float(rng.uniform(0.8, 1.4)),
        edge_gain=float(rng.uniform(0.3, 1.6) * (0.5 if detector == "BSE" else 1.0) * style.get("edge", 1.0)),
        edge_range_px=float(np.exp(rng.uniform(np.log(1.0), np.log(6.0)))),
        material_gain=float(rng.uniform(0.5, 1.5) * (2.0 if detector == "BSE" else 1.0)),
        bse_fraction=float(0.8 if detector == "BSE" else rng.uniform(0.0, 0.3)),
        probe_sigma_px=float(np.exp(rng.uniform(np.log(0.35), np.log(2.0)))),
        dof_px=float(np.exp(rng.uniform(np.log(15), np.log(400)))),
        dof_blur_px=float(rng.uniform(1.5, 6.0)),
        charging=float(style.get("charging", 0.0) * rng.uniform(0.0, 1.0) if rng.random() < 0.45 else 0.0),
        tilt_deg=float(style.get("tilt_deg", rng.choice([0, 0, 0, 5, 15, 30, 45]))),
    )


def _shadow_along_x(h: np.ndarray, tan_elev: float) -> np.ndarray:
    """How far each pixel lies below the horizon seen towards +x (0 = lit)."""
    horizon = np.empty_like(h)
    run = np.full(h.shape[0], -np.inf, F32)
    for j in range(h.shape[1] - 1, -1, -1):
        run = np.maximum(run - tan_elev, h[:, j])
        horizon[:, j] = run
    return horizon - h


def _detector_shadow(h: np.ndarray, angle: float, elevation: float) -> np.ndarray:
    """Depth below the line of sight to the detector, for a detector at ``angle`` (CCW from +x)."""
    rows, cols = h.shape
    step = 2 if max(rows, cols) > 700 else 1  # shadows are soft; half resolution is plenty
    small = resize(h, (rows // step, cols // step)) / step if step > 1 else h
    deg = math.degrees(angle)
    img = Image.fromarray(np.ascontiguousarray(small, F32), "F")
    low = float(small.min())
    rot = np.asarray(img.rotate(-deg, Image.Resampling.BILINEAR, expand=True, fillcolor=low), F32)
    depth = _shadow_along_x(rot, math.tan(elevation))
    back = np.asarray(Image.fromarray(depth, "F").rotate(deg, Image.Resampling.BILINEAR, expand=True), F32)
    r0 = (back.shape[0] - small.shape[0]) // 2
    c0 = (back.shape[1] - small.shape[1]) // 2
    depth = back[r0 : r0 + small.shape[0], c0 : c0 + small.shape[1]] * step
    return resize(depth, (rows, cols)) if step > 1 else depth


def _charging_streaks(rng, charge: np.ndarray, strength: float) -> np.ndarray:
    """Excess signal from charged regions, dragged along the fast scan (+x) and banding rows."""
    tau = float(rng.uniform(20, 200))
    decay = math.exp(-1.0 / tau)
    src = blur(charge, 2.0)
    tail = np.empty_like(src)
    acc: np.ndarray = np.zeros(src.shape[0], F32)  # float64 from the first step on, as it always was
    for j in range(src.shape[1]):
        acc = acc * decay + src[:, j] * (1 - decay)
        tail[:, j] = acc
    bands = (rng.normal(0, 1, src.shape[0]).astype(F32) * src.mean(axis=1))[:, None]
    return strength * (1.5 * src + 2.0 * tail + 0.6 * bands)


def form_signal(rng: np.random.Generator, height: np.ndarray, material: np.ndarray | float,
                charging: np.ndarray | None, optics: Optics) -> np.ndarray:
    """The noiseless detector signal (≈ 0.2–3, background ≈ 1) of a scene."""
    rows, cols = height.shape
    h = height.astype(F32, copy=False)
    if optics.tilt_deg:
        h = h + np.arange(rows, dtype=F32)[:, None] * math.tan(math.radians(optics.tilt_deg)) * 0.5
    gy, gx = np.gradient(h)
    sec = np.sqrt(1.0 + gx * gx + gy * gy)
    tilt = np.minimum(sec, 8.0) ** optics.secant_power
    convex = h - blur(h, optics.edge_range_px)
    edge = np.tanh(np.clip(convex, -3 * optics.edge_range_px, None) / (1.5 * optics.edge_range_px))
    ca, sa = math.cos(optics.detector_angle), math.sin(optics.detector_angle)
    facing = (gx * ca - gy * sa) / sec  # image rows grow downwards; angles count CCW on screen
    se = (0.55 + 0.45 * tilt + optics.edge_gain * edge) * (1.0 + optics.facing * facing)
    if optics.shadow > 0.02 and float(h.max() - h.min()) > 2.0:
        depth = _detector_shadow(h, optics.detector_angle, optics.elevation)
        se = se * (1.0 - optics.shadow * np.tanh(blur(depth, 1.5) / 6.0))
    mat = np.asarray(material, F32)
    signal = (1 - optics.bse_fraction) * se * (1 + optics.material_gain * (mat - 1))
    bse = (0.7 + 0.3 * np.sqrt(tilt)) * (1 + 0.3 * facing)  # backscatter keeps some topography
    signal = signal + optics.bse_fraction * (1 + 1.6 * optics.material_gain * (mat - 1)) * bse
    if charging is not None and optics.charging > 0:
        signal = signal + _charging_streaks(rng, charging, optics.charging)
    signal = blur(np.maximum(signal, 0.02), optics.probe_sigma_px)
    return _defocus(h, signal, optics)


def _defocus(h: np.ndarray, signal: np.ndarray, optics: Optics) -> np.ndarray:
    spread = float(np.percentile(h[::4, ::4], 99) - np.percentile(h[::4, ::4], 1))
    if spread < 0.3 * optics.dof_px:
        return signal.astype(F32)
    focus = float(np.percentile(h[::4, ::4], 70))
    weight = np.clip(np.abs(h - focus) / optics.dof_px - 0.3, 0.0, 1.0)
    soft = blur(signal, optics.dof_blur_px)
    return (signal + weight * (soft - signal)).astype(F32)
