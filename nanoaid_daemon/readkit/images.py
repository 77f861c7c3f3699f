"""Image files of any supported kind → grey pages; the kind is told by content, not by name."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ReaderError
from .decimate import block_mean, decimation_factor
from .pixels import analysis_dtype, to_grey
from .safety import check_dimensions, guard
from .tiff import TIFF_MAGICS, frame_pages, open_tiff, page_grey

__all__ = ["PNG_MAGIC", "JPEG_MAGIC", "BMP_MAGIC", "image_kind", "media_type_for", "pillow_array",
           "LoadedImage", "load_image", "read_head", "read_pillow", "not_an_image_message", "require_tiff"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
BMP_MAGIC = b"BM"

_MEDIA_TYPES = {
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".bmp": "image/bmp",
}
_BMP_HEADERS = (12, 40, 52, 56, 64, 108, 124)  # sizes of the DIB header variants
_KIND_MEDIA = {"tiff": "image/tiff", "png": "image/png", "jpeg": "image/jpeg", "bmp": "image/bmp"}


def image_kind(head: bytes) -> str | None:
    """'tiff', 'png', 'jpeg' or 'bmp' from a file's first bytes; None for anything else."""
    if head[:4] in TIFF_MAGICS:
        return "tiff"
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(BMP_MAGIC) and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return "bmp"
    return None


def media_type_for(path: Path, head: bytes | None = None) -> str:
    """IANA media type: from the content when its first bytes are given, else from the suffix."""
    kind = image_kind(head) if head else None
    if kind:
        return _KIND_MEDIA[kind]
    return _MEDIA_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def read_head(path: Path, size: int = 64) -> bytes:
    with guard(path):
        with open(path, "rb") as fh:
            return fh.read(size)


def require_tiff(path: Path) -> None:
    """Refuse, with a reason, anything that is not a TIFF before a TIFF-only reader opens it."""
    head = read_head(path, 64)
    if not head:
        raise ReaderError("file is empty (0 bytes)", path=path, code="empty")
    if image_kind(head) != "tiff":
        raise ReaderError(not_an_image_message(path, head, expected="TIFF"), path=path, code="unsupported")


def pillow_array(im) -> np.ndarray:
    """A decoded Pillow image as a 2-D grey array in an analysis dtype."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im).astype(np.uint16, copy=False)
    if mode == "I":
        data = np.asarray(im)
        if data.size and data.min() >= 0 and data.max() <= 0xFFFF:
            return data.astype(np.uint16)
        return data.astype(np.float32)
    if mode == "F":
        return np.asarray(im, dtype=np.float32)
    if mode in ("L", "RGB", "RGBA", "LA"):
        return analysis_dtype(to_grey(np.asarray(im)))
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode in ("P", "PA"):
        return analysis_dtype(to_grey(np.asarray(im.convert("RGB"))))
    return analysis_dtype(to_grey(np.asarray(im.convert("RGB"))))


@dataclass(frozen=True)
class LoadedImage:
    """Grey pages of an image file and its media type (content-derived)."""

    media_type: str
    pages: list[np.ndarray]


def load_image(path: Path) -> LoadedImage:
    """Every frame page of a TIFF, or the single image of a PNG / JPEG / BMP, as grey arrays."""
    path = Path(path)
    head = read_head(path, 64)
    kind = image_kind(head)
    if not head:
        raise ReaderError("file is empty (0 bytes)", path=path, code="empty")
    if kind is None:
        raise ReaderError(not_an_image_message(path, head), path=path, code="unsupported")
    with guard(path, "image"):
        if kind == "tiff":
            with open_tiff(path) as tif:
                pages = [page_grey(page, path, index) for index, page in frame_pages(tif, path)]
            if not pages:
                raise ReaderError("TIFF contains no images", path=path, code="corrupt")
            return LoadedImage("image/tiff", pages)
        return LoadedImage(_KIND_MEDIA[kind], [read_pillow(path)])


def read_pillow(path: Path) -> np.ndarray:
    """Decode a PNG / JPEG / BMP with Pillow after checking its declared size."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                check_dimensions(im.width, im.height, path)
                im.load()
                data = pillow_array(im)
        factor = decimation_factor(data.shape[1], data.shape[0])
        return block_mean(data, factor) if factor > 1 else data
    except ReaderError:
        raise
    except Image.DecompressionBombError as exc:
        raise ReaderError(f"refusing to decode: {exc}", path=path, code="too_large") from exc
    except FileNotFoundError as exc:
        raise ReaderError("file vanished before it could be read", path=path, code="vanished") from exc
    except PermissionError as exc:
        raise ReaderError("no permission to read the file", path=path, code="permission") from exc
    except Exception as exc:
        raise ReaderError(f"not a readable image: {exc}", path=path, code="corrupt") from exc


def not_an_image_message(path: Path, head: bytes, expected: str | None = None) -> str:
    """Why a file is no image, naming what it looks like instead (e.g. a text header saved as .tif)."""
    suffix = Path(path).suffix.lower()
    expected = expected or {"image/tiff": "TIFF", "image/png": "PNG", "image/jpeg": "JPEG", "image/bmp": "BMP"}.get(
        _MEDIA_TYPES.get(suffix, ""), "TIFF, PNG, JPEG or BMP")
    sample = head[:16]
    printable = sample and all(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    looks = f"it starts with text {sample.decode('ascii')!r}" if printable else f"its first bytes are {sample!r}"
    kind = image_kind(head)
    if kind:
        return f"not a {expected} image: it is a {kind.upper()} file"
    return f"not a {expected} image ({looks}); a metadata or other file saved under an image name?"
