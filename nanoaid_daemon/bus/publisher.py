"""The publisher thread: owns the PUB socket, sends journaled events in order, and heartbeats.

Bodies come from the journal, so what the PUB socket sends and what the replay endpoint serves are
the same bytes. A PUB socket never blocks: a subscriber whose queue (``bus.send_hwm``) is full
simply misses messages, sees the gap in the sequence numbers or in the next heartbeat's
``last_seq``, and replays. Processing is never slowed by a slow subscriber.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import zmq

from ..events import Event

__all__ = ["Publisher"]

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, socket: zmq.Socket, journal, *, heartbeat_s: float, page: int = 1000,
                 clock: Callable[[], float] = time.monotonic):
        self._socket = socket
        self._journal = journal
        self._heartbeat_s = heartbeat_s
        self._page = page
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.last_published = journal.last_seq()
        self.sent = 0

    def notify(self) -> None:
        """Called from any thread after a commit: cheap, never blocks."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        next_beat = self._clock()
        try:
            while True:
                self._publish_pending()
                if self._stopping.is_set():
                    return
                if self._clock() >= next_beat:
                    self._heartbeat()
                    next_beat = self._clock() + self._heartbeat_s
                self._wake.wait(max(0.0, next_beat - self._clock()))
                self._wake.clear()
        finally:
            self._socket.close(linger=250)

    def _publish_pending(self) -> None:
        """Every journaled event after the last one published, oldest first."""
        try:
            while bodies := self._journal.events_since(self.last_published, self._page):
                for body in bodies:
                    self._publish(body)
                if len(bodies) < self._page:
                    return
        except Exception:  # the journal may be busy or closing; try again at the next wake-up
            log.exception("bus: reading the journal for publishing failed; retrying")
            self._stopping.wait(0.1)

    def _publish(self, body: str) -> None:
        doc = json.loads(body)
        seq = int(doc["seq"])
        try:
            self._socket.send_multipart([doc["type"].encode(), body.encode()], flags=zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            pass  # PUB drops rather than blocks; subscribers heal gaps by replay
        self.last_published = seq

    def _heartbeat(self) -> None:
        beat = Event(type="daemon.heartbeat", last_seq=self.last_published)
        try:
            self._socket.send_multipart(beat.frames(), flags=zmq.NOBLOCK)
        except zmq.Again:
            pass
