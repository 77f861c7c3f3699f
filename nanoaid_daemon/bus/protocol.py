"""The request/reply protocol of the replay and command endpoints: JSON in, JSON out, never pickle.

A request is one ZeroMQ frame holding a UTF-8 JSON object with an ``op``. A reply starts with a
header frame, a JSON object with ``ok``; a ``since`` reply then carries one frame per event, byte
for byte the journal's JSON, which is also what the PUB socket sent. Anything a peer sends that
cannot be understood gets ``{"ok": false, "error": {"code": ..., "message": ...}}``: a peer can
never make the server raise.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from ..errors import BusError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_FRAMES",
    "RequestRejected",
    "SinceRequest",
    "SnapshotRequest",
    "PingRequest",
    "LabelRequest",
    "REPLAY_OPS",
    "COMMAND_OPS",
    "parse_request",
    "request_id",
    "ok_header",
    "error_header",
    "split_envelope",
]

#: ZeroMQ drops the connection of a peer that sends a larger frame (it is never read into memory).
MAX_MESSAGE_BYTES = 1 << 20
#: More frames than this in one request is refused without looking at them.
MAX_FRAMES = 8

_Prefix = Annotated[str, StringConstraints(max_length=64)]
_RequestId = Annotated[str, StringConstraints(max_length=128)] | Annotated[int, Field(ge=-(2**63), lt=2**63)]


class RequestRejected(BusError):
    """A request was refused; ``code`` is machine-readable, the message says what to change."""

    def __init__(self, code: str, message: str, *, rid=None):
        self.code = code
        self.rid = rid
        super().__init__(message)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: _RequestId | None = Field(None, description="Echoed in the reply, so a client can match it.")


class SinceRequest(_Request):
    """Journaled events with ``seq`` greater than ``seq``, oldest first, one page at a time."""

    op: Literal["since"]
    seq: int = Field(ge=0, lt=2**62)
    limit: int | None = Field(None, ge=1, lt=2**31, description="Page size; capped by the server.")
    types: list[_Prefix] = Field(default_factory=list, max_length=16, description="Type prefixes; empty: all.")


class SnapshotRequest(_Request):
    """Where the daemon stands now: last seq, counts and the most recently processed frames."""

    op: Literal["snapshot"]
    limit: int = Field(100, ge=0, le=1000, description="How many recent frames to include.")


class PingRequest(_Request):
    op: Literal["ping"]


class LabelRequest(_Request):
    """An operator says frame ``frame_id`` is really class ``label``."""

    op: Literal["label"]
    frame_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    label: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    operator: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


REPLAY_OPS: dict[str, type[_Request]] = {"since": SinceRequest, "snapshot": SnapshotRequest, "ping": PingRequest}
COMMAND_OPS: dict[str, type[_Request]] = {"label": LabelRequest, "ping": PingRequest}
_ADAPTERS: dict[int, TypeAdapter] = {}


def _adapter(ops: dict[str, type[_Request]]) -> TypeAdapter:
    key = id(ops)
    if key not in _ADAPTERS:
        # A Union over a run-time tuple of types has no `X | Y` spelling.
        union = Union[tuple(ops.values())]  # type: ignore[valid-type]  # noqa: UP007
        discriminated: Any = Annotated[union, Field(discriminator="op")]  # a type built at run time
        _ADAPTERS[key] = TypeAdapter(discriminated)
    return _ADAPTERS[key]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in err["loc"][1:]) or "request"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)[:500]


def request_id(doc: Any) -> Any:
    """The request's ``id`` if it is one we can echo safely, else None."""
    if isinstance(doc, dict):
        rid = doc.get("id")
        if isinstance(rid, str) and len(rid) <= 128:
            return rid
        if isinstance(rid, int) and not isinstance(rid, bool) and -(2**63) <= rid < 2**63:
            return rid
    return None


def parse_request(frame: bytes, ops: dict[str, type[_Request]], *, max_bytes: int) -> _Request:
    """Decode and validate one request frame, or raise RequestRejected saying why."""
    if len(frame) > max_bytes:
        raise RequestRejected("too_large", f"request is {len(frame)} bytes; the limit is {max_bytes}")
    try:
        doc = json.loads(frame)
    except (ValueError, RecursionError):
        raise RequestRejected("bad_json", "a request is one UTF-8 JSON object, e.g. {\"op\": \"ping\"}") from None
    if not isinstance(doc, dict):
        raise RequestRejected("bad_request", "a request is a JSON object with an 'op'")
    rid, op = request_id(doc), doc.get("op")
    if not isinstance(op, str) or op not in ops:
        raise RequestRejected("unknown_op", f"'op' must be one of: {', '.join(sorted(ops))}", rid=rid)
    try:
        return _adapter(ops).validate_python(doc)
    except ValidationError as exc:
        raise RequestRejected("invalid", f"{op} request is invalid: {_describe(exc)}", rid=rid) from None


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()


def ok_header(op: str, rid: Any = None, **fields: Any) -> bytes:
    doc: dict[str, Any] = {"ok": True, "op": op}
    if rid is not None:
        doc["id"] = rid
    doc.update(fields)
    return _dump(doc)


def error_header(code: str, message: str, rid: Any = None) -> bytes:
    doc: dict[str, Any] = {"ok": False}
    if rid is not None:
        doc["id"] = rid
    doc["error"] = {"code": code, "message": message}
    return _dump(doc)


def split_envelope(msg: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """ROUTER message → (routing envelope to echo, request frames).

    REQ peers put an empty delimiter after the identity, DEALER peers usually do not; both work.
    """
    envelope, rest = msg[:1], msg[1:]
    if rest and rest[0] == b"":
        return envelope + [b""], rest[1:]
    return envelope, rest
