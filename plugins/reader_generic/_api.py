"""Generic image reader: any TIFF tifffile can decode, and PNG / JPEG through Pillow."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.frame import Page, ReadResult
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.plugins import PluginContext, Probe
from nanoaid_daemon.readkit import check_dimensions, media_type_for, open_tiff, tiff_page_pixels, to_grey

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def create(ctx: PluginContext) -> "GenericReader":
    return GenericReader()


class GenericReader:
    name = "generic"

    def sniff(self, probe: Probe) -> int:
        head = probe.head
        if probe.is_tiff or head.startswith(PNG_MAGIC) or head.startswith(JPEG_MAGIC):
            return 10
        return 0

    def read(self, path: Path) -> ReadResult:
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return self._read_tiff(path)
        if head.startswith(PNG_MAGIC) or head.startswith(JPEG_MAGIC):
            return self._read_pillow(path)
        if not head:
            raise ReaderError("file is empty (0 bytes)", path=path, code="empty")
        raise ReaderError("not a TIFF, PNG or JPEG image (unknown file signature)", path=path, code="unsupported")

    def _read_tiff(self, path: Path) -> ReadResult:
        with open_tiff(path) as tif:
            if not tif.pages:
                raise ReaderError("TIFF contains no images", path=path, code="corrupt")
            pages = []
            for tiff_page in tif.pages:
                data = to_grey(tiff_page_pixels(tiff_page, path))
                pages.append(Page(data, 0, Instrument(), data.shape[0], data.shape[1]))
            dtype = str(pages[0].pixels.dtype)
        return ReadResult(path, "generic", "image/tiff", dtype, pages)

    def _read_pillow(self, path: Path) -> ReadResult:
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    check_dimensions(im.width, im.height, path)
                    im.load()
                    data = _pillow_array(im)
        except ReaderError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ReaderError(f"refusing to decode: {exc}", path=path, code="too_large") from exc
        except FileNotFoundError as exc:
            raise ReaderError("file vanished before it could be read", path=path, code="vanished") from exc
        except PermissionError as exc:
            raise ReaderError("no permission to read the file", path=path, code="permission") from exc
        except Exception as exc:
            raise ReaderError(f"not a readable image: {exc}", path=path, code="corrupt") from exc
        page = Page(data, 0, Instrument(), data.shape[0], data.shape[1])
        return ReadResult(path, "generic", media_type_for(path), str(data.dtype), [page])


def _pillow_array(im) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im, dtype=np.uint16)
    if im.mode in ("L", "RGB", "RGBA"):
        return to_grey(np.asarray(im))
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32)
    return np.asarray(im.convert("L"))
