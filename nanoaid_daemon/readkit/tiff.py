"""Defensive TIFF access: open, list frame pages, read raw tags, decode pixels.

tifffile does the decoding; this module checks what a file claims (dimensions, where its data
lies, how much it would inflate) before anything is allocated, and falls back to Pillow for the
compressions tifffile needs an optional codec package for (LZW, PackBits, JPEG).
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import ReaderError
from .decimate import block_mean, decimation_factor, read_decimated
from .pixels import analysis_dtype, apply_palette, to_grey
from .safety import MAX_HEADER_BYTES, MAX_PAGES, MAX_PIXELS, check_decoded_size, check_dimensions

__all__ = ["TIFF_MAGICS", "open_tiff", "frame_pages", "tag_bytes", "tiff_page_pixels", "page_grey",
           "first_ifd_codes", "probe_has_tag"]

log = logging.getLogger(__name__)

TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PALETTE, _MINISWHITE = 3, 0
_NO_COMPRESSION = 1
_PILLOW_DECODES = {5, 6, 7, 32773}  # LZW, old JPEG, JPEG, PackBits: Pillow's libtiff handles these


def first_ifd_codes(head: bytes) -> frozenset[int]:
    """Tag codes of the first IFD read straight from the file's first bytes; never raises.

    tifffile drops a tag whose value it cannot read (an empty vendor tag written inline, say);
    sniffers use this to still see that the tag is there.
    """
    try:
        if head[:2] not in (b"II", b"MM"):
            return frozenset()
        order: Literal["little", "big"] = "little" if head[:2] == b"II" else "big"
        big = int.from_bytes(head[2:4], order) == 43
        offset = int.from_bytes(head[8:16] if big else head[4:8], order)
        count_size, entry_size = (8, 20) if big else (2, 12)
        count = int.from_bytes(head[offset:offset + count_size], order)
        first = offset + count_size
        if offset < 8 or count == 0 or first + count * entry_size > len(head):
            return frozenset()
        return frozenset(int.from_bytes(head[first + i * entry_size:first + i * entry_size + 2], order)
                         for i in range(count))
    except Exception:
        return frozenset()


def open_tiff(path: Path):
    """Open a TIFF with tifffile, mapping every failure to a ReaderError."""
    import tifffile

    try:
        return tifffile.TiffFile(path)
    except FileNotFoundError as exc:
        raise ReaderError("file vanished before it could be read", path=path, code="vanished") from exc
    except PermissionError as exc:
        raise ReaderError("no permission to read the file", path=path, code="permission") from exc
    except Exception as exc:
        raise ReaderError(f"not a readable TIFF: {exc}", path=path, code="corrupt") from exc


def frame_pages(tif, path: Path) -> Iterator[tuple[int, object]]:
    """(index, page) of every full-resolution image; reduced-size previews are skipped."""
    total = 0
    try:
        pages = iter(tif.pages)
        for index, page in enumerate(pages):
            if index >= MAX_PAGES:
                log.warning("%s: more than %d pages; reading the first %d only", path, MAX_PAGES, MAX_PAGES)
                return
            if index > 0 and _is_preview(page):
                continue
            pixels = int(page.imagewidth) * int(page.imagelength)
            if pixels > MAX_PIXELS:  # one page alone too large: say which dimensions it declares
                check_dimensions(int(page.imagewidth), int(page.imagelength), path)
            total += pixels
            if total > MAX_PIXELS:
                raise ReaderError(f"the pages hold more than {MAX_PIXELS:,} pixels together; refusing to decode "
                                  "them all", path=path, code="too_large")
            yield index, page
    except ReaderError:
        raise
    except Exception as exc:
        raise ReaderError(f"not a readable TIFF: image directory is corrupt ({exc})", path=path,
                          code="corrupt") from exc


def _is_preview(page) -> bool:
    """NewSubfileType bit 0: a reduced-resolution copy of another page (a thumbnail)."""
    try:
        subfile = page.tags.get(254)
        return bool(subfile is not None and int(subfile.value) & 1)
    except Exception:
        return False


def tag_bytes(tif, page, code: int, path: Path) -> bytes | None:
    """The raw bytes of one tag of one page (None when absent), checked against the file size."""
    tag = page.tags.get(code)
    if tag is None:
        return None
    try:
        size = int(tag.valuebytecount)
    except Exception:
        return None
    if size > MAX_HEADER_BYTES:
        raise ReaderError(f"TIFF tag {code} claims {size:,} bytes; refusing to read it", path=path, code="too_large")
    fh = tif.filehandle
    offset = int(tag.valueoffset)
    if offset < 0 or offset + size > fh.size:
        raise ReaderError(f"TIFF tag {code} points past the end of the file", path=path, code="truncated")
    with fh.lock:
        fh.seek(offset)
        data = fh.read(size)
    return bytes(data)


def _decoded_bytes(page) -> tuple[int, int]:
    """(bytes in memory after decoding, bytes an uncompressed file must store)."""
    width, height = int(page.imagewidth), int(page.imagelength)
    samples = int(page.samplesperpixel)
    bits = int(page.bitspersample)
    depth = max(int(getattr(page, "imagedepth", 1) or 1), 1)
    row_bytes = (width * samples * bits + 7) // 8
    stored = row_bytes * height * depth
    in_memory = width * height * depth * samples * max(bits // 8, 1)
    return in_memory, stored


def _check_layout(page, path: Path) -> None:
    offsets = tuple(page.dataoffsets or ())
    counts = tuple(page.databytecounts or ())
    if not offsets or len(offsets) != len(counts):
        raise ReaderError("not a readable TIFF: the image has no pixel data (strip or tile offsets missing)",
                          path=path, code="corrupt")
    width, height = int(page.imagewidth), int(page.imagelength)
    check_dimensions(width, height, path, samples=int(page.samplesperpixel))
    file_size = Path(path).stat().st_size
    if not all((o > 0 and o + c <= file_size) or (o == 0 and c == 0) for o, c in zip(offsets, counts, strict=True)):
        raise ReaderError("truncated TIFF: image data extends past the end of the file", path=path, code="truncated")
    in_memory, stored = _decoded_bytes(page)
    compressed = int(page.compression) != _NO_COMPRESSION
    if page.is_tiled and not compressed:
        return  # tiles are padded; their extent was checked above
    check_decoded_size(in_memory if compressed else stored, sum(counts), path, compressed=compressed)


def tiff_page_pixels(page, path: Path, index: int = 0) -> np.ndarray:
    """Decode one TIFF page after checking its size and that its data lies inside the file.

    Palette images come back as grey; everything else as stored (2-D or samples-last 3-D).
    """
    _check_layout(page, path)
    try:
        data = page.asarray()
    except MemoryError as exc:
        raise ReaderError("image too large to decode in memory", path=path, code="too_large") from exc
    except Exception as exc:
        if "imagecodecs" not in str(exc):
            raise ReaderError(f"cannot decode TIFF image data: {exc}", path=path, code="corrupt") from exc
        return _pillow_page(path, index, int(page.compression))
    return _photometric(page, data)


def _photometric(page, data: np.ndarray) -> np.ndarray:
    """Palette indices → grey values, MinIsWhite → MinIsBlack; anything else as stored."""
    photometric = int(page.photometric)
    colormap = getattr(page, "colormap", None)
    if photometric == _PALETTE and colormap is not None and data.ndim == 2 and np.issubdtype(data.dtype, np.integer):
        data = apply_palette(data, colormap)
    elif photometric == _MINISWHITE and np.issubdtype(data.dtype, np.integer) and data.dtype != np.bool_:
        data = np.iinfo(data.dtype).max - data
    return data


def page_grey(page, path: Path, index: int = 0) -> np.ndarray:
    """The page as a 2-D uint8 / uint16 / float32 array, ready for analysis.

    A page larger than the analysis size comes back block-averaged (a ``Decimated`` array), read
    strip by strip where tifffile can decode its segments, so its full size is never held.
    """
    factor = decimation_factor(int(page.imagewidth), int(page.imagelength))
    if factor > 1:
        return _page_decimated(page, path, index, factor)
    return _grey(tiff_page_pixels(page, path, index), path)


def _grey(data: np.ndarray, path: Path) -> np.ndarray:
    try:
        return analysis_dtype(to_grey(np.squeeze(data) if data.ndim > 3 else data))
    except ValueError as exc:
        raise ReaderError(f"unsupported TIFF image layout: {exc}", path=path, code="unsupported") from exc


def _page_decimated(page, path: Path, index: int, factor: int) -> np.ndarray:
    """Strip / tile reading with block averaging; a whole decode first only where segments cannot be read."""
    _check_layout(page, path)
    contiguous = int(page.planarconfig) == 1 and int(getattr(page, "imagedepth", 1) or 1) == 1
    if contiguous:
        try:
            return read_decimated(page, factor, lambda d: _grey(_photometric(page, d), path))
        except ReaderError:
            raise
        except MemoryError as exc:
            raise ReaderError("image too large to decode in memory", path=path, code="too_large") from exc
        except Exception as exc:
            if "imagecodecs" not in str(exc):
                raise ReaderError(f"cannot decode TIFF image data: {exc}", path=path, code="corrupt") from exc
            log.debug("%s: segments need imagecodecs; decoding the page whole with Pillow", path)
    return block_mean(_grey(tiff_page_pixels(page, path, index), path), factor)


def _pillow_page(path: Path, index: int, compression: int) -> np.ndarray:
    """Decode a page whose compression tifffile cannot handle without the optional codec package."""
    from PIL import Image

    from .images import pillow_array

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.seek(index)
                im.load()
                return pillow_array(im)
    except Image.DecompressionBombError as exc:
        raise ReaderError(f"refusing to decode: {exc}", path=path, code="too_large") from exc
    except Exception as exc:
        if compression in _PILLOW_DECODES:
            raise ReaderError(f"cannot decode the compressed TIFF image data: {exc}", path=path,
                              code="corrupt") from exc
        raise ReaderError(f"TIFF compression {compression} cannot be decoded here ({exc}); installing the "
                          "optional 'imagecodecs' package adds it", path=path, code="unsupported") from exc


def probe_has_tag(probe, *codes: int) -> bool:
    """Whether a Probe's file is a TIFF whose first IFD holds any of ``codes``; never raises."""
    try:
        if not probe.is_tiff:
            return False
        wanted = set(codes)
        return bool(wanted & first_ifd_codes(probe.head)) or bool(wanted & probe.tiff_tags)
    except Exception:
        return False
