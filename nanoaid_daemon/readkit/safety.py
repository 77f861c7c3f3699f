"""Limits every reader obeys, and the net that turns any stray failure into a ReaderError.

A frame comes from an instrument PC or a network share; it may be truncated, forged or simply
not what its name says. Readers therefore check sizes before they allocate and never let a
library's own exception escape: the daemon must reject the file and carry on.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ReaderError

__all__ = [
    "MAX_PIXELS",
    "MEMORY_BUDGET",
    "MAX_PAGES",
    "MAX_SIDECAR_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_COMPRESSION_RATIO",
    "check_dimensions",
    "check_decoded_size",
    "guard",
]

log = logging.getLogger(__name__)

#: Peak memory one frame may take through reading and analysis (``nanoaid process`` measured it).
MEMORY_BUDGET = "1 GiB"
#: Largest image (width × height) any reader accepts: 32k × 32k. Larger TIFFs are read strip by
#: strip and block-averaged to the analysis size (``readkit.decimate``), so the peak does not grow
#: with the frame: ``nanoaid process`` peaked at 0.40 GB for 8192² and 16384² and 0.42 GB for
#: 32768² (8-bit, docs/readers.md), inside MEMORY_BUDGET with room for the daemon's other threads.
MAX_PIXELS = int(os.environ.get("NANOAID_MAX_PIXELS", 32768 * 32768))
#: Most pages read from one file; an SEM stack longer than this is not a frame.
MAX_PAGES = int(os.environ.get("NANOAID_MAX_PAGES", 512))
#: Largest vendor sidecar (.txt / .hdr) read; real ones are a few kilobytes.
MAX_SIDECAR_BYTES = 1 << 20
#: Largest embedded vendor header (one TIFF tag) read.
MAX_HEADER_BYTES = 16 << 20
#: A compressed image may not claim to inflate more than this (deflate's own limit is ~1032).
MAX_COMPRESSION_RATIO = 1100


def check_dimensions(width: int, height: int, path: Path, *, samples: int = 1) -> None:
    """Refuse absurd sizes before anything is allocated (decompression bombs, forged headers)."""
    if width <= 0 or height <= 0:
        raise ReaderError(f"image has no pixels ({width}×{height})", path=path, code="empty_image")
    if samples <= 0 or samples > 16:
        raise ReaderError(f"image declares {samples} samples per pixel; expected 1 to 4",
                          path=path, code="corrupt")
    if width * height > MAX_PIXELS:
        raise ReaderError(
            f"image declares {width}×{height} pixels, more than the limit of {MAX_PIXELS:,} "
            f"(NANOAID_MAX_PIXELS, set so that a frame is read and analysed within {MEMORY_BUDGET}); "
            "refusing to decode it (a frame this large, or a decompression bomb)",
            path=path,
            code="too_large",
        )


def check_decoded_size(decoded_bytes: int, stored_bytes: int, path: Path, *, compressed: bool) -> None:
    """The decoded image must be backed by the bytes in the file.

    Uncompressed data must be all there (else the file is truncated); compressed data may inflate,
    but not past what any real codec achieves, so a forged header cannot make us allocate gigabytes.
    """
    if not compressed:
        if stored_bytes < decoded_bytes:
            raise ReaderError(
                f"truncated image data: {stored_bytes:,} bytes stored, {decoded_bytes:,} needed",
                path=path, code="truncated")
        return
    if decoded_bytes > max(stored_bytes, 1) * MAX_COMPRESSION_RATIO and decoded_bytes > (1 << 20):
        raise ReaderError(
            f"compressed image claims to inflate from {stored_bytes:,} to {decoded_bytes:,} bytes; "
            "refusing to decode it (possible decompression bomb)",
            path=path, code="too_large")


@contextmanager
def guard(path: Path, what: str = "file") -> Iterator[None]:
    """Map every failure inside the block to a ReaderError with a code a person can act on."""
    try:
        yield
    except ReaderError:
        raise
    except FileNotFoundError as exc:
        raise ReaderError("file vanished before it could be read", path=path, code="vanished") from exc
    except PermissionError as exc:
        raise ReaderError("no permission to read the file", path=path, code="permission") from exc
    except IsADirectoryError as exc:
        raise ReaderError("is a directory, not a frame", path=path, code="unsupported") from exc
    except MemoryError as exc:
        raise ReaderError("image too large to decode in memory", path=path, code="too_large") from exc
    except OSError as exc:
        raise ReaderError(f"cannot read the {what}: {exc.strerror or exc}", path=path, code="unreadable") from exc
    except RecursionError as exc:
        raise ReaderError(f"the {what} is nested too deeply to parse", path=path, code="corrupt") from exc
    except Exception as exc:  # a library's own error on a malformed file
        log.debug("reader failure on %s", path, exc_info=True)
        raise ReaderError(f"corrupt {what}: {type(exc).__name__}: {exc}", path=path, code="corrupt") from exc
