"""Turning a ReadResult into the sidecar's ``frame``, ``instrument`` and ``pages`` sections."""
from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from .frame import ReadResult
from .metadata import Instrument
from .paths import shown
from .sidecar import FrameInfo, PageMetadata

__all__ = ["instrument_zone", "localize", "frame_info", "page_sections", "relative_path"]


def instrument_zone(name: str | None) -> tzinfo:
    """The configured instrument time zone, else this host's local zone."""
    if name:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo  # type: ignore[return-value]


def localize(instrument: Instrument, zone: tzinfo) -> Instrument:
    """Attach the instrument's zone to a naive acquisition time (vendors store local time)."""
    when = instrument.acquired_at
    if when is None or when.tzinfo is not None:
        return instrument
    return instrument.model_copy(update={"acquired_at": when.replace(tzinfo=zone)})


def relative_path(path: Path, root: Path | None) -> str:
    path = Path(path).absolute()
    if root is not None:
        try:
            return shown(path.relative_to(Path(root).absolute()).as_posix()) or ""
        except ValueError:
            pass
    return shown(path.name) or ""


def frame_info(read: ReadResult, *, sha256: str, size_bytes: int, root: Path | None) -> FrameInfo:
    page = read.primary
    return FrameInfo(
        name=shown(read.path.name) or "",
        path=relative_path(read.path, root),
        sha256=sha256,
        size_bytes=size_bytes,
        media_type=read.media_type,
        width_px=page.stored_width_px,
        height_px=page.stored_height_px,
        dtype=read.dtype,
        pages=len(read.pages),
        databar_rows=page.databar_rows,
        reader=read.reader,
    )


def page_sections(read: ReadResult, zone: tzinfo) -> list[PageMetadata]:
    if len(read.pages) < 2:
        return []
    return [PageMetadata(index=i, databar_rows=p.databar_rows, instrument=localize(p.instrument, zone))
            for i, p in enumerate(read.pages)]
