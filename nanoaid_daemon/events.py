"""The event contract ``nanoaid.event/1``: ZeroMQ multipart ``[topic, json]``, JSON only.

Every event except heartbeats is appended to the journal with the next gap-free ``seq``.
Heartbeats are not journaled: their ``seq`` is null and ``last_seq`` tells a subscriber what the
newest journaled event is, so it can detect a gap and replay.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EVENT_SCHEMA_VERSION", "EVENT_TYPES", "EventType", "Summary", "AdaptedModel", "Event"]

EVENT_SCHEMA_VERSION: Final = "nanoaid.event/1"

EventType = Literal[
    "frame.processed",
    "frame.failed",
    "frame.rejected",
    "label.corrected",
    "model.adapted",
    "daemon.heartbeat",
    "daemon.started",
    "daemon.stopping",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class Summary(BaseModel):
    """The headline of a processed frame, so subscribers need not open the sidecar."""

    model_config = ConfigDict(extra="forbid")
    label: str | None = None
    score: float | None = None
    decision: Literal["accepted", "review", "unknown"] | None = None
    coherency: float | None = None
    status: Literal["ok", "partial", "failed"] | None = None
    reason: str | None = Field(None, description="Why a frame was rejected or failed, in words.")
    operator: str | None = Field(None, description="Who corrected a label.")
    previous_label: str | None = None


class AdaptedModel(BaseModel):
    """``model.adapted``: which classifier later frames name, and its cross-validated figures."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    name: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    base_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    support: dict[str, int] = Field(default_factory=dict, description="Labelled frames per class.")
    metrics: dict[str, float | int | None] = Field(default_factory=dict, description="Cross-validated on the support.")
    reason: str | None = Field(
        None, description="'corrections', 'seed' (nanoaid models adapt --into-state) or 'rollback'."
    )


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["nanoaid.event/1"] = EVENT_SCHEMA_VERSION
    seq: int | None = Field(None, ge=1, description="Journal sequence number; null for heartbeats.")
    last_seq: int | None = Field(None, ge=0, description="Heartbeats: the newest journaled seq.")
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: EventType
    time: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    frame_id: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    frame_path: str | None = Field(None, description="Absolute path of the frame file.")
    sidecar_path: str | None = Field(None, description="Absolute path of the sidecar file.")
    summary: Summary | None = None
    model: AdaptedModel | None = Field(None, description="model.adapted: the classifier now in use.")

    @property
    def topic(self) -> bytes:
        return self.type.encode()

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    def frames(self) -> list[bytes]:
        """The two ZeroMQ message parts."""
        return [self.topic, self.to_json().encode()]
