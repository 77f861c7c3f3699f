"""Fixtures for the event bus: a real journal in tmp_path and real Bus instances on 127.0.0.1."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import zmq
from PIL import Image

from nanoaid_daemon.bus import Bus
from nanoaid_daemon.config import Settings
from nanoaid_daemon.events import Event, Summary
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.sidecar import (
    Classification,
    FrameInfo,
    ModelRef,
    Provenance,
    Sidecar,
    Software,
    Thresholds,
    sidecar_name,
)


@pytest.fixture
def state(tmp_path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def journal(state):
    j = Journal(state / "journal.sqlite3")
    yield j
    j.close()


def bus_settings(state: Path, **bus) -> Settings:
    settings = Settings(state_dir=state)
    settings.bus.heartbeat_s = 0.2
    for key, value in bus.items():
        setattr(settings.bus, key, value)
    return settings


@pytest.fixture
def make_bus(journal, state):
    """Start a Bus over the test journal; every one is stopped at the end of the test."""
    started: list[Bus] = []

    def make(j=None, **bus) -> Bus:
        b = Bus(bus_settings(state, **bus), j or journal, state)
        b.start()
        started.append(b)
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def append_many(journal: Journal, events: list[Event]) -> list[Event]:
    """Journal events in one transaction (the journal's own insert path; one fsync instead of n)."""
    with journal._write() as db:
        return [journal._insert_event(db, event) for event in events]


def emit(journal: Journal, bus: Bus | None, n: int, kind: str = "frame.failed", *, padding: str = "") -> list[Event]:
    """Commit ``n`` events, then tell the bus (as the daemon does after each commit)."""
    out = append_many(journal, [Event(type=kind, summary=Summary(reason=f"test {i}{padding}")) for i in range(n)])
    if bus is not None:
        bus.notify()
    return out


def png_bytes(seed: int) -> bytes:
    img = Image.new("L", (16, 12), color=seed % 256)
    img.putpixel((seed % 16, 3), 255 - seed % 256)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def processed_frame(journal: Journal, folder: Path, name: str, *, label: str = "Particles", seed: int = 1) -> str:
    """A real PNG frame, its sidecar, and its processed row + event in the journal; returns the frame id."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = folder / name
    frame.write_bytes(png_bytes(seed))
    frame_id = hashlib.sha256(frame.read_bytes()).hexdigest()
    sidecar = Sidecar(
        frame=FrameInfo(name=name, path=name, sha256=frame_id, size_bytes=frame.stat().st_size,
                        media_type="image/png", width_px=16, height_px=12, dtype="uint8", pages=1, databar_rows=0,
                        reader="generic"),
        classification=Classification(model=ModelRef(name="m", version="1", sha256="0" * 64),
                                      scores={label: 0.6}, label=label, score=0.6, decision="review",
                                      thresholds=Thresholds()),
        provenance=Provenance(software=Software(version="test"), config_hash="c"),
    )
    sidecar_path = folder / sidecar_name(name)
    sidecar_path.write_text(sidecar.to_json())
    stat = frame.stat()
    journal.complete(frame, size=stat.st_size, mtime_ns=stat.st_mtime_ns, frame_id=frame_id,
                     sidecar_path=str(sidecar_path),
                     event=Event(type="frame.processed", frame_id=frame_id, frame_path=str(frame),
                                 sidecar_path=str(sidecar_path),
                                 summary=Summary(label=label, score=0.6, decision="review", coherency=0.4)))
    return frame_id
