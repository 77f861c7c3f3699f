"""Preview analyzer: real PNG files that decode, match their listing, and show the right place."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from analyzer_models import autoencoder_onnx, classifier_onnx, write_model
from conftest import bright_object, frame_context, make_plugin
from PIL import Image

from nanoaid_daemon.errors import ModelUnavailable
from nanoaid_daemon.inference import CLASSIFIER_KEY, Runtime
from nanoaid_plugins.analyzer_classify import MANIFEST as CLASSIFY
from nanoaid_plugins.analyzer_previews import MANIFEST
from nanoaid_plugins.analyzer_previews.render import cam_to_frame, montage

BOX = (100, 150, 70, 90)  # top, left, height, width of the bright object


def run_frame(runtime, pixels, folder, name="frame.tif", **options):
    ctx = frame_context(pixels, folder, name)
    make_plugin(CLASSIFY, runtime).analyze(ctx)
    return ctx, make_plugin(MANIFEST, runtime, **options).analyze(ctx)


def test_every_preview_exists_decodes_and_matches_its_listing(runtime, tmp_path):
    _, previews = run_frame(runtime, bright_object((768, 1024)), tmp_path, "a b.tif")
    assert [p.kind for p in previews] == ["thumbnail", "cam", "ai_lens"]
    formats = {"thumbnail": ("jpg", "JPEG", "image/jpeg"), "cam": ("jpg", "JPEG", "image/jpeg"),
               "ai_lens": ("png", "PNG", "image/png")}
    for p in previews:
        path = tmp_path / p.path
        suffix, pillow_format, media_type = formats[p.kind]
        assert p.path == f"a b.tif.nanoaid.{p.kind}.{suffix}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == p.sha256
        with Image.open(path) as image:
            image.load()
            assert image.format == pillow_format and p.media_type == media_type
            assert image.size == (p.width_px, p.height_px)
        assert max(p.width_px, p.height_px) <= 512
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temp files left behind


def test_photo_format_png_writes_lossless_thumbnail_and_overlay(runtime, tmp_path):
    _, previews = run_frame(runtime, bright_object((768, 1024)), tmp_path, photo_format="png")
    for p in previews:
        assert p.path.endswith(".png") and p.media_type == "image/png"
        with Image.open(tmp_path / p.path) as image:
            assert image.format == "PNG"


def test_ai_lens_is_a_palette_png_whose_panel_keeps_the_frame_aspect(runtime, tmp_path):
    _, previews = run_frame(runtime, bright_object((768, 1024)), tmp_path, kinds=["ai_lens"])
    with Image.open(tmp_path / previews[0].path) as image:
        assert image.mode == "P"
        indices = np.asarray(image)
    # The input panel is grey (palette indices 128..255) and spans the montage's full height at 4:3.
    grey_cols = np.flatnonzero((indices >= 128).all(axis=0))
    panel_w = int(np.argmax(np.diff(grey_cols) > 1)) + 1 if np.any(np.diff(grey_cols) > 1) else len(grey_cols)
    assert abs(panel_w / indices.shape[0] - 4 / 3) < 0.05


def test_thumbnail_keeps_the_aspect_and_is_never_enlarged(runtime, tmp_path):
    _, big = run_frame(runtime, bright_object((768, 1024)), tmp_path / "big", kinds=["thumbnail"])
    _, small = run_frame(runtime, bright_object((300, 400)), tmp_path / "small", kinds=["thumbnail"])
    assert (big[0].width_px, big[0].height_px) == (512, 384)
    assert (small[0].width_px, small[0].height_px) == (400, 300)


def test_preview_size_bound_is_configurable(runtime, tmp_path):
    _, previews = run_frame(runtime, bright_object((768, 1024)), tmp_path, max_side_px=200)
    assert all(max(p.width_px, p.height_px) <= 200 for p in previews)


def heat_inside_and_outside(heat: np.ndarray, box, scale: float) -> tuple[float, float]:
    top, left, h, w = (round(v * scale) for v in box)
    inside = np.zeros(heat.shape, bool)
    inside[top:top + h, left:left + w] = True
    return float(heat[inside].mean()), float(heat[~inside].mean())


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "center_crop"])
def test_class_activation_map_lies_on_the_single_object(tmp_path, resize):
    write_model(tmp_path / "m", "nffa-classifier", classifier_onnx(64), "classifier", 64, 3, input={"resize": resize})
    write_model(tmp_path / "m", "sem-autoencoder", autoencoder_onnx(64), "autoencoder", 64, 1)
    runtime = Runtime(tmp_path / "m", providers=["CPUExecutionProvider"])
    frame = bright_object((300, 400), box=BOX)
    ctx, previews = run_frame(runtime, frame, tmp_path)
    shared = ctx.shared[CLASSIFIER_KEY]
    assert shared.label == "Particles"
    heat = cam_to_frame(shared.cams[shared.classes.index("Particles")], shared.geometry, frame.shape)
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    top, left, h, w = BOX
    assert top - 8 <= peak[0] < top + h + 8 and left - 8 <= peak[1] < left + w + 8
    inside, outside = heat_inside_and_outside(heat, BOX, 1.0)
    assert inside > 5 * outside
    # The written overlay shows it too: colour (channel spread) sits on the object, grey elsewhere.
    cam = next(p for p in previews if p.kind == "cam")
    with Image.open(tmp_path / cam.path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    colour = (rgb.max(axis=2) - rgb.min(axis=2)).astype(np.float32)
    inside, outside = heat_inside_and_outside(colour, BOX, cam.width_px / frame.shape[1])
    assert inside > 5 * outside


def test_ai_lens_shows_the_input_beside_a_row_per_depth(runtime, tmp_path):
    image = montage(np.zeros((64, 64), np.uint8), [[np.random.rand(8, 8)] * 4] * 3, 512)
    assert image.ndim == 2 and max(image.shape) <= 512
    assert image.shape[0] < image.shape[1]  # square input panel plus four columns
    _, previews = run_frame(runtime, bright_object(), tmp_path, kinds=["ai_lens"], lens_depths=[2], lens_channels=2)
    lens = previews[0]
    assert lens.kind == "ai_lens" and lens.width_px > lens.height_px


def test_asking_for_a_depth_the_autoencoder_lacks_names_the_option(runtime, tmp_path):
    with pytest.raises(ValueError, match="lens_depths asks for depth 9"):
        run_frame(runtime, bright_object(), tmp_path, lens_depths=[9])


def test_missing_autoencoder_fails_the_section_before_writing_anything(models_dir, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for p in models_dir.glob("nffa-classifier.*"):
        (folder / p.name).write_bytes(p.read_bytes())
    runtime = Runtime(folder, providers=["CPUExecutionProvider"])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ModelUnavailable, match="sem-autoencoder"):
        run_frame(runtime, bright_object(), out)
    assert list(out.iterdir()) == []
    _, previews = run_frame(runtime, bright_object(), out, kinds=["thumbnail", "cam"])
    assert [p.kind for p in previews] == ["thumbnail", "cam"]


def test_without_classifier_output_the_cam_is_left_out(runtime, tmp_path):
    ctx = frame_context(bright_object(), tmp_path)
    previews = make_plugin(MANIFEST, runtime).analyze(ctx)
    assert [p.kind for p in previews] == ["thumbnail", "ai_lens"]
