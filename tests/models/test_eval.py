"""``nanoaid models eval`` against a case whose answer is known in advance.

The model is a real ONNX file run by onnxruntime: it predicts class i for images of grey level
i/9 (it measures the mean grey value). Each class folder holds one image of its own grey level
and one of the next class's level nudged towards its own, so every answer is fixed: accuracy
50 %, top-2 100 %, every frame confidently accepted, and a known confusion matrix.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from nanoaid_daemon.cli import main
from nanoaid_daemon.evaluation.metrics import classification_report, expected_calibration_error
from nanoaid_daemon.modelcard import ModelCard, file_sha256
from nanoaid_daemon.sidecar import CLASSES

LEVELS = np.arange(10, dtype=np.float32) / 9.0


def _grey_level_model(path) -> None:
    centres = helper.make_tensor("centres", TensorProto.FLOAT, [1, 10], LEVELS.tolist())
    sharp = helper.make_tensor("sharp", TensorProto.FLOAT, [], [-2000.0])
    axes = helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3])
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["mean"], keepdims=1),
        helper.make_node("Flatten", ["mean"], ["m"], axis=1),
        helper.make_node("Sub", ["m", "centres"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("Mul", ["d2", "sharp"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        helper.make_node("Sigmoid", ["m"], ["align_prob"]),
    ]
    graph = helper.make_graph(
        nodes, "grey_level",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10]),
         helper.make_tensor_value_info("align_prob", TensorProto.FLOAT, ["N", 1])],
        initializer=[centres, sharp, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))


def grey_models(tmp_path) -> Path:
    """A models folder holding the grey-level classifier and its card."""
    models = tmp_path / "models"
    models.mkdir()
    onnx_path = models / "grey.onnx"
    _grey_level_model(onnx_path)
    card = ModelCard(
        name="grey", version="0", task="classifier", file="grey.onnx", sha256=file_sha256(onnx_path),
        size_bytes=onnx_path.stat().st_size, opset=18, classes=list(CLASSES),
        input={"height": 32, "width": 32, "channels": 3, "mean": [0, 0, 0], "std": [1, 1, 1], "intensity": "dtype"},
        outputs=[{"name": "probs", "shape": ["N", 10]}, {"name": "align_prob", "shape": ["N", 1]}],
        license="Apache-2.0")
    (models / "grey.card.json").write_text(card.model_dump_json())
    return models


@pytest.fixture
def known_case(tmp_path):
    models = grey_models(tmp_path)
    data = tmp_path / "data"
    for label, name in enumerate(CLASSES):
        (data / name).mkdir(parents=True)
        other = label + 1 if label < 9 else 8
        nudged = LEVELS[other] + (0.02 if other < label else -0.02)
        for tag, level in (("own", LEVELS[label]), ("other", nudged)):
            Image.fromarray(np.full((40, 48), round(level * 255), np.uint8)).save(data / name / f"{tag}.png")
    return models, data


def _expected_confusion() -> np.ndarray:
    cm = np.zeros((10, 10), int)
    for label in range(10):
        cm[label, label] += 1
        cm[label, label + 1 if label < 9 else 8] += 1
    return cm


def test_eval_reports_the_known_answer(known_case, tmp_path, capsys):
    models, data = known_case
    out = tmp_path / "report"
    assert main(["models", "eval", "grey", str(data), "--models-dir", str(models), "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["n"] == 20
    assert report["accuracy"] == pytest.approx(0.5)
    assert report["top2_accuracy"] == pytest.approx(1.0)
    assert report["confusion_matrix"] == _expected_confusion().tolist()
    recall = {name: row["recall"] for name, row in report["per_class"].items()}
    precision = {name: row["precision"] for name, row in report["per_class"].items()}
    assert all(r == pytest.approx(0.5) for r in recall.values())
    assert precision["Biological"] == pytest.approx(1.0)
    assert precision["Powder"] == pytest.approx(1 / 3)
    assert precision["Tips"] == pytest.approx(0.5)
    assert precision["Fibres"] == pytest.approx(0.5)
    op = report["operating"]
    assert op["accepted_fraction"] == pytest.approx(1.0) and op["accepted_accuracy"] == pytest.approx(0.5)
    assert op["review_fraction"] == 0 and op["unknown_fraction"] == 0
    assert report["ece"] == pytest.approx(0.5, abs=1e-3)  # confident everywhere, right half the time
    for png in ("confusion.png", "reliability.png"):
        with Image.open(out / png) as im:
            assert im.format == "PNG" and im.width > 300
    assert "accuracy 50.0 %" in capsys.readouterr().out


def test_report_on_hand_computed_probabilities():
    probs = np.array([[0.9, 0.1] + [0] * 8, [0.6, 0.4] + [0] * 8, [0.3, 0.5, 0.2] + [0] * 7,
                      [0.2, 0.3, 0.5] + [0] * 7])
    labels = np.array([0, 1, 1, 0])
    r = classification_report(probs, labels, CLASSES)
    assert r["accuracy"] == pytest.approx(0.5)  # rows 0 and 2 right
    assert r["top2_accuracy"] == pytest.approx(0.75)  # row 3's label 0 is third
    op = r["operating"]
    assert op["accepted_fraction"] == pytest.approx(0.25) and op["accepted_accuracy"] == pytest.approx(1.0)
    assert op["review_fraction"] == pytest.approx(0.75)
    assert op["review_top2_accuracy"] == pytest.approx(2 / 3)
    # bins: 0.9 right; 0.6 wrong; 0.5 right; 0.5 wrong → |1-.9|/4 + |0-.6|/4 + |0.5-0.5|·2/4
    assert r["ece"] == pytest.approx(0.1 / 4 + 0.6 / 4)
    assert expected_calibration_error(np.array([0.95, 0.95]), np.array([True, True])) == pytest.approx(0.05)


def test_eval_of_a_corrupt_model_fails_clearly(known_case, tmp_path, capsys):
    models, data = known_case
    blob = bytearray((models / "grey.onnx").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (models / "grey.onnx").write_bytes(bytes(blob))
    assert main(["models", "eval", "grey", str(data), "--models-dir", str(models)]) == 1
    assert "does not match its card" in capsys.readouterr().err
