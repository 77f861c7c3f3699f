"""Content hashing: a frame's id is the sha256 of its bytes."""
from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256_file"]


def sha256_file(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """(hex digest, bytes read) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
