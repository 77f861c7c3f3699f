"""Small real ONNX models that honour the runtime's contract, and valid cards for them.

Built with the ``onnx`` helper API so they are tiny, exact and quick to make. The classifier's
weights are set by hand so that its evidence is known: feature channel 0 fires on bright places,
channel 1 on dark ones, and the Particles head weighs channel 0 heavily, so a bright object on a
dark background is called Particles and its class activation map lies on the object.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nanoaid_daemon.modelcard import ModelCard, file_sha256
from nanoaid_daemon.sidecar import CLASSES

OPSET = 17
PARTICLES = CLASSES.index("Particles")
FILMS = CLASSES.index("Films_Coated_Surface")


def _model(nodes, inputs, outputs, inits) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nanoaid-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _vi(name: str, dims: Sequence) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def classifier_weights(k: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w1 = np.zeros((k, 3, 1, 1), np.float32)
    b1 = np.zeros(k, np.float32)
    w1[0, :, 0, 0], b1[0] = 1 / 3, -1.0  # bright detector: normalised value above +1
    w1[1, :, 0, 0], b1[1] = -1 / 3, -1.0  # dark detector: below -1
    w1[2:, :, 0, 0] = rng.normal(0, 0.3, (k - 2, 3))
    head = rng.normal(0, 0.05, (len(CLASSES), k)).astype(np.float32)
    head[PARTICLES, 0] = 60.0
    head[FILMS, 1] = 1.0
    return {"w1": w1, "b1": b1, "head": head, "head_b": np.zeros(len(CLASSES), np.float32),
            "align_w": np.array([[2.0], [-2.0]] + [[0.0]] * (k - 2), np.float32), "align_b": np.zeros(1, np.float32)}


def _trunk_nodes() -> list:
    """image → features, embedding and the softmax head's logits: the part every test classifier shares."""
    return [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["pooled", "w1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["features"]),
        helper.make_node("GlobalAveragePool", ["features"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["embedding"]),
        helper.make_node("Gemm", ["embedding", "head", "head_b"], ["logits"], transB=1),
    ]


def classifier_onnx(size: int = 64, k: int = 4, fixed_probs: Sequence[float] | None = None,
                    batch: str | int = "N", seed: int = 0) -> bytes:
    """image [N,3,S,S] → probs, align_prob, embedding, features [N,K,S/4,S/4], cams [N,10,S/4,S/4]."""
    w = classifier_weights(k, seed)
    inits = dict(w, cam_w=w["head"].reshape(len(CLASSES), k, 1, 1))
    nodes = [
        *_trunk_nodes(),
        helper.make_node("Gemm", ["embedding", "align_w", "align_b"], ["align_logit"]),
        helper.make_node("Sigmoid", ["align_logit"], ["align_prob"]),
        helper.make_node("Conv", ["features", "cam_w"], ["cams"]),
    ]
    if fixed_probs is None:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
    else:  # the scores are constants: lets a test put the top score exactly on a threshold
        inits["zero"] = np.zeros(1, np.float32)
        inits["fixed"] = np.asarray(fixed_probs, np.float32).reshape(1, -1)
        nodes += [helper.make_node("Mul", ["logits", "zero"], ["nothing"]),
                  helper.make_node("Add", ["nothing", "fixed"], ["probs"])]
    h = size // 4
    outputs = [_vi("probs", [batch, 10]), _vi("align_prob", [batch, 1]), _vi("embedding", [batch, k]),
               _vi("features", [batch, k, h, h]), _vi("cams", [batch, 10, h, h])]
    return _model(nodes, [_vi("image", [batch, 3, size, size])], outputs, inits)


SCALE_INPUT = "field_width_um"


def scaled_classifier_onnx(size: int = 64, k: int = 4, seed: int = 0) -> bytes:
    """:func:`classifier_onnx` plus the optional input ``field_width_um`` [N, 1] (µm, NaN: unknown).

    Built as ``nanoaid train`` exports it: the input has a NaN default (an initializer of the same
    name), so a caller that does not feed it gets the scale-free answer. Known widths add
    ``ln(width) · s_c`` to each logit, with Films rising and Particles falling with the width: a
    bright object is Particles at 0.1 µm and Films at 1 mm.
    """
    w = classifier_weights(k, seed)
    scale_w = np.zeros((1, len(CLASSES)), np.float32)
    scale_w[0, FILMS], scale_w[0, PARTICLES] = 20.0, -20.0
    inits = dict(w, cam_w=w["head"].reshape(len(CLASSES), k, 1, 1), scale_w=scale_w,
                 one=np.ones((1, 1), np.float32))
    inits[SCALE_INPUT] = np.full((1, 1), np.nan, np.float32)  # the default: unknown
    nodes = [
        *_trunk_nodes(),
        helper.make_node("IsNaN", [SCALE_INPUT], ["unknown"]),
        helper.make_node("Where", ["unknown", "one", SCALE_INPUT], ["safe"]),
        helper.make_node("Log", ["safe"], ["log_width"]),
        helper.make_node("MatMul", ["log_width", "scale_w"], ["by_width"]),
        helper.make_node("Not", ["unknown"], ["known"]),
        helper.make_node("Cast", ["known"], ["known_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["by_width", "known_f"], ["scale_logits"]),
        helper.make_node("Add", ["logits", "scale_logits"], ["all_logits"]),
        helper.make_node("Softmax", ["all_logits"], ["probs"], axis=1),
        helper.make_node("Gemm", ["embedding", "align_w", "align_b"], ["align_logit"]),
        helper.make_node("Sigmoid", ["align_logit"], ["align_prob"]),
        helper.make_node("Conv", ["features", "cam_w"], ["cams"]),
    ]
    h = size // 4
    outputs = [_vi("probs", ["N", 10]), _vi("align_prob", ["N", 1]), _vi("embedding", ["N", k]),
               _vi("features", ["N", k, h, h]), _vi("cams", ["N", 10, h, h])]
    inputs = [_vi("image", ["N", 3, size, size]), _vi(SCALE_INPUT, ["M", 1])]
    return _model(nodes, inputs, outputs, inits)


SCALE_CARD = {"name": SCALE_INPUT, "shape": ["N", 1], "unit": "µm", "meaning": "test model"}


def autoencoder_onnx(size: int = 64, widths: Sequence[int] = (4, 8, 8), seed: int = 1) -> bytes:
    """image [N,1,S,S] → enc1…encK (stride-2 conv + ReLU each) and reconstruction [N,1,S,S]."""
    rng = np.random.default_rng(seed)
    nodes, inits, previous, channels = [], {}, "image", 1
    for depth, width in enumerate(widths, start=1):
        inits[f"w{depth}"] = rng.normal(0, 0.5, (width, channels, 3, 3)).astype(np.float32)
        inits[f"b{depth}"] = rng.normal(0, 0.1, width).astype(np.float32)
        nodes += [helper.make_node("Conv", [previous, f"w{depth}", f"b{depth}"], [f"pre{depth}"],
                                   kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"pre{depth}"], [f"enc{depth}"])]
        previous, channels = f"enc{depth}", width
    factor = float(2 ** len(widths))
    inits["wout"] = rng.normal(0, 0.3, (1, channels, 1, 1)).astype(np.float32)
    inits["scales"] = np.array([1, 1, factor, factor], np.float32)
    nodes += [helper.make_node("Conv", [previous, "wout"], ["small"]),
              helper.make_node("Resize", ["small", "", "scales"], ["reconstruction"], mode="nearest")]
    outputs = [_vi("reconstruction", ["N", 1, size, size])]
    outputs += [_vi(f"enc{d}", ["N", w, size >> d, size >> d]) for d, w in enumerate(widths, start=1)]
    return _model(nodes, [_vi("image", ["N", 1, size, size])], outputs, inits)


def write_model(folder: Path, name: str, data: bytes, task: str, size: int, channels: int,
                **card_fields) -> Path:
    """``<name>.onnx`` and a valid ``<name>.card.json`` in ``folder``; returns the card path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / f"{name}.onnx"
    model_path.write_bytes(data)
    spec = {"height": size, "width": size, "channels": channels,
            "mean": [0.5] * channels, "std": [0.25] * channels, "resize": "stretch"}
    spec.update(card_fields.pop("input", {}))
    try:
        outputs = [{"name": o.name, "shape": [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]}
                   for o in onnx.load_from_string(data).graph.output]
    except Exception:  # deliberately broken bytes: the card is still valid
        outputs = [{"name": "probs", "shape": ["N", 10]}]
    card_fields.setdefault("classes", list(CLASSES) if task == "classifier" else [])
    card = ModelCard(
        name=name, version="0.0.1-test", task=task, file=model_path.name, sha256=file_sha256(model_path),
        size_bytes=model_path.stat().st_size, opset=OPSET, input=spec, outputs=outputs,
        license="CC0-1.0", **card_fields,
    )
    card_path = folder / f"{name}.card.json"
    card_path.write_text(json.dumps(card.model_dump(mode="json"), indent=2), encoding="utf-8")
    return card_path


def write_standard_models(folder: Path, size: int = 64) -> Path:
    """The two models the analyzers use by default, under their default names."""
    write_model(folder, "nffa-classifier", classifier_onnx(size), "classifier", size, 3)
    write_model(folder, "sem-autoencoder", autoencoder_onnx(size), "autoencoder", size, 1)
    return Path(folder)
