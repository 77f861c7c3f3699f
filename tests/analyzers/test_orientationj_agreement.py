"""The default alignment measures equal OrientationJ's "Dominant Direction" on fields of known orientation.

The reference below is written here from the published method (Unser's recursive cubic B-spline
prefilter; Püspöki et al. 2016; Rezakhaniha et al. 2012), independently of the analyzer's code: a
causal and an anti-causal first-order recursion with pole √3 − 2 and mirror boundaries along each
row (then each column), the spline's derivative (c[k+1] − c[k−1]) / 2, the tensor averaged over the
interior pixels, C = √((Jyy − Jxx)² + 4Jxy²) / (Jxx + Jyy), θ = ½·atan2(2Jxy, Jyy − Jxx).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from fields import grating, wire_field

from nanoaid_plugins.analyzer_alignment.gradients import gradients
from nanoaid_plugins.analyzer_alignment.tensor import measure

POLE = math.sqrt(3.0) - 2.0


def spline_coefficients(s: np.ndarray) -> np.ndarray:
    """Cubic B-spline coefficients along the last axis (float64, mirror boundaries, recursive)."""
    n = s.shape[-1]
    horizon = min(n, int(math.ceil(math.log(1e-12) / math.log(abs(POLE)))))
    causal = np.empty_like(s)
    causal[..., 0] = (s[..., :horizon] * POLE ** np.arange(horizon)).sum(-1)
    for k in range(1, n):
        causal[..., k] = s[..., k] + POLE * causal[..., k - 1]
    anti = np.empty_like(s)
    anti[..., n - 1] = POLE / (POLE * POLE - 1.0) * (causal[..., n - 1] + POLE * causal[..., n - 2])
    for k in range(n - 2, -1, -1):
        anti[..., k] = POLE * (anti[..., k + 1] - causal[..., k])
    return 6.0 * anti


def orientationj_dominant_direction(image: np.ndarray) -> tuple[float, float]:
    """(coherency, orientation in degrees in [-90, 90)) as OrientationJ's Dominant Direction computes them."""
    image = np.asarray(image, np.float64)
    cx = spline_coefficients(image)
    gx = 0.5 * (cx[:, 2:] - cx[:, :-2])[1:-1, :]
    cy = spline_coefficients(image.T).T
    gy = 0.5 * (cy[2:, :] - cy[:-2, :])[:, 1:-1]
    jxx, jyy, jxy = (gx * gx).mean(), (gy * gy).mean(), (gx * gy).mean()
    coherency = math.sqrt((jyy - jxx) ** 2 + 4 * jxy ** 2) / (jxx + jyy)
    theta = 0.5 * math.degrees(math.atan2(2 * jxy, jyy - jxx))
    return coherency, theta - 180.0 if theta >= 90.0 else theta


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 90.0) % 180.0 - 90.0)


FIELDS = [(theta, spread) for theta in (-70.0, -20.0, 0.0, 35.0, 60.0) for spread in (0.0, 8.0, 20.0, 40.0, None)]


@pytest.mark.parametrize("theta,spread", FIELDS)
def test_spline_coherency_and_orientation_equal_orientationj_on_wire_fields(theta, spread):
    field = wire_field((256, 320), theta_deg=theta, spread_deg=spread, n_wires=250, seed=int(theta) % 5)
    reference_c, reference_theta = orientationj_dominant_direction(field)
    mine = measure(field, gradient="spline")
    assert mine.coherency == pytest.approx(reference_c, abs=0.01)
    if reference_c >= 0.15:
        assert angle_error(mine.orientation_deg, reference_theta) <= 0.5


@pytest.mark.parametrize("theta", [-45.0, 10.0, 80.0])
@pytest.mark.parametrize("period", [4.0, 9.0])
def test_spline_agrees_with_orientationj_on_gratings_including_fine_ones(theta, period):
    field = grating((200, 260), theta_deg=theta, period_px=period)
    reference_c, reference_theta = orientationj_dominant_direction(field)
    mine = measure(field, gradient="spline")
    assert mine.coherency == pytest.approx(reference_c, abs=0.01)
    assert angle_error(mine.orientation_deg, reference_theta) <= 0.5


def test_spline_gradient_is_the_recursive_filters_to_within_its_truncation():
    rng = np.random.default_rng(4)
    image = rng.random((70, 90))
    gx, gy = gradients(image.astype(np.float32), "spline")
    cx = spline_coefficients(image)
    cy = spline_coefficients(image.T).T
    assert np.abs(gx[:, 1:-1] - 0.5 * (cx[:, 2:] - cx[:, :-2])).max() < 1e-4
    assert np.abs(gy[1:-1, :] - 0.5 * (cy[2:, :] - cy[:-2, :])).max() < 1e-4


def test_scharr_reads_higher_coherency_than_orientationj_on_fine_aligned_wires():
    """The kernel difference the spline default removes: Scharr smooths along the structures."""
    field = wire_field((256, 320), theta_deg=30.0, spread_deg=5.0, n_wires=250, width_px=1.0)
    reference_c, _ = orientationj_dominant_direction(field)
    assert measure(field, gradient="scharr").coherency > reference_c + 0.01
    assert measure(field, gradient="spline").coherency == pytest.approx(reference_c, abs=0.01)


@pytest.mark.parametrize("gradient,tolerance", [("spline", 1.5), ("scharr", 1.5), ("finite-difference", 4.0)])
def test_every_gradient_finds_the_truth_on_a_clearly_oriented_field(gradient, tolerance):
    """Central differences are biased by a few degrees on thin wires; the spline and Scharr are not."""
    field = wire_field((256, 256), theta_deg=25.0, spread_deg=5.0, n_wires=200, seed=2)
    assert angle_error(measure(field, gradient=gradient).orientation_deg, 25.0) <= tolerance
