"""Running the real command line and the independent OCFL validator as processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nanoaid_daemon.testing import wait_for

__all__ = [
    "nanoaid", "nanoaid_cmd", "running", "tail", "validate_ocfl", "wait_for", "upload_status", "object_inventories",
]

VALIDATE = """
import json, sys, warnings
warnings.simplefilter("ignore")
import logging; logging.disable(logging.CRITICAL)
import ocfl
root = ocfl.StorageRoot(root=sys.argv[1])
valid = root.validate(validate_objects=True, check_digests=True, log_warnings=False, log_errors=False)
print(json.dumps({"valid": bool(valid), "structure_error": root.structure_error, "objects": root.num_objects,
                  "good": root.good_objects, "errors": [list(e) for e in root.errors]}))
"""


def nanoaid_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nanoaid_daemon.cli", *map(str, args)]


def nanoaid(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(nanoaid_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@contextmanager
def running(cmd: list[str], *, log: Path | None = None, **popen) -> Iterator[subprocess.Popen]:
    """A process (in its own process group) that is gone when the block ends, whatever happened in it.

    With ``log``, its output goes to that file (a pipe nobody reads could fill up and stall it).
    """
    if log is not None:
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, start_new_session=True, stdout=out, stderr=subprocess.STDOUT, **popen)
    else:
        proc = subprocess.Popen(cmd, start_new_session=True, **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def tail(path: Path, chars: int = 2000) -> str:
    return Path(path).read_text(errors="replace")[-chars:] if Path(path).exists() else ""


def validate_ocfl(root: Path) -> dict:
    """ocfl-py's storage-root validation (every object, every digest), in its own process."""
    out = subprocess.run([sys.executable, "-c", VALIDATE, str(root)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def upload_status(state: Path) -> dict:
    from nanoaid_daemon.uploader.progress import Progress

    with Progress(state / "progress.sqlite3") as progress:
        return progress.status()


def object_inventories(root: Path) -> dict[str, dict]:
    """Frame id → root inventory of every object below a storage root on disk."""
    found = {}
    for marker in root.rglob("0=ocfl_object_1.1"):
        inv = json.loads((marker.parent / "inventory.json").read_text())
        found[inv["id"].rsplit(":", 1)[1]] = inv
    return found
