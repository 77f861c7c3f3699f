"""Plain exports: every storage layout becomes one grey 2-D array; calibration only when physical."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image
from reader_synth import sem_image

from nanoaid_daemon.readkit import detect_databar

GREY = sem_image(96, 128)
RGB = np.dstack([GREY, GREY, GREY])


def read(host, path):
    result = host.read(path)
    assert result.reader == "generic"
    return result


@pytest.mark.parametrize("name, writer, dtype", [
    ("grey8.tif", lambda p: tifffile.imwrite(p, GREY), "uint8"),
    ("grey16.tif", lambda p: tifffile.imwrite(p, GREY.astype(np.uint16) * 257), "uint16"),
    ("deflate.tif", lambda p: tifffile.imwrite(p, GREY, compression="zlib"), "uint8"),
    ("lzw.tif", lambda p: Image.fromarray(GREY).save(p, compression="tiff_lzw"), "uint8"),
    ("lzw16.tif", lambda p: Image.fromarray(GREY.astype(np.uint16) * 257).save(p, compression="tiff_lzw"),
     "uint16"),
    ("packbits.tif", lambda p: Image.fromarray(GREY).save(p, compression="packbits"), "uint8"),
    ("palette.tif", lambda p: tifffile.imwrite(p, GREY, photometric="palette",
                                               colormap=np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))),
     "uint8"),
    ("rgb.tif", lambda p: tifffile.imwrite(p, RGB, photometric="rgb"), "uint8"),
    ("rgba_lzw.tif", lambda p: Image.fromarray(np.dstack([RGB, np.full(GREY.shape, 255, np.uint8)])).save(
        p, compression="tiff_lzw"), "uint8"),
    ("grey.png", lambda p: Image.fromarray(GREY).save(p), "uint8"),
    ("grey16.png", lambda p: Image.fromarray(GREY.astype(np.uint16) * 257).save(p), "uint16"),
    ("rgb.png", lambda p: Image.fromarray(RGB).save(p), "uint8"),
    ("palette.png", lambda p: Image.fromarray(GREY).convert("P").save(p), "uint8"),
    ("grey.bmp", lambda p: Image.fromarray(GREY).save(p), "uint8"),
])
def test_lossless_layouts_give_the_same_grey_pixels(host, tmp_path, name, writer, dtype):
    path = tmp_path / name
    writer(path)
    page = read(host, path).primary
    assert page.pixels.dtype == np.dtype(dtype) and page.pixels.ndim == 2
    expected = GREY.astype(np.uint16) * 257 if dtype == "uint16" else GREY
    assert np.array_equal(page.pixels, expected)


def test_jpeg_export_is_read_as_grey(host, tmp_path):
    Image.fromarray(RGB).save(tmp_path / "shot.jpg", quality=95)
    page = read(host, tmp_path / "shot.jpg").primary
    assert page.pixels.shape == GREY.shape and page.pixels.dtype == np.uint8
    assert np.abs(page.pixels.astype(int) - GREY).mean() < 8


def test_bilevel_and_float64_map_to_analysis_dtypes(host, tmp_path):
    tifffile.imwrite(tmp_path / "bits.tif", GREY > 128)
    tifffile.imwrite(tmp_path / "f64.tif", GREY.astype(np.float64))
    assert set(np.unique(read(host, tmp_path / "bits.tif").primary.pixels)) <= {0, 255}
    assert read(host, tmp_path / "f64.tif").primary.pixels.dtype == np.float32


def test_every_page_of_a_stack_is_a_frame(host, tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([GREY, GREY // 2, GREY // 3]), photometric="minisblack")
    result = read(host, tmp_path / "stack.tif")
    assert len(result.pages) == 3 and np.array_equal(result.pages[1].pixels, GREY // 2)


@pytest.mark.parametrize("resolution, unit, nm", [
    ((20_000, 20_000), "CENTIMETER", 500.0),
    ((2_000_000, 1_000_000), "CENTIMETER", 5.0),
    ((50_800, 50_800), "INCH", 500.0),
    ((72, 72), "INCH", None),
    ((300, 300), "INCH", None),
    ((67, 67), "CENTIMETER", None),
    ((5_000, 5_000), "NONE", None),
])
def test_resolution_tags_calibrate_only_in_a_physical_unit(host, tmp_path, resolution, unit, nm):
    tifffile.imwrite(tmp_path / "r.tif", GREY, resolution=resolution, resolutionunit=unit)
    inst = read(host, tmp_path / "r.tif").primary.instrument
    if nm is None:
        assert inst.pixel_size is None
    else:
        assert inst.pixel_size.x.value == pytest.approx(nm)
        assert inst.pixel_size.y.value == pytest.approx(nm * resolution[0] / resolution[1])


@pytest.mark.parametrize("unit, nm", [("micron", 250.0), ("\\u00B5m", 250.0), ("nm", 0.25), ("pixel", None)])
def test_imagej_calibration_units(host, tmp_path, unit, nm):
    tifffile.imwrite(tmp_path / "ij.tif", GREY, imagej=True, resolution=(4.0, 4.0), metadata={"unit": unit})
    inst = read(host, tmp_path / "ij.tif").primary.instrument
    assert (inst.pixel_size.x.value if inst.pixel_size else None) == (pytest.approx(nm) if nm else None)


def test_burned_in_databar_is_found_and_cut_off(host, tmp_path):
    Image.fromarray(sem_image(300, 400, databar=40)).save(tmp_path / "bar.png")
    page = read(host, tmp_path / "bar.png").primary
    assert (page.databar_rows, page.pixels.shape, page.stored_height_px) == (40, (260, 400), 300)


def test_quanta_databar_is_detected_from_pixels_alone(real_sem):
    pixels = tifffile.imread(real_sem / "nexuslims/quanta_image.tif")
    assert detect_databar(pixels) == 59


@pytest.mark.parametrize("image", [
    np.zeros((200, 300), np.uint8),
    sem_image(200, 300),
    np.vstack([sem_image(160, 300), np.zeros((40, 300), np.uint8)]),
])
def test_no_databar_is_invented(image):
    assert detect_databar(image) == 0


def test_zeiss_data_zone_burned_into_the_frame_is_detected(real_sem):
    pixels = tifffile.imread(real_sem / "rosettasciio/test_tiff_Zeiss_SEM_1k.tif")
    assert detect_databar(pixels) == 77  # the white box with EHT / WD / Mag below row 691


def test_zeiss_multipage_frames_without_data_zone_keep_all_rows(zeiss_multipage):
    for pixels in tifffile.imread(zeiss_multipage):
        assert detect_databar(pixels) == 0
