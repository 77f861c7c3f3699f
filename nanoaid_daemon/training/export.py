"""ONNX graphs with the outputs the daemon relies on (see ``nanoaid_daemon.modelcard``), and cards.

The classifier graph returns, in one pass: calibrated probabilities (temperature folded in),
the alignment probability, the pooled embedding, the last feature map and the class activation
maps computed from that map and the head's weights. One self-contained file (no external
data), opset 18, dynamic batch.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write_text
from ..errors import ModelUnavailable
from ..modelcard import ModelCard, file_sha256
from .heads import LinearHead

if TYPE_CHECKING:
    from efficientnet_lite_pytorch import EfficientNet

__all__ = ["ClassifierGraph", "export_onnx", "check_onnx", "write_card", "OPSET"]

OPSET = 18


class ClassifierGraph(nn.Module):
    # registered buffers (torch types them only through Module.__getattr__)
    w: torch.Tensor
    b: torch.Tensor
    wa: torch.Tensor
    ba: torch.Tensor
    inv_t: torch.Tensor

    def __init__(self, backbone: EfficientNet, head: LinearHead, align: LinearHead, temperature: float):
        super().__init__()
        self.backbone = backbone
        self.register_buffer("w", torch.from_numpy(head.weight.astype(np.float32)))
        self.register_buffer("b", torch.from_numpy(head.bias.astype(np.float32)))
        self.register_buffer("wa", torch.from_numpy(align.weight.astype(np.float32)))
        self.register_buffer("ba", torch.from_numpy(align.bias.astype(np.float32)))
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature), dtype=torch.float32))

    def forward(self, image: torch.Tensor):
        features = self.backbone.extract_features(image)
        embedding = features.mean(dim=(2, 3))
        probs = torch.softmax(F.linear(embedding, self.w, self.b) * self.inv_t, dim=1)
        align_prob = torch.sigmoid(F.linear(embedding, self.wa, self.ba))
        cams = torch.einsum("ck,nkhw->nchw", self.w, features)
        return probs, align_prob, embedding, features, cams


CLASSIFIER_OUTPUTS = ["probs", "align_prob", "embedding", "features", "cams"]


def export_onnx(module: nn.Module, example: torch.Tensor, path: Path, output_names: list[str]) -> Path:
    """Export with a dynamic batch axis into one file; the exporter's chatter is kept quiet."""
    module.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    for name in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "torch.__trace", "onnxscript", "onnx_ir"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(tmp), input_names=["image"], output_names=output_names,
                          dynamic_shapes={"image": {0: torch.export.Dim("N", min=1, max=4096)}},
                          opset_version=OPSET, external_data=False, verbose=False)
    tmp.replace(path)
    return path


def check_onnx(path: Path, module: nn.Module, example: torch.Tensor, output_names: list[str],
               atol: float = 2e-4) -> dict:
    """Run the file in onnxruntime and compare every output with PyTorch; returns the max deviations."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = session.run(output_names, {"image": example.numpy()})
    with torch.no_grad():
        want = [t.numpy() for t in module(example)]
    deviations = {}
    for name, g, w in zip(output_names, got, want, strict=True):
        if g.shape != w.shape:
            raise ModelUnavailable(f"{path}: output {name} has shape {g.shape}, PyTorch gives {w.shape}")
        scale = max(1.0, float(np.abs(w).max()))
        deviations[name] = float(np.abs(g - w).max() / scale)
        if deviations[name] > atol:
            raise ModelUnavailable(f"{path}: output {name} deviates from PyTorch by {deviations[name]:.2e}")
    return deviations


def write_card(model_path: Path, fields: dict) -> Path:
    """Validate and write ``<name>.card.json`` beside the model, pinning its sha256 and size."""
    model_path = Path(model_path)
    card = ModelCard.model_validate({
        **fields,
        "file": model_path.name,
        "sha256": file_sha256(model_path),
        "size_bytes": model_path.stat().st_size,
        "opset": OPSET,
    })
    card_path = model_path.with_name(f"{card.name}.card.json")
    atomic_write_text(card_path, json.dumps(card.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")
    return card_path
