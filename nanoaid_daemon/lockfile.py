"""One daemon per state folder, and folders that do not overlap.

Two daemons on one journal would reject each other's frames as duplicates, write every sidecar
twice and delete each other's ``endpoints.json``. The first to start holds an exclusive
``flock`` on ``STATE/daemon.lock`` (released by the kernel when the process dies, so a crash
leaves no stale lock); the second exits 2 naming the first's PID.
"""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from .errors import ConfigError

__all__ = ["StateLock", "check_folders", "LOCK_NAME"]

LOCK_NAME = "daemon.lock"


class StateLock:
    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> StateLock:
        path = Path(state_dir) / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise ConfigError(f"another daemon (PID {holder}) is already running on state folder {state_dir}; "
                                  "stop it first or give this one its own --state") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_folders(watch: Path, state: Path, output: Path | str | None) -> None:
    """Refuse folder layouts under which every frame would be ignored or re-read."""
    watch, state = Path(watch).resolve(), Path(state).resolve()
    if _inside(watch, state):
        raise ConfigError(f"watch folder {watch} is the state folder or inside it ({state}); "
                          "give --state a folder of its own")
    if output is not None:
        out = Path(output).resolve()
        if out == watch:
            raise ConfigError(f"output folder {out} is the watch folder; leave --output unset to write "
                              "sidecars beside frames, or choose another folder")
        if _inside(out, state) or _inside(state, out):
            raise ConfigError(f"output folder {out} overlaps the state folder {state}; keep them apart")
