"""The sidecar contract ``nanoaid.sidecar/1``: one JSON document per frame.

These pydantic models are the source of truth; ``schemas/sidecar.schema.json`` is generated from
them (``nanoaid schema sidecar``) and a test fails when the two drift.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from .jsonld import sidecar_context
from .metadata import Instrument
from .states import ACCEPT_THRESHOLD, REVIEW_THRESHOLD

__all__ = [
    "SCHEMA_VERSION",
    "SIDECAR_SUFFIX",
    "CLASSES",
    "FrameInfo",
    "ModelRef",
    "Thresholds",
    "Classification",
    "Histogram",
    "Alignment",
    "Preview",
    "Software",
    "Provenance",
    "SectionError",
    "Correction",
    "PageMetadata",
    "Sidecar",
    "sidecar_name",
]

SCHEMA_VERSION: Final = "nanoaid.sidecar/1"
SIDECAR_SUFFIX = ".nanoaid.json"

#: The 10 NFFA-Europe SEM morphology classes, in the order every model uses.
CLASSES: tuple[str, ...] = (
    "Biological",
    "Fibres",
    "Films_Coated_Surface",
    "MEMS_devices_and_electrodes",
    "Nanowires",
    "Particles",
    "Patterned_surface",
    "Porous_Sponge",
    "Powder",
    "Tips",
)



def sidecar_name(frame_name: str) -> str:
    """Sidecar file name for a frame: its full name plus ``.nanoaid.json``."""
    return frame_name + SIDECAR_SUFFIX


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrameInfo(_Section):
    name: str = Field(description="File name of the frame, extension included.")
    path: str = Field(description="Path relative to the watch root, '/'-separated.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file content: the frame id.")
    size_bytes: int = Field(ge=0)
    media_type: str = Field(description="IANA media type, e.g. image/tiff.")
    width_px: int = Field(ge=1, description="Stored image width, databar included.")
    height_px: int = Field(ge=1, description="Stored image height, databar included.")
    dtype: str = Field(description="Stored sample type, e.g. uint8, uint16, float32.")
    pages: int = Field(ge=1, description="Number of images in the file; page 0 is analysed.")
    databar_rows: int = Field(ge=0, description="Rows at the bottom taken by the vendor databar.")
    reader: str = Field(description="Name of the reader plugin that read the file.")


class ModelRef(_Section):
    name: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Thresholds(_Section):
    accept: float = Field(ACCEPT_THRESHOLD, ge=0, le=1, description="Top score at or above this: accepted.")
    review: float = Field(REVIEW_THRESHOLD, ge=0, le=1,
                          description="Top score at or above this: review; below: unknown.")


class Classification(_Section):
    model: ModelRef
    scores: dict[str, float] = Field(description="Calibrated probability for each of the 10 classes.")
    label: str
    score: float = Field(ge=0, le=1, description="The top score.")
    decision: Literal["accepted", "review", "unknown"]
    suggestions: list[str] = Field(
        default_factory=list, description="Classes offered to the operator (top two when in review)."
    )
    thresholds: Thresholds
    views: str = Field("full", description="How the frame was viewed, e.g. 'full' or 'centre+4tiles'.")
    ood_score: float | None = Field(
        None, ge=0, description="Distance to the frames the model was adapted on (≈1 for frames like them)."
    )
    ood_threshold: float | None = Field(None, ge=0, description="Above this the frame is unfamiliar: never accepted.")
    prediction_set: list[str] | None = Field(
        None, description="Conformal prediction set: holds the true class for ≥ 90 % of frames like the support."
    )


class Histogram(_Section):
    bin_width_deg: float = Field(gt=0)
    start_deg: float = Field(description="Lower edge of the first bin.")
    counts: list[float] = Field(description="Energy-weighted share per bin; sums to 1.")


class Alignment(_Section):
    coherency: float = Field(ge=0, le=1, description="Energy-weighted global OrientationJ coherency.")
    orientation_deg: float = Field(
        description="Dominant orientation in [-90, 90): 0 = image x-axis, counter-clockwise positive."
    )
    aligned_fraction: float = Field(ge=0, le=1, description="Share of energy within ±15° of the dominant orientation.")
    histogram: Histogram
    learned_score: float | None = Field(None, ge=0, le=1,
                                        description="The classifier's alignment head, when available.")
    method: dict[str, Any] = Field(default_factory=dict, description="Window sigma, gradient kernel, etc.")
    meaningful: bool = Field(True, description="False when the label is not Nanowires/Fibres.")


class Preview(_Section):
    kind: str = Field(description="e.g. 'thumbnail', 'ai_lens', 'cam'.")
    path: str = Field(description="Path relative to the sidecar's folder.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    media_type: str
    width_px: int = Field(ge=1)
    height_px: int = Field(ge=1)


class Software(_Section):
    name: str = "nanoaid-daemon"
    version: str


class Provenance(_Section):
    software: Software
    config_hash: str = Field(description="SHA-256 of the effective configuration.")
    model_hashes: dict[str, str] = Field(default_factory=dict, description="Model name to SHA-256, every model used.")
    models: list[ModelRef] = Field(
        default_factory=list, description="Every model that shaped this record (name, version, SHA-256), in use order."
    )
    plugins: dict[str, str] = Field(default_factory=dict, description="Plugin name to version, those that ran.")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="Wall time per pipeline step.")


class SectionError(_Section):
    code: str = Field(description="Machine-readable reason, e.g. 'timeout', 'model_unavailable'.")
    message: str


class Correction(_Section):
    label: str = Field(description="The class the operator says is right.")
    previous_label: str | None = Field(None, description="The label before this correction.")
    operator: str
    comment: str | None = None
    time: datetime


class PageMetadata(_Section):
    index: int = Field(ge=0)
    databar_rows: int = Field(ge=0)
    instrument: Instrument


class Sidecar(BaseModel):
    """A frame's FAIR record. Plain JSON with ``@context``, so it is JSON-LD as well."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    context: dict[str, Any] = Field(default_factory=sidecar_context, alias="@context")
    schema_version: Literal["nanoaid.sidecar/1"] = SCHEMA_VERSION
    id: str = Field(default_factory=lambda: uuid.uuid4().urn, pattern=r"^urn:uuid:[0-9a-f-]{36}$")
    version: int = Field(1, ge=1, description="Increases when the record is amended, e.g. by a correction.")
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    frame: FrameInfo
    instrument: Instrument = Field(default_factory=Instrument)
    pages: list[PageMetadata] = Field(
        default_factory=list, description="Per-page metadata of multi-page files (empty for one page)."
    )
    classification: Classification | None = None
    alignment: Alignment | None = None
    previews: list[Preview] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(
        default_factory=dict, description="Sections of third-party analyzers, keyed by plugin name."
    )
    corrections: list[Correction] = Field(default_factory=list, description="Operator corrections, oldest first.")
    provenance: Provenance
    status: Literal["ok", "partial", "failed"] = "ok"
    errors: dict[str, SectionError] = Field(default_factory=dict, description="Per-section errors.")
    warnings: list[str] = Field(default_factory=list, description="Reader warnings (odd vendor values).")
    license: str = Field("CC-BY-4.0", description="Licence of this record (SPDX id).")

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=2) + "\n"
