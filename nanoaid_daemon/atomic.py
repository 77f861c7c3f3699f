"""Crash-safe file writes: temp file in the same folder → fsync → rename → fsync the folder.

A reader of the destination sees the old content or the new, never half of either. Temp files are
hidden and end in ``TEMP_SUFFIX`` so the watcher ignores them and start-up can sweep leftovers.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "temp_path_for", "atomic_write_bytes", "atomic_write_files", "atomic_write_text",
           "is_temp_name", "sweep_temp_files"]

TEMP_SUFFIX = ".nanoaid-tmp"


def is_temp_name(name: str) -> bool:
    return name.endswith(TEMP_SUFFIX)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(dest: Path) -> Path:
    """A hidden, unique temp name beside ``dest`` that fits the file system's name limit.

    The name keeps as much of ``dest``'s name as fits (cut on bytes, so a 255-byte name works).
    """
    try:
        limit = os.pathconf(dest.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    tail = f".{secrets.token_hex(4)}{TEMP_SUFFIX}".encode()
    room = max(1, limit - len(tail) - 1)
    head = os.fsencode(dest.name)[:room]
    return dest.parent / os.fsdecode(b"." + head + tail)


def _write_and_rename(dest: Path, data: bytes, mode: int) -> None:
    """``data`` in a temp file beside ``dest``, on disk (fsync), then renamed onto ``dest``."""
    tmp = temp_path_for(dest)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(dest: Path, data: bytes, *, mode: int = 0o644) -> None:
    dest = Path(dest)
    atomic_write_files(dest.parent, {dest.name: data}, mode=mode)


def atomic_write_files(folder: Path, files: dict[str, bytes], *, mode: int = 0o644) -> None:
    """Files in one folder, each written to a temp file, fsynced and renamed onto its name, then one
    fsync of the folder for all the renames instead of one each (a frame's previews: three).

    When it returns, every file is complete and durable under its name; if it raises, the files
    renamed before the failure are complete (not yet durable) and no temp file is left.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        _write_and_rename(folder / name, data, mode)
    if files:
        _fsync_dir(folder)


def atomic_write_text(dest: Path, text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"), mode=mode)


def sweep_temp_files(root: Path) -> list[Path]:
    """Remove temp files a killed process left below ``root``; returns what was removed."""
    removed = []
    for path in Path(root).rglob(f"*{TEMP_SUFFIX}"):
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed
