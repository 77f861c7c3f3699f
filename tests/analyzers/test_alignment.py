"""Alignment analyzer against ground truth on generated fields and against scikit-image."""
from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from conftest import bright_object, frame_context, make_plugin
from fields import grating, wire_field
from skimage.feature import structure_tensor

from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.inference import CLASSIFIER_KEY
from nanoaid_plugins.analyzer_alignment import MANIFEST, tensor
from nanoaid_plugins.analyzer_alignment.tensor import gradients, local_tensor, measure
from nanoaid_plugins.analyzer_classify import MANIFEST as CLASSIFY


@pytest.fixture(scope="module")
def analyzer():
    return make_plugin(MANIFEST, None)


def analyze(analyzer, image, tmp_path, **shared):
    ctx = frame_context(image, tmp_path)
    ctx.shared.update(shared)
    return analyzer.analyze(ctx)


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 90.0) % 180.0 - 90.0)


@pytest.mark.parametrize("theta", [-60.0, 0.0, 35.0, 80.0])
@pytest.mark.parametrize("spread", [0.0, 5.0, 10.0, 20.0])
def test_dominant_orientation_is_within_two_degrees_of_the_truth(analyzer, tmp_path, theta, spread):
    section = analyze(analyzer, wire_field(theta_deg=theta, spread_deg=spread, seed=int(theta) % 7), tmp_path)
    assert angle_error(section.orientation_deg, theta) <= 2.0
    assert -90.0 <= section.orientation_deg < 90.0


def test_coherency_falls_monotonically_as_the_spread_widens(analyzer, tmp_path):
    spreads = [0.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, None]
    values = [analyze(analyzer, wire_field(theta_deg=35.0, spread_deg=s), tmp_path).coherency for s in spreads]
    assert all(a > b for a, b in pairwise(values)), values


@pytest.mark.parametrize("image", [grating(theta_deg=20.0), wire_field(theta_deg=-45.0, spread_deg=0.0)],
                         ids=["grating", "wires"])
def test_perfectly_aligned_field_is_coherent(analyzer, tmp_path, image):
    section = analyze(analyzer, image, tmp_path)
    assert section.coherency > 0.8
    assert section.aligned_fraction > 0.9


def test_isotropic_field_is_incoherent_and_aligned_only_by_chance(analyzer, tmp_path):
    section = analyze(analyzer, wire_field(spread_deg=None, seed=3), tmp_path)
    assert section.coherency < 0.2
    assert section.aligned_fraction == pytest.approx(30 / 180, abs=0.05)


@pytest.mark.parametrize("rows_cols,expected", [
    ("horizontal", 0.0), ("vertical", -90.0), ("rising", 45.0), ("falling", -45.0),
])
def test_orientation_convention_is_x_axis_zero_counter_clockwise_as_displayed(analyzer, tmp_path, rows_cols, expected):
    image = np.zeros((128, 128), np.float32)
    r, c = np.mgrid[0:128, 0:128]
    if rows_cols == "horizontal":
        image[r % 8 == 0] = 1
    elif rows_cols == "vertical":
        image[c % 8 == 0] = 1
    elif rows_cols == "rising":  # up to the right on screen: row falls as column grows
        image[(r + c) % 8 == 0] = 1
    else:
        image[(r - c) % 8 == 0] = 1
    assert angle_error(analyze(analyzer, image, tmp_path).orientation_deg, expected) < 0.5


@pytest.mark.parametrize("spread", [0.0, 10.0, 20.0, 45.0, None])
def test_smoothed_gradient_tensor_agrees_with_scikit_image(spread):
    """scikit-image differentiates with Sobel, a smoothed kernel like Scharr (not OrientationJ's spline)."""
    image = wire_field(theta_deg=35.0, spread_deg=spread, seed=5).astype(np.float64)
    arr, arc, acc = structure_tensor(image, sigma=2.0, mode="reflect", order="rc")  # rows = y, cols = x
    jyy, jxy, jxx = arr.sum(), arc.sum(), acc.sum()
    reference = np.hypot(jyy - jxx, 2 * jxy) / (jxx + jyy)
    assert measure(image, sigma=2.0, gradient="scharr").coherency == pytest.approx(reference, abs=0.02)
    # The local window (block average + narrowed Gaussian) against scikit-image's plain Gaussian.
    gx, gy = gradients(((image - image.min()) / np.ptp(image)).astype(np.float32), "scharr")
    local, block = local_tensor(np.stack([gx * gx, gx * gy, gy * gy]), 2.0)
    assert block == 4
    mine = np.hypot(local[2] - local[0], 2 * local[1]).sum() / (local[0] + local[2]).sum()
    theirs = np.hypot(arr - acc, 2 * arc).sum() / (arr + acc).sum()
    assert mine == pytest.approx(theirs, abs=0.02)


def test_histogram_is_energy_weighted_shares_peaking_at_the_orientation(analyzer, tmp_path):
    section = analyze(analyzer, wire_field(theta_deg=35.0, spread_deg=5.0), tmp_path)
    h = section.histogram
    assert (h.bin_width_deg, h.start_deg, len(h.counts)) == (5.0, -90.0, 36)
    assert sum(h.counts) == pytest.approx(1.0, abs=1e-5)
    assert h.start_deg + h.bin_width_deg * int(np.argmax(h.counts)) == 35.0


def test_measures_do_not_depend_on_the_stored_dtype_or_grey_scale(analyzer, tmp_path):
    field = wire_field(theta_deg=10.0, spread_deg=10.0, noise=0.0)
    as_float = analyze(analyzer, field, tmp_path)
    scaled = ((field - field.min()) / np.ptp(field) * 60000).astype(np.uint16)
    as_uint16 = analyze(analyzer, scaled, tmp_path)
    assert as_uint16.coherency == pytest.approx(as_float.coherency, abs=1e-3)
    assert as_uint16.orientation_deg == pytest.approx(as_float.orientation_deg, abs=0.1)


def test_flat_frame_gives_zeros_and_says_why(analyzer, tmp_path):
    section = analyze(analyzer, np.full((64, 64), 7, np.uint8), tmp_path)
    assert (section.coherency, section.orientation_deg, section.aligned_fraction) == (0.0, 0.0, 0.0)
    assert "no structure energy" in section.method["note"]


def test_method_records_window_and_gradient_kernel(tmp_path):
    section = analyze(make_plugin(MANIFEST, None, sigma_px=4.0), grating(), tmp_path)
    assert section.method["sigma_px"] == 4.0 and section.method["block_px"] == 8
    assert section.method["gradient"] == "spline"
    assert section.method["gradient_kernel"].startswith("cubic B-spline")


def test_gradient_option_is_recorded_and_changes_the_kernel(tmp_path):
    field = wire_field((256, 256), theta_deg=30.0, spread_deg=5.0, n_wires=200, width_px=1.0)
    scharr = analyze(make_plugin(MANIFEST, None, gradient="scharr"), field, tmp_path)
    spline = analyze(make_plugin(MANIFEST, None), field, tmp_path)
    assert scharr.method["gradient"] == "scharr" and scharr.method["gradient_kernel"].startswith("scharr3x3")
    assert scharr.coherency > spline.coherency


def test_unknown_gradient_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match="gradient"):
        make_plugin(MANIFEST, None, gradient="sobel")


def test_learned_score_and_meaningful_flag_come_from_the_classifier(runtime, analyzer, tmp_path):
    ctx = frame_context(bright_object(), tmp_path)
    make_plugin(CLASSIFY, runtime).analyze(ctx)
    section = analyzer.analyze(ctx)
    assert section.learned_score == pytest.approx(ctx.shared[CLASSIFIER_KEY].align_prob, abs=1e-6)
    assert section.meaningful is False  # labelled Particles


def test_without_the_classifier_the_tensor_measures_still_come(analyzer, tmp_path):
    section = analyze(analyzer, grating(), tmp_path)
    assert section.learned_score is None and section.meaningful is True
    assert section.coherency > 0.8


def test_bin_width_that_does_not_divide_180_is_refused():
    with pytest.raises(ConfigError, match="divide 180"):
        make_plugin(MANIFEST, None, bin_width_deg=7.0)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_large_frames_measured_in_strips_give_the_whole_frame_result(monkeypatch, sigma):
    field = wire_field((700, 300), theta_deg=20.0, spread_deg=15.0)
    whole = measure(field, sigma=sigma)
    monkeypatch.setattr(tensor, "STRIP_PIXELS", 300 * 10)  # 70 strips
    strips = measure(field, sigma=sigma)
    assert strips.coherency == pytest.approx(whole.coherency, abs=1e-9)
    assert strips.orientation_deg == pytest.approx(whole.orientation_deg, abs=1e-6)
    assert strips.aligned_fraction == pytest.approx(whole.aligned_fraction, abs=1e-6)
    assert strips.counts == pytest.approx(whole.counts, abs=1e-6)
