"""One frame's upload: the original file, its sidecar and its previews, with their digests.

The sidecar is read once into memory and hashed, so a correction that rewrites it while an
upload runs cannot make the stored bytes and the recorded digest disagree. The frame and the
previews are streamed from disk; their digests come from the sidecar and every sink checks them
while it copies, so a file that changed since it was processed is refused, never stored.
"""
from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pydantic import ValidationError

from ..errors import NanoaidError
from ..sidecar import SIDECAR_SUFFIX, Sidecar

__all__ = ["BundleError", "BundleFile", "Bundle", "Receipt", "assemble_bundle", "object_id_for", "iter_verified"]

CHUNK = 1 << 20


class BundleError(NanoaidError, ValueError):
    """A frame's files are missing, changed or invalid: retrying will not help, so it is set aside."""


def object_id_for(frame_id: str) -> str:
    """The repository object id of a frame: its content hash as a URN."""
    return f"urn:nanoaid:frame:{frame_id}"


@dataclass(frozen=True)
class BundleFile:
    logical: str
    sha256: str
    size: int
    role: str  # "frame" | "sidecar" | "preview"
    source: Path | None = None
    data: bytes | None = field(default=None, repr=False)

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.source is None:
            raise BundleError(f"{self.role} {self.logical} has neither data nor a source file")
        try:
            return self.source.open("rb")
        except FileNotFoundError as exc:
            raise BundleError(f"{self.role} {self.source} vanished before it was uploaded") from exc
        except OSError as exc:
            raise BundleError(f"cannot read {self.role} {self.source}: {exc.strerror or exc}") from exc


def iter_verified(f: BundleFile, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file's bytes in chunks; raises BundleError at the end if size or sha256 differ."""
    digest, size = hashlib.sha256(), 0
    with f.open() as fh:
        while block := fh.read(chunk):
            digest.update(block)
            size += len(block)
            yield block
    if digest.hexdigest() != f.sha256 or size != f.size:
        raise BundleError(
            f"{f.role} {f.source or f.logical} changed since it was processed: sha256 {digest.hexdigest()} "
            f"({size} bytes), the sidecar says {f.sha256} ({f.size} bytes); the daemon will process the new "
            "content as a new frame"
        )


@dataclass(frozen=True)
class Bundle:
    frame_id: str
    sidecar: Sidecar
    sidecar_path: Path
    files: tuple[BundleFile, ...]
    message: str = ""
    user: str = "nanoaid-upload"
    object: str = ""  # another object than the frame's own, e.g. a session's RO-Crate

    @property
    def object_id(self) -> str:
        return self.object or object_id_for(self.frame_id)

    @property
    def sidecar_file(self) -> BundleFile:
        return next(f for f in self.files if f.role == "sidecar")

    def state(self) -> dict[str, str]:
        """Logical path → sha256: what the object's newest version must hold."""
        return {f.logical: f.sha256 for f in self.files}


@dataclass(frozen=True)
class Receipt:
    """Where a bundle went. ``created`` is False when the repository already held exactly this."""

    location: str
    version: int
    created: bool
    verified: bool = True


def _logical(rel: str, what: str) -> str:
    path = PurePosixPath(rel.replace("\\", "/"))
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise BundleError(f"{what} path {rel!r} must stay inside the sidecar's folder")
    return path.as_posix()


def _read_sidecar(path: Path) -> tuple[bytes, Sidecar]:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BundleError(f"sidecar {path} does not exist (moved or deleted before upload)") from exc
    except OSError as exc:
        raise BundleError(f"cannot read sidecar {path}: {exc.strerror or exc}") from exc
    try:
        return data, Sidecar.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise BundleError(f"sidecar {path} is not a valid nanoaid.sidecar/1 document: {first['msg']} at {where}") \
            from None


def _stat_file(path: Path, role: str) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError as exc:
        raise BundleError(f"{role} {path} named by the sidecar does not exist") from exc
    except OSError as exc:
        raise BundleError(f"cannot stat {role} {path}: {exc.strerror or exc}") from exc


def _frame_file(sidecar: Sidecar, sidecar_path: Path, frame_path: Path | None) -> BundleFile:
    path = Path(frame_path) if frame_path else sidecar_path.with_name(sidecar.frame.name)
    size = _stat_file(path, "frame")
    if size != sidecar.frame.size_bytes:
        raise BundleError(
            f"frame {path} is {size} bytes but its sidecar says {sidecar.frame.size_bytes}: "
            "it changed since it was processed"
        )
    return BundleFile(_logical(sidecar.frame.name, "frame"), sidecar.frame.sha256, size, "frame", path)


def _preview_files(sidecar: Sidecar, sidecar_path: Path) -> list[BundleFile]:
    files = []
    for preview in sidecar.previews:
        logical = _logical(preview.path, "preview")
        path = sidecar_path.parent / logical
        files.append(BundleFile(logical, preview.sha256, _stat_file(path, "preview"), "preview", path))
    return files


def assemble_bundle(
    sidecar_path: Path, *, frame_path: Path | None = None, frame_id: str | None = None, message: str = ""
) -> Bundle:
    """Everything one frame's upload needs, or BundleError saying what is wrong with it."""
    sidecar_path = Path(sidecar_path)
    data, sidecar = _read_sidecar(sidecar_path)
    if frame_id is not None and sidecar.frame.sha256 != frame_id:
        raise BundleError(f"sidecar {sidecar_path} describes frame {sidecar.frame.sha256}, not {frame_id}")
    sidecar_logical = _logical(sidecar.frame.name + SIDECAR_SUFFIX, "sidecar")
    files = [
        _frame_file(sidecar, sidecar_path, frame_path),
        BundleFile(sidecar_logical, hashlib.sha256(data).hexdigest(), len(data), "sidecar", sidecar_path, data),
        *_preview_files(sidecar, sidecar_path),
    ]
    names = [f.logical for f in files]
    if len(set(names)) != len(names):
        raise BundleError(f"sidecar {sidecar_path} names the same file twice among frame and previews: {names}")
    user = sidecar.corrections[-1].operator if sidecar.corrections else "nanoaid-upload"
    return Bundle(sidecar.frame.sha256, sidecar, sidecar_path, tuple(files), message or _message(sidecar), user)


def _message(sidecar: Sidecar) -> str:
    if sidecar.corrections:
        c = sidecar.corrections[-1]
        return (f"label corrected by {c.operator}: {c.previous_label or '?'} -> {c.label} "
                f"(sidecar version {sidecar.version})")
    return f"frame processed (sidecar version {sidecar.version})"
