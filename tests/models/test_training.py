"""A tiny end-to-end training run: synthetic folders → ONNX files and cards the daemon can use."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

pytest.importorskip("torch")

from nanoaid_daemon.cli import main  # noqa: E402
from nanoaid_daemon.evaluation.inputs import prepare  # noqa: E402
from nanoaid_daemon.modelcard import file_sha256, load_card, verify_model  # noqa: E402
from nanoaid_daemon.synth import render, write_dataset  # noqa: E402
from nanoaid_daemon.training.pipeline import AutoencoderOptions, train_autoencoder  # noqa: E402

SIZE = 64


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    write_dataset(root / "data", 4, 1, size=(144, 192))
    args = ["train", "classifier", str(root / "data"), "--out", str(root / "models"), "--work", str(root / "work"),
            "--input-size", str(SIZE), "--views", "1", "--align-count", "14"]
    assert main(args) == 0
    assert main(["train", "autoencoder", str(root / "data"), "--out", str(root / "models"), "--input-size", "64",
                 "--epochs", "1"]) == 0
    return root


def _session(path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_classifier_onnx_has_the_contract_outputs(trained):
    card, model_path = verify_model(trained / "models" / "nffa-classifier.card.json")
    model = onnx.load(str(model_path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    session = _session(model_path)
    names = [o.name for o in session.get_outputs()]
    assert names == ["probs", "align_prob", "embedding", "features", "cams"]
    frames = [render(c, 30 + i, size=(144, 192)) for i, c in enumerate(("Nanowires", "Powder", "Tips"))]
    batch = np.stack([prepare(f.pixels, card.input) for f in frames])
    probs, align, emb, feats, cams = session.run(names, {"image": batch})
    assert probs.shape == (3, 10) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5) and (probs >= 0).all()
    assert align.shape == (3, 1) and ((align >= 0) & (align <= 1)).all()
    assert emb.shape == (3, 1280) and feats.shape == (3, 1280, 2, 2) and cams.shape == (3, 10, 2, 2)
    assert np.allclose(feats.mean(axis=(2, 3)), emb, atol=1e-4)
    one = session.run(["probs"], {"image": batch[:1]})[0]  # dynamic batch axis
    assert np.allclose(one, probs[:1], atol=1e-5)


def test_classifier_takes_an_optional_field_width_that_moves_its_scores(trained):
    """Synthetic truth gives each frame's field width, so the head has a scale input; unfed or NaN is the
    scale-free answer, a known width changes the scores, and the card documents the input."""
    card, model_path = verify_model(trained / "models" / "nffa-classifier.card.json")
    assert card.scale_input is not None and card.scale_input.name == "field_width_um"
    session = _session(model_path)
    assert "field_width_um" in {i.name for i in session.get_overridable_initializers()}
    frames = [render(c, 40 + i, size=(144, 192)) for i, c in enumerate(("Particles", "Powder", "Fibres"))]
    batch = np.stack([prepare(f.pixels, card.input) for f in frames])
    unfed = session.run(["probs"], {"image": batch})[0]
    nan = session.run(["probs"], {"image": batch, "field_width_um": np.full((3, 1), np.nan, np.float32)})[0]
    np.testing.assert_allclose(nan, unfed, atol=1e-6)
    small = session.run(["probs"], {"image": batch, "field_width_um": np.full((3, 1), 0.2, np.float32)})[0]
    large = session.run(["probs"], {"image": batch, "field_width_um": np.full((3, 1), 800.0, np.float32)})[0]
    assert np.abs(small - large).max() > 1e-3
    assert np.abs(small - unfed).max() > 1e-4
    assert np.allclose(small.sum(axis=1), 1.0, atol=1e-5)


def test_cams_are_the_head_weights_applied_to_the_feature_map(trained):
    """Pooled CAMs differ between classes exactly as the (temperature-scaled) logits do."""
    card, model_path = verify_model(trained / "models" / "nffa-classifier.card.json")
    session = _session(model_path)
    batch = np.stack([prepare(render("Particles", s, size=(144, 192)).pixels, card.input) for s in range(4)])
    probs, cams = session.run(["probs", "cams"], {"image": batch})
    pooled = cams.mean(axis=(2, 3))
    t = card.calibration["temperature"]
    log_ratio = np.log(probs[:, 1:]) - np.log(probs[:, :1])
    bias_gap = log_ratio * t - (pooled[:, 1:] - pooled[:, :1])  # = b_c − b_0, the same for every image
    assert np.allclose(bias_gap, bias_gap[0], atol=1e-3)


def test_cards_match_their_files_and_say_what_the_daemon_needs(trained):
    card = load_card(trained / "models" / "nffa-classifier.card.json")
    assert card.sha256 == file_sha256(trained / "models" / "nffa-classifier.onnx")
    assert card.thresholds == {"accept": 0.8, "review": 0.35}
    assert card.license == "Apache-2.0" and card.retrain.startswith("nanoaid train classifier")
    assert card.input.height == SIZE and card.input.databar == "crop" and card.input.channels == 3
    assert card.calibration["method"] == "temperature" and card.calibration["temperature"] > 0
    assert card.metrics["test_split"]["n"] > 0 and "operating" in card.metrics["test_split"]
    assert card.training["split_rule"].startswith("split fixed by the sha256")
    ae = load_card(trained / "models" / "sem-autoencoder.card.json")
    assert ae.task == "autoencoder" and ae.sha256 == file_sha256(trained / "models" / "sem-autoencoder.onnx")


def test_autoencoder_returns_reconstruction_and_encoder_depths(trained):
    card, model_path = verify_model(trained / "models" / "sem-autoencoder.card.json")
    session = _session(model_path)
    names = [o.name for o in session.get_outputs()]
    assert names == ["reconstruction", "enc1", "enc2", "enc3", "enc4"]
    x = np.stack([prepare(render("Fibres", s, size=(144, 192)).pixels, card.input) for s in range(2)])
    out = dict(zip(names, session.run(names, {"image": x}), strict=True))
    assert out["reconstruction"].shape == (2, 1, 64, 64)
    assert (out["reconstruction"] >= 0).all() and (out["reconstruction"] <= 1).all()
    assert [out[f"enc{k}"].shape[2] for k in range(1, 5)] == [64, 32, 16, 8]


def test_verify_catches_a_flipped_byte_and_a_missing_file(trained, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    for f in (trained / "models").iterdir():
        (models / f.name).write_bytes(f.read_bytes())
    assert main(["models", "verify", "--models-dir", str(models)]) == 0
    blob = bytearray((models / "nffa-classifier.onnx").read_bytes())
    blob[1000] ^= 0x01
    (models / "nffa-classifier.onnx").write_bytes(bytes(blob))
    assert main(["models", "verify", "--models-dir", str(models)]) == 1
    err = capsys.readouterr().err
    assert "nffa-classifier" in err and "does not match its card" in err
    (models / "sem-autoencoder.onnx").unlink()
    assert main(["models", "verify", "--models-dir", str(models)]) == 1
    assert "missing" in capsys.readouterr().err
    assert main(["models", "list", "--models-dir", str(models)]) == 1


def test_card_metrics_are_what_models_eval_reprints(trained, tmp_path):
    card = load_card(trained / "models" / "nffa-classifier.card.json")
    out = tmp_path / "eval"
    assert main(["models", "eval", str(trained / "models" / "nffa-classifier.card.json"), str(trained / "data"),
                 "--split", "test", "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["accuracy"] == pytest.approx(card.metrics["test_split"]["accuracy"])
    assert report["confusion_matrix"] == card.metrics["test_split"]["confusion_matrix"]


def test_autoencoder_rebuild_is_byte_identical(trained, tmp_path):
    shas = []
    for run in ("a", "b"):
        opts = AutoencoderOptions(data=[trained / "data"], out=tmp_path / run, input_size=32, patch=16, epochs=1,
                                  max_images=12, channels=(4, 8, 8, 8))
        summary = train_autoencoder(opts)
        shas.append(file_sha256(summary["model"]))
    assert shas[0] == shas[1]


def test_fine_tuning_the_last_blocks_changes_the_backbone_and_still_exports(trained, tmp_path):
    out = tmp_path / "models"
    assert main(["train", "classifier", str(trained / "data"), "--out", str(out), "--work", str(trained / "work"),
                 "--input-size", str(SIZE), "--views", "1", "--align-count", "14", "--finetune-blocks", "1",
                 "--finetune-epochs", "1"]) == 0
    card, tuned = verify_model(out / "nffa-classifier.card.json")
    assert card.training["fine_tuning"]["blocks"] == 1 and "fine-tuned" in card.architecture
    frozen = trained / "models" / "nffa-classifier.onnx"
    x = np.stack([prepare(render("Tips", 5, size=(144, 192)).pixels, card.input)])
    emb_tuned = _session(tuned).run(["embedding"], {"image": x})[0]
    emb_frozen = _session(frozen).run(["embedding"], {"image": x})[0]
    assert np.abs(emb_tuned - emb_frozen).max() > 1e-5  # two small Adam steps, but the backbone moved


def _checkout_with_devset(root, frames):
    """A checkout-like folder: datasets/devset/manifest.csv and the committed copies it lists."""
    import csv

    from nanoaid_daemon.evaluation.devset import COLUMNS

    dev = root / "datasets" / "devset"
    rows = []
    for i, (cls, source, seed) in enumerate(frames):
        rel = f"datasets/devset/open/{cls}/real-{i}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(render(cls, seed, size=(144, 192), databar=False, detector="BSE").pixels).save(root / rel)
        rows.append({"id": f"real-{i}", "repo": "lab/images", "commit": "0" * 40, "path": f"{i}.tif", "licence": "MIT",
                     "class": cls, "confidence": "high", "crop": "", "source": source, "sha256": "1" * 64,
                     "file": rel})
    rows.append({**rows[0], "id": "manifest-only", "file": "", "source": "lab C"})  # not committed: never trained on
    with open(dev / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return dev / "manifest.csv"


def test_committed_dev_frames_join_the_head_and_the_card_lists_them(trained, tmp_path):
    manifest = _checkout_with_devset(tmp_path / "checkout", [("Tips", "lab A", 71), ("Powder", "lab B", 72)])
    out = tmp_path / "models"
    assert main(["train", "classifier", str(trained / "data"), "--out", str(out), "--work", str(trained / "work"),
                 "--input-size", str(SIZE), "--views", "1", "--align-count", "14", "--devset", str(manifest),
                 "--devset-weight", "50"]) == 0
    card, with_real = verify_model(out / "nffa-classifier.card.json")
    real = card.training["real_frames"]
    assert real["frames"] == 2 and real["sources"] == ["lab A", "lab B"] and real["ids"] == ["real-0", "real-1"]
    assert real["weight"] == 50 and real["per_class"]["Tips"] == 1 and real["licences"] == {"MIT": 2}
    assert "2 real frames from 2 public sources" in card.limitations
    plain_card = load_card(trained / "models" / "nffa-classifier.card.json")
    assert "real_frames" not in plain_card.training or plain_card.training["real_frames"] is None
    assert "real frames" not in plain_card.limitations
    x = np.stack([prepare(np.asarray(__import__("PIL.Image").Image.open(tmp_path / "checkout" / "datasets" / "devset"
                                                                          / "open" / "Tips" / "real-0.png")),
                          card.input)])
    p_real = _session(with_real).run(["probs"], {"image": x})[0][0]
    p_plain = _session(trained / "models" / "nffa-classifier.onnx").run(["probs"], {"image": x})[0][0]
    tips = card.classes.index("Tips")
    assert p_real[tips] > p_plain[tips]  # a frame it was shown (50x) pulls the head towards its label


def test_a_missing_committed_copy_is_refused_naming_it(trained, tmp_path, capsys):
    manifest = _checkout_with_devset(tmp_path / "checkout", [("Tips", "lab A", 71)])
    (tmp_path / "checkout" / "datasets" / "devset" / "open" / "Tips" / "real-0.png").unlink()
    code = main(["train", "classifier", str(trained / "data"), "--out", str(tmp_path / "m"), "--work",
                 str(trained / "work"), "--input-size", str(SIZE), "--views", "1", "--align-count", "14",
                 "--devset", str(manifest)])
    assert code != 0
    err = capsys.readouterr().err
    assert "real-0.png" in err and "missing" in err
    assert not (tmp_path / "m" / "nffa-classifier.onnx").exists()


def test_the_synthetic_cards_limits_say_whether_real_frames_were_used():
    from nanoaid_daemon.training.cards import _limits

    assert "no real image was used for training" in _limits(True, None)
    said = _limits(True, {"frames": 100, "sources": ["a", "b", "c"]})
    assert "no real image" not in said and "100 real frames from 3 public sources" in said
    assert "{" not in said and "`nanoaid train classifier" in said
