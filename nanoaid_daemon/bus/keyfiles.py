"""CURVE key files in the ZeroMQ certificate format: ``NAME.key`` (public) and ``NAME.key_secret``.

The secret file is created with mode 0600 from the first byte (never chmod-ed afterwards), so there
is no moment at which another user could read it. Both files load with ``zmq.auth.load_certificate``.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import zmq

from ..errors import ConfigError

__all__ = ["KeyPair", "generate_keypair", "valid_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class KeyPair:
    def __init__(self, public_path: Path, secret_path: Path, public: str):
        self.public_path, self.secret_path, self.public = public_path, secret_path, public


def valid_name(name: str) -> str:
    if not _NAME.match(name) or name.endswith((".key", ".key_secret")):
        raise ConfigError(f"key name {name!r}: use letters, digits and _.@- (e.g. 'server', 'sem-pc-1')")
    return name


def _text(kind: str, public: bytes, secret: bytes | None) -> str:
    lines = [f"#   ****  Generated on {datetime.now(timezone.utc).isoformat(timespec='seconds')} by nanoaid  ****",
             f"#   ZeroMQ CURVE {kind} Certificate",
             "#   Secret: keep it mode 0600 and never copy it off this host." if secret else
             "#   Public: copy it into the daemon's bus.authorized_keys folder to allow this client.",
             "", "metadata", "curve", f'    public-key = "{public.decode()}"']
    if secret:
        lines.append(f'    secret-key = "{secret.decode()}"')
    return "\n".join(lines) + "\n"


def _write_new(path: Path, text: str, mode: int, force: bool) -> None:
    if force:
        path.unlink(missing_ok=True)  # a fresh inode, so the mode below applies
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise ConfigError(f"{path} exists; pass --force to replace it (clients using it will be refused)") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)


def generate_keypair(folder: Path, name: str, *, force: bool = False) -> KeyPair:
    """Write ``folder/NAME.key`` and ``folder/NAME.key_secret`` (0600); returns the paths."""
    valid_name(name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    public, secret = zmq.curve_keypair()
    secret_path, public_path = folder / f"{name}.key_secret", folder / f"{name}.key"
    if not force:
        for path in (secret_path, public_path):
            if path.exists():
                raise ConfigError(f"{path} exists; pass --force to replace it (clients using it will be refused)")
    _write_new(secret_path, _text("**Secret**", public, secret), 0o600, force)
    _write_new(public_path, _text("Public", public, None), 0o644, force)
    return KeyPair(public_path, secret_path, public.decode())
