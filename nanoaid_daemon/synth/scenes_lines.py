"""Elongated structures: Nanowires (with ground-truth orientation), Fibres and Tips."""
from __future__ import annotations

import math

import numpy as np

from .fields import fbm
from .scene import Scene, log_uniform, pick, stamp_pyramid, substrate
from .shapes import draw_lines, draw_polygons, random_walk_path, rounded, stamp_sphere, stamp_tube

__all__ = ["nanowires", "fibres", "tips", "axial_stats", "NANOWIRE_ARRANGEMENTS"]

F32 = np.float32
NANOWIRE_ARRANGEMENTS = ["aligned", "partial", "random", "entangled", "vertical"]
UNIFORM_SPREAD_DEG = 180 / math.sqrt(12)  # std of axes spread uniformly over 180°


def axial_stats(angles_deg: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float, float]:
    """Mean axis (deg in [0, 180)), nematic order parameter S = |⟨e^{2iθ}⟩| and axial spread (deg)."""
    w = np.ones_like(angles_deg) if weights is None else weights
    z = np.sum(w * np.exp(2j * np.radians(angles_deg))) / max(float(np.sum(w)), 1e-9)
    order = float(abs(z))
    mean = float(np.degrees(np.angle(z)) / 2.0) % 180.0
    spread = float(np.degrees(0.5 * math.sqrt(-2.0 * math.log(max(order, 1e-9)))))
    return mean, order, spread


def _clip_length(path: np.ndarray, shape) -> float:
    inside = (path[:, 0] >= 0) & (path[:, 0] < shape[0]) & (path[:, 1] >= 0) & (path[:, 1] < shape[1])
    seg = np.hypot(*np.diff(path, axis=0).T)
    return float(np.sum(seg * (inside[:-1] & inside[1:])))


def nanowires(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Thin wires; the drawn axes are the ground truth of their orientation distribution.

    Overrides: ``arrangement`` (aligned | partial | random | entangled | vertical),
    ``orientation_deg`` (mean axis, 0 = image x-axis, counter-clockwise on screen), ``spread_deg``
    (std of the axes about it), ``count``, ``width_px``.
    """
    mode = pick(rng, overrides, "arrangement", NANOWIRE_ARRANGEMENTS, [3, 2, 3, 2, 1.2])
    if mode == "vertical":
        return _vertical_array(rng, shape, overrides)
    rows, cols = shape
    theta0 = float(overrides.get("orientation_deg", rng.uniform(0, 180)))
    spread = {"aligned": rng.uniform(1, 7), "partial": rng.uniform(12, 30)}.get(mode)
    spread = float(overrides.get("spread_deg", spread if spread is not None else UNIFORM_SPREAD_DEG))
    width = float(overrides.get("width_px", log_uniform(rng, 2.0, 12.0)))
    length = log_uniform(rng, 0.25, 1.6) * max(rows, cols)
    density = rng.uniform(0.04, 0.35) if mode != "entangled" else rng.uniform(0.3, 0.8)
    count = int(overrides.get("count", np.clip(density * rows * cols / (width * length) * 2.5, 8, 500)))
    wiggle = {"entangled": rng.uniform(0.04, 0.12), "random": rng.uniform(0.0, 0.03)}.get(mode, rng.uniform(0.0, 0.006))
    uniform = spread >= UNIFORM_SPREAD_DEG - 1e-6
    axes = rng.uniform(0, 180, count) if uniform else theta0 + rng.normal(0, spread, count)
    paths, widths, values, lengths, drawn = [], [], [], [], []
    for i, axis in enumerate(axes):
        wl = length * rng.uniform(0.3, 1.0)
        direction = math.radians(axis) + (math.pi if rng.random() < 0.5 else 0.0)
        cy, cx = rng.uniform(-0.1, 1.1) * rows, rng.uniform(-0.1, 1.1) * cols
        start = (cy + math.sin(direction) * wl / 2, cx - math.cos(direction) * wl / 2)
        path = random_walk_path(rng, start, direction, wl, step=max(4.0, wl / 40), wiggle=wiggle)
        w = width * rng.uniform(0.7, 1.3)
        paths.append(path)
        widths.append(w)
        values.append(w * 0.9 + 0.05 * width * i / max(count, 1) * 10)
        lengths.append(_clip_length(path, shape))
        drawn.append(axis % 180.0)
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.05, 1.5))
    base = float(np.median(h))
    wires = rounded(draw_lines(shape, paths, widths, values, base=-1.0), sigma=max(0.6, width / 3.5))
    h = np.maximum(h, wires + base)
    if rng.random() < 0.3:  # catalyst droplets at wire ends (VLS growth)
        for path, w, v in zip(paths, widths, values, strict=True):
            stamp_sphere(h, path[-1, 0], path[-1, 1], w * 0.75, z=base + v * 0.5)
    mean, order, measured = axial_stats(np.asarray(drawn), np.asarray(lengths) + 1e-3)
    truth = {
        "arrangement": mode,
        "orientation_deg": round(theta0 % 180.0 if not uniform else mean, 3),
        "spread_deg": round(spread, 3),
        "aligned": bool(spread <= 10.0),
        "order_parameter": round(order, 4),
        "measured_orientation_deg": round(mean, 3),
        "measured_spread_deg": round(measured, 3),
        "count": count,
        "width_px": round(width, 3),
    }
    return Scene(h.astype(F32), 1.3, charging=None, feature_px=width, feature_nm=log_uniform(rng, 10, 400),
                 truth=truth, style={"edge": 1.3})


def _vertical_array(rng, shape, overrides) -> Scene:
    """Vertically grown wires seen at a stage tilt: parallel posts leaning towards the top."""
    rows, cols = shape
    width = float(overrides.get("width_px", log_uniform(rng, 3.0, 14.0)))
    pitch = width * rng.uniform(2.0, 6.0)
    tilt = math.radians(rng.uniform(20, 55))
    post = width * rng.uniform(4, 25) * math.sin(tilt)
    theta0 = float(overrides.get("orientation_deg", 90.0 + rng.normal(0, 4)))
    spread = float(overrides.get("spread_deg", rng.uniform(1, 5)))
    base_rows = np.arange(-post, rows + pitch, pitch * math.cos(tilt) * rng.uniform(0.8, 1.2))
    paths, widths, values, drawn = [], [], [], []
    for r in base_rows:
        for c in np.arange(-pitch, cols + pitch, pitch):
            y, x = r + rng.normal(0, pitch * 0.15), c + rng.normal(0, pitch * 0.25) + (r % (2 * pitch)) * 0.5
            axis = theta0 + rng.normal(0, spread)
            ln = post * rng.uniform(0.7, 1.1)
            dy, dx = -math.sin(math.radians(axis)) * ln, math.cos(math.radians(axis)) * ln
            paths.append(np.array([[y, x], [y + dy, x + dx]]))
            widths.append(width * rng.uniform(0.8, 1.2))
            values.append(width + r * 0.02)
            drawn.append(axis % 180.0)
    h = substrate(rng, shape, roughness=0.3) - width
    wires = rounded(draw_lines(shape, paths, widths, values, base=-width), sigma=max(0.6, width / 3.5))
    h = np.maximum(h, wires)
    for path, w, v in zip(paths, widths, values, strict=True):
        stamp_sphere(h, path[-1, 0], path[-1, 1], w * 0.6, z=v * 0.9)
    mean, order, measured = axial_stats(np.asarray(drawn))
    truth = {"arrangement": "vertical", "orientation_deg": round(theta0 % 180.0, 3), "spread_deg": round(spread, 3),
             "aligned": True, "order_parameter": round(order, 4), "measured_orientation_deg": round(mean, 3),
             "measured_spread_deg": round(measured, 3), "count": len(paths), "width_px": round(width, 3)}
    return Scene(h.astype(F32), 1.3, feature_px=width, feature_nm=log_uniform(rng, 20, 300), truth=truth,
                 style={"edge": 1.3, "tilt_deg": 0})


def fibres(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Thick fibres: electrospun mats (sometimes beaded), parallel bundles, single fibres close up."""
    mode = pick(rng, overrides, "arrangement", ["mat", "bundle", "closeup", "beaded"], [4, 2, 1.5, 1])
    rows, cols = shape
    r = {"closeup": log_uniform(rng, 60, min(rows, cols) / 3)}.get(mode, log_uniform(rng, 6, min(rows, cols) / 12))
    count = {"closeup": int(rng.integers(1, 4)), "bundle": int(rng.integers(6, 30))}.get(mode, int(rng.integers(8, 45)))
    theta = rng.uniform(0, math.pi)
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.1, 2.0)) - 2 * r
    for i in range(count):
        ang = theta + (rng.normal(0, 0.08) if mode == "bundle" else rng.uniform(0, math.pi))
        rad = r * rng.lognormal(0, 0.2)
        length = max(rows, cols) * 1.6
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        start = (cy + math.sin(ang) * length / 2, cx - math.cos(ang) * length / 2)
        path = random_walk_path(rng, start, ang, length, step=max(8.0, 2 * rad), wiggle=rng.uniform(0.0, 0.04))
        z = i * r * (0.5 if mode != "bundle" else 0.1)
        stamp_tube(h, path, rad, z=z, flatten=float(rng.uniform(0.6, 1.0)))
        if mode == "beaded":
            for k in rng.integers(0, len(path), int(rng.integers(1, 5))):
                stamp_sphere(h, path[k, 0], path[k, 1], rad * rng.uniform(2, 4), z=z, flatten=0.7)
    if mode in ("closeup", "bundle") and rng.random() < 0.6:  # surface striations along the fibres
        stri = fbm(rng, shape, max(2.0, r / 6), octaves=2)
        h += np.where(h > -r, stri * r * 0.04, 0.0)
    return Scene(h.astype(F32), 1.0, charging=np.clip((h + r) / (h.max() + r + 1e-6), 0, 1), feature_px=2 * r,
                 feature_nm=log_uniform(rng, 300, 50000), truth={"arrangement": mode},
                 style={"edge": 1.0, "charging": 0.6})


def tips(rng: np.random.Generator, shape, overrides: dict) -> Scene:
    """Probe tips: etched needles and cones seen from the side, AFM cantilevers with pyramids."""
    mode = pick(rng, overrides, "arrangement", ["needle", "cantilever", "pyramid"], [3, 2.5, 1.5])
    rows, cols = shape
    h = substrate(rng, shape, roughness=log_uniform(rng, 0.1, 3.0)) - log_uniform(rng, 30, 300)
    size = min(rows, cols)
    floor = float(np.percentile(h, 50))
    if mode == "needle":
        _needle(rng, h, shape)
    elif mode == "cantilever":
        _cantilever(rng, h, shape)
    else:
        stamp_pyramid(h, rng.uniform(0.3, 0.7) * rows, rng.uniform(0.3, 0.7) * cols, size * rng.uniform(0.25, 0.45),
                      size * rng.uniform(0.3, 0.8), sides=int(rng.choice([3, 4, 4, 8])), angle=rng.uniform(0, 6.3),
                      plateau=0.0, z=float(np.median(h)) + 5)
        h += fbm(rng, shape, 6, octaves=2) * 0.4
    material = np.where(h > floor + 8, 1.0, rng.uniform(0.4, 0.9)).astype(F32)  # the far background yields less
    return Scene(h.astype(F32), material, feature_px=size / 2, feature_nm=log_uniform(rng, 1000, 200000),
                 truth={"arrangement": mode}, style={"edge": 1.1})


def _needle(rng, h, shape) -> None:
    rows, cols = shape
    apex = np.array([rng.uniform(0.25, 0.75) * rows, rng.uniform(0.25, 0.75) * cols])
    ang = rng.uniform(0, 2 * math.pi)
    length = max(rows, cols) * 1.2
    t = np.linspace(0, 1, 24)
    path = apex[None, :] + np.stack([np.sin(ang) * t * length, -np.cos(ang) * t * length], 1)
    r_apex = log_uniform(rng, 1.0, 12.0)
    r_base = min(rows, cols) * rng.uniform(0.15, 0.45)
    power = rng.uniform(0.6, 1.6)  # concave, conical or convex flanks
    radii = r_apex + (r_base - r_apex) * np.clip(t / 0.4, 0.0, 1.0) ** power
    stamp_tube(h, path, radii, z=float(h.max()) + 2)
    h += np.where(h > float(np.median(h)) + 1, fbm(rng, shape, 4, octaves=2) * rng.uniform(0, 0.8), 0.0)


def _cantilever(rng, h, shape) -> None:
    rows, cols = shape
    width = min(rows, cols) * rng.uniform(0.08, 0.25)
    length = max(rows, cols) * rng.uniform(0.5, 0.9)
    ang = rng.uniform(0, 2 * math.pi)
    tip = np.array([rows / 2 + rng.normal(0, rows / 8), cols / 2 + rng.normal(0, cols / 8)])
    d = np.array([math.sin(ang), -math.cos(ang)])  # from the free end back towards the chip
    n = np.array([d[1], -d[0]])
    end, root = tip - d * width * 0.6, tip + d * length
    beam = np.array([end + n * width / 2, end - n * width / 2, root - n * width / 2, root + n * width / 2])
    if rng.random() < 0.3:  # triangular (V-shaped) cantilever
        beam = np.array([end, root - n * width * 1.5, root + n * width * 1.5])
    side, reach = n * length, d * length
    chip = np.array([root + side, root - side, root - side + reach, root + side + reach])
    top = float(h.max()) + 6
    plate = draw_polygons(shape, [chip, beam], [top + 4, top], base=-1e3)
    h[:] = np.maximum(h, rounded(plate, 1.0))
    stamp_pyramid(h, tip[0], tip[1], width * rng.uniform(0.3, 0.5), width * rng.uniform(0.6, 1.2),
                  sides=int(rng.choice([3, 4])), angle=rng.uniform(0, 6.3), z=top)
