"""Scanning and detection: what turns a clean signal into a recorded SEM frame.

* scan distortion — the line start is compressed (deflection amplifier settling), drift shears and
  stretches the frame, each line wobbles (random walk and mains pick-up): ~5 % in total;
* shot noise — electron counts are Poisson; the normal approximation (variance = mean) keeps it
  fast, so relative noise scales as 1/√dose;
* amplifier bandwidth — the noise is smeared along the fast-scan direction;
* line noise and uneven collection efficiency across the field;
* detector gain/offset (contrast/brightness knobs), gamma, clipping and 8/16-bit quantisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .fields import blur_x, fbm

__all__ = ["Scan", "draw_scan", "distort", "detect"]

F32 = np.float32


@dataclass(frozen=True)
class Scan:
    dose: float
    amp_tau_px: float
    jitter_px: float
    mains_px: float
    mains_period_rows: float
    line_start: float
    stretch_y: float
    shear: float
    line_noise: float
    collection: float
    black: float
    white: float
    gamma: float


def draw_scan(rng: np.random.Generator, style: dict) -> Scan:
    quality = style.get("quality")  # None: anything from a fast noisy scan to a slow clean one
    dose = float(quality if quality is not None else np.exp(rng.uniform(np.log(2.0), np.log(600.0))))
    return Scan(
        dose=dose,
        amp_tau_px=float(rng.uniform(0.0, 1.6)),
        jitter_px=float(rng.choice([0.0, 0.15, 0.4, 1.0]) * rng.uniform(0.5, 1.5)),
        mains_px=float(rng.choice([0.0, 0.0, 0.5, 1.5])),
        mains_period_rows=float(rng.uniform(6, 60)),
        line_start=float(rng.uniform(0.0, 0.05)),
        stretch_y=float(rng.uniform(-0.03, 0.03)),
        shear=float(rng.uniform(-0.02, 0.02)),
        line_noise=float(rng.choice([0.0, 0.005, 0.02]) * rng.uniform(0.5, 1.5)),
        collection=float(rng.uniform(0.0, 0.35)),
        black=float(rng.uniform(-0.08, 0.25)),
        white=float(rng.uniform(0.72, 1.08)),
        gamma=float(np.exp(rng.uniform(np.log(0.65), np.log(1.5)))),
    )


def distort(rng: np.random.Generator, signal: np.ndarray, scan: Scan) -> np.ndarray:
    """Resample ``signal`` where the beam really was: per-line shifts, line-start and drift."""
    rows, cols = signal.shape
    r = np.arange(rows, dtype=F32)
    y_src = np.clip(r * (1 - scan.stretch_y) + scan.stretch_y * rows / 2, 0, rows - 1.001)
    r0 = y_src.astype(np.int32)
    fy = (y_src - r0)[:, None]
    img = signal[r0] * (1 - fy) + signal[r0 + 1] * fy
    walk = np.cumsum(rng.normal(0, 1, rows)).astype(F32)
    walk = (walk - np.linspace(walk[0], walk[-1], rows, dtype=F32)) / max(math.sqrt(rows) / 3, 1.0)
    phase = float(rng.uniform(0, 2 * math.pi))
    shift = scan.jitter_px * walk + scan.mains_px * np.sin(2 * math.pi * r / scan.mains_period_rows + phase)
    shift = shift + scan.shear * (r - rows / 2)
    x = np.arange(cols, dtype=F32)
    start = scan.line_start * cols * 0.25 * np.exp(-x / (0.06 * cols))  # beam lags at the line start
    x_src = np.clip(x[None, :] - start[None, :] + shift[:, None], 0, cols - 1.001)
    c0 = x_src.astype(np.int32)
    fx = x_src - c0
    left = np.take_along_axis(img, c0, axis=1)
    right = np.take_along_axis(img, c0 + 1, axis=1)
    return (left * (1 - fx) + right * fx).astype(F32)


def detect(rng: np.random.Generator, signal: np.ndarray, scan: Scan, bits: int) -> np.ndarray:
    """Noisy, contrast-adjusted, quantised frame (uint8 or uint16)."""
    rows, cols = signal.shape
    field = 1.0 + scan.collection * (0.6 * fbm(rng, (rows, cols), max(rows, cols) / 1.5, octaves=1)
                                     + np.linspace(-0.5, 0.5, rows, dtype=F32)[:, None] * rng.uniform(-1, 1))
    counts = np.maximum(signal * field, 0.0) * scan.dose
    noisy = counts + np.sqrt(counts + 0.5) * rng.standard_normal(signal.shape, dtype=F32)
    noisy = blur_x(noisy / scan.dose, scan.amp_tau_px)
    if scan.line_noise > 0:
        line_offsets = scan.line_noise * float(np.median(noisy)) * rng.standard_normal(size=(rows,)).astype(F32)
        noisy = noisy + line_offsets[:, None]
    sample = noisy[::3, ::3]
    lo, hi = np.percentile(sample, [0.5, 99.5])
    scaled = scan.black + (noisy - lo) * ((scan.white - scan.black) / max(float(hi - lo), 1e-6))
    scaled = np.clip(scaled, 0.0, 1.0) ** scan.gamma
    top = 255 if bits == 8 else 65535
    out = np.rint(scaled * top)
    return out.astype(np.uint8 if bits == 8 else np.uint16)
