"""The classifier's optional field-width input: fed where the frame gives a scale, ignored otherwise."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
from analyzer_models import SCALE_CARD, SCALE_INPUT, classifier_onnx, scaled_classifier_onnx, write_model
from conftest import bright_object, frame_context, make_plugin

from nanoaid_daemon.inference import Runtime
from nanoaid_daemon.metadata import Instrument, Micrometres, Nanometres, PixelSize
from nanoaid_plugins.analyzer_classify import MANIFEST
from nanoaid_plugins.analyzer_classify._api import frame_field_width_um, view_field_widths

SIZE = 64


@pytest.fixture()
def scaled_runtime(tmp_path):
    write_model(tmp_path / "models", "nffa-classifier", scaled_classifier_onnx(SIZE), "classifier", SIZE, 3,
                scale_input=SCALE_CARD)
    rt = Runtime(tmp_path / "models", providers=["CPUExecutionProvider"], threads=1)
    yield rt
    rt.close()


def _batch(model, n: int = 1) -> np.ndarray:
    tensor, _ = model.prepare(bright_object())
    return np.stack([tensor] * n)


def _px(nm: float) -> PixelSize:
    return PixelSize(x=Nanometres(value=nm), y=Nanometres(value=nm))


def _with_scale(pixels, tmp_path, **instrument):
    ctx = frame_context(pixels, tmp_path)
    ctx.read.pages[0] = dataclasses.replace(ctx.read.pages[0], instrument=Instrument(**instrument))
    return ctx


def test_a_model_with_a_scale_input_changes_its_answer_with_the_field_width(scaled_runtime):
    model = scaled_runtime.model("nffa-classifier")
    assert model.scale_input == SCALE_INPUT
    out = model.infer(_batch(model, 3), ["probs"], field_width_um=[0.1, 1000.0, None])["probs"]
    classes = list(model.card.classes)
    assert [classes[i] for i in out.argmax(axis=1)] == ["Particles", "Films_Coated_Surface", "Particles"]


def test_unknown_width_gives_exactly_the_scale_free_answer(scaled_runtime, tmp_path):
    model = scaled_runtime.model("nffa-classifier")
    batch = _batch(model, 2)
    unknown = model.infer(batch, ["probs"], field_width_um=[float("nan"), -1.0])["probs"]
    not_given = model.infer(batch, ["probs"])["probs"]
    write_model(tmp_path / "plain", "plain", classifier_onnx(SIZE), "classifier", SIZE, 3)
    plain = Runtime(tmp_path / "plain", providers=["CPUExecutionProvider"], threads=1).model("plain")
    np.testing.assert_allclose(unknown, not_given, rtol=0, atol=0)
    np.testing.assert_allclose(unknown, plain.infer(batch, ["probs"])["probs"], rtol=1e-6, atol=1e-7)


def test_a_model_without_the_input_ignores_widths_and_still_runs(runtime):
    model = runtime.model("nffa-classifier")
    assert model.scale_input is None
    batch = _batch(model)
    with_width = model.infer(batch, ["probs"], field_width_um=[1000.0])["probs"]
    np.testing.assert_array_equal(with_width, model.infer(batch, ["probs"])["probs"])


def test_a_card_that_names_an_input_the_file_lacks_runs_scale_free(tmp_path):
    write_model(tmp_path, "liar", classifier_onnx(SIZE), "classifier", SIZE, 3, scale_input=SCALE_CARD)
    model = Runtime(tmp_path, providers=["CPUExecutionProvider"], threads=1).model("liar")
    assert model.scale_input is None
    assert model.infer(_batch(model), ["probs"], field_width_um=[5.0])["probs"].shape == (1, 10)


def test_a_width_count_that_does_not_match_the_batch_is_refused(scaled_runtime):
    model = scaled_runtime.model("nffa-classifier")
    with pytest.raises(ValueError, match="2 field widths for a batch of 3"):
        model.infer(_batch(model, 3), ["probs"], field_width_um=[1.0, 2.0])


def test_batched_requests_keep_their_own_widths(scaled_runtime):
    model = scaled_runtime.model("nffa-classifier")
    batch = _batch(model)
    widths = [0.1, 1000.0, None, 1000.0, 0.1, None]
    alone = [model.infer(batch, ["probs"], field_width_um=[w])["probs"][0] for w in widths]
    got: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        got[i] = model.infer(batch, ["probs"], field_width_um=[widths[i]])["probs"][0]

    with model.hold():  # queue every request, then run them as batches
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(widths))]
        for t in threads:
            t.start()
        while model.pending() < len(widths):
            threading.Event().wait(0.01)
    for t in threads:
        t.join()
    assert model.stats.largest > 1
    for i, want in enumerate(alone):
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)


def test_the_classify_analyzer_passes_the_frame_field_width(scaled_runtime, tmp_path):
    plugin = make_plugin(MANIFEST, scaled_runtime)
    wide = plugin.analyze(_with_scale(bright_object(), tmp_path, horizontal_field_width=Micrometres(value=1000.0)))
    narrow = plugin.analyze(_with_scale(bright_object(), tmp_path, pixel_size=_px(0.5)))
    unknown = plugin.analyze(frame_context(bright_object(), tmp_path))
    assert (wide.label, narrow.label, unknown.label) == ("Films_Coated_Surface", "Particles", "Particles")
    assert narrow.scores["Particles"] >= unknown.scores["Particles"]


def test_field_width_comes_from_the_vendor_width_or_pixel_size_times_stored_width(tmp_path):
    pixels = np.zeros((30, 40), np.uint8)
    assert frame_field_width_um(_with_scale(pixels, tmp_path, horizontal_field_width=Micrometres(value=12.5))) == 12.5
    assert frame_field_width_um(_with_scale(pixels, tmp_path, pixel_size=_px(100.0))) \
        == pytest.approx(4.0)
    assert frame_field_width_um(frame_context(pixels, tmp_path)) is None


def test_a_quadrant_view_gets_its_share_of_the_field(tmp_path):
    frame = np.zeros((100, 200), np.uint8)
    views = [frame, frame[:50, :100], frame[:50, 100:]]
    assert view_field_widths(40.0, 200, views) == [40.0, 20.0, 20.0]
    assert view_field_widths(None, 200, views) == [None, None, None]
