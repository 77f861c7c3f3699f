"""Real frames and sidecars for the uploader's tests: small TIFFs, PNG previews, valid sidecars.

Nothing here imitates a part under test: the files are what the daemon writes, made with the same
pydantic models and the same file names, so the uploader sees exactly what it will see in service.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from nanoaid_daemon.atomic import atomic_write_text
from nanoaid_daemon.events import Event, Summary
from nanoaid_daemon.metadata import Instrument, Kilovolts, Nanometres, PixelSize
from nanoaid_daemon.sidecar import (
    CLASSES,
    Alignment,
    Classification,
    Correction,
    FrameInfo,
    Histogram,
    ModelRef,
    Preview,
    Provenance,
    Sidecar,
    Software,
    Thresholds,
    sidecar_name,
)

__all__ = ["FrameSpec", "make_frame", "correct", "processed_event", "corrected_event", "EventLog"]

MODEL = ModelRef(name="nffa-effnet-lite0", version="1.0.0", sha256="a" * 64)


@dataclass
class FrameSpec:
    """What a test wants a frame to be; everything has a plausible default."""

    name: str
    label: str = "Particles"
    score: float = 0.9
    coherency: float = 0.3
    aligned_fraction: float = 0.2
    vendor: str = "Zeiss"
    model: str = "GeminiSEM 500"
    serial: str = "SEM-01"
    detector: str = "SE2"
    beam_kv: float = 5.0
    mag: float = 20000.0
    pixel_nm: float = 2.5
    acquired_at: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc))
    operator: str = "alice"
    sample: str = "sample-A"
    previews: int = 1
    seed: int = 0


def _tiff_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rng.integers(0, 256, (48, 64), dtype=np.uint8))
    return buf.getvalue()


def _png_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed + 10_000_019)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _classification(spec: FrameSpec) -> Classification:
    rest = (1.0 - spec.score) / (len(CLASSES) - 1)
    scores = {c: (spec.score if c == spec.label else rest) for c in CLASSES}
    decision = "accepted" if spec.score >= 0.8 else "review" if spec.score >= 0.35 else "unknown"
    return Classification(model=MODEL, scores=scores, label=spec.label, score=spec.score, decision=decision,
                          thresholds=Thresholds())


def _alignment(spec: FrameSpec) -> Alignment:
    return Alignment(coherency=spec.coherency, orientation_deg=12.0, aligned_fraction=spec.aligned_fraction,
                     histogram=Histogram(bin_width_deg=90.0, start_deg=-90.0, counts=[0.5, 0.5]))


def _instrument(spec: FrameSpec) -> Instrument:
    return Instrument(vendor=spec.vendor, model=spec.model, serial=spec.serial, operator=spec.operator,
                      sample=spec.sample, acquired_at=spec.acquired_at, detector=spec.detector,
                      beam_energy=Kilovolts(value=spec.beam_kv), magnification=spec.mag,
                      pixel_size=PixelSize(x=Nanometres(value=spec.pixel_nm), y=Nanometres(value=spec.pixel_nm)))


def make_frame(folder: Path, spec: FrameSpec) -> tuple[Path, Path, Sidecar]:
    """Write ``spec.name`` (a TIFF), its previews and its sidecar into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = folder / spec.name
    data = _tiff_bytes(spec.seed)
    frame.write_bytes(data)
    previews = []
    for i in range(spec.previews):
        rel = f"{spec.name}.previews/{('thumbnail', 'ai_lens', 'cam')[i % 3]}.png"
        png = _png_bytes(spec.seed * 7 + i)
        (folder / rel).parent.mkdir(exist_ok=True)
        (folder / rel).write_bytes(png)
        previews.append(Preview(kind=rel.rsplit("/", 1)[1][:-4], path=rel, sha256=hashlib.sha256(png).hexdigest(),
                                media_type="image/png", width_px=16, height_px=16))
    sidecar = Sidecar(
        frame=FrameInfo(name=spec.name, path=spec.name, sha256=hashlib.sha256(data).hexdigest(),
                        size_bytes=len(data), media_type="image/tiff", width_px=64, height_px=48,
                        dtype="uint8", pages=1, databar_rows=0, reader="generic"),
        instrument=_instrument(spec), classification=_classification(spec), alignment=_alignment(spec),
        previews=previews, provenance=Provenance(software=Software(version="0.1.0"), config_hash="c" * 64),
    )
    path = folder / sidecar_name(spec.name)
    atomic_write_text(path, sidecar.to_json())
    return frame, path, sidecar


def correct(sidecar_path: Path, label: str, *, operator: str = "bob", comment: str | None = None) -> Sidecar:
    """Amend a sidecar the way the daemon does (nanoaid_daemon.corrections): a correction appended,
    version + 1, the model's classification left as it was."""
    old = Sidecar.model_validate_json(sidecar_path.read_text(encoding="utf-8"))
    previous = old.corrections[-1].label if old.corrections else (
        old.classification.label if old.classification else None)
    fix = Correction(label=label, previous_label=previous, operator=operator, comment=comment,
                     time=datetime.now(timezone.utc))
    new = old.model_copy(update={"version": old.version + 1, "corrections": [*old.corrections, fix]})
    atomic_write_text(sidecar_path, new.to_json())
    return new


def processed_event(seq: int, frame: Path, sidecar_path: Path, sidecar: Sidecar) -> Event:
    c = sidecar.classification
    return Event(seq=seq, type="frame.processed", frame_id=sidecar.frame.sha256, frame_path=str(frame),
                 sidecar_path=str(sidecar_path),
                 summary=Summary(label=c.label, score=c.score, decision=c.decision, status="ok") if c else None)


def corrected_event(seq: int, frame: Path, sidecar_path: Path, sidecar: Sidecar) -> Event:
    fix = sidecar.corrections[-1]
    return Event(seq=seq, type="label.corrected", frame_id=sidecar.frame.sha256, frame_path=str(frame),
                 sidecar_path=str(sidecar_path),
                 summary=Summary(label=fix.label, operator=fix.operator, previous_label=fix.previous_label))


class EventLog:
    """A JSON-lines event file, as ``nanoaid events`` prints them; the uploader can follow one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.seq = 0
        self.events: list[Event] = []

    def append(self, event_factory, *args) -> Event:
        self.seq += 1
        event = event_factory(self.seq, *args)
        self.events.append(event)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(event.to_json() + "\n")
        return event

    def frames(self, folder: Path, count: int, *, start: int = 0, **spec) -> list[tuple[Path, Path, Sidecar]]:
        made = []
        for i in range(start, start + count):
            frame, side, doc = make_frame(folder, FrameSpec(name=f"f{i:05d}.tif", seed=i, **spec))
            self.append(processed_event, frame, side, doc)
            made.append((frame, side, doc))
        return made
