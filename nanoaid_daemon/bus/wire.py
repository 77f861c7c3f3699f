"""Client side of the wire: CURVE client settings and one request/reply exchange over DEALER.

Shared by ``nanoaid_daemon.bus.client`` and the command-line tools. A ``Requester`` belongs to the
thread that made it, like every ZeroMQ socket.
"""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import zmq
import zmq.auth

from ..errors import BusError, ConfigError
from .protocol import RequestRejected

__all__ = ["Requester", "curve_client", "load_client_key"]


def load_client_key(key) -> tuple[bytes, bytes]:
    """``(public, secret)`` z85 keys from a ``.key_secret`` file, or a pair given directly."""
    if isinstance(key, tuple):
        public, secret = key
        return (public.encode() if isinstance(public, str) else public,
                secret.encode() if isinstance(secret, str) else secret)
    try:
        public, secret = zmq.auth.load_certificate(Path(key))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"client key {key} cannot be loaded: {exc}") from None
    if not secret:
        raise ConfigError(f"client key {key} holds no secret key; pass the .key_secret file")
    return public, secret


def curve_client(sock: zmq.Socket, server_key, client_key: tuple[bytes, bytes] | None) -> None:
    """Make ``sock`` a CURVE client when the daemon has a server key; plain otherwise."""
    if not server_key:
        return
    if client_key is None:
        raise ConfigError("the daemon requires CURVE authentication: pass a client key "
                          "(a .key_secret file from `nanoaid keys generate`, authorized by the daemon)")
    sock.curve_serverkey = server_key.encode() if isinstance(server_key, str) else server_key
    sock.curve_publickey, sock.curve_secretkey = client_key


class Requester:
    """Requests to a replay or command endpoint; replies to older, timed-out requests are skipped."""

    _ids = itertools.count(1)

    def __init__(self, ctx: zmq.Context, endpoint: str, *, server_key=None, client_key=None):
        self.endpoint = endpoint
        self._sock = ctx.socket(zmq.DEALER)
        self._sock.linger = 0
        try:
            curve_client(self._sock, server_key, client_key)
            self._sock.connect(endpoint)
        except BaseException:
            self._sock.close(linger=0)
            raise

    def request(self, payload: dict, *, timeout: float = 5.0) -> tuple[dict, list[bytes]]:
        """Send one request; returns (header, extra frames). RequestRejected when ``ok`` is false."""
        rid = next(self._ids)
        self._sock.send(json.dumps({**payload, "id": rid}).encode())
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not self._sock.poll(int(left * 1000) + 1):
                break
            header, *frames = self._sock.recv_multipart()
            doc = _header(header)
            if doc.get("id") != rid:
                continue
            if not doc.get("ok"):
                err = doc.get("error") or {}
                raise RequestRejected(str(err.get("code", "error")), str(err.get("message", "request refused")))
            return doc, frames
        raise BusError(f"no answer from {self.endpoint} within {timeout:.1f} s (is the daemon running?)")

    def close(self) -> None:
        self._sock.close(linger=0)


def _header(frame: bytes) -> dict:
    try:
        doc = json.loads(frame)
    except ValueError:
        raise BusError("the daemon sent a reply that is not JSON") from None
    if not isinstance(doc, dict):
        raise BusError("the daemon sent a reply that is not a JSON object")
    return doc
