"""The classifier's scale input: the view's horizontal field width, as features a linear head can use.

The same texture is Particles at 50,000× and Powder at 500×, so the head may use the field width
where the frame's metadata gives one. The width (µm) enters as ``log10``; a linear term in it could
only say "larger is more likely", while a class can be typical of a band of scales, so the head
sees a small bank of Gaussian bumps on the log-width axis plus a "known" flag. An unknown width
(NaN, or ≤ 0) zeroes all of them: the head's answer is then exactly its scale-free part, which
training keeps good by hiding the width of a share of the views ("scale dropout").

The numpy and torch versions compute the same numbers; the torch one is what the ONNX graph runs.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["CENTRES", "WIDTH", "N_SCALE", "scale_features", "scale_features_torch", "describe"]

#: Bump centres on log10(field width / µm): 0.1 µm … 3 mm, the range of SEM fields.
CENTRES = np.array([-1.0, -0.25, 0.5, 1.25, 2.0, 2.75, 3.5], np.float32)
WIDTH = 0.55
N_SCALE = len(CENTRES) + 1  # the bumps plus the known flag


def scale_features(width_um: np.ndarray) -> np.ndarray:
    """[N] widths in µm (NaN: unknown) → [N, N_SCALE] features; all zero where unknown."""
    w = np.asarray(width_um, np.float64).reshape(-1)
    known = np.isfinite(w) & (w > 0)
    z = np.log10(np.where(known, w, 1.0))
    bumps = np.exp(-0.5 * ((z[:, None] - CENTRES[None, :]) / WIDTH) ** 2)
    out = np.concatenate([bumps, np.ones((len(w), 1))], axis=1) * known[:, None]
    return out.astype(np.float32)


def scale_features_torch(width_um: torch.Tensor) -> torch.Tensor:
    """[N, 1] widths (NaN: unknown) → [N, N_SCALE]; the graph's version of :func:`scale_features`."""
    w = width_um.reshape(-1, 1)
    known = torch.isfinite(w) & (w > 0)
    z = torch.log10(torch.where(known, w, torch.ones_like(w)))
    centres = torch.from_numpy(CENTRES).reshape(1, -1)
    bumps = torch.exp(-0.5 * ((z - centres) / WIDTH) ** 2)
    return torch.cat([bumps, torch.ones_like(w)], dim=1) * known.to(w.dtype)


def describe() -> dict:
    """What the card says about the scale input (see ``modelcard.ScaleInputSpec``)."""
    return {"name": "field_width_um", "shape": ["N", 1], "unit": "µm",
            "meaning": "horizontal field width of each view (a tile: its share of the frame's width); NaN = unknown",
            "encoding": f"log10 width through {len(CENTRES)} Gaussian bumps (centres {CENTRES.tolist()}, "
                        f"width {WIDTH}) plus a known flag, all zero when unknown"}
