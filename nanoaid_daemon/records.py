"""Turning a ReadResult into the sidecar's ``frame``, ``instrument`` and ``pages`` sections."""
from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from .frame import ReadResult
from .metadata import Instrument
from .sidecar import FrameInfo, PageMetadata

__all__ = ["instrument_zone", "localize", "frame_info", "page_sections", "relative_path"]


def instrument_zone(name: str | None) -> tzinfo | None:
    """The configured instrument time zone; None means "this host's zone rules" (see ``localize``)."""
    if name:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    return None


def localize(instrument: Instrument, zone: tzinfo | None) -> Instrument:
    """Attach the instrument's zone to a naive (local) acquisition time and say where it came from.

    With no configured zone the host's own rules are applied *for that date* (so a summer frame gets
    summer time), and the source says ``host``: a guess, named as one rather than hidden in an offset."""
    when = instrument.acquired_at
    if when is None:
        return instrument
    if when.tzinfo is not None:
        source = instrument.acquired_at_zone_source or "file"
        return instrument.model_copy(update={"acquired_at_zone_source": source})
    if zone is None:
        return instrument.model_copy(update={"acquired_at": when.astimezone(), "acquired_at_zone_source": "host"})
    return instrument.model_copy(update={"acquired_at": when.replace(tzinfo=zone),
                                         "acquired_at_zone_source": "instrument-setting"})


def relative_path(path: Path, root: Path | None) -> str:
    path = Path(path).absolute()
    if root is not None:
        try:
            return path.relative_to(Path(root).absolute()).as_posix()
        except ValueError:
            pass
    return path.name


def frame_info(read: ReadResult, *, sha256: str, size_bytes: int, root: Path | None) -> FrameInfo:
    page = read.primary
    return FrameInfo(
        name=read.path.name,
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


def page_sections(read: ReadResult, zone: tzinfo | None) -> list[PageMetadata]:
    if len(read.pages) < 2:
        return []
    return [PageMetadata(index=i, databar_rows=p.databar_rows, instrument=localize(p.instrument, zone))
            for i, p in enumerate(read.pages)]
