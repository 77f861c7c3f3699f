"""``STATE/endpoints.json``: how clients on the same host find a running daemon's sockets.

Written atomically once the sockets are bound, removed again at a clean stop. A file whose ``pid``
no longer runs (the daemon was killed) is stale; ``daemon_running`` tells the two apart.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..atomic import atomic_write_text
from ..errors import BusError

__all__ = ["ENDPOINTS_NAME", "Endpoints", "read_endpoints", "write_endpoints", "remove_endpoints", "daemon_running",
           "connectable"]

ENDPOINTS_NAME = "endpoints.json"


class Endpoints(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pub: str = Field(description="PUB socket: live events, topic = event type.")
    replay: str = Field(description="ROUTER socket: events since seq N, snapshot, ping.")
    command: str = Field(description="ROUTER socket: operator corrections.")
    curve_server_key: str | None = Field(None, description="Server public key (z85) when CURVE is on.")
    pid: int | None = None
    heartbeat_s: float = 1.0
    started: datetime | None = None


def connectable(endpoint: str) -> str:
    """A bound endpoint as a local client must dial it (wildcard interfaces become loopback)."""
    for wildcard, local in (("tcp://0.0.0.0:", "tcp://127.0.0.1:"), ("tcp://[::]:", "tcp://[::1]:"),
                            ("tcp://*:", "tcp://127.0.0.1:")):
        if endpoint.startswith(wildcard):
            return local + endpoint[len(wildcard):]
    return endpoint


def write_endpoints(state_dir: Path, endpoints: Endpoints) -> Path:
    path = Path(state_dir) / ENDPOINTS_NAME
    atomic_write_text(path, endpoints.model_dump_json(indent=2) + "\n")
    return path


def read_endpoints(state_dir: Path) -> Endpoints | None:
    """The endpoints a daemon published in ``state_dir``, or None when there is no (readable) file."""
    path = Path(state_dir) / ENDPOINTS_NAME
    try:
        return Endpoints.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as exc:
        raise BusError(f"{path} is not a valid endpoints file: {exc}") from None


def remove_endpoints(state_dir: Path, pid: int | None) -> None:
    """Remove the file if it is still ours (a newer daemon may have replaced it)."""
    path = Path(state_dir) / ENDPOINTS_NAME
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs as another user (the service account): alive
        return True
    return True


def daemon_running(state_dir: Path) -> Endpoints | None:
    """The endpoints of a daemon that is running now, else None (no file, or a stale one)."""
    try:
        found = read_endpoints(state_dir)
    except BusError:
        return None
    if found is None or (found.pid is not None and not _pid_alive(found.pid)):
        return None
    return found


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
