"""The autoencoder's encoder alone, for the AI lens: the decoder's work is skipped, not discarded.

onnxruntime runs every node of a graph whatever outputs are asked for, so asking the shipped
autoencoder for ``enc1`` … ``encK`` still pays for the reconstruction (about two thirds of its
cost). The lens shows encoder activations only, so it runs a copy of the graph cut down to the
nodes those outputs depend on. The cut is done on the ONNX protobuf's wire format (graph nodes,
outputs and initializers are plain length-delimited fields), so it needs no ``onnx`` package at
run time; the kept nodes are the same nodes with the same weights, so the activations are
bit-for-bit those of the whole model.

The cut graph is also freed of the card's fixed input size (:func:`any_size`): the encoder is
convolutions and pooling only, so it runs on a smaller input of the frame's own aspect ratio
when the montage's tiles need no more (see ``render.lens_size``). That edit uses the ``onnx``
package (a dependency already, for adapted classifiers); without it the card's size is used.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from nanoaid_daemon.batcher import Batcher
from nanoaid_daemon.errors import ModelUnavailable
from nanoaid_daemon.inference import Model, Runtime

__all__ = ["encoder_only", "any_size", "EncoderSessions"]

_LEN = 2  # wire type of strings, bytes and sub-messages
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_OUTPUT = 7, 1, 5, 12
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _NAME_OF_VALUE_INFO, _NAME_OF_TENSOR = 1, 2, 4, 1, 8
_CONTROL_FLOW = {"If", "Loop", "Scan"}  # subgraphs read outer names implicitly: not cut


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(field number, wire type, the field's raw bytes as written, its payload) in file order."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            payload = b""
        elif wire == 1:
            pos += 8
            payload = b""
        elif wire == _LEN:
            size, pos = _varint(data, pos)
            payload = data[pos:pos + size]
            pos += size
        elif wire == 5:
            pos += 4
            payload = b""
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, data[start:pos], payload


def _strings(message: bytes, number: int) -> list[str]:
    return [p.decode() for n, w, _, p in _fields(message) if n == number and w == _LEN]


def _field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _cut_graph(graph: bytes, outputs: Sequence[str]) -> bytes:
    fields = list(_fields(graph))
    nodes = [(i, p) for i, (n, _, _, p) in enumerate(fields) if n == _GRAPH_NODE]
    if any(_strings(p, _NODE_OP_TYPE)[:1] and _strings(p, _NODE_OP_TYPE)[0] in _CONTROL_FLOW for _, p in nodes):
        raise ValueError("graph has control-flow nodes")
    present = {name for n, _, _, p in fields if n == _GRAPH_OUTPUT for name in _strings(p, _NAME_OF_VALUE_INFO)}
    missing = [o for o in outputs if o not in present]
    if missing:
        raise ValueError(f"graph has no output {missing[0]!r}")
    needed, keep = set(outputs), set()
    for index, node in reversed(nodes):
        if needed.intersection(_strings(node, _NODE_OUTPUT)):
            keep.add(index)
            needed.update(_strings(node, _NODE_INPUT))
    out = bytearray()
    for index, (number, _, raw, payload) in enumerate(fields):
        if number == _GRAPH_NODE and index not in keep:
            continue
        if number == _GRAPH_OUTPUT and not set(_strings(payload, _NAME_OF_VALUE_INFO)) & set(outputs):
            continue
        if number == _GRAPH_INITIALIZER and not set(_strings(payload, _NAME_OF_TENSOR)) & needed:
            continue
        out += raw
    return bytes(out)


def encoder_only(model_bytes: bytes, outputs: Sequence[str]) -> bytes:
    """The ONNX model cut down to the nodes, outputs and weights that ``outputs`` depend on."""
    out = bytearray()
    for number, wire, raw, payload in _fields(model_bytes):
        out += _field(number, _cut_graph(payload, outputs)) if number == _MODEL_GRAPH and wire == _LEN else raw
    return bytes(out)


def any_size(model_bytes: bytes) -> bytes | None:
    """The model with the height and width of its [N, C, H, W] input and outputs left free, and its
    recorded intermediate shapes dropped (they would hold the card's size); None when it cannot
    (no ``onnx`` package, or an input or output that is not 4-D)."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) != 4:
            return None
        for index, name in ((2, "height"), (3, "width")):
            dims[index].Clear()
            dims[index].dim_param = name
    del graph.value_info[:]
    return bytes(model.SerializeToString())


class EncoderSessions:
    """One cut-down session per loaded autoencoder, made on first use and dropped when it reloads.

    The session takes the runtime's providers and thread count, and a batcher of its own, so
    concurrent frames share runs exactly as they do on the whole model (frames of other sizes
    wait for runs of their own: the batcher stacks equal shapes only).
    """

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._lock = threading.Lock()
        self._made: tuple[Model, tuple[str, ...], Batcher | None, bool] | None = None

    def takes_any_size(self, model: Model, outputs: Sequence[str]) -> bool:
        """Whether :meth:`infer` accepts inputs of any height and width for these outputs."""
        return self._session_for(model, tuple(outputs))[1]

    def infer(self, model: Model, tensor: np.ndarray, outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """``outputs`` of ``model`` for one input [C, H, W], from the encoder-only graph when it can be cut."""
        wanted = tuple(outputs)
        batcher = self._session_for(model, wanted)[0]
        if batcher is None:
            return model.infer(tensor[None], wanted)
        return batcher.submit(np.ascontiguousarray(tensor[None], dtype=np.float32), wanted)

    def _session_for(self, model: Model, wanted: tuple[str, ...]) -> tuple[Batcher | None, bool]:
        made = self._made
        if made is not None and made[0] is model and made[1] == wanted:
            return made[2], made[3]
        with self._lock:
            made = self._made
            if made is None or made[0] is not model or made[1] != wanted:
                made = (model, wanted, *self._make(model, wanted))
                self._made = made
            return made[2], made[3]

    def _make(self, model: Model, wanted: tuple[str, ...]) -> tuple[Batcher | None, bool]:
        """(batcher of the cut graph, whether it takes any input size); (None, False): whole model."""
        data = model.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != model.card.sha256:
            raise ModelUnavailable(f"model file {model.path} changed on disk since it was loaded; "
                                   "it is reloaded once its card matches it again")
        try:
            cut = encoder_only(data, wanted)
        except (ValueError, IndexError, UnicodeDecodeError):  # not a graph this cut understands
            return None, False
        free = any_size(cut)
        session = _session(free if free is not None else cut, self.runtime)
        names = [o.name for o in session.get_outputs()]
        input_name = model.input_name

        def run(stacked: np.ndarray, outs: list[str]) -> dict[str, np.ndarray]:
            return dict(zip(outs, session.run(outs, {input_name: stacked}), strict=True))

        if sorted(names) != sorted(wanted):
            return None, False
        return Batcher(run, model.max_batch), free is not None


def _session(model_bytes: bytes, runtime: Runtime) -> Any:
    """A session configured as the runtime configures its own (threads, no spinning, providers)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = runtime.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(model_bytes, options, providers=list(runtime.providers))
