"""`nanoaid models adapt`: real frames (PNG and FEI TIFF) → a models folder the pipeline uses unchanged."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nanoaid_daemon.adaptation.fit import predict
from nanoaid_daemon.adaptation.head import unit
from nanoaid_daemon.cli import main
from nanoaid_daemon.config import default_models_dir
from nanoaid_daemon.modelcard import file_sha256, load_card
from nanoaid_daemon.synth import render, write_frame

SHAPE = (192, 256)


def _labelled(root: Path, plan: dict[str, int], seed: int = 11) -> Path:
    """Real generated frames; every other one an FEI TIFF with its databar (cut by the reader)."""
    for cls, n in plan.items():
        folder = root / cls
        folder.mkdir(parents=True)
        for i in range(n):
            frame = render(cls, seed=seed + 97 * i + len(cls), size=SHAPE, bits=8, databar=True)
            name = f"{cls.lower()}_{i}.{'tif' if i % 2 else 'png'}"
            write_frame(frame, folder / name, vendor="fei" if i % 2 else "none")
    return root


@pytest.fixture(scope="module")
def adapted_dir(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapt")
    labelled = _labelled(root / "labelled", {"Nanowires": 3, "Particles": 2, "Tips": 1})
    out = root / "models"
    assert main(["models", "adapt", str(labelled), "--out", str(out), "--threads", "1"]) == 0
    return labelled, out


def test_adapt_writes_a_complete_models_folder_whose_card_names_base_support_and_figures(adapted_dir):
    labelled, out = adapted_dir
    card = load_card(out / "nffa-classifier.card.json")
    base = load_card(default_models_dir() / "nffa-classifier.card.json")
    assert card.sha256 == file_sha256(out / card.file)
    assert card.training["base"] == {"name": base.name, "version": base.version, "sha256": base.sha256}
    counts = card.training["support"]["counts"]
    assert (counts["Nanowires"], counts["Particles"], counts["Tips"], counts["Powder"]) == (3, 2, 1, 0)
    hashes = {f["sha256"] for f in card.training["support"]["frames"]}
    assert hashes == {file_sha256(p) for p in labelled.rglob("*.*")}
    assert card.thresholds == base.thresholds  # the paper's thresholds stay
    assert {"conformal", "ood", "temperature"} <= set(card.calibration)
    cv = card.metrics["cross_validated_on_support"]
    assert cv["frames"] == 6 and 0 <= cv["accuracy"] <= 1
    assert (out / "sem-autoencoder.card.json").is_file()
    assert main(["models", "verify", "--models-dir", str(out)]) == 0


def test_adapted_graph_gives_the_same_probabilities_as_the_numpy_head(adapted_dir):
    """The ONNX ops and the numpy head (with base-prior mixing) are one model, not two."""
    _, out = adapted_dir
    session = ort.InferenceSession(str(out / "nffa-classifier.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 3, 224, 224)).astype(np.float32)
    got = dict(zip(["probs", "embedding", "base_probs", "ood_score", "cams"],
                   session.run(["probs", "embedding", "base_probs", "ood_score", "cams"], {"image": x}), strict=True))
    assert got["probs"].shape == (3, 10) and np.allclose(got["probs"].sum(axis=1), 1, atol=1e-5)
    assert got["ood_score"].shape == (3,) and (got["ood_score"] > 0).all()
    assert got["cams"].shape[:2] == (3, 10)
    card = json.loads((out / "nffa-classifier.card.json").read_text())
    supported = np.array([card["training"]["support"]["counts"][c] > 0 for c in card["classes"]])
    # unsupported classes keep exactly the base model's probability
    assert np.allclose(got["probs"][:, ~supported], got["base_probs"][:, ~supported], atol=1e-6)
    assert unit(got["embedding"]).shape == (3, 1280)
    assert callable(predict)


def test_frames_processed_with_the_adapted_folder_carry_ood_score_and_prediction_set(adapted_dir, tmp_path, capsys,
                                                                                     monkeypatch):
    labelled, out = adapted_dir
    frame = next((labelled / "Nanowires").glob("*.tif"))
    monkeypatch.setenv("NANOAID_MODELS__DIR", str(out))
    assert main(["process", str(frame), "--json", "--output", str(tmp_path)]) == 0
    sidecar = json.loads(capsys.readouterr().out.splitlines()[0])
    c = sidecar["classification"]
    card = load_card(out / "nffa-classifier.card.json")
    assert c["model"] == {"name": card.name, "version": card.version, "sha256": card.sha256}
    assert sidecar["provenance"]["model_hashes"][card.name] == card.sha256
    assert c["thresholds"] == {"accept": 0.8, "review": 0.35}
    assert c["ood_score"] >= 0 and c["ood_threshold"] == round(card.calibration["ood"]["threshold"], 4)
    assert c["prediction_set"] and c["prediction_set"][0] == c["label"]
    if c["decision"] == "accepted":
        assert c["prediction_set"] == [c["label"]] and c["ood_score"] <= c["ood_threshold"]


def test_adapt_refuses_an_unknown_class_folder_and_writes_nothing(tmp_path, capsys):
    _labelled(tmp_path / "lab", {"Tips": 1})
    (tmp_path / "lab" / "Crystals").mkdir()
    out = tmp_path / "out"
    assert main(["models", "adapt", str(tmp_path / "lab"), "--out", str(out)]) == 2
    assert "Crystals" in capsys.readouterr().err
    assert not out.exists()


def test_keep_base_head_adds_only_the_trust_gate_scores_stay_the_shipped_ones(adapted_dir, tmp_path):
    labelled, _ = adapted_dir
    out = tmp_path / "gated"
    assert main(["models", "adapt", str(labelled), "--out", str(out), "--keep-base-head", "--threads", "1"]) == 0
    card = load_card(out / "nffa-classifier.card.json")
    assert card.name == "nffa-classifier-gated" and {"ood", "conformal"} <= set(card.calibration)
    session = ort.InferenceSession(str(out / "nffa-classifier.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(2, 3, 224, 224)).astype(np.float32)
    probs, base, ood = session.run(["probs", "base_probs", "ood_score"], {"image": x})
    assert np.array_equal(probs, base) and ood.shape == (2,)
