"""The adapted classifier as one ONNX file: the base graph with the fitted head added as ONNX ops.

The base graph's ``probs`` and ``cams`` are renamed ``base_probs`` and ``base_cams``; new nodes
compute from the frozen ``embedding`` and ``features``:

* ``probs``: softmax of the fitted head (temperature folded in) for the classes with support, the
  base probability for the others (head.mix_with_base, the same formula);
* ``cams``: Σ_k w_ck A_k with the fitted head's weights for supported classes, the base maps for
  the others;
* ``ood_score``: Mahalanobis distance per dimension to the nearest support class mean.

One self-contained file, so the runtime, ``nanoaid process`` and the daemon load it like the
shipped one; the head adds a 1280×10 matrix multiply and a rank-64 projection per frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ModelUnavailable
from .fit import Adapted

__all__ = ["build_adapted_onnx", "NEW_OUTPUTS"]

NEW_OUTPUTS = ("base_probs", "ood_score")
_RENAMED = {"probs": "base_probs", "cams": "base_cams"}


def _const(name: str, value: ArrayLike, dtype=np.float32):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def build_adapted_onnx(base_path: Path, adapted: Adapted, out_path: Path) -> None:
    """Write ``out_path``: the base model at ``base_path`` plus ``adapted``'s head."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(base_path))
    graph = model.graph
    names = [o.name for o in graph.output]
    for needed in ("probs", "cams", "embedding", "features"):
        if needed not in names:
            raise ModelUnavailable(f"base model {base_path} has no output {needed!r}; it cannot be adapted")
    for node in graph.node:
        node.output[:] = [_RENAMED.get(o, o) for o in node.output]
    for out in graph.output:
        if out.name in _RENAMED:
            out.name = _RENAMED[out.name]
    head, dist = adapted.head, adapted.distance
    n_classes, dim = head.weight.shape
    sup = head.supported.astype(np.float32)
    graph.initializer.extend([
        _const("ad_wt", head.weight.T), _const("ad_b", np.where(head.supported, head.bias, -1e4)),
        _const("ad_w", head.weight), _const("ad_sup", sup), _const("ad_miss", 1.0 - sup),
        _const("ad_sup4", head.supported.reshape(1, -1, 1, 1), np.bool_),
        _const("ad_scale", np.sqrt(dim)), _const("ad_eps", 1e-12), _const("ad_one", 1.0),
        _const("ad_ax1", [1], np.int64), _const("ad_ax2", [2], np.int64), _const("ad_shape4", [-1, 1, 1, 1], np.int64),
        _const("ad_means", dist.means), _const("ad_basis", dist.basis), _const("ad_bw", dist.basis_weight),
        _const("ad_floor_inv", 1.0 / dist.floor), _const("ad_dim_inv", 1.0 / dim),
    ])
    n = helper.make_node
    graph.node.extend([
        # x = embedding / |embedding| * sqrt(D)
        n("ReduceL2", ["embedding", "ad_ax1"], ["ad_norm"], keepdims=1),
        n("Max", ["ad_norm", "ad_eps"], ["ad_norm_c"]),
        n("Div", ["ad_scale", "ad_norm_c"], ["ad_s"]),
        n("Mul", ["embedding", "ad_s"], ["ad_x"]),
        # probs: head softmax on supported classes, base probability on the rest
        n("MatMul", ["ad_x", "ad_wt"], ["ad_xw"]), n("Add", ["ad_xw", "ad_b"], ["ad_logits"]),
        n("Softmax", ["ad_logits"], ["ad_hp"], axis=1),
        n("Mul", ["base_probs", "ad_miss"], ["ad_bmiss"]),
        n("ReduceSum", ["ad_bmiss", "ad_ax1"], ["ad_mass"], keepdims=1),
        n("Sub", ["ad_one", "ad_mass"], ["ad_rest"]),
        n("Mul", ["ad_hp", "ad_sup"], ["ad_hps"]), n("Mul", ["ad_hps", "ad_rest"], ["ad_hpm"]),
        n("Add", ["ad_hpm", "ad_bmiss"], ["probs"]),
        # cams: the fitted head's weights over the feature map, scaled like the embedding
        n("Einsum", ["ad_w", "features"], ["ad_cam"], equation="ck,nkhw->nchw"),
        n("Reshape", ["ad_s", "ad_shape4"], ["ad_s4"]), n("Mul", ["ad_cam", "ad_s4"], ["ad_cams"]),
        n("Where", ["ad_sup4", "ad_cams", "base_cams"], ["cams"]),
        # ood_score: min over class means of the low-rank Mahalanobis distance, per dimension
        n("Unsqueeze", ["ad_x", "ad_ax1"], ["ad_x3"]), n("Sub", ["ad_x3", "ad_means"], ["ad_diff"]),
        n("Mul", ["ad_diff", "ad_diff"], ["ad_sq"]), n("ReduceSum", ["ad_sq", "ad_ax2"], ["ad_iso0"], keepdims=0),
        n("Mul", ["ad_iso0", "ad_floor_inv"], ["ad_iso"]),
        n("MatMul", ["ad_diff", "ad_basis"], ["ad_proj"]), n("Mul", ["ad_proj", "ad_proj"], ["ad_p2"]),
        n("Mul", ["ad_p2", "ad_bw"], ["ad_p2w"]), n("ReduceSum", ["ad_p2w", "ad_ax2"], ["ad_corr"], keepdims=0),
        n("Add", ["ad_iso", "ad_corr"], ["ad_d2"]),
        n("ReduceMin", ["ad_d2", "ad_ax1"], ["ad_dmin"], keepdims=0),
        n("Mul", ["ad_dmin", "ad_dim_inv"], ["ood_score"]),
    ])
    f32 = TensorProto.FLOAT
    graph.output.extend([
        helper.make_tensor_value_info("probs", f32, ["N", n_classes]),
        helper.make_tensor_value_info("cams", f32, ["N", n_classes, None, None]),
        helper.make_tensor_value_info("ood_score", f32, ["N"]),
    ])
    onnx.checker.check_model(model)
    tmp = Path(out_path).with_name(Path(out_path).name + ".tmp")
    onnx.save(model, str(tmp))
    _fsync_rename(tmp, Path(out_path))


def _fsync_rename(tmp: Path, dest: Path) -> None:
    import os

    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
