"""Who may talk to the bus: loopback without keys, or CURVE with an allow-list of client keys.

Checked before anything is bound, so an insecure configuration never opens a port: a non-loopback
interface without CURVE, or a server secret key that other users can read, is a ConfigError.
Denied connections are logged at WARNING with the peer address: unknown client keys by the ZAP
handler (exact address), handshakes that fail before ZAP — no CURVE at all, or a wrong server
key — by the socket monitors (see ``HandshakeLog``).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket as pysocket
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from ..config import BusSettings
from ..errors import ConfigError

__all__ = ["ServerKeys", "check_security", "is_loopback", "load_client_keys", "AllowListAuthenticator",
           "HandshakeLog", "ZAP_DOMAIN"]

log = logging.getLogger(__name__)
ZAP_DOMAIN = "nanoaid"
_HOW_TO = ("create keys with `nanoaid keys generate server --dir KEYS` and set bus.server_secret_key and "
           "bus.authorized_keys (see docs/events.md)")


@dataclass(frozen=True)
class ServerKeys:
    public: bytes
    secret: bytes
    authorized_dir: Path
    clients: frozenset[bytes]


def is_loopback(bind: str) -> bool:
    host = bind.strip().strip("[]")
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_secret_file(path: Path) -> tuple[bytes, bytes]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ConfigError(f"bus.server_secret_key {path} cannot be read: {exc.strerror}; {_HOW_TO}") from None
    if mode & 0o077:
        raise ConfigError(f"bus.server_secret_key {path} has mode {mode:04o}: other users could read it; "
                          f"run `chmod 600 {path}` (the daemon refuses to start otherwise)")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"bus.server_secret_key {path} is not a CURVE key file: {exc}; {_HOW_TO}") from None
    if not secret:
        raise ConfigError(f"bus.server_secret_key {path} holds only a public key; use the .key_secret file")
    if not (_is_z85_key(public) and _is_z85_key(secret)):
        raise ConfigError(f"bus.server_secret_key {path} holds malformed keys (40 z85 characters expected)")
    return public, secret


def _is_z85_key(key: bytes) -> bool:
    try:
        return len(key) == 40 and len(z85.decode(key)) == 32
    except (ValueError, KeyError, TypeError, IndexError):
        return False


def load_client_keys(folder: Path) -> frozenset[bytes]:
    """The z85 public keys of every ``*.key`` file in ``folder``; a bad file is named, not skipped."""
    if not folder.is_dir():
        raise ConfigError(f"bus.authorized_keys {folder} is not a folder of client public keys (*.key)")
    keys = set()
    for path in sorted(folder.glob("*.key")):
        try:
            public, _ = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"authorized key {path} is not a CURVE public key file: {exc}") from None
        if not _is_z85_key(public):
            raise ConfigError(f"authorized key {path} has no valid public-key line")
        keys.add(public)
    if not keys:
        log.warning("bus: %s holds no client keys (*.key): every connection will be refused", folder)
    return frozenset(keys)


def check_security(bus: BusSettings) -> ServerKeys | None:
    """Validate the security settings; None means plain loopback. Raises ConfigError otherwise."""
    if bus.server_secret_key is None:
        if not is_loopback(bus.bind):
            raise ConfigError(f"bus.bind = {bus.bind!r} is not a loopback address and CURVE is off: anyone on the "
                              f"network could read events and submit corrections; bind 127.0.0.1, or {_HOW_TO}")
        if bus.authorized_keys is not None:
            raise ConfigError("bus.authorized_keys is set but bus.server_secret_key is not; set both to enable CURVE")
        return None
    if bus.authorized_keys is None:
        raise ConfigError("bus.server_secret_key is set but bus.authorized_keys is not: name the folder of "
                          "client public keys (*.key) that may connect")
    public, secret = _check_secret_file(Path(bus.server_secret_key))
    clients = load_client_keys(Path(bus.authorized_keys))
    return ServerKeys(public, secret, Path(bus.authorized_keys), clients)


class AllowListAuthenticator(ThreadAuthenticator):
    """ZAP handler: CURVE clients whose public key is on the allow-list; every refusal is logged."""

    def __init__(self, context: zmq.Context, clients: frozenset[bytes]):
        super().__init__(context, log=logging.getLogger(__name__ + ".zap"))
        self._clients = clients
        self._peer = "?"
        self.configure_curve_callback(ZAP_DOMAIN, credentials_provider=self)

    def set_clients(self, clients: frozenset[bytes]) -> None:
        self._clients = clients

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self._clients

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        self._peer = msg[3].decode("utf-8", "replace") if len(msg) > 3 else "?"
        self._client = z85.encode(msg[6]).decode() if len(msg) > 6 and len(msg[6]) == 32 else "none"
        self._mechanism = msg[5].decode("ascii", "replace") if len(msg) > 5 else "?"
        await super().handle_zap_message(msg)

    def _send_zap_reply(self, request_id, status_code, status_text, user_id="anonymous") -> None:
        if status_code != b"200":
            log.warning("bus: denied %s connection from %s: %s (client key %s)", self._mechanism, self._peer,
                        status_text.decode("utf-8", "replace"), self._client)
        super()._send_zap_reply(request_id, status_code, status_text, user_id)


_FAILED = {
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake failed (protocol)",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "the peer dropped the connection during the handshake (a client "
                                          "without CURVE notices the mismatch first)",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "authentication refused",
}
_REASONS: dict[int, str] = {
    zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "security mechanism mismatch (client without CURVE, or CURVE "
                                                 "client to a plain server)",
    zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "CURVE handshake failed (wrong server key?)",
}


def _peer_of(fd: int) -> str | None:
    """Best effort: the remote address of a socket fd libzmq just accepted (it may be gone already)."""
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    sock = None
    try:
        sock = pysocket.socket(fileno=dup)
        host, port = sock.getpeername()[:2]
        return f"{host}:{port}"
    except (OSError, ValueError):
        return None
    finally:
        if sock is not None:
            sock.close()
        else:
            os.close(dup)


class HandshakeLog:
    """Turns a socket monitor's events into WARNING lines for refused connections.

    libzmq reports a failed handshake and then the disconnect of the same fd, back to back; the
    fd was mapped to its peer when it was accepted (best effort: a connection refused within
    microseconds may be gone before its address can be read). Handshakes refused by the ZAP
    handler are logged there with the exact address, so here they are DEBUG only. With CURVE on,
    a handshake the peer abandons counts as refused: a plain client usually notices the mechanism
    mismatch before the server does.
    """

    def __init__(self, name: str, *, curve: bool):
        self.name = name
        self.curve = curve
        self.denied = 0
        self._peers: dict[int, str | None] = {}
        self._pending: str | None = None

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """One drained batch of monitor events, in order."""
        last_close = {int(m["value"]): i for i, m in enumerate(batch) if m["event"] == zmq.EVENT_DISCONNECTED}
        for i, msg in enumerate(batch):
            self._one(msg, closed_later=last_close.get(int(msg["value"]), -1) > i)

    def _one(self, msg: Mapping[str, Any], *, closed_later: bool) -> None:
        event, value = msg["event"], int(msg["value"])
        endpoint = msg.get("endpoint", b"").decode("utf-8", "replace")
        if event == zmq.EVENT_ACCEPTED:  # an fd closed later in this batch may already be reused: don't ask it
            self._peers[value] = None if closed_later else _peer_of(value)
        elif event in _FAILED:
            reason = _REASONS.get(value, _FAILED[event]) if event != zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL \
                else _FAILED[event]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                log.debug("bus: %s endpoint %s: client refused by the allow-list", self.name, endpoint)
            elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL and not self.curve:
                log.debug("bus: %s endpoint %s: connection closed during the handshake", self.name, endpoint)
            else:
                self._pending = f"{reason} on {self.name} endpoint {endpoint}"
        elif event == zmq.EVENT_DISCONNECTED:
            peer = self._peers.pop(value, None)
            if self._pending is not None:
                self.denied += 1
                log.warning("bus: denied connection from %s: %s", peer or "an unknown peer (already gone)",
                            self._pending)
                self._pending = None
