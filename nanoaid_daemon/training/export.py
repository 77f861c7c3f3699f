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
from .scale import N_SCALE, scale_features_torch

if TYPE_CHECKING:
    from efficientnet_lite_pytorch import EfficientNet

__all__ = ["ClassifierGraph", "export_onnx", "check_onnx", "write_card", "make_input_optional", "OPSET",
           "SCALE_INPUT"]

OPSET = 18
#: Name of the classifier's second, optional input (see ``training/scale.py``).
SCALE_INPUT = "field_width_um"


class ClassifierGraph(nn.Module):
    # registered buffers (torch types them only through Module.__getattr__)
    w: torch.Tensor
    b: torch.Tensor
    wa: torch.Tensor
    ba: torch.Tensor
    inv_t: torch.Tensor

    ws: torch.Tensor

    def __init__(self, backbone: EfficientNet, head: LinearHead, align: LinearHead, temperature: float,
                 scale: bool = False):
        """``scale``: the head's last ``N_SCALE`` columns weigh the field-width features (second input)."""
        super().__init__()
        self.backbone = backbone
        self.scale = scale
        weight = head.weight.astype(np.float32)
        embed = weight.shape[1] - N_SCALE if scale else weight.shape[1]
        self.register_buffer("w", torch.from_numpy(np.ascontiguousarray(weight[:, :embed])))
        self.register_buffer("ws", torch.from_numpy(np.ascontiguousarray(weight[:, embed:])))
        self.register_buffer("b", torch.from_numpy(head.bias.astype(np.float32)))
        self.register_buffer("wa", torch.from_numpy(align.weight.astype(np.float32)))
        self.register_buffer("ba", torch.from_numpy(align.bias.astype(np.float32)))
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature), dtype=torch.float32))

    def forward(self, image: torch.Tensor, field_width_um: torch.Tensor | None = None):
        features = self.backbone.extract_features(image)
        embedding = features.mean(dim=(2, 3))
        logits = F.linear(embedding, self.w, self.b)
        if self.scale and field_width_um is not None:
            logits = logits + F.linear(scale_features_torch(field_width_um), self.ws)
        probs = torch.softmax(logits * self.inv_t, dim=1)
        align_prob = torch.sigmoid(F.linear(embedding, self.wa, self.ba))
        cams = torch.einsum("ck,nkhw->nchw", self.w, features)
        return probs, align_prob, embedding, features, cams


CLASSIFIER_OUTPUTS = ["probs", "align_prob", "embedding", "features", "cams"]


def export_onnx(module: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], path: Path,
                output_names: list[str], input_names: tuple[str, ...] = ("image",)) -> Path:
    """Export with a dynamic batch axis into one file; the exporter's chatter is kept quiet.

    ``example`` is one tensor per name in ``input_names``; all share the batch axis.
    """
    examples = example if isinstance(example, tuple) else (example,)
    batch = torch.export.Dim("N", min=1, max=4096)
    module.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    for name in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "torch.__trace", "onnxscript", "onnx_ir"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, examples, str(tmp), input_names=list(input_names), output_names=output_names,
                          dynamic_shapes={name: {0: batch} for name in input_names},
                          opset_version=OPSET, external_data=False, verbose=False)
    tmp.replace(path)
    return path


def make_input_optional(path: Path, name: str, default: np.ndarray) -> None:
    """Give graph input ``name`` a default (an initializer of the same name, shape [1, …]).

    onnxruntime then runs the file without that input (old callers, ``nanoaid models eval``, the
    adaptation's base graph) and uses the fed value when there is one. The graph broadcasts the
    [1, …] default over the batch, so the symbolic batch axis of that input is renamed apart.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    if not any(i.name == name for i in graph.input):  # pragma: no cover - called right after the export
        raise ModelUnavailable(f"{path}: no graph input {name!r} to make optional")
    for i in graph.input:
        if i.name == name:
            i.type.tensor_type.shape.dim[0].dim_param = "N_" + name
    graph.initializer.append(numpy_helper.from_array(np.asarray(default, np.float32), name))
    del graph.value_info[:]  # the exporter's intermediate shapes tie every batch axis to "N"
    onnx.checker.check_model(model)
    tmp = Path(path).with_name(Path(path).name + ".partial")
    onnx.save(model, str(tmp))
    tmp.replace(path)


def check_onnx(path: Path, module: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...],
               output_names: list[str], atol: float = 2e-4, input_names: tuple[str, ...] = ("image",)) -> dict:
    """Run the file in onnxruntime and compare every output with PyTorch; returns the max deviations."""
    examples = example if isinstance(example, tuple) else (example,)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = session.run(output_names, {n: e.numpy() for n, e in zip(input_names, examples, strict=True)})
    with torch.no_grad():
        want = [t.numpy() for t in module(*examples)]
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
    fields_out = card.model_dump(mode="json", exclude={"scale_input"} if card.scale_input is None else None)
    atomic_write_text(card_path, json.dumps(fields_out, indent=2, ensure_ascii=False) + "\n")
    return card_path
