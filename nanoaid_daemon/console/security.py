"""Who may use the console, and how a form post proves it came from the console's own page.

Threat model. On loopback (the default) the console trusts local users as far as the daemon's
own command endpoint does: anyone on the SEM PC can already send corrections. Off loopback the
network is untrusted: every page needs a login with an operator token (``nanoaid console token
add NAME``; only a salted hash is stored, in ``STATE/console/tokens.json``, mode 0600), the
session cookie is HttpOnly and SameSite=Strict, and the transport is TLS unless the operator
explicitly accepts plain HTTP. Every POST carries the session's CSRF token; frame files are
reached by frame id only; the operator named on a correction is the logged-in one.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import ConfigError

__all__ = ["TokenStore", "Sessions", "Session", "is_loopback", "check_bind", "NAME_RE"]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ITERATIONS = 200_000
SESSION_COOKIE = "nanoaid_console"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, tokens: TokenStore, tls: bool, insecure_http: bool) -> bool:
    """Raise ConfigError when ``host`` is off loopback without tokens or TLS; return whether login is required."""
    if is_loopback(host):
        return False
    if not tokens.names():
        raise ConfigError(f"--bind {host} is not loopback, so the console needs a login: create an operator token "
                          f"with `nanoaid console token add NAME --state {tokens.state_dir}` first")
    if not tls and not insecure_http:
        raise ConfigError(f"--bind {host} is not loopback: give --tls-cert and --tls-key, or --insecure-http to "
                          "accept plain HTTP on a network you trust (tokens then travel unencrypted)")
    return True


def _hash(token: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", token.encode(), salt, _ITERATIONS).hex()


class TokenStore:
    """Operator tokens, stored as salted PBKDF2 hashes; the token itself is shown once."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "console" / "tokens.json"

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"console token file {self.path} cannot be read ({exc}); remove it and add the "
                              "tokens again") from None
        return data.get("operators", {}) if isinstance(data, dict) else {}

    def _save(self, operators: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o077)
        try:
            atomic_write_text(self.path, json.dumps({"operators": operators}, indent=1))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    def names(self) -> list[str]:
        return sorted(self._load())

    def add(self, name: str) -> str:
        """Create (or replace) the token of operator ``name``; returns the token to hand over."""
        if not NAME_RE.fullmatch(name):
            raise ConfigError(f"operator name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
        token = secrets.token_urlsafe(24)
        salt = secrets.token_bytes(16)
        operators = self._load()
        operators[name] = {"salt": salt.hex(), "hash": _hash(token, salt),
                           "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self._save(operators)
        return token

    def remove(self, name: str) -> bool:
        operators = self._load()
        if operators.pop(name, None) is None:
            return False
        self._save(operators)
        return True

    def verify(self, token: str) -> str | None:
        """The operator whose token this is, else None (every stored hash is compared)."""
        found = None
        for name, entry in self._load().items():
            if hmac.compare_digest(_hash(token, bytes.fromhex(entry["salt"])), entry["hash"]):
                found = name
        return found


@dataclass
class Session:
    sid: str
    csrf: str
    operator: str | None
    created: float
    login: bool = False


class Sessions:
    """In-memory sessions: a console restart logs everyone out, which is acceptable at an instrument."""

    def __init__(self, *, max_age_s: float = 12 * 3600, max_items: int = 10_000):
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.max_age_s = max_age_s
        self.max_items = max_items

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._items.get(sid)
            if session and time.time() - session.created > self.max_age_s:
                del self._items[sid]
                return None
            return session

    def new(self, operator: str | None, *, login: bool = False) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), operator, time.time(), login)
        with self._lock:
            self._items[session.sid] = session
            if len(self._items) > self.max_items:  # cookie-less clients (scrapers) make one per request
                self._prune()
        return session

    def _prune(self) -> None:
        """Drop expired sessions, then those without a login, oldest first, down to half the cap."""
        now = time.time()
        for sid in [sid for sid, s in self._items.items() if now - s.created > self.max_age_s]:
            del self._items[sid]
        for sid in [sid for sid, s in self._items.items() if not s.login]:
            if len(self._items) <= self.max_items // 2:
                break
            del self._items[sid]

    def __len__(self) -> int:
        return len(self._items)

    def drop(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)
