"""Generic image reader: any TIFF tifffile (or Pillow) decodes, and PNG / JPEG / BMP via Pillow.

No vendor metadata, so: a pixel size only from an ImageJ calibration or physical resolution tags,
and the databar found from the pixels.
"""
from __future__ import annotations

from pathlib import Path

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.frame import BY_HOST, ReadResult
from nanoaid_daemon.plugins import PluginContext, Probe
from nanoaid_daemon.readkit import (
    MetadataBuilder,
    detect_databar,
    frame_pages,
    guard,
    image_kind,
    make_page,
    media_type_for,
    not_an_image_message,
    open_tiff,
    page_grey,
    read_head,
    read_pillow,
    stored_shape,
)

from ._calibration import tiff_calibration

__all__ = ["create", "GenericReader"]

_IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}


def create(ctx: PluginContext) -> GenericReader:
    return GenericReader()


class GenericReader:

    def sniff(self, probe: Probe) -> int:
        try:
            if image_kind(probe.head):
                return 10
            # An image name on something else: take it, so the rejection says what it is.
            return 1 if probe.suffix in _IMAGE_SUFFIXES and probe.head else 0
        except Exception:
            return 0

    def read(self, path: Path) -> ReadResult:
        path = Path(path)
        head = read_head(path, 64)
        if not head:
            raise ReaderError("file is empty (0 bytes)", path=path, code="empty")
        kind = image_kind(head)
        if kind is None:
            raise ReaderError(not_an_image_message(path, head), path=path, code="unsupported")
        warnings: list[str] = []
        with guard(path, "image"):
            if kind == "tiff":
                pages = self._tiff_pages(path, warnings)
            else:
                data = read_pillow(path)
                pages = [make_page(data, detect_databar(data), MetadataBuilder(path).build({}))]
        return ReadResult(path, BY_HOST, media_type_for(path, head), str(pages[0].pixels.dtype), pages, warnings)

    def _tiff_pages(self, path: Path, warnings: list[str]) -> list:
        pages = []
        with open_tiff(path) as tif:
            for index, page in frame_pages(tif, path):
                data = page_grey(page, path, index)
                builder = MetadataBuilder(path, warnings=warnings)
                calibration, raw = tiff_calibration(page)
                if calibration is not None:
                    builder.number("pixel_size.x", calibration[0], "nm", "TIFF calibration")
                    builder.number("pixel_size.y", calibration[1], "nm", "TIFF calibration")
                instrument = builder.build(raw, width_px=stored_shape(data)[1])
                pages.append(make_page(data, detect_databar(data), instrument))
        if not pages:
            raise ReaderError("TIFF contains no images", path=path, code="corrupt")
        return pages
