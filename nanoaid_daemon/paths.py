"""File names as the operating system gives them, stored and shown without loss.

Legacy SMB and Windows clients write Latin-1 names (``Probe_M\\xfcller.tif``). Python hands such a
name over as a ``str`` with lone surrogates (``os.fsdecode``); SQLite, JSON encoders and log
files refuse those. So every boundary goes through one of three helpers here:

- :func:`db_key` — the value bound to SQLite: the text itself when it is valid UTF-8 (so journals
  written before stay readable), otherwise the raw bytes (``os.fsencode``) as a BLOB;
  :func:`from_db` turns either back into the exact ``str`` the OS gave.
- :func:`shown` — text for humans and JSON: undecodable bytes as ``\\xNN`` escapes.
- :func:`is_lossless` — whether :func:`shown` is the name itself.
"""
from __future__ import annotations

import os

__all__ = ["db_key", "from_db", "shown", "is_lossless"]


def db_key(path: str | os.PathLike[str] | None) -> str | bytes | None:
    """What to bind to SQLite for ``path``: UTF-8 text when possible, else the raw bytes."""
    if path is None:
        return None
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def from_db(value: str | bytes | None) -> str | None:
    """The path as the OS gave it, from what :func:`db_key` stored."""
    if value is None:
        return None
    return os.fsdecode(value) if isinstance(value, bytes) else value


def shown(path: str | os.PathLike[str] | None) -> str | None:
    """The path as printable, JSON-safe text; bytes that are not UTF-8 become ``\\xNN``."""
    if path is None:
        return None
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


def is_lossless(path: str | os.PathLike[str]) -> bool:
    return isinstance(db_key(path), str)
