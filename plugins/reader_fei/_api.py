"""Thermo Fisher / FEI TIFF reader (INI header in tag 34682 or 34680, XML in 34683)."""
from __future__ import annotations

from pathlib import Path

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.frame import BY_HOST, ReadResult
from nanoaid_daemon.plugins import PluginContext, Probe
from nanoaid_daemon.readkit import (
    MetadataBuilder,
    databar_from_height,
    decode_text,
    detect_databar,
    frame_pages,
    guard,
    make_page,
    open_tiff,
    page_grey,
    parse_ini,
    parse_xml,
    probe_has_tag,
    require_tiff,
    stored_shape,
    tag_bytes,
)

from ._fei import FeiHeader, fei_instrument, image_rows

__all__ = ["create", "FeiReader", "INI_TAGS", "XML_TAG"]

INI_TAGS = (34682, 34680)  # FEI_HELIOS, FEI_SFEG
XML_TAG = 34683
VENDOR = "Thermo Fisher/FEI"


def create(ctx: PluginContext) -> FeiReader:
    return FeiReader()


class FeiReader:

    def sniff(self, probe: Probe) -> int:
        return 100 if probe_has_tag(probe, *INI_TAGS, XML_TAG) else 0

    def read(self, path: Path) -> ReadResult:
        path = Path(path)
        warnings: list[str] = []
        pages = []
        require_tiff(path)
        with guard(path, "FEI TIFF"), open_tiff(path) as tif:
            for index, page in frame_pages(tif, path):
                header = self._header(tif, page, path, warnings)
                pages.append(self._page(header, page_grey(page, path, index), path, warnings))
        if not pages:
            raise ReaderError("TIFF contains no images", path=path, code="corrupt")
        return ReadResult(path, BY_HOST, "image/tiff", str(pages[0].pixels.dtype), pages, warnings)

    def _header(self, tif, page, path: Path, warnings: list[str]) -> FeiHeader:
        ini_bytes = next((b for b in (tag_bytes(tif, page, t, path) for t in INI_TAGS) if b), None)
        ini = parse_ini(decode_text(ini_bytes)) if ini_bytes else {}
        xml = None
        xml_bytes = tag_bytes(tif, page, XML_TAG, path)
        if xml_bytes and xml_bytes.strip(b"\x00 \r\n\t"):
            try:
                xml = parse_xml(decode_text(xml_bytes), path)
            except ReaderError as exc:
                MetadataBuilder(path, warnings=warnings).warn(f"XML header (tag {XML_TAG}) ignored: {exc}")
        return FeiHeader(ini, xml)

    def _page(self, header: FeiHeader, data, path: Path, warnings: list[str]):
        builder = MetadataBuilder(path, VENDOR, warnings)
        if not header.ini and not header.xml:
            builder.warn("the FEI header tags are empty; no instrument metadata")
        height, width = stored_shape(data)
        instrument = fei_instrument(header, builder, width)
        rows, source = image_rows(header, builder)
        databar = databar_from_height(height, rows, builder.warn, source)
        if databar is None:  # no usable ResolutionY: the pixels, confirmed by DatabarHeight where it agrees
            databar = detect_databar(data, declared=_declared_bar(header))
        return make_page(data, databar, instrument)


def _declared_bar(header: FeiHeader) -> int | None:
    """``[PrivateFei] DatabarHeight``: often 0 or empty where a bar exists, so it only confirms."""
    raw = (header.i("PrivateFei", "DatabarHeight") or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None
