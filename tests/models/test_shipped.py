"""The models shipped in ``models/``: intact, honest cards, the output contract, usable on real frames."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from nanoaid_daemon.cli import main
from nanoaid_daemon.config import default_models_dir
from nanoaid_daemon.evaluation.inputs import detect_databar, load_grey, prepare
from nanoaid_daemon.modelcard import find_cards, verify_model
from nanoaid_daemon.sidecar import CLASSES

MODELS = default_models_dir()


def _session(path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_shipped_models_verify_and_stay_small(capsys):
    cards = find_cards(MODELS)
    assert {c.name for c in cards} >= {"nffa-classifier.card.json", "sem-autoencoder.card.json"}
    assert main(["models", "verify", "--models-dir", str(MODELS)]) == 0
    total = sum(verify_model(c)[0].size_bytes for c in cards)
    assert total <= 40 * 1024 * 1024


def test_shipped_classifier_card_is_complete_and_honest():
    card, _ = verify_model(MODELS / "nffa-classifier.card.json")
    assert card.classes == list(CLASSES)
    assert card.thresholds == {"accept": 0.8, "review": 0.35}
    assert card.license == "Apache-2.0" and card.opset >= 17
    assert [o.name for o in card.outputs] == ["probs", "align_prob", "embedding", "features", "cams"]
    assert card.calibration["method"] == "temperature" and card.calibration["temperature"] > 0
    assert "synthetic" in card.limitations.lower() and "nanoaid models eval" in card.limitations
    assert card.retrain.startswith("nanoaid train classifier")
    test = card.metrics["test_split"]
    assert test["n"] >= 100 and 0 <= test["accuracy"] <= 1
    assert "SYNTHETIC" in card.metrics["note"] and card.metrics["reproduce"]


def test_shipped_classifier_runs_on_real_instrument_frames(real_sem):
    card, path = verify_model(MODELS / "nffa-classifier.card.json")
    session = _session(path)
    batch = []
    for name in ("nexuslims/quanta_image.tif", "rosettasciio/test_tiff_Zeiss_SEM_1k.tif"):
        grey = load_grey(real_sem / name)
        bar = detect_databar(grey)
        batch.append(prepare(grey[: grey.shape[0] - bar], card.input))
    probs, align, cams = session.run(["probs", "align_prob", "cams"], {"image": np.stack(batch)})
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert ((align >= 0) & (align <= 1)).all() and np.isfinite(cams).all()
    assert cams.shape == (2, 10, 7, 7)


def test_shipped_classifier_reads_a_field_width_and_falls_back_without_one(real_sem):
    """The shipped card declares the optional scale input; unfed equals 'unknown' (NaN), a known width
    (the Quanta frame's own 452.5 µm, or a very different one) moves the scores."""
    card, path = verify_model(MODELS / "nffa-classifier.card.json")
    assert card.scale_input is not None and card.scale_input.name == "field_width_um"
    session = _session(path)
    grey = load_grey(real_sem / "nexuslims/quanta_image.tif")
    bar = detect_databar(grey)
    batch = np.stack([prepare(grey[: grey.shape[0] - bar], card.input)] * 3)
    unfed = session.run(["probs"], {"image": batch})[0]
    widths = np.array([[np.nan], [452.5], [0.5]], np.float32)
    fed = session.run(["probs"], {"image": batch, "field_width_um": widths})[0]
    np.testing.assert_allclose(fed[0], unfed[0], atol=1e-6)
    assert np.abs(fed[1] - fed[2]).max() > 1e-3
    assert np.allclose(fed.sum(axis=1), 1.0, atol=1e-5)


def test_shipped_autoencoder_reconstructs_a_real_frame(real_sem):
    card, path = verify_model(MODELS / "sem-autoencoder.card.json")
    grey = load_grey(real_sem / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif")
    x = prepare(grey[: grey.shape[0] - detect_databar(grey)], card.input)[None]
    names = [o.name for o in card.outputs]
    out = dict(zip(names, _session(path).run(names, {"image": x}), strict=True))
    assert out["reconstruction"].shape == x.shape
    mse = float(np.mean((out["reconstruction"] - x) ** 2))
    assert mse < 0.02, f"reconstruction error {mse:.4f} on a real frame"
    assert all(out[f"enc{k}"].max() > 0 for k in range(1, len(names)))


@pytest.mark.parametrize("flag", ["list", "verify"])
def test_models_commands_name_the_shipped_models(flag, capsys):
    assert main(["models", flag, "--models-dir", str(MODELS)]) == 0
    out = capsys.readouterr().out
    assert "nffa-classifier" in out and "sem-autoencoder" in out
