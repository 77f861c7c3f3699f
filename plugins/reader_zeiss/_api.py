"""Zeiss SmartSEM TIFF reader: every page carries its own 34118 header and gets its own metadata."""
from __future__ import annotations

import re
from pathlib import Path

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.frame import BY_HOST, ReadResult
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.plugins import PluginContext, Probe
from nanoaid_daemon.readkit import (
    MetadataBuilder,
    UnitError,
    databar_from_height,
    decode_text,
    detect_databar,
    frame_pages,
    guard,
    make_page,
    open_tiff,
    page_grey,
    parse_number,
    probe_has_tag,
    require_tiff,
    stored_shape,
    tag_bytes,
)

from ._cz_sem import CzSem, parse_cz_sem
from ._orion import ORION_XML_TAG, image_height, is_orion, orion_instrument, parse_image_tags

__all__ = ["create", "ZeissReader", "zeiss_instrument", "CZ_SEM_TAG"]

CZ_SEM_TAG = 34118
VENDOR = "Zeiss"
_DATE_FORMATS = ("%d %b %Y", "%d.%m.%Y", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y")
#: Unnamed leading values: 3 pixel size (m, 1024-px reference), 4 magnification, 6 EHT (V),
#: 8 probe current (A), 9 working distance (m).
_UNNAMED = ((4, "magnification", ""), (6, "beam_energy", "V"), (8, "beam_current", "A"), (9, "working_distance", "m"))
_STORE = re.compile(r"\s*(\d+)\s*[*x×]\s*(\d+)\s*")


def create(ctx: PluginContext) -> ZeissReader:
    return ZeissReader()


class ZeissReader:

    def sniff(self, probe: Probe) -> int:
        if probe_has_tag(probe, CZ_SEM_TAG):
            return 100
        return 60 if probe_has_tag(probe, ORION_XML_TAG) else 0  # ORION XML alone: a private tag, less sure

    def read(self, path: Path) -> ReadResult:
        path = Path(path)
        warnings: list[str] = []
        require_tiff(path)
        with guard(path, "Zeiss TIFF"), open_tiff(path) as tif:
            pages = [self._page(tif, page, index, path, warnings) for index, page in frame_pages(tif, path)]
        if not pages:
            raise ReaderError("TIFF contains no images", path=path, code="corrupt")
        return ReadResult(path, BY_HOST, "image/tiff", str(pages[0].pixels.dtype), pages, warnings)

    def _page(self, tif, page, index: int, path: Path, warnings: list[str]):
        data = page_grey(page, path, index)
        raw = tag_bytes(tif, page, CZ_SEM_TAG, path)
        header = parse_cz_sem(decode_text(raw)) if raw else CzSem()
        builder = MetadataBuilder(path, VENDOR, warnings)
        xml = tag_bytes(tif, page, ORION_XML_TAG, path)
        tags = parse_image_tags(decode_text(xml)) if xml else None
        if is_orion(header, tags):
            return self._orion_page(data, header, tags, builder)
        if header.empty:
            builder.warn(f"page {index}: the SmartSEM header (tag {CZ_SEM_TAG}) is missing or empty; "
                         "no instrument metadata for this page")
            return make_page(data, detect_databar(data), builder.build({}))
        height, width = stored_shape(data)
        instrument = zeiss_instrument(header, builder, width)
        # SmartSEM burns the data zone into the stored frame unless the store is taller than the
        # scan; the header does not say which, so an undeclared zone is found from the pixels.
        databar = _databar(header, height, width, builder) or detect_databar(data)
        return make_page(data, databar, instrument)


    def _orion_page(self, data, header: CzSem, tags, builder: MetadataBuilder):
        """Helium-ion frame: the XML's ImageHeight declares the image rows; else the pixels decide."""
        height, width = stored_shape(data)
        instrument = orion_instrument(tags, header, builder, width)
        databar = databar_from_height(height, image_height(tags), builder.warn, "XML ImageHeight")
        return make_page(data, detect_databar(data) if databar is None else databar, instrument)


def zeiss_instrument(header: CzSem, b: MetadataBuilder, width: int) -> Instrument:
    """Normalised metadata of one page from its parsed header."""
    v = header.value
    b.text("model", v("DP_SEM"))
    b.text("serial", v("SV_SERIAL_NUMBER"))
    b.text("software", v("SV_VERSION"))
    b.text("operator", v("SV_USER_NAME"))
    b.text("operator", v("SV_OPERATOR"))
    b.text("sample", v("SV_SAMPLE_ID"))
    b.text("detector", v("DP_DETECTOR_TYPE"))
    b.text("detector", v("DP_DETECTOR_CHANNEL"))
    b.date_time(v("AP_DATE"), v("AP_TIME"), _DATE_FORMATS, "AP_DATE/AP_TIME")
    b.quantity("beam_energy", v("AP_ACTUALKV"), "", "AP_ACTUALKV (EHT)")
    b.quantity("beam_current", v("AP_IPROBE"), "", "AP_IPROBE (I Probe)")
    b.quantity("working_distance", v("AP_WD"), "", "AP_WD")
    b.quantity("magnification", v("AP_MAG"), "", "AP_MAG")
    for index, field, unit in _UNNAMED:  # the same values in SI units, for headers that lack the names
        b.quantity(field, header.number(index), unit, f"unnamed header value {index}")
    _pixel_size(header, b, width)
    if not b.has("pixel_size.x"):
        b.quantity("horizontal_field_width", v("AP_WIDTH"), "", "AP_WIDTH")
    b.quantity("dwell_time", v("DP_DWELL_TIME"), "", "DP_DWELL_TIME")
    b.quantity("chamber_pressure", v("AP_CHAMBER_PRESSURE"), "", "AP_CHAMBER_PRESSURE")
    if (v("DP_SCAN_ROT") or "").lower() == "off":
        b.number("scan_rotation", 0.0, "deg", "DP_SCAN_ROT")
    b.quantity("scan_rotation", v("AP_SCANROTATION"), "", "AP_SCANROTATION")
    for axis in ("x", "y", "z"):
        b.quantity(f"stage.{axis}", v(f"AP_STAGE_AT_{axis.upper()}"), "", f"AP_STAGE_AT_{axis.upper()}")
    b.quantity("stage.tilt", v("AP_STAGE_AT_T"), "deg", "AP_STAGE_AT_T")
    b.quantity("stage.rotation", v("AP_STAGE_AT_R"), "deg", "AP_STAGE_AT_R")
    return b.build(header.raw(), width_px=width)


def _pixel_size(header: CzSem, b: MetadataBuilder, width: int) -> None:
    """True pixel size: the stored value refers to a 1024-px-wide image, so scale by 1024 / width."""
    reference = header.number(3)
    if reference is not None:
        try:
            metres = parse_number(reference)
        except UnitError:
            b.warn(f"unnamed header value 3 (pixel size) = {reference!r} is not a number")
        else:
            if b.number("pixel_size.x", metres * 1024 / width, "m", "unnamed header value 3 (pixel size)"):
                b.number("pixel_size.y", metres * 1024 / width, "m", "unnamed header value 3 (pixel size)")
                return
    if b.quantity("pixel_size.x", header.value("AP_IMAGE_PIXEL_SIZE"), "", "AP_IMAGE_PIXEL_SIZE"):
        b.quantity("pixel_size.y", header.value("AP_IMAGE_PIXEL_SIZE"), "", "AP_IMAGE_PIXEL_SIZE")
        return
    ref = header.value("AP_PIXEL_SIZE")
    if ref and b.quantity("pixel_size.x", ref, "", "AP_PIXEL_SIZE"):
        scaled = b.values["pixel_size.x"] * 1024 / width
        b.values["pixel_size.x"] = b.values["pixel_size.y"] = scaled


def _databar(header: CzSem, height: int, width: int, b: MetadataBuilder) -> int | None:
    """Rows below the store resolution (``DP_IMAGE_STORE = 1024 * 768``) are the data zone."""
    match = _STORE.fullmatch(header.value("DP_IMAGE_STORE") or "")
    if not match or int(match.group(1)) != width:
        return None
    return databar_from_height(height, int(match.group(2)), b.warn, "DP_IMAGE_STORE")
