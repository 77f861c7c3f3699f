"""What the replay and command endpoints answer: request frames in, reply frames out.

Pure request handling, no sockets: ``handle`` never raises, whatever the frames hold. The
replay endpoint reads the journal; the command endpoint applies operator corrections.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone

from .protocol import (
    COMMAND_OPS,
    REPLAY_OPS,
    LabelRequest,
    RequestRejected,
    SinceRequest,
    SnapshotRequest,
    error_header,
    ok_header,
    parse_request,
)

__all__ = ["ReplayService", "CommandService", "MAX_REPLY_BYTES"]

log = logging.getLogger(__name__)

#: A ``since`` page stops early once its events reach this many bytes (at least one event is sent).
MAX_REPLY_BYTES = 4 << 20


class _Service:
    ops: dict = {}

    def __init__(self, *, max_request_bytes: int):
        self._max_request_bytes = max_request_bytes

    def handle(self, frames: list[bytes]) -> list[bytes]:
        """Reply frames for one request's frames (envelope already removed). Never raises."""
        rid = None
        try:
            if len(frames) != 1:
                raise RequestRejected("bad_request", f"a request is exactly one frame, got {len(frames)}")
            request = parse_request(frames[0], self.ops, max_bytes=self._max_request_bytes)
            rid = request.id
            return self.answer(request, rid)
        except RequestRejected as exc:
            return [error_header(exc.code, str(exc), exc.rid if exc.rid is not None else rid)]
        except Exception as exc:  # a bug or a broken journal must not take the endpoint down
            log.exception("bus: request handling failed")
            return [error_header("internal", f"the daemon could not answer: {type(exc).__name__}", rid)]

    def answer(self, request, rid) -> list[bytes]:  # pragma: no cover - abstract
        raise NotImplementedError


class ReplayService(_Service):
    """``since`` (paged, bounded), ``snapshot`` and ``ping`` from the journal."""

    ops = REPLAY_OPS

    def __init__(self, journal, *, page_max: int, max_request_bytes: int, max_reply_bytes: int = MAX_REPLY_BYTES):
        super().__init__(max_request_bytes=max_request_bytes)
        self._journal = journal
        self._page_max = page_max
        self._max_reply_bytes = max_reply_bytes

    def answer(self, request, rid) -> list[bytes]:
        if isinstance(request, SinceRequest):
            return self._since(request, rid)
        if isinstance(request, SnapshotRequest):
            return [self._snapshot(request, rid)]
        return [ok_header("ping", rid, last_seq=self._journal.last_seq(), time=_now())]

    def _since(self, req: SinceRequest, rid) -> list[bytes]:
        limit = min(req.limit or self._page_max, self._page_max)
        bodies = self._journal.events_since(req.seq, limit)
        last_seq = self._journal.last_seq()
        until, size = req.seq, 0
        events: list[bytes] = []
        for body in bodies:
            doc = json.loads(body)
            if events and size + len(body) > self._max_reply_bytes:
                break
            until = int(doc["seq"])
            if not req.types or doc["type"].startswith(tuple(req.types)):
                events.append(body.encode())
                size += len(body)
        header = ok_header("since", rid, since=req.seq, until=until, last_seq=last_seq, more=until < last_seq,
                           count=len(events))
        return [header, *events]

    def _snapshot(self, req: SnapshotRequest, rid) -> bytes:
        status = self._journal.dump_status()
        frames = [_frame_doc(f) for f in self._journal.recent_frames(req.limit)] if req.limit else []
        return ok_header("snapshot", rid, last_seq=status["last_seq"], files=status["files"],
                         frames_processed=status["frames_processed"], frames=frames, time=_now())


def _frame_doc(frame) -> dict:
    doc = {k: v for k, v in asdict(frame).items() if v is not None}
    if isinstance(doc.get("processed_at"), float):
        doc["processed_at"] = datetime.fromtimestamp(doc["processed_at"], timezone.utc).isoformat()
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in doc.items()}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class CommandService(_Service):
    """``label`` (an operator correction) and ``ping``."""

    ops = COMMAND_OPS

    def __init__(self, corrections, notify: Callable[[], None], *, max_request_bytes: int):
        super().__init__(max_request_bytes=max_request_bytes)
        self._corrections = corrections
        self._notify = notify

    def answer(self, request, rid) -> list[bytes]:
        if not isinstance(request, LabelRequest):
            return [ok_header("ping", rid, time=_now())]
        from ..corrections import CorrectionRejected

        try:
            applied = self._corrections.apply_full(request.frame_id, request.label, operator=request.operator,
                                                   comment=request.comment)
        except CorrectionRejected as exc:
            raise RequestRejected(exc.code, str(exc)) from None
        self._notify()
        event = applied.event
        summary = event.summary
        return [ok_header("label", rid, seq=event.seq, event_id=event.event_id, frame_id=event.frame_id,
                          label=summary.label if summary else request.label,
                          previous_label=summary.previous_label if summary else None,
                          sidecar_version=applied.sidecar_version, sidecar_path=str(applied.sidecar_path))]
