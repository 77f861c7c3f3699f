"""Shared, defensive building blocks for reader plugins.

Everything here turns the many ways a file can be bad into a :class:`ReaderError` with a reason a
person can act on, and refuses to allocate more than the file could honestly hold. Third-party
readers are welcome to use it; the names below are the stable surface.

- ``safety``: size limits, ``check_dimensions``, ``guard`` (any failure → ReaderError)
- ``tiff``: ``open_tiff``, ``frame_pages``, ``tag_bytes``, ``tiff_page_pixels``, ``page_grey``
- ``decimate``: large pages read strip by strip and block-averaged to the analysis size (``Decimated``)
- ``images``: ``image_kind``, ``load_image`` (TIFF / PNG / JPEG / BMP → grey pages), media types
- ``pixels``: ``to_grey``, ``apply_palette``, ``analysis_dtype``
- ``text``: ``decode_text``, ``read_sidecar``, ``parse_ini``, ``parse_dollar_lines``, ``parse_xml``
- ``units``: strict numbers, vendor units, magnification strings
- ``fields``: ``MetadataBuilder`` (vendor values → fixed-unit ``Instrument`` with warnings)
- ``databar``: ``detect_databar``, ``databar_from_height``, ``make_page``, ``stored_shape``
- ``pairs``: ``SidecarImageReader``, the base of readers for an image + ``NAME.txt`` sidecar
"""
from __future__ import annotations

from .databar import databar_from_height, detect_databar, make_page, stored_shape
from .fields import FIELDS, MetadataBuilder, parse_datetime
from .images import (
    BMP_MAGIC,
    JPEG_MAGIC,
    PNG_MAGIC,
    LoadedImage,
    image_kind,
    load_image,
    media_type_for,
    not_an_image_message,
    pillow_array,
    read_head,
    read_pillow,
    require_tiff,
)
from .pairs import SidecarImageReader
from .pixels import analysis_dtype, apply_palette, to_grey
from .safety import (
    MAX_COMPRESSION_RATIO,
    MAX_HEADER_BYTES,
    MAX_PAGES,
    MAX_PIXELS,
    MAX_SIDECAR_BYTES,
    check_decoded_size,
    check_dimensions,
    guard,
)
from .text import (
    decode_text,
    find_sibling,
    ini_get,
    parse_dollar_lines,
    parse_ini,
    parse_xml,
    peek_text,
    read_sidecar,
    xml_get,
)
from .tiff import (
    TIFF_MAGICS,
    first_ifd_codes,
    frame_pages,
    open_tiff,
    page_grey,
    probe_has_tag,
    tag_bytes,
    tiff_page_pixels,
)
from .units import UnitError, convert, parse_magnification, parse_number, split_quantity

__all__ = [
    "MAX_PIXELS", "MAX_PAGES", "MAX_SIDECAR_BYTES", "MAX_HEADER_BYTES", "MAX_COMPRESSION_RATIO",
    "check_dimensions", "check_decoded_size", "guard",
    "TIFF_MAGICS", "first_ifd_codes", "probe_has_tag", "open_tiff", "frame_pages", "tag_bytes",
    "tiff_page_pixels", "page_grey",
    "PNG_MAGIC", "JPEG_MAGIC", "BMP_MAGIC", "image_kind", "media_type_for", "pillow_array",
    "LoadedImage",
    "load_image", "read_head", "read_pillow", "not_an_image_message", "require_tiff",
    "to_grey", "apply_palette", "analysis_dtype",
    "decode_text", "read_sidecar", "parse_ini", "ini_get", "parse_dollar_lines", "parse_xml", "xml_get",
    "find_sibling", "peek_text",
    "UnitError", "parse_number", "split_quantity", "parse_magnification", "convert",
    "FIELDS", "MetadataBuilder", "parse_datetime",
    "detect_databar", "databar_from_height", "make_page", "stored_shape",
    "SidecarImageReader",
]
