"""Readers for an image plus a vendor text sidecar with the same stem (``NAME.tif`` + ``NAME.txt``).

The sidecar is metadata, never a frame: the watcher only sees the image, and the reader looks
beside it. A missing or broken sidecar costs the metadata (with a warning), never the frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ReaderError
from ..frame import BY_HOST, ReadResult
from ..metadata import Instrument
from .databar import databar_from_height, detect_databar, make_page, stored_shape
from .fields import MetadataBuilder
from .images import image_kind, load_image
from .safety import guard
from .text import decode_text, find_sibling, peek_text, read_sidecar

__all__ = ["SidecarImageReader"]


class SidecarImageReader:
    """Base class: subclasses say how to recognise, parse and map their sidecar."""

    vendor = ""
    suffix = ".txt"
    score = 95

    def matches(self, text: str) -> bool:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def instrument(self, header: Any, builder: MetadataBuilder, width: int) -> Instrument:
        raise NotImplementedError

    def image_rows(self, header: Any, width: int) -> int | None:
        """Declared height of the image proper when its width is ``width``; None when unknown."""
        return None

    def sniff(self, probe) -> int:
        try:
            if image_kind(probe.head) and self.matches(peek_text(find_sibling(probe.path, self.suffix))):
                return self.score
        except Exception:
            pass
        return 0

    def read(self, path: Path) -> ReadResult:
        path = Path(path)
        warnings: list[str] = []
        with guard(path, f"{self.vendor} image"):
            loaded = load_image(path)
            header = self._header(path, MetadataBuilder(path, warnings=warnings))
            pages = [self._page(data, header, path, warnings) for data in loaded.pages]
        return ReadResult(path, BY_HOST, loaded.media_type, str(pages[0].pixels.dtype), pages, warnings)

    def _header(self, path: Path, note: MetadataBuilder) -> Any:
        sidecar = find_sibling(path, self.suffix)
        if sidecar is None:
            note.warn(f"no {self.vendor} sidecar {path.stem}{self.suffix} beside the image; no metadata")
            return None
        try:
            text = decode_text(read_sidecar(sidecar))
        except ReaderError as exc:
            note.warn(f"sidecar {sidecar.name} ignored: {exc}")
            return None
        if not self.matches(text):
            note.warn(f"sidecar {sidecar.name} is not a {self.vendor} header; no metadata")
            return None
        return self.parse(text)

    def _page(self, data, header: Any, path: Path, warnings: list[str]):
        builder = MetadataBuilder(path, self.vendor, warnings)
        height, width = stored_shape(data)
        if header is None:
            return make_page(data, detect_databar(data), builder.build({}))
        instrument = self.instrument(header, builder, width)
        databar = databar_from_height(height, self.image_rows(header, width), builder.warn,
                                      f"the {self.vendor} sidecar")
        return make_page(data, detect_databar(data) if databar is None else databar, instrument)
