"""Preprocessing follows the model card's InputSpec exactly."""
from __future__ import annotations

import numpy as np
import pytest

from nanoaid_daemon import preprocess
from nanoaid_daemon.modelcard import InputSpec
from nanoaid_daemon.preprocess import prepare, to_unit


def spec(**kw) -> InputSpec:
    base = dict(height=32, width=32, channels=1, mean=[0.0], std=[1.0])
    base.update(kw)
    return InputSpec(**base)


def test_stretch_fills_the_input_and_maps_the_whole_frame():
    tensor, geo = prepare(np.arange(200 * 100, dtype=np.uint16).reshape(200, 100), spec())
    assert tensor.shape == (1, 32, 32) and tensor.dtype == np.float32
    assert geo.src == (0, 0, 200, 100) and geo.dst == (0, 0, 32, 32)
    assert tensor.min() == 0.0 and tensor.max() == 1.0  # percentile-mapped ramp


def test_center_crop_keeps_the_middle_of_a_wide_frame():
    frame = np.zeros((100, 300), np.uint8)
    frame[:, 100:200] = 200  # only the middle third is bright
    tensor, geo = prepare(frame, spec(resize="center_crop", intensity="dtype"))
    assert geo.src == (0, 100, 100, 100)
    assert np.allclose(tensor[:, :, 1:-1], 200 / 255, atol=1e-3)  # the filter may touch one neighbour at the rim


def test_letterbox_pads_with_black_and_keeps_the_aspect():
    frame = np.full((50, 100), 255, np.uint8)
    tensor, geo = prepare(frame, spec(resize="letterbox", intensity="dtype"))
    top, left, h, w = geo.dst
    assert (h, w) == (16, 32) and top == 8 and left == 0
    assert np.all(tensor[0, :8] == 0) and np.all(tensor[0, 24:] == 0)
    assert np.allclose(tensor[0, 8:24], 1.0)


def test_three_channels_get_their_own_mean_and_std():
    frame = np.full((40, 40), 255, np.uint8)
    tensor, _ = prepare(frame, spec(channels=3, mean=[0.1, 0.2, 0.3], std=[0.5, 0.25, 0.1], intensity="dtype"))
    assert tensor.shape == (3, 32, 32)
    np.testing.assert_allclose(tensor[:, 0, 0], [(1 - 0.1) / 0.5, (1 - 0.2) / 0.25, (1 - 0.3) / 0.1], rtol=1e-5)


@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535)])
def test_dtype_intensity_uses_the_full_range_of_the_stored_type(dtype, top):
    frame = np.full((16, 16), top // 2, dtype)
    assert np.allclose(to_unit(frame.astype(np.float32), "dtype", dtype), (top // 2) / top, atol=1e-6)


def test_percentile_ignores_a_few_hot_pixels():
    frame = np.tile(np.linspace(0, 100, 256, dtype=np.float32), (256, 1))
    frame[0, :10] = 1e6
    unit = to_unit(frame, "percentile")
    assert unit[128, 128] == pytest.approx(0.5, abs=0.02)


def test_flat_and_non_finite_frames_give_zeros_not_nan():
    frame = np.full((20, 20), np.nan, np.float32)
    frame[0, 0] = np.inf
    tensor, _ = prepare(frame, spec())
    assert np.isfinite(tensor).all() and np.all(tensor == 0)


def test_a_3d_array_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="2-D"):
        prepare(np.zeros((4, 4, 3), np.uint8), spec())


def test_huge_frames_are_block_averaged_in_strips_with_nearly_the_same_input(monkeypatch):
    r, c = np.mgrid[0:600, 0:800]
    frame = (30000 + 12000 * np.sin(r / 23.0) + 12000 * np.cos((r + c) / 41.0)).astype(np.uint16)
    direct, geo_direct = prepare(frame, spec(resize="center_crop"))
    monkeypatch.setattr(preprocess, "LARGE_PIXELS", 60_000)  # 480,000 / 60,000 = 8: 3×3 blocks
    monkeypatch.setattr(preprocess, "STRIP_PIXELS", 800 * 20)
    assert preprocess.finite_float32(frame).shape == (200, 266)
    shrunk, geo_shrunk = prepare(frame, spec(resize="center_crop"))
    assert geo_shrunk.frame_hw == (600, 800)
    np.testing.assert_allclose(geo_shrunk.src, geo_direct.src, atol=3)
    assert np.abs(shrunk - direct).mean() < 0.01
