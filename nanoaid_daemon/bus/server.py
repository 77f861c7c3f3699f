"""The request thread: owns the replay and command ROUTER sockets and the socket monitors.

ZeroMQ sockets are not thread-safe, so this one thread does all their I/O. A burst from one peer
is served in slices so the other endpoint is never starved; replies that a vanished or stalled
peer cannot take are dropped (ROUTER never blocks), so no client can wedge the thread.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import zmq
from zmq.utils.monitor import parse_monitor_message

from .protocol import MAX_FRAMES, error_header, split_envelope
from .security import HandshakeLog

__all__ = ["RequestServer"]

log = logging.getLogger(__name__)
_SLICE = 64


class RequestServer:
    def __init__(self, handlers: dict[zmq.Socket, Callable[[list[bytes]], list[bytes]]],
                 monitors: dict[zmq.Socket, HandshakeLog], *, poll_ms: int = 100):
        self._handlers = handlers
        self._monitors = monitors
        self._poll_ms = poll_ms
        self._stopping = threading.Event()
        self.served = 0

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        poller = zmq.Poller()
        for sock in [*self._handlers, *self._monitors]:
            poller.register(sock, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                for sock, _ in poller.poll(self._poll_ms):
                    if sock in self._handlers:
                        self._serve(sock)
                    else:
                        self._watch(sock)
        except Exception:
            log.exception("bus: the request thread failed; replay and commands are down until restart")
        finally:
            for sock in [*self._handlers, *self._monitors]:
                sock.close(linger=0)

    def _serve(self, sock: zmq.Socket) -> None:
        handler = self._handlers[sock]
        for _ in range(_SLICE):
            try:
                msg = sock.recv_multipart(flags=zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            self._reply(sock, msg, handler)

    def _reply(self, sock: zmq.Socket, msg: list[bytes], handler) -> None:
        envelope, frames = split_envelope(msg)
        if len(frames) > MAX_FRAMES:
            reply = [error_header("bad_request", f"a request is exactly one frame, got {len(frames)}")]
        else:
            reply = handler(frames)
        self.served += 1
        try:
            sock.send_multipart([*envelope, *reply], flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # the peer's queue is full or it is gone: it asks again
            log.debug("bus: reply dropped: %s", exc)

    def _watch(self, mon: zmq.Socket) -> None:
        batch = []
        while True:
            try:
                batch.append(parse_monitor_message(mon.recv_multipart(flags=zmq.NOBLOCK)))
            except zmq.Again:
                break
            except (ValueError, IndexError, TypeError):
                continue
        self._monitors[mon].handle(batch)
