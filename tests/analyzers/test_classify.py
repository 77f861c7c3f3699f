"""Classification analyzer: calibrated scores, the decision at its exact thresholds, views, failures."""
from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from analyzer_models import classifier_onnx, write_model
from conftest import bright_object, frame_context, make_plugin

from nanoaid_daemon.errors import ConfigError, ModelUnavailable
from nanoaid_daemon.inference import CLASSIFIER_KEY, Runtime
from nanoaid_daemon.schema import schema_path
from nanoaid_daemon.sidecar import CLASSES, FrameInfo, Provenance, Sidecar, Software
from nanoaid_plugins.analyzer_classify import MANIFEST
from nanoaid_plugins.analyzer_classify.decision import decide, plan_views


def scores_with_top(top: float, second: float = 0.1) -> dict[str, float]:
    rest = (1 - top - second) / 8
    return dict(zip(CLASSES, [second, rest, rest, rest, top, rest, rest, rest, rest, rest], strict=True))


@pytest.mark.parametrize("top,decision", [
    (1.0, "accepted"), (0.8, "accepted"), (0.799999, "review"),
    (0.35, "review"), (0.349999, "unknown"), (0.2, "unknown"),
])
def test_decision_follows_the_thresholds_at_their_boundaries(top, decision):
    label, score, got, _ = decide(scores_with_top(top), accept=0.8, review=0.35)
    assert (label, score, got) == ("Nanowires", top, decision)


def test_review_offers_the_top_two_and_the_others_offer_none():
    assert decide(scores_with_top(0.5, 0.3), 0.8, 0.35)[3] == ["Nanowires", "Biological"]
    assert decide(scores_with_top(0.9, 0.05), 0.8, 0.35)[3] == []
    assert decide(scores_with_top(0.2, 0.1), 0.8, 0.35)[3] == []


def test_a_tie_goes_to_the_class_first_in_model_order():
    scores = dict.fromkeys(CLASSES, 0.1)
    assert decide(scores, 0.8, 0.35)[0] == "Biological"


def constant_classifier(folder, top: float):
    probs = [top] + [(1 - top) / 9] * 9
    write_model(folder, "nffa-classifier", classifier_onnx(32, fixed_probs=probs), "classifier", 32, 3)
    return Runtime(folder, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("top,decision", [(0.8, "accepted"), (0.35, "review"), (0.349999, "unknown")])
def test_float32_model_scores_on_a_threshold_decide_as_the_sidecar_shows_them(tmp_path, top, decision):
    classifier = make_plugin(MANIFEST, constant_classifier(tmp_path, top), accept_unvouched=True)
    section = classifier.analyze(frame_context(bright_object(), tmp_path))
    assert section.score == top  # float32 0.35 is 0.34999999; the stored score is 0.35
    assert section.decision == decision
    assert section.label == "Biological"


def test_section_has_all_ten_scores_the_model_identity_and_thresholds(runtime, tmp_path):
    section = make_plugin(MANIFEST, runtime).analyze(frame_context(bright_object(), tmp_path))
    card = runtime.model("nffa-classifier").card
    assert list(section.scores) == list(CLASSES)
    assert sum(section.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert (section.label, section.decision) == ("Particles", "review")
    assert section.suggestions[0] == "Particles" and len(section.suggestions) == 2
    assert (section.model.name, section.model.version, section.model.sha256) == (card.name, card.version, card.sha256)
    assert (section.thresholds.accept, section.thresholds.review) == (0.8, 0.35)
    assert section.views == "full"


def test_configured_thresholds_override_the_card(models_dir, tmp_path):
    rt = Runtime(models_dir, providers=["CPUExecutionProvider"], accept_threshold=0.3, review_threshold=0.1)
    section = make_plugin(MANIFEST, rt, accept_unvouched=True).analyze(frame_context(bright_object(), tmp_path))
    assert section.decision == "accepted"
    assert (section.thresholds.accept, section.thresholds.review) == (0.3, 0.1)


def test_a_model_that_cannot_vouch_offers_its_confident_answer_for_review_never_applies_it(tmp_path):
    plugin = make_plugin(MANIFEST, constant_classifier(tmp_path, 0.95))
    section = plugin.analyze(frame_context(bright_object(), tmp_path))
    assert (section.label, section.decision) == ("Biological", "review")
    assert section.suggestions[0] == "Biological" and len(section.suggestions) == 2
    assert (section.thresholds.accept, section.thresholds.review) == (0.8, 0.35)  # the paper's rule, as recorded


def test_the_shipped_prior_never_auto_accepts_even_the_frames_it_is_sure_of(tmp_path):
    """The shipped model has seen only synthetic frames; it has no calibration that vouches for a label."""
    from nanoaid_daemon.config import default_models_dir
    from nanoaid_daemon.synth import render

    runtime = Runtime(default_models_dir(), providers=["CPUExecutionProvider"])
    plugin = make_plugin(MANIFEST, runtime)
    sure = []
    for name in CLASSES:  # 40 frames of the kind it was trained on: some score above the accept threshold
        for seed in range(4):
            section = plugin.analyze(frame_context(render(name, seed, size=(384, 512)).pixels, tmp_path))
            if section.score >= section.thresholds.accept:
                sure.append(section)
    assert sure, "the shipped model was sure of none of its own training kind of frame"
    assert all(s.decision == "review" and s.suggestions[0] == s.label for s in sure)


def test_section_validates_against_the_checked_in_sidecar_schema(runtime, tmp_path):
    section = make_plugin(MANIFEST, runtime).analyze(frame_context(bright_object(), tmp_path))
    frame = FrameInfo(name="frame.tif", path="frame.tif", sha256="0" * 64, size_bytes=1, media_type="image/tiff",
                      width_px=400, height_px=300, dtype="uint8", pages=1, databar_rows=0, reader="generic")
    sidecar = Sidecar(frame=frame, classification=section,
                      provenance=Provenance(software=Software(version="0"), config_hash="c"))
    schema = json.loads(schema_path("sidecar").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(sidecar.to_json()), schema)


def test_large_frames_are_classified_from_the_whole_and_its_quadrants(runtime, tmp_path):
    frame = bright_object((400, 600), box=(20, 20, 80, 80))
    classifier = make_plugin(MANIFEST, runtime, views="auto", tile_min_side_px=400)
    ctx = frame_context(frame, tmp_path)
    section = classifier.analyze(ctx)
    assert section.views == "full+4tiles"
    model = runtime.model("nffa-classifier")
    views, _ = plan_views(frame, "tiles", 0)
    probs = model.infer(np.stack([model.prepare(v)[0] for v in views]), ["probs"])["probs"].mean(axis=0)
    assert [section.scores[c] for c in CLASSES] == pytest.approx(probs.tolist(), abs=2e-6)
    shared = ctx.shared[CLASSIFIER_KEY]
    assert shared.geometry.frame_hw == (400, 600)  # the CAM belongs to the whole-frame view


def test_small_frames_stay_a_single_view_in_auto_mode(runtime, tmp_path):
    section = make_plugin(MANIFEST, runtime, tile_min_side_px=2000).analyze(frame_context(bright_object(), tmp_path))
    assert section.views == "full"


def test_classifier_leaves_its_outputs_for_later_analyzers(runtime, tmp_path):
    ctx = frame_context(bright_object(), tmp_path)
    make_plugin(MANIFEST, runtime).analyze(ctx)
    shared = ctx.shared[CLASSIFIER_KEY]
    assert shared.label == "Particles" and shared.cams.shape == (10, 16, 16)
    assert 0.0 <= shared.align_prob <= 1.0 and shared.probs.shape == (10,)


def test_corrupt_model_gives_model_unavailable_not_a_crash(models_dir, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for p in models_dir.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "nffa-classifier.onnx").write_bytes(b"\0" * 100)
    classifier = make_plugin(MANIFEST, Runtime(folder, providers=["CPUExecutionProvider"]))  # creating must not raise
    with pytest.raises(ModelUnavailable, match="nffa-classifier.onnx"):
        classifier.analyze(frame_context(bright_object(), tmp_path))


def test_card_whose_classes_do_not_fit_the_model_is_unavailable(tmp_path):
    write_model(tmp_path, "nffa-classifier", classifier_onnx(32), "classifier", 32, 3, classes=["a", "b"])
    classifier = make_plugin(MANIFEST, Runtime(tmp_path, providers=["CPUExecutionProvider"]))
    with pytest.raises(ModelUnavailable, match="10 scores but its card lists 2 classes"):
        classifier.analyze(frame_context(bright_object(), tmp_path))


def test_unknown_option_is_a_config_error_naming_the_plugin(runtime):
    with pytest.raises(ConfigError, match="plugins.options.classify"):
        make_plugin(MANIFEST, runtime, treshold=0.5)


def test_plugins_made_without_a_runtime_share_one_for_their_models_folder(models_dir):
    from nanoaid_plugins.analyzer_previews import MANIFEST as PREVIEWS

    classifier = make_plugin(MANIFEST, None, models_dir)
    previews = make_plugin(PREVIEWS, None, models_dir)
    assert classifier.runtime is previews.runtime
    assert classifier.runtime.models_dir == models_dir.resolve()
