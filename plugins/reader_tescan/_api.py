"""TESCAN reader: metadata from TIFF tag 50431 and/or the ``.hdr`` sidecar — the same either way."""
from __future__ import annotations

from pathlib import Path

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.frame import BY_HOST, ReadResult
from nanoaid_daemon.plugins import PluginContext, Probe
from nanoaid_daemon.readkit import (
    MetadataBuilder,
    decode_text,
    detect_databar,
    find_sibling,
    frame_pages,
    guard,
    image_kind,
    load_image,
    make_page,
    open_tiff,
    page_grey,
    parse_ini,
    peek_text,
    probe_has_tag,
    read_head,
    read_sidecar,
    stored_shape,
    tag_bytes,
)

from ._tescan import TESCAN_TAG, block_sections, merge_sections, parse_blocks, strip_rows, tescan_instrument

__all__ = ["create", "TescanReader"]

VENDOR = "TESCAN"


def create(ctx: PluginContext) -> TescanReader:
    return TescanReader()


def _hdr_looks_right(path: Path | None) -> bool:
    return "[MAIN]" in peek_text(path, 2048)


class TescanReader:

    def sniff(self, probe: Probe) -> int:
        try:
            if probe_has_tag(probe, TESCAN_TAG):
                return 100
            if image_kind(probe.head) and _hdr_looks_right(find_sibling(probe.path, ".hdr")):
                return 95
        except Exception:
            pass
        return 0

    def read(self, path: Path) -> ReadResult:
        path = Path(path)
        warnings: list[str] = []
        note = MetadataBuilder(path, warnings=warnings)
        with guard(path, "TESCAN image"):
            media_type, frames, embedded = self._pixels_and_tag(path, note)
            sections = merge_sections(embedded, self._hdr_sections(path, note))
            if not sections:
                note.warn("no TESCAN metadata found (tag 50431 and .hdr sidecar missing or empty)")
            pages = [self._page(data, sections, path, warnings) for data in frames]
        return ReadResult(path, BY_HOST, media_type, str(pages[0].pixels.dtype), pages, warnings)

    def _pixels_and_tag(self, path: Path, note: MetadataBuilder):
        if image_kind(read_head(path)) != "tiff":
            loaded = load_image(path)
            return loaded.media_type, loaded.pages, {}
        embedded: dict = {}
        with open_tiff(path) as tif:
            frames = []
            for index, page in frame_pages(tif, path):
                if index == 0:
                    embedded = self._tag_sections(tif, page, path, note)
                frames.append(page_grey(page, path, index))
        if not frames:
            raise ReaderError("TIFF contains no images", path=path, code="corrupt")
        return "image/tiff", frames, embedded

    def _tag_sections(self, tif, page, path: Path, note: MetadataBuilder) -> dict:
        raw = tag_bytes(tif, page, TESCAN_TAG, path)
        if not raw:
            return {}
        try:
            return block_sections(parse_blocks(raw, path))
        except ReaderError as exc:
            note.warn(f"tag {TESCAN_TAG} ignored: {exc}")
            return {}

    def _hdr_sections(self, path: Path, note: MetadataBuilder) -> dict:
        hdr = find_sibling(path, ".hdr")
        if hdr is None:
            return {}
        try:
            return parse_ini(decode_text(read_sidecar(hdr)))
        except ReaderError as exc:
            note.warn(f"sidecar {hdr.name} ignored: {exc}")
            return {}

    def _page(self, data, sections: dict, path: Path, warnings: list[str]):
        builder = MetadataBuilder(path, VENDOR, warnings)
        height, width = stored_shape(data)
        strip = strip_rows(sections, height, builder)
        instrument = tescan_instrument(sections, builder, width)
        return make_page(data, detect_databar(data) if strip is None else strip, instrument)
