"""Large frames are read decimated, strip by strip, and analysed within a bounded memory.

Real TIFF files written by the test (strips of 64 rows, as instruments write them), the real
reader plugins and the real ONNX analyzers.
"""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tifffile

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.hashing import sha256_file
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.inference import load_runtime
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.pipeline import Pipeline
from nanoaid_daemon.readkit import decimate, make_page, safety
from nanoaid_plugins.analyzer_alignment.tensor import measure

HEIGHT, WIDTH = 6000, 8000  # 48 Mpx: above the 16.7 Mpx analysis size, so read 2 × 2 block-averaged
ANGLE_DEG = 30.0


def _stripes(height: int, width: int, angle_deg: float, seed: int = 3) -> np.ndarray:
    """Oriented stripes (period 40 px) with noise: a field whose orientation is known."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = np.radians(angle_deg)
    field = 128 + 80 * np.sin((x * np.sin(theta) + y * np.cos(theta)) * 2 * np.pi / 40)
    field += rng.normal(0, 10, field.shape).astype(np.float32)
    return np.clip(field, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def large_frame(tmp_path_factory) -> tuple[Path, np.ndarray]:
    image = _stripes(HEIGHT, WIDTH, ANGLE_DEG)
    path = tmp_path_factory.mktemp("large") / "large.tif"
    tifffile.imwrite(path, image, rowsperstrip=64, photometric="minisblack")
    return path, image


def _analyse(models_dir: Path, frame: Path, out: Path):
    settings = load_settings(overrides={
        "models": {"dir": str(models_dir), "providers": ["CPUExecutionProvider"]},
        "pipeline": {"cpu_budget": 1}, "output": {"root": str(out)},
    })
    runtime = load_runtime(settings)
    try:
        pipeline = Pipeline(settings, PluginHost.load(settings, runtime=runtime), root=frame.parent)
        read = pipeline.read(frame)
        frame_id, size = sha256_file(frame)
        return read, pipeline.analyze(read, frame_id=frame_id, size_bytes=size).sidecar
    finally:
        runtime.close()


def test_large_frame_is_analysed_decimated_with_stored_dimensions_in_the_sidecar(models_dir, large_frame, tmp_path):
    path, image = large_frame
    read, sidecar = _analyse(models_dir, path, tmp_path)
    assert read.primary.decimation == 2 and read.primary.pixels.shape == (HEIGHT // 2, WIDTH // 2)
    assert (sidecar.frame.width_px, sidecar.frame.height_px) == (WIDTH, HEIGHT)
    assert sidecar.status == "ok" and sidecar.classification is not None and sidecar.classification.label
    assert sidecar.alignment is not None
    assert sidecar.alignment.method["decimation"]["factor"] == 2
    assert sidecar.alignment.method["decimation"]["analysed_px"] == [HEIGHT // 2, WIDTH // 2]
    full = measure(image, 2.0, 5.0, 10.0, "spline")
    full_deg = full.orientation_deg - 180.0 if full.orientation_deg >= 90.0 else full.orientation_deg
    difference = abs((sidecar.alignment.orientation_deg - full_deg + 90.0) % 180.0 - 90.0)
    assert difference < 1.0, (sidecar.alignment.orientation_deg, full_deg)


def test_block_average_matches_the_mean_of_each_block(tmp_path):
    image = (np.arange(301 * 203, dtype=np.uint32) * 7919 % 65536).astype(np.uint16).reshape(301, 203)
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, image, rowsperstrip=13)
    with tifffile.TiffFile(path) as tif:
        got = decimate.read_decimated(tif.pages[0], 4, lambda d: d)
    padded = np.full((304, 204), np.nan)
    padded[:301, :203] = image
    expected = np.rint(np.nanmean(padded.reshape(76, 4, 51, 4), axis=(1, 3))).astype(np.uint16)
    assert got.factor == 4 and got.stored_shape == (301, 203)
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_reading_a_large_frame_never_holds_it_whole(large_frame, monkeypatch):
    """With a 1 Mpx analysis size the reader's peak stays below half the 48 MB of the decoded frame."""
    path, _ = large_frame
    monkeypatch.setattr(decimate, "ANALYSIS_MAX_PIXELS", 1024 * 1024)
    host = PluginHost.load(load_settings(), kinds=("reader",))
    tracemalloc.start()
    try:
        read = host.read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read.primary.decimation == 7 and read.primary.stored_width_px == WIDTH
    assert peak < HEIGHT * WIDTH // 2, f"peak {peak:,} bytes"


def test_frame_over_the_pixel_limit_is_refused_naming_the_limit_and_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_PIXELS", 1000 * 1000)
    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, np.zeros((1001, 1000), np.uint8), rowsperstrip=64)
    host = PluginHost.load(load_settings(), kinds=("reader",))
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "too_large"
    message = str(info.value)
    assert "1000×1001" in message and "1,000,000" in message and "NANOAID_MAX_PIXELS" in message


def test_decimated_page_keeps_stored_calibration_and_field_width(tmp_path, monkeypatch):
    """Field width = pixel size × stored width, not × the analysed width."""
    monkeypatch.setattr(decimate, "ANALYSIS_MAX_PIXELS", 100 * 100)
    path = tmp_path / "calibrated.tif"
    tifffile.imwrite(path, _stripes(400, 600, ANGLE_DEG), rowsperstrip=64, resolution=(20_000, 20_000),
                     resolutionunit="CENTIMETER")
    page = PluginHost.load(load_settings(), kinds=("reader",)).read(path).primary
    assert page.decimation == 5 and page.pixels.shape == (80, 120)
    assert page.instrument.pixel_size.x.value == pytest.approx(500.0)
    assert page.instrument.horizontal_field_width.value == pytest.approx(300.0)


def test_databar_of_a_decimated_page_is_counted_in_stored_rows():
    data = decimate.Decimated(np.zeros((300, 400), np.uint8), 2, (600, 800))
    page = make_page(data, 101, Instrument())
    assert (page.databar_rows, page.stored_height_px, page.stored_width_px) == (101, 600, 800)
    assert page.pixels.shape == (249, 400) and page.decimation == 2


@pytest.mark.parametrize("layout", ["strips16", "tiled_rgb", "miniswhite", "palette", "png"])
def test_bounded_read_equals_block_mean_of_the_whole_decoded_frame(tmp_path, monkeypatch, layout):
    """Per-strip / per-tile conversion (luma, palette, inversion) gives what the whole frame would."""
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, (330, 250), dtype=np.uint8)
    path = tmp_path / ("frame.png" if layout == "png" else "frame.tif")
    if layout == "strips16":
        tifffile.imwrite(path, grey.astype(np.uint16) * 257, rowsperstrip=7)
    elif layout == "tiled_rgb":
        tifffile.imwrite(path, np.stack([grey, grey // 2, 255 - grey], -1), tile=(32, 32), photometric="rgb")
    elif layout == "miniswhite":
        tifffile.imwrite(path, grey, photometric="miniswhite", rowsperstrip=16)
    elif layout == "palette":
        ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16)[::-1], (3, 1))
        tifffile.imwrite(path, grey, photometric="palette", colormap=ramp, rowsperstrip=16)
    else:
        from PIL import Image

        Image.fromarray(grey).save(path)
    host = PluginHost.load(load_settings(), kinds=("reader",))
    whole = host.read(path).primary.pixels
    monkeypatch.setattr(decimate, "ANALYSIS_MAX_PIXELS", 60 * 60)
    page = host.read(path).primary
    factor = decimate.decimation_factor(250, 330)
    assert page.decimation == factor > 1 and (page.stored_height_px, page.stored_width_px) == (330, 250)
    np.testing.assert_array_equal(page.pixels, np.asarray(decimate.block_mean(whole, factor)))


def test_nexus_axes_of_a_decimated_frame_are_in_stored_pixel_positions():
    from nanoaid_daemon.exports import nexus

    template: dict = {}
    sidecar = {"instrument": {"pixel_size": {"x": {"value": 5.0}, "y": {"value": 5.0}}},
               "frame": {"width_px": 800, "height_px": 600, "name": "big.tif"}}
    nexus._add_frame(template, sidecar, np.zeros((300, 400), np.uint8))
    x = template[f"{nexus.IMAGE}/image_2d/AXISNAME[axis_x]"]
    assert len(x) == 400 and x[0] == pytest.approx(2.5) and x[-1] == pytest.approx((399 * 2 + 0.5) * 5.0)
